import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from presence.errors import NotAnAgent, StatusNotSelectable
from presence.models import (
    PERSON_SOURCES,
    AgentPresence,
    AgentProfile,
    Call,
    Notice,
    PresenceSettings,
    Source,
    Status,
    StatusCategory,
    StatusChangeLog,
    StatusRequest,
    TeamMembership,
)
from presence.services.routing_columns import memberships_sync_presence, memberships_sync_presences
from presence.signals import status_changed, statuses_changed
from presence.workload import workload_of

logger = logging.getLogger(__name__)

# Paths where a drain status waits for the agent's open tickets (P4); automatic paths such as
# idle timeout, auto-offline, kick-out and logout apply at once.
DRAINING_SOURCES = PERSON_SOURCES | {Source.APPROVAL, Source.SHIFT, Source.APPOINTMENT}


def presence_ensure(agent) -> AgentPresence:
    """The agent's presence row, created Offline for an agent who has none yet."""
    presence = AgentPresence.objects.select_related("status").filter(agent_id=agent.pk).first()
    if presence is not None:
        return presence
    if not AgentProfile.objects.filter(user_id=agent.pk).exists():
        raise NotAnAgent(_('User "%(username)s" is not an agent.') % {"username": agent.get_username()})
    offline = Status.objects.get(slug=Status.OFFLINE)
    try:
        with transaction.atomic():
            return AgentPresence.objects.create(agent=agent, status=offline)
    except IntegrityError:  # created by a concurrent request
        return AgentPresence.objects.select_related("status").get(agent_id=agent.pk)


def _lock_presence(agent) -> AgentPresence:
    # The row lock serialises every change to one agent: two concurrent changes run one
    # after the other, and the second sees the first's result.
    locked = AgentPresence.objects.select_for_update(of=("self",)).select_related("status", "agent")
    try:
        return locked.get(agent_id=agent.pk)
    except AgentPresence.DoesNotExist:
        presence_ensure(agent)
        return locked.get(agent_id=agent.pk)


def check_selectable(status: Status) -> None:
    """What a person may pick: enabled statuses, never one the system sets (Kicked out, and the
    phone system's On a call and After call work)."""
    if not status.enabled:
        raise StatusNotSelectable(_('The status "%(status)s" is disabled.') % {"status": status.name})
    if status.slug in Status.SYSTEM_ONLY:
        raise StatusNotSelectable(_('"%(status)s" is set by the system only.') % {"status": status.name})


def _apply_queue_group(agent, status: Status) -> None:
    """A status with teams makes the agent's active teams exactly those (S1 `teams`)."""
    team_ids = list(status.teams.values_list("pk", flat=True))
    if not team_ids:
        return
    memberships = TeamMembership.objects.filter(agent_id=agent.pk)
    memberships.exclude(team_id__in=team_ids).filter(active=True).update(active=False)
    memberships.filter(team_id__in=team_ids, active=False).update(active=True)
    TeamMembership.objects.bulk_create(
        [TeamMembership(agent_id=agent.pk, team_id=team_id, active=True) for team_id in team_ids],
        ignore_conflicts=True,
    )


class Outcome(StrEnum):
    """What a status change did."""

    APPLIED = "applied"  # the agent is in the new status now
    FINISHING = "finishing"  # P4: the agent finishes their open tickets first
    UNCHANGED = "unchanged"  # already in it (picking it again while finishing cancels finishing)
    SKIPPED = "skipped"  # a precondition failed under the lock; `reason` says which


@dataclass(frozen=True)
class StatusChange:
    presence: AgentPresence
    outcome: Outcome
    reason: str = ""  # why it was skipped
    old_status: Status | None = None  # what the agent was in before an applied change

    @property
    def applied(self) -> bool:
        return self.outcome == Outcome.APPLIED


# A precondition of a change, checked on the locked, freshly read presence row: None lets the
# change go on, a sentence skips it.
Precondition = Callable[[AgentPresence], str | None]


