"""Every write of the webhooks app, and the life of a delivery.

Emitting (`webhooks_emit`, `webhooks_emit_many`) writes one Delivery per active webhook
subscribed to the event, in the caller's transaction, and queues their sending once it
commits: a rollback sends nothing, and a lost task or a broker that was down loses nothing,
since the rows are there, pending and due. With nobody subscribed, emitting is one SELECT.

A delivery is pending until it is delivered (a 2xx answer) or failed (MAX_ATTEMPTS tries).
`delivery_attempt` is state-based: it re-reads the row and does nothing unless it is pending
and due. It claims the attempt with a conditional UPDATE that counts it and moves
`next_attempt_at` past the longest an attempt can take (a lease), so of two workers holding the
same id one sends and the other finds nothing due, and no row lock is held across the HTTP
request. The result is written only while the lease is still the attempt's: an admin's resend
meanwhile wins. A worker that dies mid-attempt leaves the delivery pending and due when the
lease ends, for the sweep.

Retries back off: 30 s, 1, 2, 4, 8, 15 and 30 minutes, 8 tries over about an hour. An attempt
queues its own retry with a countdown; the sweep (`deliveries_requeue_due`, every 30 seconds)
queues whatever is still pending SWEEP_GRACE after it was due.
"""

import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from urllib3.util import Timeout

from presence.models import Team
from presence.selectors import live_chat_availability
from webhooks import selectors
from webhooks.events import live_chat_data
from webhooks.models import Delivery, Event, LiveChatState, Webhook

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# The wait after each failed try; MAX_ATTEMPTS - 1 of them, about an hour in all.
BACKOFF = tuple(timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 900, 1800))
# Deliveries queued at once when a transaction commits; a bulk move's rest goes with the sweep,
# so a request that moved thousands of tickets does not wait on the broker for each.
QUEUE_AT_ONCE = 200
EMIT_BATCH = 500
SWEEP_BATCH = 200
# The sweep queues only deliveries due for longer than this: the ones whose own task is late or
# lost, not those a worker is about to take. At most SWEEP_LIMIT a run, so a backlog of workers
# is not answered with a flood of repeats.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_LIMIT = 2000
USER_AGENT = "helpdesk-presence-webhooks/1"

Payload = dict


# --- webhooks ------------------------------------------------------------------------------------


def webhook_save(webhook: Webhook, *, actor) -> Webhook:
    """Validate (http(s) URL, known events) and save. A blank secret gets a random one, which
    the caller shows once: the API and the admin never show it again."""
    if not webhook.secret:
        webhook.secret = secrets.token_hex(32)
    if isinstance(webhook.events, list) and all(isinstance(event, str) for event in webhook.events):
        webhook.events = list(dict.fromkeys(webhook.events))  # each once, in the order given
    webhook.full_clean()
    webhook.save()
    logger.info("Webhook %s saved by %s: %s for %s", webhook.pk, getattr(actor, "pk", None), webhook.url,
                ", ".join(webhook.events))  # fmt: skip
    return webhook


def webhook_delete(webhook: Webhook, *, actor) -> None:
    """Delete a webhook and its deliveries (pending ones are not sent)."""
    logger.info("Webhook %s deleted by %s", webhook.pk, getattr(actor, "pk", None))
    webhook.delete()


# --- emitting ------------------------------------------------------------------------------------


def webhooks_emit(
    event: str, payload: Payload | Callable[[], Payload], *, webhook_ids: list[int] | None = None
) -> list[Delivery]:
    """Send one event to every active webhook subscribed to it (`webhook_ids` when the caller
    has looked them up already). `payload` may be a function: it is called only when somebody
    subscribes, so an event nobody wants costs one query."""
    return webhooks_emit_many(event, lambda: [payload() if callable(payload) else payload], webhook_ids=webhook_ids)


