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
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from presence.eligibility import eligible_sql
from presence.models import ROUND_ROBIN_CURSOR_SQL, Channel, TeamMembership
from presence.shared.sql import matching, prepared_cursor
from tickets.models import HELD_STATES, RoutingMethod, TeamRouting, Ticket
from tickets.services.decisions import Pick, decisions_sql, decisions_write
from tickets.services.moves import move_tickets

# At most this many members are locked by one page: enough for a mass re-route to spread well.
PAGE_MAX = 64


@dataclass
class Member:
    agent_id: int
    overflow: bool
    held: int  # open tickets of the channel's capability, under the lock
    capacity: int
    load: int  # open tickets in all, for load balance
    last_assigned_at: datetime | None = None  # round robin's cursor, as read
    turns: int = 0  # tickets given in this plan (round robin)
    last_turn: int = 0  # when, in this plan, they last got one
    passed: str | None = None  # the members just ahead, with why (JSON), if the pick read them

    def __post_init__(self) -> None:
        self.read_load = self.load  # the team's order as read, for the routing decision


def _tables() -> dict[str, str]:
    from presence.models import AgentLoad, AgentPresence, AgentProfile

    return {
        "membership": TeamMembership._meta.db_table,
        "presence": AgentPresence._meta.db_table,
        "load": AgentLoad._meta.db_table,
        "profile": AgentProfile._meta.db_table,
    }


def _key_sql(method: str) -> str:
    """A member's place in the team's order after the overflow flag, as the pick index has it."""
    if method == RoutingMethod.LOAD_BALANCE:
        return "m.load"
    if connection.vendor == "postgresql":
        return ROUND_ROBIN_CURSOR_SQL.format("m.last_assigned_at")
    return "m.last_assigned_at"  # SQLite sorts NULLs (never given one) first


def _order_sql(method: str) -> str:
    """The team's order, as its pick index has it."""
    return f"m.overflow, {_key_sql(method)}, m.agent_id"


def _page(
    team_id: int, capability: str, chat: bool, method: str, size: int, skip, *, regular_unlocked: bool = False
) -> list[Member]:
    """The next `size` members of the team who can take such a ticket now, in the team's order,
    locked (skipping those another transaction holds).

    One lean statement rather than the ORM's: it runs once per routed ticket, and joins only the
    five rows a pick needs. The membership's routing columns pick through the index; the rule
    is checked again on the presence row as it is once locked (PostgreSQL re-checks a locked
    row's conditions if it changed meanwhile), and the room left on the load row likewise.

    `regular_unlocked`: the same read of the members who are not overflow, without locking (so
    also those another transaction holds): is a regular member able to take the ticket?"""
    skip = list(skip)
    postgresql = connection.vendor == "postgresql"
    params: list = [team_id]
    if skip:
        params += [skip] if postgresql else skip
    sql = _page_sql(connection.vendor, capability, chat, method, size, 1 if postgresql and skip else len(skip),
                    regular_unlocked)  # fmt: skip
    # The page of one ticket, the common one, is prepared with its limit in the text: a generic
    # plan with an unknown limit may sort every member instead of walking the pick index.
    with prepared_cursor() if size == 1 else connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        Member(agent_id=agent_id, overflow=overflow, held=held, capacity=capacity, load=load,
               last_assigned_at=_aware(last))
        for agent_id, overflow, load, held, capacity, last in rows
    ]  # fmt: skip