def presence_change_status(
    agent,
    status: Status,
    *,
    actor,
    source: str,
    reason: str = "",
    if_status: Status | None = None,
    if_since=None,
    unless_offline: bool = False,
    precondition: Precondition | None = None,
) -> StatusChange:
    """Put `agent` in `status`: the one way any status changes (SPEC P2), for every caller.

    Locks the presence row and checks every precondition on the row as it is under the lock,
    so nobody decides on a status read before: `if_status` (still in that status),
    `if_since` (not changed since), `unless_offline` (not Offline: nobody is signed in to
    change), and `precondition` (the caller's own test). A failed one skips the change with a
    reason. Then it writes the presence, the log row when logging is on, a notice for the agent
    when someone else or a schedule changed them (P11), ends their open calls when they go
    Offline (P12), and sends `status_changed`, all in one transaction: a receiver that raises
    undoes everything. Person-driven sources may only pick selectable statuses
    (StatusNotSelectable otherwise); automatic sources may apply any.
    """
    source = Source(source)
    if source in PERSON_SOURCES:
        check_selectable(status)
    with transaction.atomic():
        presence = _lock_presence(agent)
        skip = _failed_precondition(agent, presence, status, if_status, if_since, unless_offline, precondition)
        if skip:
            return StatusChange(presence, Outcome.SKIPPED, reason=skip)
        return _apply(agent, presence, status, actor=actor, source=source, reason=reason)


def _failed_precondition(agent, presence, status, if_status, if_since, unless_offline, precondition) -> str | None:
    if not presence.agent.is_active and status.category != StatusCategory.OFFLINE:
        # A deactivated account stays Offline: nothing signs them in or routes to them again.
        return _("%(agent)s's account is deactivated.") % {"agent": presence.agent.get_username()}
    if if_status is not None and presence.status_id != if_status.pk:
        return f"no longer {if_status.name}"
    if if_since is not None and presence.since != if_since:
        return "the status changed meanwhile"
    if unless_offline and presence.status.category == StatusCategory.OFFLINE:
        return _("%(agent)s is offline: their status can be changed once they sign in.") % {
            "agent": agent.get_username()
        }
    return precondition(presence) if precondition is not None else None


def _apply(agent, presence: AgentPresence, status: Status, *, actor, source, reason) -> StatusChange:
    """The change itself, on a presence row locked by the caller."""
    if presence.status_id == status.pk:
        if presence.pending_status_id is not None and source in DRAINING_SOURCES:
            # Picking the current status again while finishing cancels the finishing.
            _set_pending(presence, None)
        return StatusChange(presence, Outcome.UNCHANGED)
    if (
        source in DRAINING_SOURCES
        and status.drain
        and presence.status.can_receive
        and workload_of(agent.pk).open_tickets > 0
    ):
        # P4: keep working, take nothing new, switch when the last open ticket is done.
        if presence.pending_status_id != status.pk:
            _set_pending(presence, status)
        return StatusChange(presence, Outcome.FINISHING)
    old_status = presence.status
    presence.status = status
    presence.since = timezone.now()
    presence.pending_status = None
    presence.save(update_fields=["status", "since", "pending_status"])
    config = PresenceSettings.load()
    if config.log_status_changes:
        _log_row(agent.pk, old_status, status, actor=actor, source=source, reason=reason, at=presence.since).save()
    _notify(agent, old_status, status, actor=actor, source=source, reason=reason)
    applied = [Applied(agent, presence, old_status, status, reason)]
    _end_calls_of_offline(applied, now=presence.since)
    _send_changed(applied, actor=actor, source=source, config=config)
    # The agent's memberships last: a receiver may have moved their tickets, and every writer
    # takes tickets before load counters before memberships, so nobody waits in a cycle.
    _apply_queue_group(agent, status)
    memberships_sync_presence(presence)
    return StatusChange(presence, Outcome.APPLIED, old_status=old_status)


