"""The automatic status paths (C3-C6, P5): sweeps over presence state, run by Celery beat.

Every sweep is state-based (whoever is due when it runs is handled, so a missed run catches
up), works through due agents in batches, changing each batch together in one short
transaction (presence_change_due), and re-checks under each agent's row lock what made them
due, so two copies running at once, or a person acting at the same moment, never change an
agent twice.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from presence.models import (
    AgentPresence,
    AgentSession,
    LicenceType,
    PresenceSettings,
    Source,
    Status,
    StatusCategory,
    StillWorkingPrompt,
)
from presence.services.bookkeeping import HEARTBEAT_WRITE_INTERVAL, bookkeeping_flush
from presence.services.status_change import (
    Change,
    presence_change_due,
    presence_change_status,
)

BATCH_SIZE = 200
# Heartbeats and activity reach the database up to this late (they are coalesced,
# presence/services/bookkeeping.py): a sweep allows for it so it never acts on a time the cache
# has already moved on, and writes the times still pending in Redis before it reads.
WRITE_LAG = timedelta(seconds=HEARTBEAT_WRITE_INTERVAL)


def _due_batches(queryset, batch_size: int):
    """Due presences in primary-key order, a batch at a time; each batch is a fresh read."""
    last = None
    while True:
        page = queryset.order_by("agent_id")
        if last is not None:
            page = page.filter(agent_id__gt=last)
        rows = list(page.select_related("agent", "status")[:batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1].agent_id


# --- P5 timed statuses -----------------------------------------------------------------------


def presence_expire_timed_statuses(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Return every agent whose timed status ran out to its return status (source expiry)."""
    now = now or timezone.now()
    changed = 0
    timed = Status.objects.filter(max_duration__isnull=False, return_status__isnull=False).select_related(
        "return_status"
    )
    for status in timed:
        due = AgentPresence.objects.filter(status=status, since__lte=now - timedelta(minutes=status.max_duration))
        reason = f"{status.name} ended after {status.max_duration} min"
        for batch in _due_batches(due, batch_size):
            changes = [Change(presence.agent, status.return_status, reason, if_status=status, if_since=presence.since)
                       for presence in batch]  # fmt: skip
            changed += presence_change_due(changes, source=Source.EXPIRY)
    return changed


# --- C5 auto-offline ---------------------------------------------------------------------------


