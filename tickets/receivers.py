"""How tickets react to presence (the dependency points from tickets to presence only)."""

from django.db import transaction
from django.db.models import Count, Q

from presence.eligibility import status_receives_automatically
from presence.models import AgentProfile, Channel, TeamMembership
from presence.workload import Workload
from tickets.models import CAPABILITY_FOR_CHANNEL, HELD_STATES, RoutingMethod, TeamRouting, Ticket
from tickets.services import mapping_for_change, team_queue_route, tickets_move_for_status_change


def on_status_changed(
    sender, *, agent, presence, old_status, new_status, actor, source, reason, config, **kwargs
) -> None:
    """Apply the re-assign mapping in the status change's transaction (T4); when the agent has
    just become eligible, route their teams' waiting queues after it commits."""
    action = mapping_for_change(old_status, new_status, source=source, config=config)
    if action:
        tickets_move_for_status_change(
            agent, action, actor=actor, reason=f"{old_status.name} -> {new_status.name}: {action}"
        )
    if status_receives_automatically(new_status) and not status_receives_automatically(old_status):
        team_ids = list(
            TeamMembership.objects.filter(agent_id=agent.pk, active=True)
            .exclude(team__routing__method=RoutingMethod.MANUAL)
            .exclude(team__routing__isnull=True)
            .values_list("team_id", flat=True)
        )
        for team_id in team_ids:
            transaction.on_commit(lambda team_id=team_id: team_queue_route(team_id))


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


def ticket_workloads(agent_ids: list[int]) -> dict[int, Workload]:
    """presence.workload provider: held and pinned tickets, and whether every channel is full."""
    held: dict[int, dict[str, int]] = {agent_id: {} for agent_id in agent_ids}
    pinned: dict[int, int] = dict.fromkeys(agent_ids, 0)
    rows = (
        Ticket.objects.filter(assignee_id__in=agent_ids, state__in=HELD_STATES)
        .values("assignee_id", "channel")
        .annotate(n=Count("id"), pinned=Count("id", filter=Q(pinned=True)))
    )
    for row in rows:
        capability = CAPABILITY_FOR_CHANNEL[row["channel"]]
        per_agent = held[row["assignee_id"]]
        per_agent[capability] = per_agent.get(capability, 0) + row["n"]
        pinned[row["assignee_id"]] += row["pinned"]
    fields = [f"can_{c}" for c in Channel.values] + [f"capacity_{c}" for c in Channel.values]
    profiles = {
        row["user_id"]: row for row in AgentProfile.objects.filter(user_id__in=agent_ids).values("user_id", *fields)
    }
    result = {}
    for agent_id in agent_ids:
        counts = held[agent_id]
        profile = profiles.get(agent_id)
        capabilities = [c for c in Channel.values if profile and profile[f"can_{c}"]]
        at_capacity = bool(capabilities) and all(counts.get(c, 0) >= profile[f"capacity_{c}"] for c in capabilities)
        result[agent_id] = Workload(
            open_tickets=sum(counts.values()),
            pinned_tickets=pinned[agent_id],
            at_capacity=at_capacity,
            by_capability=dict(counts),
        )
    return result
