"""Why this agent (T11): a routing decision for every automatic assignment.

Routing writes, for each ticket it places, who got it, by which method, how many members were
considered, the chosen agent's load and capacity for the channel, and why each of the members just
ahead of them in the team's order (ROUTING_DECISIONS_PASSED_OVER, 5) was passed over: at capacity,
locked (another router or a status change held them, or they had just been given work in the
same pass), not eligible (their status does not take such tickets now), lacking the capability,
or the agent the tickets came from (re-routing).

On PostgreSQL a single ticket's decision rides in its move's statement; a pass of several
writes its decisions in one statement before its moves: an INSERT from the plan's values
either way, so each sees the loads as the pass read them. A single ticket's pick (most
routing) reads the members ahead of the one it chooses, and why, in its own walk of the team's
pick index (tickets.services.routing), and brings them along; otherwise each decision reads
them laterally, walking the index back from the chosen member. Members who do not receive at
all are not in that index and are not listed. Elsewhere (SQLite) it is a read per decision and
one INSERT.
"""

from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from presence.models import ROUND_ROBIN_CURSOR_SQL, AgentLoad, AgentProfile, Channel, TeamMembership
from presence.shared.sql import prepared_cursor
from tickets.models import RoutingDecision, RoutingMethod

Reason = RoutingDecision.PassedOver


class Pick(NamedTuple):
    """One placed ticket, as the plan chose it (a tuple: one is made per routed ticket)."""

    ticket_id: int
    agent_id: int
    overflow: bool
    pool: int  # members read for the plan so far
    held: int  # the agent's open tickets of the channel before this one
    capacity: int
    load: int  # the membership's load as the pick read it (the team's order)
    last_assigned_at: datetime | None  # round robin's cursor as the pick read it
    passed: str | None = None  # the members passed over (JSON), if the pick read them


def _method(pick: Pick, team_method: str) -> str:
    return RoutingDecision.Method.OVERFLOW if pick.overflow else _method_of(team_method)


def decisions_write(picks: list[Pick], *, team_id: int, team_method: str, capability: str, chat: bool, exclude,
                    reason: str, now) -> None:  # fmt: skip
    """Write the decisions of one routing pass (one team, one capability, one kind of ticket)."""
    if not picks or not settings.ROUTING_DECISIONS:
        return
    if connection.vendor == "postgresql":
        sql, params = decisions_sql(picks, team_id=team_id, team_method=team_method, capability=capability,
                                    chat=chat, exclude=exclude, reason=reason, now=now)  # fmt: skip
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
        return
    RoutingDecision.objects.bulk_create(
        [
            RoutingDecision(
                ticket_id=pick.ticket_id,
                agent_id=pick.agent_id,
                method=_method(pick, team_method),
                load=pick.held,
                capacity=pick.capacity,
                reason=reason[:100],
                at=now,
                passed_over=(passed := _passed_over(pick, team_id, team_method, capability, chat, exclude)),
                candidates=pick.pool + len(passed),
            )  # fmt: skip
            for pick in picks
        ]
    )


def decisions_write_delegated(targets: dict[int | None, list], *, reason: str, now) -> None:
    """A delegate mapping's moves: the tickets went to the delegate the agent's profile names."""
    if not settings.ROUTING_DECISIONS:
        return
    rows = [
        RoutingDecision(
            ticket_id=ticket.pk,
            agent_id=agent_id,
            method=RoutingDecision.Method.MAPPING,
            candidates=1,
            reason=reason[:100],
            at=now,
        )  # fmt: skip
        for agent_id, tickets in targets.items()
        if agent_id is not None
        for ticket in tickets
    ]
    RoutingDecision.objects.bulk_create(rows)


