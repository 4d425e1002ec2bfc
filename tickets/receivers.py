"""How tickets react to presence (the dependency points from tickets to presence only)."""

from collections import defaultdict

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery

from presence.eligibility import status_receives_automatically
from presence.models import AgentProfile, Channel, TeamMembership
from presence.workload import Workload
from tickets.models import HELD_STATES, MappingAction, RoutingMethod, TeamRouting, Ticket
from tickets.services import mapping_for_change, team_queue_route, tickets_move_for_status_change
from tickets.services.mappings import tickets_unassign_all


def on_statuses_changed(sender, *, changes, actor, source, config, **kwargs) -> None:
    """Apply the re-assign mappings in the status changes' transaction (T4); for agents who have
    just become eligible, route their teams' waiting queues after it commits.

    Changes between the same two statuses share their mapping: unassigning is one statement for
    all their agents; delegating and re-routing go agent by agent (they choose per ticket)."""
    pairs: dict[tuple[int, int], list] = defaultdict(list)
    for change in changes:
        pairs[(change.old_status.pk, change.new_status.pk)].append(change)
    eligible: list[int] = []
    for group in pairs.values():
        old_status, new_status = group[0].old_status, group[0].new_status
        action = mapping_for_change(old_status, new_status, source=source, config=config)
        reason = f"{old_status.name} -> {new_status.name}: {action}"
        if action == MappingAction.UNASSIGN:
            tickets_unassign_all([change.agent for change in group], actor=actor, reason=reason)
        elif action:
            for change in group:
                tickets_move_for_status_change(change.agent, action, actor=actor, reason=reason)
        if status_receives_automatically(new_status) and not status_receives_automatically(old_status):
            eligible += [change.agent.pk for change in group]
    if eligible:
        # After commit, when the queue group (if any) has set the active teams.
        transaction.on_commit(lambda: _route_queues_of(eligible))


def _route_queues_of(agent_ids: list[int]) -> None:
    """Route the waiting queues of these agents' active, automatically routed teams."""
    team_ids = (
        TeamMembership.objects.filter(agent_id__in=agent_ids, active=True)
        .exclude(team__routing__method=RoutingMethod.MANUAL)
        .exclude(team__routing__isnull=True)
        .values_list("team_id", flat=True)
        .distinct()
        .order_by("team_id")
    )
    for team_id in list(team_ids):
        team_queue_route(team_id)


def on_queues_joined(sender, *, agent, team_ids, actor, **kwargs) -> None:
    """An agent joined queues again (P10): route those teams' waiting tickets once the join has
    committed, so the routers see the active membership."""
    routed = (
        TeamRouting.objects.filter(team_id__in=team_ids)
        .exclude(method=RoutingMethod.MANUAL)
        .order_by("team_id")
        .values_list("team_id", flat=True)
    )
    for team_id in list(routed):
        transaction.on_commit(lambda team_id=team_id: team_queue_route(team_id))


def on_agent_deactivated(sender, *, agent, actor, **kwargs) -> None:
    """A deactivated agent keeps no work: what the Offline mappings did not move goes to its
    team's queue (in the deactivation's transaction), and those queues are routed after commit."""
    team_ids = set(
        Ticket.objects.filter(assignee_id=agent.pk, state__in=HELD_STATES, team__isnull=False).values_list(
            "team_id", flat=True
        )
    )
    tickets_unassign_all(agent, actor=actor, reason="agent deactivated")
    for team_id in sorted(team_ids):
        transaction.on_commit(lambda team_id=team_id: team_queue_route(team_id))


def ticket_workloads(agent_ids: list[int]) -> dict[int, Workload]:
    """presence.workload provider: open work from the load counters (presence.AgentLoad), pinned
    tickets counted, and whether every channel the agent handles is full. One query."""
    pinned = (
        Ticket.objects.filter(assignee_id=OuterRef("user_id"), state__in=HELD_STATES, pinned=True)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values("n")
        .order_by()
    )
    fields = [f"can_{c}" for c in Channel.values] + [f"capacity_{c}" for c in Channel.values]
    loads = [f"user__load__{c}" for c in Channel.values]
    rows = (
        AgentProfile.objects.filter(user_id__in=agent_ids)
        .annotate(pinned=Subquery(pinned))
        .values("user_id", "pinned", *fields, *loads)
    )
    result = {}
    for row in rows:
        counts = {c: row[f"user__load__{c}"] or 0 for c in Channel.values}
        capabilities = [c for c in Channel.values if row[f"can_{c}"]]
        at_capacity = bool(capabilities) and all(counts[c] >= row[f"capacity_{c}"] for c in capabilities)
        result[row["user_id"]] = Workload(
            open_tickets=sum(counts.values()),
            pinned_tickets=row["pinned"] or 0,
            at_capacity=at_capacity,
            by_capability={c: n for c, n in counts.items() if n},
        )
    return result
