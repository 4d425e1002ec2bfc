"""Webhooks (A2): sending deliveries to a real receiver on the loopback: signature, retries, a receiver that is
down or slow, rollback, two workers at once, and what emitting costs when nobody listens."""

import hashlib
import hmac
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from presence.models import AgentPresence, Source
from presence.services import presence_change_status
from presence.services.status_change import Applied
from tests.factories import AgentFactory
from tests.webhooks.conftest import SECRET, free_port
from webhooks import selectors
from webhooks.models import Delivery, Event, Webhook
from webhooks.receivers import on_statuses_changed
from webhooks.services import (
    BACKOFF,
    MAX_ATTEMPTS,
    delivery_attempt,
    live_chat_states_update,
    webhooks_emit,
)
from webhooks.tasks import deliveries_requeue_task, delivery_attempt_task

T0 = timezone.now().replace(microsecond=0) + timedelta(days=1)


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    """What the README tells a receiver to do."""
    signed = headers["X-Helpdesk-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Helpdesk-Signature"])


def _emit(django_capture_on_commit_callbacks, event=Event.STATUS_CHANGED, payload=None) -> Delivery:
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = webhooks_emit(event, payload or {"hello": "world"})
    delivery.refresh_from_db()
    return delivery


@pytest.mark.sqlite
def test_a_status_change_arrives_signed_with_the_secret(
    receiver, make_webhook, statuses, django_capture_on_commit_callbacks
):
    # given
    make_webhook(receiver.url)
    agent = AgentFactory(username="ann")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.DROPDOWN, reason="start")
    # then
    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Helpdesk-Event"] == "status.changed"
    assert _verify(SECRET, headers, body)
    assert not _verify("another-secret", headers, body)
    assert abs(int(headers["X-Helpdesk-Timestamp"]) - time.time()) < 60
    envelope = receiver.json()
    assert envelope["id"] == headers["X-Helpdesk-Delivery"]
    assert envelope["event"] == "status.changed"
    data = envelope["data"]
    assert data["agent"] == {"id": agent.pk, "username": "ann"}
    assert data["old_status"] == {"id": statuses["offline"].pk, "slug": "offline", "name": "Offline"}
    assert data["new_status"]["slug"] == "available"
    assert (data["source"], data["reason"]) == ("dropdown", "start")
    assert data["changed_at"] == AgentPresence.objects.get(agent=agent).since.isoformat()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert str(delivery.event_id) == envelope["id"] and delivery.delivered_at is not None


def test_a_500_is_retried_later_and_delivered(receiver, make_webhook, django_capture_on_commit_callbacks):
    make_webhook(receiver.url)
    receiver.answers.extend([500, 200])
    with time_machine.travel(T0, tick=False) as traveller:
        delivery = _emit(django_capture_on_commit_callbacks)
        # the first try failed; its retry is queued with a countdown (run at once here: not due, no-op)
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.last_error == "HTTP 500 Internal Server Error"
        assert delivery.next_attempt_at == T0 + BACKOFF[0]
        assert len(receiver.requests) == 1
        traveller.shift(BACKOFF[0])
        assert delivery_attempt_task(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 2, 200, "")  # fmt: skip
    # the same event id both times: the receiver can tell a repeat
    assert len({r["headers"]["X-Helpdesk-Delivery"] for r in receiver.requests}) == 1
    assert delivery_attempt_task(delivery.pk) == "skipped"  # idempotent: nothing sent again
    assert len(receiver.requests) == 2


def test_retries_back_off_for_about_an_hour_then_fail(receiver, make_webhook, django_capture_on_commit_callbacks):
    make_webhook(receiver.url)
    receiver.status = 503
    with time_machine.travel(T0, tick=False) as traveller:
        delivery = _emit(django_capture_on_commit_callbacks)
        waits = []
        while delivery.state == "pending":
            waits.append(delivery.next_attempt_at - timezone.now())
            traveller.shift(waits[-1])
            delivery_attempt(delivery.pk)
            delivery.refresh_from_db()
    assert waits == list(BACKOFF)
    assert sum(waits, timedelta()) == timedelta(minutes=60, seconds=30)
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert len(receiver.requests) == MAX_ATTEMPTS == 8


