"""Automatic assignment (T3): who gets a ticket, chosen in SQL through an index, safely under concurrency.

Candidates come a page at a time from one team's routable members (presence.TeamMembership,
whose routing columns the services keep from the one routing rule), through a partial index
in the team's order: fewest open tickets first for load balance, least recently given a ticket
first for round robin (the cursor is the membership's `last_assigned_at`), tentative members
last (overflow, S6). The page query also checks, on the rows as they are, that each member's
status still passes the rule and that they have the channel's capability and room under its
capacity (presence.AgentLoad), and locks their presence and load rows `FOR UPDATE SKIP LOCKED`.
A page is as long as the tickets to place need (one row for one ticket), so a pick reads a
handful of rows whatever the size of the team, and a mass re-route costs statements per target
agent, not per ticket.

Locking, in this order, so concurrent routers, status changes and closes never wait in a cycle:
1. the tickets being routed (`skip_locked`: a ticket another router holds is its business);
2. the chosen agents' presence and load rows (`skip_locked`: an agent whose status is changing,
   or whom another router is filling, is passed over for the next in order). The presence
   lock serialises routing with status changes; locking the load row in the same statement
   makes PostgreSQL check the capacity against its latest value, so two routers never both
   fill an agent's last free place;
3. the agents' counters and memberships, which the moves write in that order (load rows first,
   as every writer of them does).
A router never waits on a presence or load row, so nothing that holds one and waits for a
ticket (a status change moving tickets) can deadlock with it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from presence.eligibility import eligible_q
from presence.models import TeamMembership
from tickets.models import HELD_STATES, RoutingMethod, TeamRouting, Ticket
from tickets.services.moves import move_tickets, tickets_with_ids

ORDER = {
    RoutingMethod.LOAD_BALANCE: ("overflow", "load", "agent_id"),
    RoutingMethod.ROUND_ROBIN: ("overflow", F("last_assigned_at").asc(nulls_first=True), "agent_id"),
}
# At most this many members are locked by one page: enough for a mass re-route to spread well.
PAGE_MAX = 64


@dataclass
class Member:
    agent_id: int
    overflow: bool
    held: int  # open tickets of the channel's capability, under the lock
    capacity: int
    load: int  # open tickets in all, for load balance
    turns: int = 0  # tickets given in this plan (round robin)
    last_turn: int = 0  # when, in this plan, they last got one


def _page(team_id: int, capability: str, chat: bool, method: str, size: int, skip) -> list[Member]:
    """The next `size` members of the team who can take such a ticket now, in the team's order,
    locked (skipping those another transaction holds)."""
    members = TeamMembership.objects.filter(team_id=team_id, routable_chat=True)
    if not chat:
        members = members.filter(routable=True)
    rows = (
        members.filter(eligible_q("agent__presence__", chat=chat))
        .filter(**{f"agent__agent_profile__can_{capability}": True})
        .filter(**{f"agent__load__{capability}__lt": F(f"agent__agent_profile__capacity_{capability}")})
        .exclude(agent_id__in=list(skip))
        .order_by(*ORDER[method])
        # The rows to lock must be in the select: the member's presence and load rows (inner
        # joins, as the filters above need them).
        .select_related("agent__presence", "agent__load", "agent__agent_profile")
        .only(
            "agent_id",
            "overflow",
            "load",
            "agent__presence__agent_id",
            "agent__load__agent_id",
            f"agent__load__{capability}",
            f"agent__agent_profile__capacity_{capability}",
        )  # fmt: skip
        .select_for_update(skip_locked=True, of=("agent__presence", "agent__load"))[:size]
    )
    return [
        Member(
            agent_id=row.agent_id,
            overflow=row.overflow,
            held=getattr(row.agent.load, capability),
            capacity=getattr(row.agent.agent_profile, f"capacity_{capability}"),
            load=row.load,
        )
        for row in rows
    ]


def _place(tickets: list[Ticket], team_id: int, method: str, exclude) -> dict[int, list[Ticket]]:
    """Choose an agent for each of these tickets (one team, one capability, one kind), oldest
    first. Returns agent id -> tickets; what finds nobody is left out."""
    first = tickets[0]
    capability, chat = first.capability, first.linked_to_chat
    size = min(len(tickets), PAGE_MAX)
    pool: list[Member] = []
    seen, exhausted, boundary = set(exclude), False, 0
    placed: dict[int, list[Ticket]] = defaultdict(list)
    for turn, ticket in enumerate(tickets, start=1):
        able = [m for m in pool if m.held < m.capacity]
        # Read on when a member not read yet may come first: under load balance, once everyone
        # read is heavier than the last load read (the index order's boundary); under round
        # robin, once everyone read has had a turn.
        want_more = (
            not able
            or (method == RoutingMethod.LOAD_BALANCE and min(m.load for m in able) > boundary)
            or (method == RoutingMethod.ROUND_ROBIN and all(m.turns for m in able))
        )
        if want_more and not exhausted:
            page = _page(ticket.team_id, capability, chat, method, size, seen)
            exhausted = len(page) < size
            seen |= {m.agent_id for m in page}
            boundary = page[-1].load if page else boundary
            pool += page
            able += page
        if not able:
            continue
        if method == RoutingMethod.LOAD_BALANCE:
            chosen = min(able, key=lambda m: (m.overflow, m.load, m.agent_id))
        else:  # the pool is in turn order; the next turn is the least used, then the first read
            chosen = min(able, key=lambda m: (m.overflow, m.turns, pool.index(m)))
        chosen.held, chosen.load, chosen.turns, chosen.last_turn = (
            chosen.held + 1,
            chosen.load + 1,
            chosen.turns + 1,
            turn,
        )
        placed[chosen.agent_id].append(ticket)
    # Round robin's cursor: the order of the last turns, for route_locked to write.
    order = {m.agent_id: m.last_turn for m in pool}
    return dict(sorted(placed.items(), key=lambda item: order[item[0]]))


@dataclass
class Routed:
    assigned: dict[int, list[int]] = field(default_factory=dict)  # agent id -> ticket ids
    unrouted: list[Ticket] = field(default_factory=list)


def route_locked(tickets: list[Ticket], *, actor, reason: str, exclude=()) -> Routed:
    """Give these locked tickets to agents of their teams by each team's routing, oldest first,
    and write the assignments: one statement per agent that gets tickets. Tickets of no team,
    of a manual team, or that nobody can take now are returned as unrouted."""
    routed = Routed()
    team_ids = {t.team_id for t in tickets if t.team_id is not None}
    methods = dict(TeamRouting.objects.filter(pk__in=team_ids).values_list("pk", "method")) if team_ids else {}
    groups: dict[tuple, list[Ticket]] = defaultdict(list)
    for ticket in sorted(tickets, key=lambda t: (t.created_at, t.pk)):
        method = methods.get(ticket.team_id, RoutingMethod.MANUAL)
        if method == RoutingMethod.MANUAL:
            routed.unrouted.append(ticket)
        else:
            groups[(ticket.team_id, method, ticket.capability, ticket.linked_to_chat)].append(ticket)
    now = timezone.now()
    for (team_id, method, _, _), group in groups.items():
        placed = _place(group, team_id, method, exclude)
        for agent_id, batch in placed.items():
            move_tickets(
                tickets_with_ids(t.pk for t in batch), assignee_id=agent_id, actor=actor, reason=reason, now=now
            )
            for ticket in batch:
                ticket.assignee_id, ticket.assigned_at, ticket.opened_at = agent_id, now, None
            routed.assigned.setdefault(agent_id, []).extend(t.pk for t in batch)
        if method == RoutingMethod.ROUND_ROBIN and placed:
            # The cursor: those who just had a turn go to the back, in the order of their last turn.
            for order, agent_id in enumerate(placed):
                TeamMembership.objects.filter(team_id=team_id, agent_id=agent_id).update(
                    last_assigned_at=now + timedelta(microseconds=order)
                )
        placed_ids = {t.pk for batch in placed.values() for t in batch}
        routed.unrouted += [t for t in group if t.pk not in placed_ids]
    return routed


def lock_unassigned(ticket_ids) -> list[Ticket]:
    return list(
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=list(ticket_ids), assignee__isnull=True, state__in=HELD_STATES)
        .order_by("pk")
    )


def tickets_route(ticket_ids, *, actor=None) -> list[Ticket]:
    """Route these tickets if they are still unassigned; returns the ones that got an agent."""
    with transaction.atomic():
        tickets = lock_unassigned(ticket_ids)
        if not tickets:
            return []
        route_locked(tickets, actor=actor, reason="routed")
        return [t for t in tickets if t.assignee_id is not None]


# How many queued tickets one routing pass takes; the next event routes the rest.
QUEUE_BATCH = 500


def team_queue_route(team_id: int, *, actor=None) -> list[Ticket]:
    """Route a team's Unassigned queue, oldest first (an agent became eligible or freed capacity)."""
    ids = list(
        Ticket.objects.unassigned()
        .filter(team_id=team_id)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:QUEUE_BATCH]
    )
    return tickets_route(ids, actor=actor) if ids else []


def tickets_route_queues(*, actor=None) -> int:
    """Route the queue of every round-robin and load-balance team that has waiting tickets."""
    team_ids = (
        Ticket.objects.unassigned()
        .filter(team__routing__method__in=[RoutingMethod.ROUND_ROBIN, RoutingMethod.LOAD_BALANCE])
        .values_list("team_id", flat=True)
        .distinct()
        .order_by("team_id")
    )
    return sum(len(team_queue_route(team_id, actor=actor)) for team_id in list(team_ids))