def _notify(agent, old_status: Status, status: Status, *, actor, source, reason) -> None:
    notice = _notice(agent.pk, old_status, status, actor=actor, source=source, reason=reason)
    if notice is not None:
        notice.save()


def _notice(agent_id: int, old_status: Status, status: Status, *, actor, source, reason) -> Notice | None:
    """A notice for the agent when somebody else, or their schedule, changed their status (P11)."""
    if source == Source.SUPERVISOR and getattr(actor, "pk", None) != agent_id:
        who = actor.get_username() if actor is not None else "A supervisor"
        kind = Notice.Kind.CHANGED_BY_SUPERVISOR
        text = f"{who} changed your status from {old_status.name} to {status.name}"
    elif source in (Source.SHIFT, Source.APPOINTMENT):
        kind = Notice.Kind.CHANGED_BY_SCHEDULE
        # The value, not the label: notices are stored text, and the label follows the request's language.
        text = f"Your {source.value} changed your status to {status.name}"
    else:
        return None
    return Notice(agent_id=agent_id, kind=kind, text=f"{text}{f': {reason}' if reason else ''}."[:400])


def _set_pending(presence: AgentPresence, status: Status | None) -> None:
    presence.pending_status = status
    presence.save(update_fields=["pending_status"])
    memberships_sync_presence(presence)  # finishing agents take no new work


@dataclass(frozen=True)
class Applied:
    """One applied change, as `statuses_changed` reports it."""

    agent: object
    presence: AgentPresence
    old_status: Status
    new_status: Status
    reason: str


def _end_calls_of_offline(applied: list[Applied], *, now) -> None:
    """Agents who went Offline are on no call any more: their open calls (running, or in after
    call work) end with the change, in its transaction, whichever path took them Offline.
    Otherwise a call whose `ended` came while they were Offline stays running, and their next
    call's end finds "another call still runs" and leaves them On a call for good. The phone
    system's late `ended` for such a call is then a repeat (presence.services.telephony).

    One statement for all the agents. The rows are locked `skip_locked`: the telephony services
    lock a call before the presence row, the opposite of this path, so waiting here could
    deadlock; a call they hold is theirs to end, and they find the agent Offline under the
    presence lock and end it themselves."""
    gone = [change.agent.pk for change in applied if change.new_status.category == StatusCategory.OFFLINE]
    if not gone:
        return
    open_calls = (
        Call.objects.select_for_update(skip_locked=True)
        .filter(agent_id__in=gone, state__in=[Call.State.ACTIVE, Call.State.WRAP_UP])
        .order_by("pk")
        .values("pk")
    )
    Call.objects.filter(pk__in=open_calls).update(
        state=Call.State.DONE, ended_at=Coalesce("ended_at", Value(now)), done_at=now
    )


def _log_row(agent_id: int, old_status: Status, status: Status, *, actor, source, reason, at) -> StatusChangeLog:
    return StatusChangeLog(
        agent_id=agent_id,
        from_status=old_status,
        from_status_name=old_status.name,
        to_status=status,
        to_status_name=status.name,
        actor_id=getattr(actor, "pk", None),
        source=source,
        reason=reason[:255],
        at=at,
    )


def _send_changed(applied: list[Applied], *, actor, source, config) -> None:
    """`status_changed` for each agent, then `statuses_changed` once for them all."""
    for change in applied:
        status_changed.send(
            sender=AgentPresence, agent=change.agent, presence=change.presence, old_status=change.old_status,
            new_status=change.new_status, actor=actor, source=source, reason=change.reason, config=config,
        )  # fmt: skip
    statuses_changed.send(sender=AgentPresence, changes=applied, actor=actor, source=source, config=config)


@dataclass(frozen=True)
class Change:
    """One agent's automatic change, for presence_change_statuses; the conditions are those of
    presence_change_status."""

    agent: object
    status: Status
    reason: str = ""
    if_status: Status | None = None
    if_since: datetime | None = None
    precondition: Precondition | None = None


