"""Automatic assignment (T3): who may get a ticket, and giving it to them safely under concurrency.

Locking, in this order, so concurrent routers and status changes never wait in a cycle:
1. the tickets being routed (`skip_locked`: a ticket another router holds is its business);
2. the teams' routing rows, in primary-key order (serialises one team's round robin);
3. the presence rows of the agents it chose (`skip_locked`: an agent whose status is changing,
   or whom another router is filling, is skipped rather than waited for, and the tickets
   proposed to them are planned again among the others).
Candidates are read without locks; only the chosen ones are locked, so routers for teams that
share agents mostly pass each other. A router holding a team row never waits on anything
else, so a status change that holds an agent's presence row and then wants a team row cannot
deadlock with it. Load is counted again after the chosen agents are locked, and only what fits
that count is assigned, so two routers never both fill an agent's last free place.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from presence.eligibility import RULE_FIELDS, eligible_q, row_is_eligible, row_is_overflow
from presence.models import AgentPresence, Channel
from tickets.models import CAPABILITY_FOR_CHANNEL, HELD_STATES, RoutingMethod, TeamRouting, Ticket
from tickets.services.moves import assignment_fields, move_tickets, tickets_with_ids


@dataclass
class Candidate:
    agent_id: int
    for_all: bool  # eligible by the routing rule for any ticket
    for_chat: bool  # eligible for tickets linked to a chat
    overflow: bool  # tentative: only when nobody else in the team can take the ticket
    capabilities: set[str]
    capacity: dict[str, int]
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def held_total(self) -> int:
        return sum(self.held.values())

    def can_take(self, ticket: Ticket) -> bool:
        capability = CAPABILITY_FOR_CHANNEL[ticket.channel]
        status_ok = self.for_chat if ticket.linked_to_chat else self.for_all
        return status_ok and capability in self.capabilities and self.held[capability] < self.capacity[capability]

    def take(self, ticket: Ticket) -> None:
        self.held[CAPABILITY_FOR_CHANNEL[ticket.channel]] += 1


CANDIDATE_FIELDS = [
    "agent_id", *RULE_FIELDS,
    *(f"agent__agent_profile__can_{c}" for c in Channel.values),
    *(f"agent__agent_profile__capacity_{c}" for c in Channel.values),
]  # fmt: skip


def _candidate(row: dict) -> Candidate:
    return Candidate(
        agent_id=row["agent_id"],
        for_all=row_is_eligible(row, chat=False),
        for_chat=row_is_eligible(row, chat=True),
        overflow=row_is_overflow(row),
        capabilities={c for c in Channel.values if row[f"agent__agent_profile__can_{c}"]},
        capacity={c: row[f"agent__agent_profile__capacity_{c}"] or 0 for c in Channel.values},
    )


def _count_load(candidates: dict[int, Candidate]) -> None:
    for candidate in candidates.values():
        candidate.held.clear()
    rows = (
        Ticket.objects.filter(assignee_id__in=list(candidates), state__in=HELD_STATES)
        .values("assignee_id", "channel")
        .annotate(n=Count("id"))
    )
    for row in rows:
        candidates[row["assignee_id"]].held[CAPABILITY_FOR_CHANNEL[row["channel"]]] += row["n"]


def _read_candidates(team_id: int, skip: set[int], known: dict[int, Candidate]) -> list[Candidate]:
    """Eligible members of a team with their load, read without locks (a proposal only).

    An agent this plan already locked (for this or another team) is the same Candidate from
    `known`, carrying the assignments planned so far: they are not in the database yet.
    """
    rows = (
        AgentPresence.objects.filter(
            eligible_q(), agent__team_memberships__team_id=team_id, agent__team_memberships__active=True
        )
        .exclude(agent_id__in=skip)
        .order_by("agent_id")
        .values(*CANDIDATE_FIELDS)
    )
    team, unlocked = [], {}
    for row in rows:
        candidate = known.get(row["agent_id"])
        if candidate is None:
            candidate = unlocked[row["agent_id"]] = _candidate(row)
        team.append(candidate)
    if unlocked:
        _count_load(unlocked)
    return team


def _lock(agent_ids) -> dict[int, Candidate]:
    """Lock the chosen agents that are free to lock and still eligible; count their load again
    under the lock, which is what assignments are checked against."""
    rows = (
        AgentPresence.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(eligible_q(), agent_id__in=list(agent_ids))
        .order_by("agent_id")
        .values(*CANDIDATE_FIELDS)
    )
    locked = {row["agent_id"]: _candidate(row) for row in rows}
    if locked:
        _count_load(locked)
    return locked


def _pick(method: str, pool: list[Candidate], cursor: int | None) -> Candidate:
    if method == RoutingMethod.LOAD_BALANCE:
        return min(pool, key=lambda c: (c.held_total, c.agent_id))
    # Round robin: the next agent after the one who got the team's last ticket, wrapping round.
    after = [c for c in pool if cursor is None or c.agent_id > cursor]
    return (after or pool)[0]


@dataclass
class RoutingPlan:
    assignments: dict[int, list[Ticket]] = field(default_factory=lambda: defaultdict(list))
    unrouted: list[Ticket] = field(default_factory=list)


def plan_routes(tickets: list[Ticket], *, exclude_agent_ids=()) -> RoutingPlan:
    """Decide an agent for each ticket by its team's routing; tickets must already be locked.

    Takes the team rows' and chosen agents' locks (see the module docstring) and moves the
    round-robin cursors. Tickets with no team, a manual team, or no eligible agent with room
    stay unrouted.
    """
    plan = RoutingPlan()
    exclude = set(exclude_agent_ids)
    by_team: dict[int, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        if ticket.team_id is None:
            plan.unrouted.append(ticket)
        else:
            by_team[ticket.team_id].append(ticket)
    if not by_team:
        return plan
    known: dict[int, Candidate] = {}
    routings = {
        routing.pk: routing
        for routing in TeamRouting.objects.select_for_update().filter(pk__in=list(by_team)).order_by("pk")
    }
    for team_id in sorted(by_team):
        routing = routings.get(team_id)
        pending = sorted(by_team[team_id], key=lambda t: (t.created_at, t.pk))
        if routing is None or routing.method == RoutingMethod.MANUAL:
            plan.unrouted.extend(pending)
            continue
        cursor, skip = routing.last_agent_id, set(exclude)
        for _ in range(ROUTING_ROUNDS):
            proposals: dict[int, list[Ticket]] = defaultdict(list)
            candidates = _read_candidates(team_id, skip, known)
            for ticket in pending:
                able = [c for c in candidates if c.can_take(ticket)]
                # Tentative agents are the overflow: only when nobody else can take it (S6).
                pool = [c for c in able if not c.overflow] or able
                if not pool:
                    plan.unrouted.append(ticket)
                    continue
                chosen = _pick(routing.method, pool, cursor)
                chosen.take(ticket)
                cursor = chosen.agent_id
                proposals[chosen.agent_id].append(ticket)
            locked = _lock(agent_id for agent_id in proposals if agent_id not in known)
            skip |= {agent_id for agent_id in proposals if agent_id not in known and agent_id not in locked}
            known.update(locked)
            pending = []
            for agent_id, proposed in proposals.items():
                if agent_id in locked:  # freshly locked: only what fits its real load
                    for ticket in proposed:
                        if locked[agent_id].can_take(ticket):
                            locked[agent_id].take(ticket)
                            plan.assignments[agent_id].append(ticket)
                        else:
                            pending.append(ticket)
                elif agent_id in known:  # locked before: its counts are already exact
                    plan.assignments[agent_id].extend(proposed)
                else:  # another router holds this agent: try the others
                    pending.extend(proposed)
            if not pending:
                break
        plan.unrouted.extend(pending)
        if routing.method == RoutingMethod.ROUND_ROBIN and cursor != routing.last_agent_id:
            TeamRouting.objects.filter(pk=team_id).update(last_agent_id=cursor)
    return plan


def write_assignments(assignments: dict[int | None, list[Ticket]], *, actor, reason: str) -> list[Ticket]:
    """One statement per target (None: the Unassigned queue), history rows included."""
    now = timezone.now()
    moved: list[Ticket] = []
    for agent_id, batch in assignments.items():
        if not batch:
            continue
        move_tickets(tickets_with_ids(t.pk for t in batch), assignee_id=agent_id, actor=actor, reason=reason, now=now)
        fields = assignment_fields(agent_id, now)
        for ticket in batch:
            for name, value in fields.items():
                setattr(ticket, name, value)
        moved.extend(batch)
    return moved


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
        plan = plan_routes(tickets)
        return write_assignments(dict(plan.assignments), actor=actor, reason="routed")


# Rounds of propose-lock-check per team: an agent another router holds is skipped and the
# tickets proposed to them are planned again among the rest.
ROUTING_ROUNDS = 3

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
