"""Phone calls move agents between statuses (P12, seed 002).

The phone system reports each call's start and end. A start puts the agent On a call and
remembers the status they had; the end puts them in After call work, which lasts until they
press Done (or the settings' maximum passes); then the remembered status comes back, unless
somebody changed the status meanwhile. Every change goes through presence_change_status
(source telephony), whose preconditions are checked under the agent's presence lock.

Events are idempotent per call id: the phone system may repeat them. Two calls back to back
(a new call during After call work, or a second call while the first runs) return the agent,
in the end, to the status they had before the first.

Going Offline ends the agent's open calls (presence_change_status does it, on every path), so
an `ended` that comes after it is a repeat, and the next call after signing in again starts
clean: no call of the day before still "runs" beside it.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from presence.errors import ApplicationError
from presence.models import Call, PresenceSettings, Source, Status, StatusCategory
from presence.services.status_change import Outcome, StatusChange, presence_change_status

BATCH_SIZE = 200


class CallEventRefused(ApplicationError):
    code = "call_event_refused"
    http_status = 409


def _phone_status(slug: str) -> Status:
    return Status.objects.get(slug=slug)


def call_started(agent, call_id: str, *, actor, now=None) -> Call:
    """The phone system says `agent` took call `call_id`: On a call. Repeating it changes nothing.
    Refused (409) for an Offline agent; a call id of another agent is refused too."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock order, as on every telephony path: the agent's open calls, then their presence
        # (presence_change_status). An end, a Done or the after-call-work timeout holds a call
        # and then waits for the presence; taking the presence first here would wait for that
        # call the other way round, a deadlock.
        list(_open_calls(agent).order_by("pk").values_list("pk", flat=True))
        seen: dict = {}

        def first_report(presence) -> str | None:
            # Under the agent's presence lock: reports for one agent are serialised here.
            seen["call"] = Call.objects.filter(call_id=call_id).first()
            seen["before"] = presence.status
            return "already reported" if seen["call"] is not None else None

        change = presence_change_status(
            agent, _phone_status(Status.ON_A_CALL), actor=actor, source=Source.TELEPHONY,
            reason=f"call {call_id} started", unless_offline=True, precondition=first_report,
        )  # fmt: skip
        existing = seen.get("call")
        if existing is not None:
            if existing.agent_id != agent.pk:
                raise CallEventRefused(f"Call {call_id} is another agent's call.")
            return existing
        if change.outcome == Outcome.SKIPPED:
            raise CallEventRefused(change.reason)
        return Call.objects.create(
            agent_id=agent.pk, call_id=call_id, started_at=now,
            status_before=_status_to_return_to(agent, seen["before"], now),
        )  # fmt: skip


def _open_calls(agent):
    """The agent's calls still running or in after call work, to lock."""
    return Call.objects.select_for_update().filter(agent_id=agent.pk, state__in=[Call.State.ACTIVE, Call.State.WRAP_UP])


def _status_to_return_to(agent, before: Status, now) -> Status:
    """What the agent goes back to after this call: the status before it, or, when this call
    comes on top of another one (still running or in its after call work), the status before
    that one. Calls the agent has since moved away from are closed."""
    open_calls = _open_calls(agent)
    if before.slug in (Status.ON_A_CALL, Status.AFTER_CALL_WORK):
        earlier = open_calls.order_by("started_at", "pk").first()
        if earlier is not None and earlier.status_before is not None:
            before = earlier.status_before
    # A call in after call work is over once another one starts; one still running keeps its row
    # (its end comes later) but gives its status-to-return-to to the newest call.
    open_calls.filter(state=Call.State.WRAP_UP).update(state=Call.State.DONE, done_at=now)
    return before


def call_ended(agent, call_id: str, *, actor, now=None) -> Call:
    """The call is over: After call work, unless the agent is no longer On a call (somebody
    changed the status meanwhile, or they went Offline) or another of their calls still runs.
    Repeating it changes nothing, and neither does the end of a call that going Offline already
    ended; an unknown call id is refused (409)."""
    now = now or timezone.now()
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(call_id=call_id).first()
        if call is None:
            raise CallEventRefused(f"No call {call_id} was started: report its start first.")
        if call.agent_id != agent.pk:
            raise CallEventRefused(f"Call {call_id} is another agent's call.")
        if call.state != Call.State.ACTIVE:
            return call
        still_on_another = Call.objects.filter(agent_id=agent.pk, state=Call.State.ACTIVE).exclude(pk=call.pk)
        if still_on_another.exists():
            call.state, call.ended_at, call.done_at = Call.State.DONE, now, now
            call.save(update_fields=["state", "ended_at", "done_at"])
            return call
        max_minutes = PresenceSettings.load().wrap_up_max_minutes

        def still_on_the_call(presence) -> str | None:
            if presence.status.category == StatusCategory.OFFLINE:
                # Going Offline ends open calls but passed over this one, locked above: end it here.
                return "went offline"
            return None if presence.status.slug == Status.ON_A_CALL else "moved off the call meanwhile"

        change = presence_change_status(
            agent, _phone_status(Status.AFTER_CALL_WORK), actor=actor, source=Source.TELEPHONY,
            reason=f"call {call_id} ended", precondition=still_on_the_call,
        )  # fmt: skip
        call.ended_at = now
        if change.applied:
            call.state = Call.State.WRAP_UP
            call.wrap_up_since = change.presence.since
            call.wrap_up_until = now + timedelta(minutes=max_minutes) if max_minutes else None
        else:  # moved off the call or Offline meanwhile: nothing to wrap up, nothing to give back
            call.state, call.done_at = Call.State.DONE, now
        call.save(update_fields=["state", "ended_at", "done_at", "wrap_up_since", "wrap_up_until"])
        return call


def presence_wrap_up_done(agent, *, actor, now=None) -> StatusChange:
    """The agent pressed Done: back to the status before the call, unless somebody changed the
    status during the after call work. Refused (409) when not in after call work."""
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("status_before")
            .filter(agent_id=agent.pk, state=Call.State.WRAP_UP)
            .order_by("-started_at", "-pk")
            .first()
        )
        if call is None:
            raise CallEventRefused("You are not in after call work.")
        return _finish_wrap_up(call, actor=actor, reason="after call work done", now=now or timezone.now())


def _finish_wrap_up(call: Call, *, actor, reason: str, now) -> StatusChange:
    back_to = call.status_before or PresenceSettings.load().login_status
    change = presence_change_status(
        call.agent, back_to, actor=actor, source=Source.TELEPHONY, reason=reason,
        if_status=_phone_status(Status.AFTER_CALL_WORK), if_since=call.wrap_up_since,
    )  # fmt: skip
    Call.objects.filter(pk=call.pk).update(state=Call.State.DONE, done_at=now)
    return change


def presence_wrap_up_expire(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """End every after call work past the settings' maximum (a sweep: state-based, each call in
    its own short transaction, claimed with skip_locked so two sweeps at once end it once)."""
    now = now or timezone.now()
    ended = 0
    due = Call.objects.filter(state=Call.State.WRAP_UP, wrap_up_until__lte=now).order_by("wrap_up_until", "pk")
    for pk in list(due.values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            call = (
                Call.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("agent", "status_before")
                .filter(pk=pk, state=Call.State.WRAP_UP)
                .first()
            )
            if call is None:
                continue
            ended += _finish_wrap_up(call, actor=None, reason="after call work time is up", now=now).applied
    return ended