def presence_change_statuses(changes: list[Change], *, source: str) -> dict[int, StatusChange]:
    """Many automatic changes at once (the sweeps'), each exactly as presence_change_status would
    make it, in statements that do not grow with the number of agents. Returns agent id -> what
    the change did.

    One transaction for all: the presence rows are locked in agent order and each change's
    conditions are checked on its row under the lock. The plain changes are then written
    together: one UPDATE per new status, the log rows and notices in one INSERT each, the open
    calls of those going Offline in one UPDATE, `status_changed` per agent and `statuses_changed`
    once (the tickets app moves and routes for them all in a few statements), and the
    memberships' routing columns per outcome.
    A change that needs more (finishing first, cancelling finishing, a queue-group status, an
    agent with no presence row yet) takes the one-agent path, in the same transaction. A
    receiver that raises undoes the whole batch; callers then go one agent at a time.
    """
    source = Source(source)
    if source in PERSON_SOURCES:
        raise ValueError("A person's pick goes through presence_change_status.")
    by_agent = {change.agent.pk: change for change in changes}
    results: dict[int, StatusChange] = {}
    with transaction.atomic():
        locked = (
            AgentPresence.objects.select_for_update(of=("self",))
            .select_related("status", "agent")
            .filter(agent_id__in=list(by_agent))
            .order_by("agent_id")
        )
        presences = {presence.agent_id: presence for presence in locked}
        queue_groups = set(
            Status.teams.through.objects.filter(status_id__in={c.status.pk for c in changes})
            .values_list("status_id", flat=True)
            .distinct()
        )
        plain: list[tuple[AgentPresence, Change]] = []
        for agent_id in sorted(by_agent):
            change, presence = by_agent[agent_id], presences.get(agent_id)
            if presence is None:  # never signed in: the one-agent path creates the row
                results[agent_id] = presence_change_status(
                    change.agent, change.status, actor=None, source=source, reason=change.reason,
                    if_status=change.if_status, if_since=change.if_since, precondition=change.precondition,
                )  # fmt: skip
                continue
            agent = presence.agent
            skip = _failed_precondition(
                agent, presence, change.status, change.if_status, change.if_since, False, change.precondition
            )
            if skip:
                results[agent_id] = StatusChange(presence, Outcome.SKIPPED, reason=skip)
            elif (
                presence.status_id == change.status.pk
                or _may_finish(presence, change.status, source)
                or change.status.pk in queue_groups
            ):
                results[agent_id] = _apply(agent, presence, change.status, actor=None, source=source,
                                           reason=change.reason)  # fmt: skip
            else:
                plain.append((presence, change))
        if plain:
            results |= _apply_many(plain, source)
    return results


def _may_finish(presence: AgentPresence, status: Status, source) -> bool:
    """Whether the change may wait for open tickets (P4): `_apply` decides, with the workload."""
    return source in DRAINING_SOURCES and status.drain and presence.status.can_receive


def _apply_many(plain: list[tuple[AgentPresence, Change]], source) -> dict[int, StatusChange]:
    now = timezone.now()
    config = PresenceSettings.load()
    by_status: dict[int, list[int]] = defaultdict(list)
    for presence, change in plain:
        by_status[change.status.pk].append(presence.agent_id)
    for status_id, agent_ids in by_status.items():
        AgentPresence.objects.filter(agent_id__in=agent_ids).update(status_id=status_id, since=now, pending_status=None)
    applied = []
    for presence, change in plain:
        applied.append(Applied(presence.agent, presence, presence.status, change.status, change.reason))
        presence.status, presence.since, presence.pending_status = change.status, now, None
    if config.log_status_changes:
        StatusChangeLog.objects.bulk_create(
            [
                _log_row(a.agent.pk, a.old_status, a.new_status, actor=None, source=source, reason=a.reason, at=now)
                for a in applied
            ]  # fmt: skip
        )
    notices = [_notice(a.agent.pk, a.old_status, a.new_status, actor=None, source=source, reason=a.reason)
               for a in applied]  # fmt: skip
    Notice.objects.bulk_create([notice for notice in notices if notice is not None])
    _end_calls_of_offline(applied, now=now)
    _send_changed(applied, actor=None, source=source, config=config)
    memberships_sync_presences({a.agent.pk: a.presence for a in applied})
    return {a.agent.pk: StatusChange(a.presence, Outcome.APPLIED, old_status=a.old_status) for a in applied}


