"""Open load per agent and channel (presence.AgentLoad), kept by the services that change a
ticket's assignee or state, in the same transaction, and copied as a total onto the agent's
team memberships, which routing orders by (presence.TeamMembership.load).

Single-ticket services call `load_apply` with their deltas; bulk moves fold the same upsert
into their one statement (tickets.services.moves). `load_recount` rebuilds the counters from
the tickets: `manage.py recount_load`, and the periodic self-check that logs and repairs drift.
"""

import logging
from collections import defaultdict

from django.db import connections, transaction
from django.db.models import Count

from presence.models import AgentLoad, AgentProfile, Channel, TeamMembership
from presence.services.routing_columns import memberships_sync, memberships_sync_load
from tickets.models import CAPABILITY_FOR_CHANNEL, HELD_STATES, Ticket

logger = logging.getLogger(__name__)

Deltas = dict[int, dict[str, int]]  # agent id -> capability -> change in open tickets


def delta(agent_id: int | None, ticket_channel: str, change: int, deltas: Deltas | None = None) -> Deltas:
    """Add one ticket's change (+1 taken, -1 given up) to `deltas`."""
    deltas = deltas if deltas is not None else defaultdict(lambda: defaultdict(int))
    if agent_id is not None and change:
        deltas[agent_id][CAPABILITY_FOR_CHANNEL[ticket_channel]] += change
    return deltas


def capability_case_sql(column: str) -> str:
    """SQL for the capability a ticket's channel needs (CAPABILITY_FOR_CHANNEL, as a CASE)."""
    whens = " ".join(f"WHEN '{channel}' THEN '{capability}'" for channel, capability in CAPABILITY_FOR_CHANNEL.items())
    return f"CASE {column} {whens} END"


def _q(name: str, using: str) -> str:
    return connections[using].ops.quote_name(name)


def upsert_sql(source: str, using: str) -> str:
    """INSERT ... ON CONFLICT that adds the per-channel deltas of `source` (agent_id and one
    column per channel) to AgentLoad, creating rows on demand; PostgreSQL and SQLite."""
    table = _q(AgentLoad._meta.db_table, using)
    columns = ", ".join(_q(c, using) for c in Channel.values)
    adds = ", ".join(f"{_q(c, using)} = {table}.{_q(c, using)} + excluded.{_q(c, using)}" for c in Channel.values)
    return (
        f"INSERT INTO {table} ({_q('agent_id', using)}, {columns}) SELECT {_q('agent_id', using)}, {columns} "
        f"FROM {source} WHERE true ORDER BY {_q('agent_id', using)} "  # rows locked in key order
        f"ON CONFLICT ({_q('agent_id', using)}) DO UPDATE SET {adds}"
    )


def memberships_sql(source: str, using: str) -> str:
    """UPDATE that adds each agent's total delta of `source` to the load on their memberships."""
    table = _q(TeamMembership._meta.db_table, using)
    total = " + ".join(f"d.{_q(c, using)}" for c in Channel.values)
    return (
        f"UPDATE {table} SET {_q('load', using)} = {table}.{_q('load', using)} + ({total}) "
        f"FROM {source} AS d WHERE {table}.{_q('agent_id', using)} = d.{_q('agent_id', using)}"
    )


def load_apply(deltas: Deltas, *, using: str = "default") -> None:
    """Apply per-agent, per-channel changes of open tickets: to AgentLoad and to the total on the
    agents' memberships. One statement on PostgreSQL, two on SQLite."""
    rows = [(agent_id, *(by_channel.get(c, 0) for c in Channel.values)) for agent_id, by_channel in deltas.items()]
    rows = [row for row in rows if any(row[1:])]
    if not rows:
        return
    connection = connections[using]
    values = ", ".join(["(" + ", ".join(["%s"] * len(rows[0])) + ")"] * len(rows))
    params = [value for row in rows for value in row]
    names = ", ".join(_q(c, using) for c in ("agent_id", *Channel.values))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Cast the VALUES to integers once, so the CTE's columns have a type.
            typed = ", ".join(["(" + ", ".join(["%s::integer"] * len(rows[0])) + ")"] * len(rows))
            # The counters are the main statement and the memberships an unreferenced CTE, which
            # PostgreSQL runs after it: load rows before membership rows, the order every writer
            # of them keeps, so two of them never wait on each other in a cycle.
            cursor.execute(
                f"WITH d ({names}) AS (VALUES {typed}), "
                f"mem AS ({memberships_sql('d', using)}) {upsert_sql('d', using)}",
                params,
            )
        else:  # SQLite: no data-modifying CTE, and VALUES columns are column1, column2, ...
            renamed = ", ".join(f"column{i + 1} AS {_q(c, using)}" for i, c in enumerate(("agent_id", *Channel.values)))
            source = f"(SELECT {renamed} FROM (VALUES {values}))"
            cursor.execute(upsert_sql(source, using), params)
            cursor.execute(memberships_sql(source, using), params)


# --- recount and self-check --------------------------------------------------------------------------


def _held_counts(agent_ids=None) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Channel.values, 0))
    held = Ticket.objects.filter(state__in=HELD_STATES, assignee__isnull=False)
    if agent_ids is not None:
        held = held.filter(assignee_id__in=list(agent_ids))
    for row in held.values("assignee_id", "channel").annotate(n=Count("id")).order_by():
        counts[row["assignee_id"]][CAPABILITY_FOR_CHANNEL[row["channel"]]] += row["n"]
    return counts


def load_recount(*, repair: bool = True) -> list[tuple[int, dict[str, int], dict[str, int]]]:
    """Compare every agent's counters with the tickets they hold; with `repair`, make the counters
    (and the loads on their memberships) what the tickets say. Returns the drift found as
    (agent id, counters, held tickets). Each agent is checked under a lock on their counter row,
    so a move that commits meanwhile is counted once."""
    agent_ids = set(AgentProfile.objects.values_list("user_id", flat=True))
    agent_ids |= set(AgentLoad.objects.values_list("agent_id", flat=True))
    agent_ids |= set(Ticket.objects.held().exclude(assignee=None).values_list("assignee_id", flat=True).distinct())
    drift = []
    ids = sorted(agent_ids)
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        with transaction.atomic():
            for agent_id in batch:
                AgentLoad.objects.get_or_create(agent_id=agent_id)
            stored = {
                row.agent_id: {c: row.held(c) for c in Channel.values}
                for row in AgentLoad.objects.select_for_update().filter(agent_id__in=batch).order_by("agent_id")
            }
            held = _held_counts(batch)
            wrong = [agent_id for agent_id in batch if stored[agent_id] != held[agent_id]]
            drift += [(agent_id, stored[agent_id], dict(held[agent_id])) for agent_id in wrong]
            if repair and wrong:
                for agent_id in wrong:
                    AgentLoad.objects.filter(agent_id=agent_id).update(**held[agent_id])
            if repair:
                memberships_sync_load(batch)
                memberships_sync(batch)  # and the routing flags, should anything have gone around them
    for agent_id, counters, tickets in drift:
        logger.warning("Load counters of agent %s drifted: %s, tickets say %s", agent_id, counters, tickets)
    return drift