def webhooks_emit_many(
    event: str, payloads: Iterable[Payload] | Callable[[], Iterable[Payload]], *, webhook_ids: list[int] | None = None
) -> list[Delivery]:
    """Several events of one kind (one per payload, each with its own id), as webhooks_emit."""
    event = Event(event)  # an unknown event is a bug: ValueError
    if webhook_ids is None:
        webhook_ids = selectors.subscribed_webhook_ids(event)
    if not webhook_ids:
        return []
    now = timezone.now()
    deliveries = []
    for payload in payloads() if callable(payloads) else payloads:
        event_id = uuid.uuid4()
        deliveries += [
            Delivery(webhook_id=webhook_id, event=event.value, event_id=event_id, payload=payload,
                     next_attempt_at=now, created_at=now)
            for webhook_id in webhook_ids
        ]  # fmt: skip
    if not deliveries:
        return []
    Delivery.objects.bulk_create(deliveries, batch_size=EMIT_BATCH)
    ids = [delivery.pk for delivery in deliveries if delivery.pk is not None]
    transaction.on_commit(partial(_queue, ids[:QUEUE_AT_ONCE]))
    return deliveries


def _queue(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    """Queue attempts. A broker that is down is logged, not raised: the rows are pending and
    due, and the sweep queues them when it is back."""
    from webhooks.tasks import delivery_attempt_task  # the tasks module imports this one

    try:
        for delivery_id in delivery_ids:
            delivery_attempt_task.apply_async((delivery_id,), countdown=countdown)
    except Exception:
        logger.warning("Could not queue webhook deliveries %s; the sweep will", delivery_ids[:10], exc_info=True)


# --- sending -------------------------------------------------------------------------------------


def delivery_body(delivery: Delivery) -> bytes:
    """The bytes POSTed (and signed): the envelope of webhooks/events.py."""
    envelope = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def delivery_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _lease() -> timedelta:
    """How long a claimed attempt keeps its delivery: past the longest the request may take."""
    return timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT_SECONDS + 60)


def delivery_attempt(delivery_id: int, *, now=None) -> Delivery | None:
    """Send a delivery if it is pending and due, once, and record how it went: delivered (2xx),
    the next attempt scheduled, or failed after MAX_ATTEMPTS. Returns the delivery as the
    attempt left it, or None when nothing was sent (not pending, not due, another worker's)
    or its result was dropped (resent during the attempt). A delivery of a webhook switched
    off since is failed without sending."""
    now = now or timezone.now()
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != Delivery.State.PENDING:
        return None
    if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    # The row as read: claiming through it fails when anyone changed the row since.
    as_read = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING, attempts=delivery.attempts,
                                      next_attempt_at=delivery.next_attempt_at)  # fmt: skip
    if not delivery.webhook.active or delivery.attempts >= MAX_ATTEMPTS:
        # At the maximum already: the last try's worker died before it could record the result.
        error = "The webhook is inactive." if not delivery.webhook.active else "The last attempt did not finish."
        as_read.update(state=Delivery.State.FAILED, next_attempt_at=None, last_error=error)
        return None
    lease_until = now + _lease()
    if not as_read.update(attempts=delivery.attempts + 1, next_attempt_at=lease_until):
        return None  # another worker claimed it first
    delivery.attempts += 1

    status_code, error = _post(delivery)

    finished = timezone.now()
    fields = {"last_status_code": status_code, "last_error": error}
    retry_in = None
    if not error:
        fields.update(state=Delivery.State.DELIVERED, delivered_at=finished, next_attempt_at=None)
    elif delivery.attempts >= MAX_ATTEMPTS:
        fields.update(state=Delivery.State.FAILED, next_attempt_at=None)
    else:
        retry_in = BACKOFF[delivery.attempts - 1]
        fields.update(next_attempt_at=finished + retry_in)
    leased = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING, next_attempt_at=lease_until)
    if not leased.update(**fields):
        logger.info("Webhook delivery %s changed during its attempt (resent): result dropped", delivery.pk)
        return None
    for name, value in fields.items():
        setattr(delivery, name, value)
    logger.info("Webhook delivery %s (%s) attempt %d: %s", delivery.pk, delivery.event, delivery.attempts,
                error or f"delivered, HTTP {status_code}")  # fmt: skip
    if retry_in is not None:
        _queue([delivery.pk], countdown=retry_in.total_seconds())
    return delivery


