"""Re-assign mappings (T4): what happens to an agent's tickets when their status changes."""

from django.db.models import Q
from django.utils import timezone

from presence.eligibility import is_eligible
from presence.models import AgentPresence, AgentProfile, Channel, PresenceSettings, Source, Status
from presence.saving import save_or_refuse
from tickets.models import HELD_STATES, MappingAction, ReassignMapping, Ticket
from tickets.services.decisions import decisions_write_delegated
from tickets.services.moves import HeldBy, move_tickets
from tickets.services.routing import route_locked

SCHEDULE_SOURCES = {Source.SHIFT, Source.APPOINTMENT}


def mapping_for_change(
    old_status: Status, new_status: Status, *, source: str, config: PresenceSettings | None = None
) -> str | None:
    """The action for this change, or None. Kicked out always unassigns; the settings (read
    here unless the caller has them) switch mappings off as a whole, and for shift and
    appointment changes separately."""
    if new_status.slug == Status.KICKED_OUT:
        return MappingAction.UNASSIGN
    config = config or PresenceSettings.load()
    if not config.reassign_on_status_change:
        return None
    if source in SCHEDULE_SOURCES and not config.apply_mappings_to_schedules:
        return None
    # A mapping from this exact status wins over one from any status.
    mappings = list(
        ReassignMapping.objects.filter(Q(from_status=old_status) | Q(from_status__isnull=True), to_status=new_status)
    )
    mappings.sort(key=lambda m: m.from_status_id is None)
    return mappings[0].action if mappings else None


def tickets_move_for_status_change(agent, action: str, *, actor, reason: str) -> list[int]:
    """Move all tickets the agent holds, with a number of statements that does not grow with
    them for unassign and delegate: one lock-and-read, then one statement per target that
    moves the rows, writes their history and moves the load counters. Unassigning (also what
    Kicked out does) needs no read: one statement does it all. Re-routing picks an agent per
    ticket (tickets.services.routing), and what finds nobody goes to the queue. Returns the
    moved tickets' ids."""
    if action == MappingAction.UNASSIGN:
        return tickets_unassign_all(agent, actor=actor, reason=reason)
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .filter(assignee_id=agent.pk, state__in=HELD_STATES)
        .order_by("pk")
    )
    if not tickets:
        return []
    now = timezone.now()
    if action == MappingAction.REROUTE:
        routed = route_locked(tickets, actor=actor, reason=reason, exclude=[agent.pk])
        moved = [pk for ids in routed.assigned.values() for pk in ids]
        targets = {None: routed.unrouted}
    elif action == MappingAction.DELEGATE:
        moved, targets = [], _delegate_targets(agent, tickets)
        decisions_write_delegated(targets, reason=reason, now=now)
    else:
        moved, targets = [], {None: tickets}
    for assignee_id, batch in targets.items():
        if batch:
            moved += move_tickets([t.pk for t in batch], assignee_id=assignee_id, actor=actor, reason=reason, now=now)
    return moved


def _delegate_targets(agent, tickets: list[Ticket]) -> dict[int | None, list[Ticket]]:
    """To the out-of-office delegate what they may take now; the rest to the Unassigned queue.

    A delegate gets work automatically here, so they get a ticket only as routing would give it
    to them: their status passes the one routing rule for it (presence.eligibility: plain or
    chat-linked, not finishing), they have its channel's capability, and room under that
    channel's capacity, counted from their load counters plus what this move gives them.

    Their presence row is locked `skip_locked`, as routing's pick locks it: a router or a status
    change of theirs holding it passes them over (the delegate counts as unavailable), so two
    agents delegating to each other while both change status never wait on each other."""
    profile = AgentProfile.objects.filter(user_id=agent.pk).select_related("delegate__agent_profile").first()
    delegate = profile.delegate if profile else None
    delegate_profile = getattr(delegate, "agent_profile", None) if delegate else None
    if delegate_profile is None:
        return {None: tickets}
    presence = (
        AgentPresence.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("status", "agent__load")
        .filter(agent_id=delegate.pk)
        .first()
    )
    if presence is None:  # never signed in, or locked by another transaction
        return {None: tickets}
    load = getattr(presence.agent, "load", None)
    held = {channel: load.held(channel) if load else 0 for channel in Channel.values}
    targets: dict[int | None, list[Ticket]] = {delegate.pk: [], None: []}
    for ticket in tickets:
        capability = ticket.capability
        takes = (
            is_eligible(presence, chat=ticket.linked_to_chat)
            and delegate_profile.has_capability(capability)
            and held[capability] < delegate_profile.capacity[capability]
        )
        held[capability] += takes
        targets[delegate.pk if takes else None].append(ticket)
    return targets


def mapping_save(mapping: ReassignMapping, *, actor) -> ReassignMapping:
    mapping.full_clean()
    mapping._history_user = actor
    save_or_refuse(mapping)
    return mapping


def mapping_delete(mapping: ReassignMapping, *, actor) -> None:
    mapping._history_user = actor
    mapping.delete()


def tickets_unassign_all(agents, *, actor, reason: str) -> list[int]:
    """Every ticket the agent (or each of a list of agents) holds to the Unassigned queue,
    history included, in one statement on PostgreSQL (the UPDATE locks the rows it moves)."""
    agent_ids = tuple(a.pk for a in agents) if isinstance(agents, list | tuple) else (agents.pk,)
    return move_tickets(HeldBy(agent_ids), assignee_id=None, actor=actor, reason=reason, now=timezone.now())