@cache
def _page_sql(vendor: str, capability: str, chat: bool, method: str, size: int, skips: int,
              regular_unlocked: bool) -> str:  # fmt: skip
    """The statement of `_page`, the same for every page of its shape: built once (building it
    cost each routed ticket about 80 µs of Python, twice what its routing decision adds).
    `skips`: how many agents are skipped (on PostgreSQL, 1 for an array of any length)."""
    if capability not in Channel.values:  # the column names below come from it
        raise ValueError(f"Unknown capability {capability!r}")
    where = ["m.team_id = %s", "m.routable_chat"]
    if not chat:
        where.append("m.routable")
    where += [
        f"({eligible_sql('s', chat=chat)})",
        f"p.can_{capability}",
        f"l.{capability} < p.capacity_{capability}",
    ]
    if skips:
        if vendor == "postgresql":
            where.append("NOT (m.agent_id = ANY(%s::bigint[]))")
        else:
            where.append(f"m.agent_id NOT IN ({', '.join(['%s'] * skips)})")
    if regular_unlocked:
        where.append("NOT m.overflow")
    lock = ""
    if connection.features.has_select_for_update and not regular_unlocked:
        lock = connection.ops.for_update_sql(
            skip_locked=connection.features.has_select_for_update_skip_locked,
            of=("s", "l") if connection.features.has_select_for_update_of else (),
        )
    return (
        "SELECT m.agent_id, m.overflow, m.load, l.{capability}, p.capacity_{capability}, m.last_assigned_at"
        " FROM {membership} m"
        " JOIN {presence} s ON s.agent_id = m.agent_id"
        " JOIN {load} l ON l.agent_id = m.agent_id"
        " JOIN {profile} p ON p.user_id = m.agent_id"
        " WHERE {where} ORDER BY {order} LIMIT {size:d} {lock}"
    ).format(capability=capability, where=" AND ".join(where), order=_order_sql(method), size=size, lock=lock,
             **_tables())  # fmt: skip


# How many of the team's members, in its order, a single ticket's pick reads with why each one
# could not take the ticket (`_pick_with_passed_over`). A pick seldom walks past the first few:
# past the first WINDOW, the plain page reads on and the decision looks back for itself.
WINDOW = 16


def _pick_with_passed_over(team_id: int, capability: str, chat: bool, method: str, skip) -> list[Member]:
    """One ticket's pick as `_page` makes it (the first member who can take it now, locked,
    skipping those another transaction holds), with its routing decision's passed-over members
    read in the same walk of the pick index (PostgreSQL): the members just ahead of the one
    chosen in the team's order (ROUTING_DECISIONS_PASSED_OVER) and why each could not have the
    ticket. The decision then walks nothing of its own (tickets.services.decisions), where it
    would walk the same entries back again: on a busy team, mostly those its members' earlier
    loads left in the index until a vacuum.

    Empty when none of the first WINDOW members can take the ticket: the caller reads on with
    `_page`. `skip` (on a single ticket's pass, the agents it is re-routed away from) is passed
    over as excluded."""
    skip = list(skip)
    sql = _pick_with_passed_over_sql(capability, chat, method, bool(skip), int(settings.ROUTING_DECISIONS_PASSED_OVER))
    with prepared_cursor() as cursor:
        cursor.execute(sql, [skip, team_id] if skip else [team_id])
        rows = cursor.fetchall()
    return [
        Member(agent_id=agent_id, overflow=overflow, held=held, capacity=capacity, load=load, last_assigned_at=last,
               passed=passed)
        for agent_id, overflow, load, held, capacity, last, passed in rows
    ]  # fmt: skip