def _post(delivery: Delivery) -> tuple[int | None, str]:
    """POST the delivery: (HTTP status, "") on a 2xx, else (status or None, a short error)."""
    body = delivery_body(delivery)
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Event": delivery.event,
        "X-Helpdesk-Delivery": str(delivery.event_id),
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": delivery_signature(delivery.webhook.secret, timestamp, body),
    }
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        # `total`: connecting and waiting for the answer together, so a slow receiver holds a
        # worker this long at most. No redirects (a 3xx is a failure): the request goes where
        # the admin said. `stream`: only the status is read, never the answer's body.
        with requests.post(delivery.webhook.url, data=body, headers=headers, timeout=Timeout(total=seconds),
                           allow_redirects=False, stream=True) as response:  # fmt: skip
            status_code, reason = response.status_code, response.reason
    except requests.Timeout:
        return None, f"No answer within {seconds:g} s."
    except requests.RequestException as exc:
        return None, _error_text(exc)
    if 200 <= status_code < 300:
        return status_code, ""
    return status_code, f"HTTP {status_code} {reason or ''}".strip()[:255]


def _error_text(exc: Exception) -> str:
    """requests' messages run long; the OS's reason ("Connection refused") is the news."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    return f"{type(exc).__name__}: {found.group(1) if found else text}"[:255]


def delivery_resend(delivery: Delivery, *, actor) -> Delivery:
    """Make a delivery pending again, due now with a fresh count of attempts, and queue it once
    committed (the admin's Resend). An attempt running meanwhile has its result dropped."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.state = Delivery.State.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = timezone.now()
        delivery.delivered_at = None
        delivery.save(update_fields=["state", "attempts", "next_attempt_at", "delivered_at"])
        transaction.on_commit(partial(_queue, [delivery.pk]))
    logger.info("Webhook delivery %s resent by %s", delivery.pk, getattr(actor, "pk", None))
    return delivery


def deliveries_requeue_due(*, now=None, batch_size: int = SWEEP_BATCH) -> int:
    """Queue every pending delivery due for longer than SWEEP_GRACE, in key order, a batch at a
    time (SWEEP_LIMIT a run). Reads only: the attempt itself checks the row again. Returns how
    many were queued."""
    now = now or timezone.now()
    due = Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
    queued, last = 0, None
    while queued < SWEEP_LIMIT:
        page = due if last is None else due.filter(pk__gt=last)
        ids = list(page.order_by("pk").values_list("pk", flat=True)[: min(batch_size, SWEEP_LIMIT - queued)])
        if not ids:
            break
        _queue(ids)
        queued, last = queued + len(ids), ids[-1]
    return queued


# --- live chat -----------------------------------------------------------------------------------


def live_chat_states_update(*, team_ids: Iterable[int] | None = None, now=None) -> list[int]:
    """Send `live_chat.availability_changed` for each team of `team_ids` (None: every team)
    whose live chat opened or closed since the last one sent, and record the new state.
    Returns those teams' ids. One query when no active webhook wants the event.

    The teams' state rows are locked in key order before counting, so of two checks at once the
    second counts after the first recorded its answer, and a transition is sent once."""
    webhook_ids = selectors.subscribed_webhook_ids(Event.LIVE_CHAT_AVAILABILITY_CHANGED)
    if not webhook_ids:
        return []
    now = now or timezone.now()
    with transaction.atomic():
        if team_ids is None:
            team_ids = Team.objects.values_list("pk", flat=True)
        team_ids = sorted(set(team_ids))
        if not team_ids:
            return []
        LiveChatState.objects.bulk_create(
            [LiveChatState(team_id=team_id, available=False, changed_at=now) for team_id in team_ids],
            ignore_conflicts=True,
        )
        states = list(LiveChatState.objects.select_for_update().filter(team_id__in=team_ids).order_by("team_id"))
        counts = {row["team"]: row for row in live_chat_availability()["teams"]}
        changed = []
        for state in states:
            row = counts.get(state.team_id)
            if row is not None and (row["online"] > 0) != state.available:
                state.available, state.changed_at = row["online"] > 0, now
                changed.append(state)
        if changed:
            LiveChatState.objects.bulk_update(changed, ["available", "changed_at"])
            payloads = [
                live_chat_data(team_id=state.team_id, name=counts[state.team_id]["name"], available=state.available,
                               online=counts[state.team_id]["online"], changed_at=now)
                for state in changed
            ]  # fmt: skip
            webhooks_emit_many(Event.LIVE_CHAT_AVAILABILITY_CHANGED, payloads, webhook_ids=webhook_ids)
    return [state.team_id for state in changed]
