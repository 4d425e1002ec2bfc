import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from presence.errors import NotAnAgent, StatusNotSelectable
from presence.models import (
    PERSON_SOURCES,
    AgentPresence,
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusChangeLog,
    StatusRequest,
    TeamMembership,
)
from presence.signals import status_changed
from presence.workload import workload_of

logger = logging.getLogger(__name__)

# Paths where a drain status waits for the agent's open tickets (P4); automatic paths such as
# idle timeout, auto-offline, kick-out and logout apply at once.
DRAINING_SOURCES = PERSON_SOURCES | {Source.APPROVAL, Source.SHIFT, Source.APPOINTMENT}

# A heartbeat is written to the database at most once per agent per this many seconds;
# the cache absorbs the rest. Sweeps that read last_heartbeat allow for this lag.
HEARTBEAT_WRITE_INTERVAL = 60


def presence_ensure(agent) -> AgentPresence:
    """The agent's presence row, created Offline for an agent who has none yet."""
    presence = AgentPresence.objects.select_related("status").filter(agent_id=agent.pk).first()
    if presence is not None:
        return presence
    if not AgentProfile.objects.filter(user_id=agent.pk).exists():
        raise NotAnAgent(f'User "{agent.get_username()}" is not an agent.')
    offline = Status.objects.get(slug=Status.OFFLINE)
    try:
        with transaction.atomic():
            return AgentPresence.objects.create(agent=agent, status=offline)
    except IntegrityError:  # created by a concurrent request
        return AgentPresence.objects.select_related("status").get(agent_id=agent.pk)


def _lock_presence(agent) -> AgentPresence:
    # The row lock serialises every change to one agent: two concurrent changes run one
    # after the other, and the second sees the first's result.
    try:
        return AgentPresence.objects.select_for_update(of=("self",)).select_related("status").get(agent_id=agent.pk)
    except AgentPresence.DoesNotExist:
        presence_ensure(agent)
        return AgentPresence.objects.select_for_update(of=("self",)).select_related("status").get(agent_id=agent.pk)


def check_selectable(status: Status) -> None:
    """What a person may pick: enabled statuses, never the system's Kicked out."""
    if not status.enabled:
        raise StatusNotSelectable(f'The status "{status.name}" is disabled.')
    if status.slug == Status.KICKED_OUT:
        raise StatusNotSelectable(f'"{status.name}" is set by the system only.')


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


def presence_change_status(
    agent,
    status: Status,
    *,
    actor,
    source: str,
    reason: str = "",
    if_status: Status | None = None,
    if_since=None,
) -> AgentPresence:
    """Put `agent` in `status`. The one way any status changes (SPEC P2).

    Locks the presence row, writes it, logs the change when logging is on and sends
    `status_changed`, all in one transaction: a receiver that raises undoes everything.
    Changing to the current status is a no-op (no log row, no signal). Person-driven
    sources may only pick selectable statuses; automatic sources may apply any.

    Automatic paths decide on a snapshot read before the lock; `if_status` and `if_since`
    make the change conditional on the agent still being in that state under the lock, so
    a sweep racing a person (or a second copy of itself) changes nothing twice.
    """
    presence, _ = _change_status(
        agent, status, actor=actor, source=source, reason=reason, if_status=if_status, if_since=if_since
    )
    return presence