@cache
def _pick_with_passed_over_sql(capability: str, chat: bool, method: str, skips: bool, passed_over: int) -> str:
    """The statement of `_pick_with_passed_over`, the same for every pick of its shape.

    The inner select walks the pick index and reads each member's profile and load, as the plain
    page does, but filters nobody out: it says why each one cannot take the ticket (NULL: they
    can), with the reasons in the decisions' order. A window over those rows gathers, on each,
    the ones just before it. Above it, the first member who can is joined to their presence and
    load rows and locked, the lock re-checking both as `_page`'s does; a member ahead who could
    have taken the ticket was held by another transaction (a router, a status change), and is
    listed as locked.

    So that the plan stays a walk that stops at the first member free, whatever the size of the
    team: the inner limit is in the text (planned for a few rows, the walk goes through the
    index; for all, it would read and sort the team); the order's key is an inner column (the
    window and the outer order then need no sort); and `free` is a boolean column, which the
    planner takes to hold on half the rows, where `why IS NULL` would be one in two hundred:
    sure of a single row, it hash-joined the inner rows to every load row and sorted them."""
    from tickets.models import RoutingDecision

    if capability not in Channel.values:  # the column names below come from it
        raise ValueError(f"Unknown capability {capability!r}")
    reason = RoutingDecision.PassedOver
    whys = [f"WHEN m.agent_id = ANY(%s::bigint[]) THEN '{reason.EXCLUDED}'"] if skips else []
    if not chat:
        whys.append(f"WHEN NOT m.routable THEN '{reason.NOT_ELIGIBLE}'")
    whys += [
        f"WHEN NOT p.can_{capability} THEN '{reason.NO_CAPABILITY}'",
        f"WHEN l.{capability} >= p.capacity_{capability} THEN '{reason.AT_CAPACITY}'",
    ]
    if passed_over > 0:
        passed = (
            f"jsonb_agg(jsonb_build_object('agent', w.agent_id, 'reason', COALESCE(w.why, '{reason.LOCKED}')))"
            f" OVER (ORDER BY w.overflow, w.key, w.agent_id ROWS BETWEEN {passed_over:d} PRECEDING AND 1 PRECEDING)"
        )
    else:
        passed = "NULL::jsonb"
    lock = connection.ops.for_update_sql(skip_locked=True, of=("s", "l"))
    return " ".join(
        f"""
        SELECT c.agent_id, c.overflow, c.load, l.{capability}, c.capacity, c.last_assigned_at,
               COALESCE(c.passed, '[]'::jsonb)::text
        FROM (
            SELECT w.*, w.why IS NULL AS free, {passed} AS passed
            FROM (
                SELECT m.agent_id, m.overflow, m.load, m.last_assigned_at, {_key_sql(method)} AS key,
                       p.capacity_{capability} AS capacity, CASE {" ".join(whys)} END AS why
                FROM {{membership}} m
                JOIN {{load}} l ON l.agent_id = m.agent_id
                JOIN {{profile}} p ON p.user_id = m.agent_id
                WHERE m.team_id = %s AND m.routable_chat
                ORDER BY m.overflow, key, m.agent_id LIMIT {WINDOW:d}
            ) w
        ) c
        JOIN {{presence}} s ON s.agent_id = c.agent_id
        JOIN {{load}} l ON l.agent_id = c.agent_id
        WHERE c.free AND ({eligible_sql("s", chat=chat)}) AND l.{capability} < c.capacity
        ORDER BY c.overflow, c.key, c.agent_id LIMIT 1 {lock}
        """.format(**_tables()).split()
    )


