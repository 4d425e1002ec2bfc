"""Re-assign mappings (T4): what happens to an agent's tickets when their status changes."""

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from presence.models import AgentProfile, PresenceSettings, Source, Status
from tickets.models import HELD_STATES, MappingAction, ReassignMapping, Ticket
from tickets.services.routing import plan_routes, write_assignments, write_history

SCHEDULE_SOURCES = {Source.SHIFT, Source.APPOINTMENT}


def mapping_for_change(old_status: Status, new_status: Status, *, source: str) -> str | None:
    """The action for this change, or None. Kicked out always unassigns; the settings switch
    mappings off as a whole, and for shift and appointment changes separately."""
    if new_status.slug == Status.KICKED_OUT:
        return MappingAction.UNASSIGN
    config = PresenceSettings.load()
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


def tickets_move_for_status_change(agent, action: str, *, actor, reason: str) -> list[Ticket]:
    """Move all tickets the agent holds, with a number of queries that does not grow with them:
    one lock-and-read, one UPDATE per target, one INSERT of history rows. Unassigning (also
    what Kicked out does) is one UPDATE that locks, moves and names the rows at once."""
    if action == MappingAction.UNASSIGN:
        return tickets_unassign_all(agent, actor=actor, reason=reason)
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .filter(assignee_id=agent.pk, state__in=HELD_STATES)
        .order_by("pk")
    )
    if not tickets:
        return []
    if action == MappingAction.REROUTE:
        plan = plan_routes(tickets, exclude_agent_ids=[agent.pk])
        targets = {**plan.assignments, None: plan.unrouted}
    elif action == MappingAction.DELEGATE:
        targets = _delegate_targets(agent, tickets)
    else:
        targets = {None: tickets}
    return write_assignments(targets, actor=actor, reason=reason)


def _delegate_targets(agent, tickets: list[Ticket]) -> dict[int | None, list[Ticket]]:
    """To the out-of-office delegate what they can handle; the rest to the Unassigned queue."""
    profile = AgentProfile.objects.filter(user_id=agent.pk).select_related("delegate__agent_profile").first()
    delegate = profile.delegate if profile else None
    delegate_profile = getattr(delegate, "agent_profile", None) if delegate else None
    if delegate_profile is None:
        return {None: tickets}
    targets: dict[int | None, list[Ticket]] = {delegate.pk: [], None: []}
    for ticket in tickets:
        targets[delegate.pk if delegate_profile.has_capability(ticket.capability) else None].append(ticket)
    return targets


def mapping_save(mapping: ReassignMapping, *, actor) -> ReassignMapping:
    mapping.full_clean()
    mapping._history_user = actor
    mapping.save()
    return mapping


def mapping_delete(mapping: ReassignMapping, *, actor) -> None:
    mapping._history_user = actor
    mapping.delete()


def tickets_unassign_all(agent, *, actor, reason: str) -> list[Ticket]:
    """Every ticket the agent holds to the Unassigned queue: UPDATE ... RETURNING, then history."""
    now = timezone.now()
    quote = connection.ops.quote_name
    table = quote(Ticket._meta.db_table)
    held = ", ".join(["%s"] * len(HELD_STATES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET assignee_id = NULL, assigned_at = NULL, opened_at = NULL, updated_at = %s "
            f"WHERE assignee_id = %s AND state IN ({held}) RETURNING id",
            [now, agent.pk, *HELD_STATES],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        write_history(ids, actor=actor, reason=reason, now=now)
    return [Ticket(pk=pk) for pk in ids]