def test_a_receiver_that_is_down_keeps_the_delivery_for_the_sweep(
    start_receiver, make_webhook, django_capture_on_commit_callbacks
):
    port = free_port()
    make_webhook(f"http://127.0.0.1:{port}/hooks")
    with time_machine.travel(T0, tick=False) as traveller:
        delivery = _emit(django_capture_on_commit_callbacks)
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
        assert "Connection refused" in delivery.last_error
        assert delivery.next_attempt_at == T0 + BACKOFF[0]
        # the receiver comes back; its task was lost: only the sweep knows of the delivery
        receiver = start_receiver(port)
        assert deliveries_requeue_task() == 0  # not due yet
        traveller.shift(timedelta(minutes=2))
        assert deliveries_requeue_task() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 1
    assert deliveries_requeue_task() == 0


def test_a_slow_receiver_is_cut_at_the_timeout_and_retried(
    receiver, make_webhook, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5  # 5 in production; short here to keep the test fast
    make_webhook(receiver.url)
    receiver.delay = 2.0
    with time_machine.travel(T0, tick=False) as traveller:
        started = time.monotonic()
        delivery = _emit(django_capture_on_commit_callbacks)
        assert time.monotonic() - started < 1.5  # the worker is free again long before the receiver answers
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
        assert delivery.last_error == "No answer within 0.5 s."
        assert delivery.next_attempt_at == T0 + BACKOFF[0]
        receiver.delay = 0
        traveller.shift(BACKOFF[0])
        assert delivery_attempt_task(delivery.pk) == "delivered"


def test_an_inactive_webhook_sends_nothing(receiver, make_webhook, django_capture_on_commit_callbacks):
    webhook = make_webhook(receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = webhooks_emit(Event.STATUS_CHANGED, {"x": 1})
    webhook.active = False
    webhook.save()
    assert delivery_attempt_task(delivery.pk) == "skipped"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_error) == ("failed", "The webhook is inactive.")
    assert receiver.requests == []
    assert webhooks_emit(Event.STATUS_CHANGED, {"x": 2}) == []  # and nothing new is written for it


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing(receiver, make_webhook, statuses):
    make_webhook(receiver.url)
    agent = AgentFactory(username="ann")
    with pytest.raises(RuntimeError), transaction.atomic():
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.DROPDOWN)
        assert Delivery.objects.count() == 1  # written in the change's transaction ...
        raise RuntimeError("something after the change failed")
    assert Delivery.objects.count() == 0  # ... and gone with it
    time.sleep(0.2)
    assert receiver.requests == []
    # the same change committed is sent once it commits
    presence_change_status(agent, statuses["available"], actor=agent, source=Source.DROPDOWN)
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().state == "delivered"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two writers at once need PostgreSQL")
def test_two_workers_at_once_send_an_attempt_once(receiver, make_webhook):
    make_webhook(receiver.url)
    receiver.delay = 0.3
    (delivery,) = webhooks_emit(Event.STATUS_CHANGED, {"x": 1})  # autocommit: queued at once, sent
    assert len(receiver.requests) == 1
    Delivery.objects.filter(pk=delivery.pk).update(state="pending", next_attempt_at=timezone.now())
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(delivery_attempt_task(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["delivered", "skipped", "skipped", "skipped"]
    assert len(receiver.requests) == 2
    assert Delivery.objects.get().attempts == 2


# --- what emitting costs -------------------------------------------------------------------------


@pytest.mark.sqlite
def test_emitting_with_no_webhook_costs_one_query(make_webhook, statuses, django_assert_max_num_queries):
    make_webhook("https://example.com/hooks", events=[Event.TICKET_ASSIGNED])  # another event
    make_webhook("https://example.com/off", active=False)  # switched off
    agent = AgentFactory(username="ann")
    payload_built = []
    with django_assert_max_num_queries(1):
        assert webhooks_emit(Event.STATUS_CHANGED, lambda: payload_built.append(1) or {}) == []
    assert payload_built == []  # nobody wants it: the payload is not even built
    with django_assert_max_num_queries(1):
        changes = [Applied(agent, agent.presence, statuses["offline"], statuses["available"], "")] * 3
        on_statuses_changed(None, changes=changes, actor=agent, source="dropdown", config=None)
    with django_assert_max_num_queries(1):
        assert live_chat_states_update() == []
    with django_assert_max_num_queries(1):
        assert deliveries_requeue_task() == 0
    assert Delivery.objects.count() == 0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    """The clock of what this process remembers of the subscriptions."""
    clock = _Clock()
    monkeypatch.setattr(selectors._unwanted, "clock", clock)
    return clock


def test_an_event_nobody_wants_costs_no_query_while_the_process_remembers(
    db, clock, settings, django_assert_num_queries
):
    settings.WEBHOOK_SUBSCRIPTIONS_SECONDS = 5
    with django_assert_num_queries(1):
        assert selectors.subscribed_webhook_ids(Event.TICKET_ASSIGNED) == []
    with django_assert_num_queries(0):
        assert selectors.subscribed_webhook_ids(Event.TICKET_ASSIGNED) == []
        assert webhooks_emit(Event.STATUS_CHANGED, {"x": 1}) == []
    clock.now += 5
    with django_assert_num_queries(1):  # read again once the time is up
        assert selectors.subscribed_webhook_ids(Event.TICKET_ASSIGNED) == []


def test_an_event_a_webhook_wants_is_read_every_time(make_webhook, clock, django_assert_num_queries):
    """So a webhook deleted or switched off meanwhile gets nothing more, in any process."""
    hook = make_webhook("https://a.example/", events=[Event.STATUS_CHANGED])
    selectors.subscriptions_clear()  # as if another process had made it
    for _ in range(2):
        with django_assert_num_queries(1):
            assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == [hook.pk]
    with django_assert_num_queries(0):  # the other events are still known to be unwanted
        assert selectors.subscribed_webhook_ids(Event.TICKET_ASSIGNED) == []
    Webhook.objects.filter(pk=hook.pk).update(active=False)  # another process switches it off
    with django_assert_num_queries(1):
        assert webhooks_emit(Event.STATUS_CHANGED, {"x": 1}) == []


def test_a_webhook_saved_in_this_process_is_seen_at_once(make_webhook, clock):
    assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == []  # remembered: nobody
    hook = make_webhook("https://a.example/", events=[Event.STATUS_CHANGED])
    assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == [hook.pk]
    hook.delete()
    assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == []


def test_another_process_s_new_webhook_is_seen_within_the_ttl(make_webhook, clock, settings):
    settings.WEBHOOK_SUBSCRIPTIONS_SECONDS = 5
    hook = make_webhook("https://a.example/", events=[Event.STATUS_CHANGED], active=False)
    selectors.subscriptions_clear()
    assert webhooks_emit(Event.STATUS_CHANGED, {"x": 1}) == []  # remembered: nobody
    Webhook.objects.filter(pk=hook.pk).update(active=True)  # another process, no signal here
    clock.now += 4.9
    assert webhooks_emit(Event.STATUS_CHANGED, {"x": 1}) == []
    clock.now += 0.1
    assert [d.webhook_id for d in webhooks_emit(Event.STATUS_CHANGED, {"x": 1})] == [hook.pk]


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_leaves_nothing_remembered(make_webhook, clock, django_assert_num_queries):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_webhook("https://a.example/", events=[Event.STATUS_CHANGED])
        # Seen inside its transaction, but not remembered: the change may not last.
        assert len(selectors.subscribed_webhook_ids(Event.STATUS_CHANGED)) == 1
        with django_assert_num_queries(1):
            assert selectors.subscribed_webhook_ids(Event.TICKET_ASSIGNED) == []
        raise RuntimeError("rolled back")
    with django_assert_num_queries(1):
        assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == []
    with django_assert_num_queries(0):
        assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == []
    with transaction.atomic():
        hook = make_webhook("https://b.example/", events=[Event.STATUS_CHANGED])
    assert selectors.subscribed_webhook_ids(Event.STATUS_CHANGED) == [hook.pk]  # committed: forgotten


def test_subscriptions_are_read_in_one_query(make_webhook, django_assert_num_queries):
    first = make_webhook("https://a.example/", events=[Event.STATUS_CHANGED, Event.TICKET_ASSIGNED])
    second = make_webhook("https://b.example/", events=[Event.TICKET_ASSIGNED])
    with django_assert_num_queries(1):
        found = selectors.subscriptions()
    assert found == {"status.changed": [first.pk], "ticket.assigned": [first.pk, second.pk]}


def test_one_event_to_several_webhooks_shares_its_id(receiver, make_webhook, django_capture_on_commit_callbacks):
    make_webhook(receiver.url)
    make_webhook(receiver.url + "/second")
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = webhooks_emit(Event.STATUS_CHANGED, {"x": 1})
    assert len(deliveries) == 2 and len({d.event_id for d in deliveries}) == 1
    assert sorted(r["path"] for r in receiver.requests) == ["/hooks", "/hooks/second"]
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}