def _aware(value):
    """A timestamp read by a raw statement: SQLite gives it naive (in UTC), PostgreSQL aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def _place(tickets: list[Ticket], team_id: int, method: str, exclude) -> tuple[dict[int, list[Ticket]], list[Pick]]:
    """Choose an agent for each of these tickets (one team, one capability, one kind), oldest
    first. Returns agent id -> tickets (what finds nobody is left out), and each pick as made
    (for its routing decision)."""
    first = tickets[0]
    capability, chat = first.capability, first.linked_to_chat
    size = min(len(tickets), PAGE_MAX)
    # One ticket (most routing: each new ticket on its own): its decision's look-back comes with
    # the pick. Several share their pages, and each decision looks back for itself.
    windowed = size == 1 and connection.vendor == "postgresql" and settings.ROUTING_DECISIONS
    pool: list[Member] = []
    seen, exhausted, boundary = set(exclude), False, 0
    placed: dict[int, list[Ticket]] = defaultdict(list)
    picks: list[Pick] = []
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
            page = _pick_with_passed_over(ticket.team_id, capability, chat, method, seen) if windowed else []
            page = page or _page(ticket.team_id, capability, chat, method, size, seen)
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
        if chosen.overflow and _a_regular_is_held(ticket.team_id, capability, chat, method, seen):
            break  # the rest wait in the queue for the regular member (the queue sweep routes them)
        picks.append(
            Pick(ticket.pk, chosen.agent_id, chosen.overflow, len(pool), chosen.held, chosen.capacity,
                 chosen.read_load, chosen.last_assigned_at, chosen.passed)
        )  # fmt: skip
        chosen.held, chosen.load, chosen.turns, chosen.last_turn = (
            chosen.held + 1,
            chosen.load + 1,
            chosen.turns + 1,
            turn,
        )
        placed[chosen.agent_id].append(ticket)
    # Round robin's cursor: the order of the last turns, for route_locked to write.
    order = {m.agent_id: m.last_turn for m in pool}
    return dict(sorted(placed.items(), key=lambda item: order[item[0]])), picks


def _a_regular_is_held(team_id: int, capability: str, chat: bool, method: str, seen) -> bool:
    """Overflow (S6) only when nobody else can take the ticket: a regular member with room whom
    the pick skipped because another transaction held them (a router filling them, a status
    change) still can, in a moment. Then the ticket waits for them rather than go to a
    tentative member."""
    return bool(_page(team_id, capability, chat, method, 1, seen, regular_unlocked=True))


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
    if all(hasattr(t, "routing_method") for t in tickets):  # read with the lock (lock_unassigned)
        methods = {t.team_id: t.routing_method for t in tickets if t.routing_method}
    else:
        methods = dict(TeamRouting.objects.filter(pk__in=team_ids).values_list("pk", "method")) if team_ids else {}
    groups: dict[tuple, list[Ticket]] = defaultdict(list)
    for ticket in sorted(tickets, key=lambda t: (t.created_at, t.pk)):
        method = methods.get(ticket.team_id, RoutingMethod.MANUAL)
        if method == RoutingMethod.MANUAL:
            routed.unrouted.append(ticket)
        else:
            groups[(ticket.team_id, method, ticket.capability, ticket.linked_to_chat)].append(ticket)
    now = timezone.now()
    for (team_id, method, capability, chat), group in groups.items():
        placed, picks = _place(group, team_id, method, exclude)
        # Why each went where it went (T11), with the loads as the pass read them, before any of
        # its moves. A single ticket's (most routing) rides in its move's statement on PostgreSQL,
        # which saves a round trip per routed ticket; a pass of several writes them first.
        context = {"team_id": team_id, "team_method": method, "capability": capability, "chat": chat,
                   "exclude": exclude, "reason": reason, "now": now}  # fmt: skip
        folded = len(picks) == 1 and connection.vendor == "postgresql" and settings.ROUTING_DECISIONS
        also = decisions_sql(picks, **context) if folded else None
        if not folded:
            decisions_write(picks, **context)
        for agent_id, batch in placed.items():
            move_tickets([t.pk for t in batch], assignee_id=agent_id, actor=actor, reason=reason, now=now, also=also)
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
    """Lock these tickets if they are still waiting, with their team's routing method read in the
    same statement (`routing_method`, None for a team without routing). On PostgreSQL a plain
    statement, prepared for one ticket: it runs once per routed ticket."""
    ids = list(ticket_ids)
    if connection.vendor == "postgresql":
        names = [field.attname for field in Ticket._meta.concrete_fields]
        condition, param = matching("t.id", ids, "bigint")
        with prepared_cursor() if len(ids) == 1 else connection.cursor() as cursor:
            cursor.execute(_lock_unassigned_sql(condition), [param])
            rows = cursor.fetchall()
        tickets = []
        for *values, method in rows:
            ticket = Ticket.from_db(connection.alias, names, values)
            ticket.routing_method = method
            tickets.append(ticket)
        return tickets
    return list(
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=ids, assignee__isnull=True, state__in=HELD_STATES)
        .annotate(routing_method=F("team__routing__method"))
        .order_by("pk")
    )


@cache
def _lock_unassigned_sql(condition: str) -> str:
    tickets, routing = Ticket._meta.db_table, TeamRouting._meta.db_table
    columns = ", ".join(f't."{field.column}"' for field in Ticket._meta.concrete_fields)
    held = ", ".join(f"'{state}'" for state in HELD_STATES)
    return (
        f"SELECT {columns}, r.method FROM {tickets} t "
        f"LEFT JOIN {routing} r ON r.team_id = t.team_id "
        f"WHERE {condition} AND t.assignee_id IS NULL AND t.state IN ({held}) "
        "ORDER BY t.id FOR UPDATE OF t SKIP LOCKED"
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