def presence_auto_offline(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Agents in a receiving status whose panel stopped sending heartbeats get the auto-offline
    status. No heartbeat yet counts from when they entered the status."""
    now = now or timezone.now()
    config = PresenceSettings.load()
    if config.auto_offline_minutes is None:  # turned off
        return 0
    target = config.auto_offline_status
    bookkeeping_flush()  # heartbeats recorded but not yet written
    cutoff = now - timedelta(minutes=config.auto_offline_minutes) - WRITE_LAG

    def silent(presence: AgentPresence) -> str | None:
        if presence.status.can_receive and (presence.last_heartbeat or presence.since) < cutoff:
            return None
        return "a heartbeat came, or the status no longer receives"

    due = AgentPresence.objects.filter(status__can_receive=True).filter(
        Q(last_heartbeat__lt=cutoff) | Q(last_heartbeat__isnull=True, since__lt=cutoff)
    )
    changed = 0
    reason = f"no heartbeat for {config.auto_offline_minutes} min"
    for batch in _due_batches(due, batch_size):
        changes = [Change(presence.agent, target, reason, precondition=silent) for presence in batch]
        changed += presence_change_due(changes, source=Source.AUTO_OFFLINE)
    return changed


# --- C4 idle timeout -----------------------------------------------------------------------------


def idle_timeout_for(status: Status, config: PresenceSettings) -> int | None:
    """Minutes of inactivity after which an agent in `status` is logged out, or None."""
    if status.category == StatusCategory.OFFLINE:
        return None
    return status.idle_timeout or config.idle_timeout_minutes


def idle_licences(config: PresenceSettings) -> list[str]:
    flags = ((LicenceType.NAMED, config.idle_timeout_named), (LicenceType.CONCURRENT, config.idle_timeout_concurrent))
    return [licence for licence, on in flags if on]


def presence_idle_deadline(presence: AgentPresence, licence_type: str, config: PresenceSettings):
    """When this agent will be logged out for inactivity, or None (for the idle warning)."""
    minutes = idle_timeout_for(presence.status, config)
    if minutes is None or licence_type not in idle_licences(config):
        return None
    return (presence.last_activity or presence.since) + timedelta(minutes=minutes)


def presence_idle_timeout(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Log out agents inactive longer than their timeout: sessions ended, status Offline."""
    now = now or timezone.now()
    config = PresenceSettings.load()
    licences = idle_licences(config)
    if not licences:
        return 0
    offline = Status.objects.get(slug=Status.OFFLINE)
    bookkeeping_flush()  # activity recorded but not yet written
    changed = 0
    for status in Status.objects.exclude(category=StatusCategory.OFFLINE):
        minutes = idle_timeout_for(status, config)
        if minutes is None:
            continue
        cutoff = now - timedelta(minutes=minutes) - WRITE_LAG

        def idle(presence: AgentPresence, cutoff=cutoff) -> str | None:
            return None if (presence.last_activity or presence.since) < cutoff else "active meanwhile"

        due = AgentPresence.objects.filter(status=status, agent__agent_profile__licence_type__in=licences).filter(
            Q(last_activity__lt=cutoff) | Q(last_activity__isnull=True, since__lt=cutoff)
        )
        reason = f"inactive for {minutes} min"
        for batch in _due_batches(due, batch_size):
            changes = [Change(p.agent, offline, reason, if_status=status, precondition=idle) for p in batch]
            changed += presence_change_due(changes, source=Source.IDLE_TIMEOUT, after=agent_sessions_end)
    return changed


# --- sessions ------------------------------------------------------------------------------------


def agent_session_track(agent, session_key: str | None) -> None:
    if session_key:
        AgentSession.objects.get_or_create(session_key=session_key, defaults={"agent": agent})


def agent_session_forget(session_key: str | None) -> None:
    if session_key:
        AgentSession.objects.filter(session_key=session_key).delete()


def agent_sessions_end(agents) -> int:
    """End every tracked browser session of the agent, or of each of a list of agents (after the
    transaction commits)."""
    agent_ids = [a.pk for a in agents] if isinstance(agents, list | tuple) else [agents.pk]
    tracked = AgentSession.objects.filter(agent_id__in=agent_ids)
    keys = list(tracked.values_list("session_key", flat=True))
    tracked.delete()
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")

    def end() -> None:
        for key in keys:
            store(session_key=key).delete()

    transaction.on_commit(end)
    return len(keys)


# --- C6 "still working?" and kick-out -------------------------------------------------------------


def presence_ask_still_working(agent, *, now=None) -> StillWorkingPrompt | None:
    """Ask once: a new prompt unless one is already open."""
    prompt, created = StillWorkingPrompt.objects.get_or_create(
        agent_id=agent.pk, state=StillWorkingPrompt.State.OPEN, defaults={"asked_at": now or timezone.now()}
    )
    return prompt if created else None


def presence_answer_still_working(agent, *, now=None) -> bool:
    """The agent answered (or opened their work): the open prompt closes. False if none was open."""
    return bool(
        StillWorkingPrompt.objects.filter(agent_id=agent.pk, state=StillWorkingPrompt.State.OPEN).update(
            state=StillWorkingPrompt.State.ANSWERED, closed_at=now or timezone.now()
        )
    )


def presence_kick_out_unanswered(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Agents who left 'still working?' unanswered for the kick-out timeout are Kicked out;
    re-assign then always puts their tickets back in the queue (T4)."""
    now = now or timezone.now()
    config = PresenceSettings.load()
    kicked_out = Status.objects.get(slug=Status.KICKED_OUT)
    cutoff = now - timedelta(minutes=config.kick_out_minutes)
    changed = 0
    expired = StillWorkingPrompt.objects.filter(state=StillWorkingPrompt.State.OPEN, asked_at__lt=cutoff)
    for prompt in expired.select_related("agent").order_by("pk")[:batch_size]:
        with transaction.atomic():
            # Claim the prompt first: of two sweeps at once, one closes it and acts.
            claimed = StillWorkingPrompt.objects.filter(pk=prompt.pk, state=StillWorkingPrompt.State.OPEN).update(
                state=StillWorkingPrompt.State.KICKED_OUT, closed_at=now
            )
            if not claimed:
                continue
            did = presence_change_status(
                prompt.agent, kicked_out, actor=None, source=Source.KICKED_OUT,
                reason=f"'still working?' unanswered for {config.kick_out_minutes} min",
                precondition=lambda presence: None if presence.status.can_receive else "not receiving any more",
            ).applied  # fmt: skip
            if not did:  # they had already left the receiving status: nothing to kick
                StillWorkingPrompt.objects.filter(pk=prompt.pk).update(state=StillWorkingPrompt.State.WITHDRAWN)
            changed += did
    return changed