def _change_status(agent, status, *, actor, source, reason, if_status=None, if_since=None, only_if=None):
    """presence_change_status's body; also says whether anything changed. `only_if` is a test of
    the locked, freshly read presence row (sweeps re-check what made the agent due)."""
    source = Source(source)
    if source in PERSON_SOURCES:
        check_selectable(status)
    with transaction.atomic():
        presence = _lock_presence(agent)
        if if_status is not None and presence.status_id != if_status.pk:
            return presence, False
        if if_since is not None and presence.since != if_since:
            return presence, False
        if only_if is not None and not only_if(presence):
            return presence, False
        if presence.status_id == status.pk:
            if presence.pending_status_id is not None and source in DRAINING_SOURCES:
                # Picking the current status again while finishing cancels the finishing.
                _set_pending(presence, None)
            return presence, False
        if (
            source in DRAINING_SOURCES
            and status.drain
            and presence.status.can_receive
            and workload_of(agent.pk).open_tickets > 0
        ):
            # P4: keep working, take nothing new, switch when the last open ticket is done.
            if presence.pending_status_id != status.pk:
                _set_pending(presence, status)
            return presence, False
        old_status = presence.status
        presence.status = status
        presence.since = timezone.now()
        presence.pending_status = None
        presence.save(update_fields=["status", "since", "pending_status"])
        _apply_queue_group(agent, status)
        config = PresenceSettings.load()
        if config.log_status_changes:
            StatusChangeLog.objects.create(
                agent_id=agent.pk,
                from_status=old_status,
                from_status_name=old_status.name,
                to_status=status,
                to_status_name=status.name,
                actor_id=getattr(actor, "pk", None),
                source=source,
                reason=reason[:255],
                at=presence.since,
            )
        status_changed.send(
            sender=AgentPresence,
            agent=agent,
            presence=presence,
            old_status=old_status,
            new_status=status,
            actor=actor,
            source=source,
            reason=reason,
            config=config,
        )
    return presence, True


def _set_pending(presence: AgentPresence, status: Status | None) -> None:
    presence.pending_status = status
    presence.save(update_fields=["pending_status"])


def presence_cancel_finishing(agent, *, actor) -> AgentPresence:
    """Stop finishing: the agent stays in their status and takes new work again."""
    with transaction.atomic():
        presence = _lock_presence(agent)
        if presence.pending_status_id is not None:
            _set_pending(presence, None)
    return presence


def presence_complete_finishing(agent) -> AgentPresence:
    """Apply a finishing agent's pending status once they hold no open tickets (source drain).

    Called after a ticket of theirs closes or leaves them; harmless for anyone else.
    """
    with transaction.atomic():
        presence = _lock_presence(agent)
        pending = presence.pending_status
        if pending is None or workload_of(agent.pk).open_tickets > 0:
            return presence
        presence, _ = _change_status(
            agent, pending, actor=None, source=Source.DRAIN, reason=f"finished open tickets before {pending.name}"
        )
    return presence


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
        return StatusChoice(presence_change_status(agent, status, actor=actor, source=source, reason=reason))
    with transaction.atomic():
        presence = _lock_presence(agent)
        pending = StatusRequest.objects.filter(agent_id=agent.pk, state=StatusRequest.State.PENDING)
        if presence.status_id == status.pk:
            return StatusChoice(presence)
        pending.update(state=StatusRequest.State.CANCELLED, decided_at=timezone.now(), decided_by_id=agent.pk)
        request = StatusRequest.objects.create(agent_id=agent.pk, status=status, reason=reason[:255])
    return StatusChoice(presence, request)


def presence_record_heartbeat(agent, *, now=None) -> None:
    """The open agent panel says it is alive (C5). Cheap: at most one write a minute per agent."""
    now = now or timezone.now()
    if first_in_interval(f"presence:heartbeat:{agent.pk}"):
        if not AgentPresence.objects.filter(agent_id=agent.pk).update(last_heartbeat=now):
            presence_ensure(agent)
            AgentPresence.objects.filter(agent_id=agent.pk).update(last_heartbeat=now)


def first_in_interval(key: str) -> bool:
    """True once per HEARTBEAT_WRITE_INTERVAL for `key`: the write-coalescing gate.

    When the cache is unreachable the gate stays open: every call writes to the database,
    which costs more writes but keeps the sweeps' view true.
    """
    try:
        return bool(cache.add(key, 1, timeout=HEARTBEAT_WRITE_INTERVAL))
    except Exception:  # noqa: BLE001 - any cache failure means "write through"
        logger.warning("Cache unreachable: writing %s straight to the database", key.split(":")[1], exc_info=True)
        return True