def decisions_purge(*, now=None) -> int:
    """Delete the decisions older than ROUTING_DECISIONS_KEEP_DAYS (the daily task). Decisions
    are written in time order, so the first one to keep is found walking the primary key from
    the oldest (reading only what goes), and everything before it goes: `at` needs no index of
    its own, one less to keep up on every routed ticket."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ROUTING_DECISIONS_KEEP_DAYS)
    first_kept = RoutingDecision.objects.filter(at__gte=cutoff).order_by("pk").values_list("pk", flat=True).first()
    old = RoutingDecision.objects.all() if first_kept is None else RoutingDecision.objects.filter(pk__lt=first_kept)
    deleted, _ = old.filter(at__lt=cutoff).delete()
    return deleted


# --- PostgreSQL: one statement ------------------------------------------------------------------------

# The members ahead of the chosen one (`d`), nearest first: a walk of the team's pick index
# backwards from the chosen member's place, so it reads the few entries just ahead of them,
# whatever the size of the team. (Walking forwards from the front, PostgreSQL ends the walk on
# the first column of a row comparison only, the overflow flag: with fewer members ahead than
# the limit, it read every other entry of the team's, 80 buffers at 10,000 members.) Each
# order's key as its index has it (round robin's, presence migration 0014), then as `d` has it.
ORDER_KEY = {
    RoutingMethod.LOAD_BALANCE: (["m.overflow", "m.load", "m.agent_id"], "d.overflow, d.key, d.agent_id"),
    RoutingMethod.ROUND_ROBIN: (
        ["m.overflow", ROUND_ROBIN_CURSOR_SQL.format("m.last_assigned_at"), "m.agent_id"],
        f"d.overflow, {ROUND_ROBIN_CURSOR_SQL.format('d.key')}, d.agent_id",
    ),
}


def _order(team_method: str) -> str:
    return RoutingMethod.ROUND_ROBIN if team_method == RoutingMethod.ROUND_ROBIN else RoutingMethod.LOAD_BALANCE


def decisions_sql(picks: list[Pick], *, team_id: int, team_method: str, capability: str, chat: bool, exclude,
                  reason: str, now) -> tuple[str, list]:  # fmt: skip
    """The INSERT of these picks' decisions (PostgreSQL), with its parameters: run on its own, or
    folded into the statement that moves the tickets (tickets.services.moves, `also`), which saves
    a round trip per routed ticket and reads the loads as they were before the move.

    Each parameter costs the routing process time to convert, on every routed ticket, so the
    statement takes only what differs from pick to pick: the method is written from the team's
    and the overflow flag, each pick carries its place in the team's order as one key (the load,
    or round robin's cursor), and a pass that excludes nobody (all but re-routes) has no list.
    Picks that read their passed-over members themselves (a single ticket's, on PostgreSQL:
    tickets.services.routing) bring them as JSON instead, and the statement walks nothing.

    One pick's values come as a row of parameters; a pass of several sends each column as one
    array, so its statement has the same text and 7 parameters however many tickets it places
    (PostgreSQL takes 65,535 parameters a statement)."""
    order = _order(team_method)
    given = all(pick.passed is not None for pick in picks)  # the picks read them: no look-back
    round_robin = order == RoutingMethod.ROUND_ROBIN
    rows = [
        (pick.ticket_id, pick.agent_id, pick.pool, pick.held, pick.capacity, pick.overflow,
         pick.passed if given else pick.last_assigned_at if round_robin else pick.load)
        for pick in picks
    ]  # fmt: skip
    several = len(rows) > 1
    params: list = [reason[:100], now, *([list(column) for column in zip(*rows, strict=True)] if several else rows[0])]
    if given:
        return _given_statement(several, order), params
    exclude = list(exclude)
    if exclude:
        params.append(exclude)
    params.append(team_id)
    limit = int(settings.ROUTING_DECISIONS_PASSED_OVER)
    return _statement(several, capability, chat, order, limit, bool(exclude)), params


def _source(several: bool, last_type: str) -> str:
    """The picks' rows, d (ticket_id, agent_id, pool, held, capacity, overflow, and a last column
    of `last_type`): one row of parameters, or one array per column."""
    types = ["int", "int", "int", "int", "int", "bool", last_type]
    if several:
        return f"unnest({', '.join(f'%s::{t}[]' for t in types)})"
    return f"(VALUES ({', '.join(f'%s::{t}' for t in types)}))"


@cache
def _statement(several: bool, capability: str, chat: bool, order: str, limit: int, excludes: bool) -> str:
    """The statement's text, the same for every pass of its shape: built once. The limit is in
    the text, not a parameter: the statement is prepared with a generic plan
    (presence/shared/sql.py), which with an unknown limit reads every member's load and user
    row in a hash join rather than the few ahead through their primary keys."""
    if capability not in Channel.values:  # column names in the statement come from it
        raise ValueError(f"Unknown capability {capability!r}")
    key_type = "timestamptz" if order == RoutingMethod.ROUND_ROBIN else "int"
    method = _method_of(order)
    eligible = "true" if chat else "m.routable"
    excluded = f"WHEN m.agent_id = ANY(%s::bigint[]) THEN '{Reason.EXCLUDED}'" if excludes else ""
    tables = {
        "decision": RoutingDecision._meta.db_table,
        "membership": TeamMembership._meta.db_table,
        "load": AgentLoad._meta.db_table,
        "profile": AgentProfile._meta.db_table,
    }
    member_key, chosen_key = ORDER_KEY[order]
    ahead = (
        f"SELECT m.* FROM {tables['membership']} m"
        f" WHERE m.team_id = %s AND m.routable_chat AND ({', '.join(member_key)}) < ({chosen_key})"
        f" ORDER BY {' DESC, '.join(member_key)} DESC LIMIT {limit}"
    )
    # One line: psycopg caches its parsing of a statement only up to 4 kB, and this one rides
    # in the move statement (tickets.services.moves), which is most of that already.
    #
    # Lean on purpose: the statement runs once per routed ticket. In a small team what it costs
    # is mostly the executor setting up and closing each node of its plan on every execution,
    # so the members ahead come from one walk of the pick index, and each one's profile and load
    # (for the reason) from correlated lookups by primary key: no hash join or window to set
    # up, and the aggregate's sort puts at most `limit` rows back in the team's order. Their
    # usernames are read with the decisions (tickets.selectors): looked up here, they were four
    # fifths of what the members ahead cost.
    return " ".join(
        f"""
        INSERT INTO {tables["decision"]}
            (ticket_id, agent_id, method, candidates, load, capacity, passed_over, reason, at)
        SELECT d.ticket_id, d.agent_id,
               CASE WHEN d.overflow THEN '{RoutingDecision.Method.OVERFLOW}' ELSE '{method}' END,
               d.pool + COALESCE(jsonb_array_length(x.passed), 0),
               d.held, d.capacity, COALESCE(x.passed, '[]'::jsonb), %s::varchar, %s::timestamptz
        FROM {_source(several, key_type)} AS d (ticket_id, agent_id, pool, held, capacity, overflow, key)
        LEFT JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_object(
                'agent', m.agent_id,
                'reason', CASE {excluded}
                               WHEN NOT {eligible} THEN '{Reason.NOT_ELIGIBLE}'
                               ELSE (SELECT CASE WHEN NOT p.can_{capability} THEN '{Reason.NO_CAPABILITY}'
                                                 WHEN l.{capability} >= p.capacity_{capability}
                                                     THEN '{Reason.AT_CAPACITY}'
                                                 ELSE '{Reason.LOCKED}' END
                                     FROM {tables["profile"]} p, {tables["load"]} l
                                     WHERE p.user_id = m.agent_id AND l.agent_id = m.agent_id) END
            ) ORDER BY {", ".join(member_key)}) AS passed
            FROM ({ahead}) m
        ) x ON true
    """.split()
    )


@cache
def _given_statement(several: bool, order: str) -> str:
    """The INSERT of picks that read their passed-over members themselves
    (tickets.services.routing, `_pick_with_passed_over`): each comes as JSON."""
    return (
        f"INSERT INTO {RoutingDecision._meta.db_table}"
        " (ticket_id, agent_id, method, candidates, load, capacity, passed_over, reason, at)"
        f" SELECT d.ticket_id, d.agent_id, CASE WHEN d.overflow THEN '{RoutingDecision.Method.OVERFLOW}'"
        f" ELSE '{_method_of(order)}' END, d.pool + jsonb_array_length(d.passed), d.held, d.capacity, d.passed,"
        " %s::varchar, %s::timestamptz"
        f" FROM {_source(several, 'jsonb')} AS d (ticket_id, agent_id, pool, held, capacity, overflow, passed)"
    )


def _method_of(order: str) -> str:
    if order == RoutingMethod.ROUND_ROBIN:
        return RoutingDecision.Method.ROUND_ROBIN
    return RoutingDecision.Method.LOAD_BALANCE


# --- elsewhere: a read per decision ---------------------------------------------------------------------


def _passed_over(pick: Pick, team_id, team_method, capability, chat, exclude) -> list[dict]:
    members = TeamMembership.objects.filter(team_id=team_id, routable_chat=True).select_related(
        "agent__load", "agent__agent_profile"
    )
    if team_method == RoutingMethod.ROUND_ROBIN:
        never = pick.last_assigned_at is None
        before = Q(overflow__lt=pick.overflow) | Q(overflow=pick.overflow) & (
            Q(last_assigned_at__isnull=True, agent_id__lt=pick.agent_id)
            if never
            else Q(last_assigned_at__isnull=True)
            | Q(last_assigned_at__lt=pick.last_assigned_at)
            | Q(last_assigned_at=pick.last_assigned_at, agent_id__lt=pick.agent_id)
        )
        nearest = [F("overflow").desc(), F("last_assigned_at").desc(nulls_last=True), F("agent_id").desc()]
    else:
        before = (
            Q(overflow__lt=pick.overflow)
            | Q(overflow=pick.overflow, load__lt=pick.load)
            | Q(overflow=pick.overflow, load=pick.load, agent_id__lt=pick.agent_id)
        )
        nearest = ["-overflow", "-load", "-agent_id"]
    passed = []
    ahead = members.filter(before).order_by(*nearest)[: settings.ROUTING_DECISIONS_PASSED_OVER]
    for member in reversed(list(ahead)):  # the nearest ones ahead, in the team's order
        profile, load = member.agent.agent_profile, member.agent.load
        if member.agent_id in exclude:
            why = Reason.EXCLUDED
        elif not (chat or member.routable):
            why = Reason.NOT_ELIGIBLE
        elif not getattr(profile, f"can_{capability}"):
            why = Reason.NO_CAPABILITY
        elif getattr(load, capability) >= getattr(profile, f"capacity_{capability}"):
            why = Reason.AT_CAPACITY
        else:
            why = Reason.LOCKED
        passed.append({"agent": member.agent_id, "reason": str(why)})
    return passed