def presence_change_due(changes: list[Change], *, source: str, after: Callable[[list], None] | None = None) -> int:
    """A sweep's batch of due changes: together (presence_change_statuses), then `after(agents)`
    for the agents changed, in one transaction. Should the batch fail for a reason other than a
    lost connection, each change is made on its own (so one agent's trouble surfaces as it would
    alone, and the others are not held back by it). Returns how many changed."""
    try:
        with transaction.atomic():
            results = presence_change_statuses(changes, source=source)
            changed = [change.agent for change in changes if results[change.agent.pk].applied]
            if after is not None and changed:
                after(changed)
        return len(changed)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - retried below agent by agent, where it surfaces again
        logger.warning("A batch of %s %s changes failed; making them one at a time", len(changes), source,
                       exc_info=True)  # fmt: skip
    count = 0
    for change in changes:
        with transaction.atomic():
            did = presence_change_status(
                change.agent, change.status, actor=None, source=source, reason=change.reason,
                if_status=change.if_status, if_since=change.if_since, precondition=change.precondition,
            ).applied  # fmt: skip
            if did and after is not None:
                after([change.agent])
        count += did
    return count


def presence_cancel_finishing(agent, *, actor) -> AgentPresence:
    """Stop finishing: the agent stays in their status and takes new work again."""
    with transaction.atomic():
        presence = _lock_presence(agent)
        if presence.pending_status_id is not None:
            _set_pending(presence, None)
    return presence


def presence_complete_finishing(agent) -> StatusChange:
    """Apply a finishing agent's pending status once they hold no open tickets (source drain).

    Called after a ticket of theirs closes or leaves them; harmless for anyone else. The
    pending status is read under the presence lock, not before.
    """
    with transaction.atomic():
        presence = _lock_presence(agent)
        pending = presence.pending_status
        if pending is None:
            return StatusChange(presence, Outcome.SKIPPED, reason="not finishing")
        if workload_of(agent.pk).open_tickets > 0:
            return StatusChange(presence, Outcome.SKIPPED, reason="open tickets left")
        return _apply(
            agent, presence, pending, actor=None, source=Source.DRAIN,
            reason=f"finished open tickets before {pending.name}",
        )  # fmt: skip


@dataclass(frozen=True)
class StatusChoice:
    """What a status pick did: changed the presence, or filed a request that waits for approval."""

    presence: AgentPresence
    request: StatusRequest | None = None


def presence_request_status(agent, status: Status, *, actor, source: str, reason: str = "") -> StatusChoice:
    """An agent's own pick (dropdown, API): applies it, or files an approval request (P6).

    A status that requires approval waits for a supervisor when agents pick it for themselves;
    a supervisor's pick applies at once. A new request replaces the agent's pending one.
    """
    check_selectable(status)
    if not (status.requires_approval and getattr(actor, "pk", None) == agent.pk):
        change = presence_change_status(agent, status, actor=actor, source=source, reason=reason)
        return StatusChoice(change.presence)
    with transaction.atomic():
        presence = _lock_presence(agent)
        pending = StatusRequest.objects.filter(agent_id=agent.pk, state=StatusRequest.State.PENDING)
        if presence.status_id == status.pk:
            return StatusChoice(presence)
        pending.update(state=StatusRequest.State.CANCELLED, decided_at=timezone.now(), decided_by_id=agent.pk)
        request = StatusRequest.objects.create(agent_id=agent.pk, status=status, reason=reason[:255])
    return StatusChoice(presence, request)
