"""Moving many tickets to another assignee with their history, in statements that do not
grow with the number of tickets (T4 re-assign, T3 routing).

django-simple-history writes one history row per `save()`; a bulk move skips `save()`, so it
writes the same rows itself: the ticket's columns as they are after the move, plus
simple-history's `history_*` columns.
"""

from dataclasses import dataclass
from functools import cache

from django.db import connection, connections
from django.db.models import QuerySet

from presence.models import Channel
from presence.shared.sql import matching, prepared_cursor
from tickets.models import HELD_STATES, Ticket
from tickets.services.load import capability_case_sql, delta, load_apply, memberships_sql, upsert_sql
from tickets.signals import tickets_assigned

# Ids per history INSERT on SQLite, under its limit of bound parameters.
HISTORY_BATCH = 5000


@dataclass(frozen=True)
class HeldBy:
    """What a move takes: the open and pending tickets these agents hold (a mapping's unassign)."""

    agent_ids: tuple[int, ...]


def move_tickets(
    tickets, *, assignee_id: int | None, actor, reason: str, now, using: str = "default", also=None
) -> list[int]:
    """Give every ticket in `tickets` (a queryset, a list of ticket ids, or HeldBy) to `assignee_id`
    (None: the Unassigned queue), as a fresh assignment (not yet opened), with one history row
    each, and move the load counters with them (tickets.services.load). Returns the moved
    tickets' ids.

    On PostgreSQL this is one statement: the rows are locked and read once (`old`), moved
    (`moved`), their history written, and the counters of the agents who gave them up and the
    one who takes them changed, all in data-modifying CTEs; no row travels to Python. Elsewhere
    it is a read, an `UPDATE`, `INSERT ... SELECT`s of history in batches, and the counters.

    `also` is one more data-modifying statement, (sql, params), for PostgreSQL to run in the
    same statement (routing's decisions, which must read the loads as they were before the move);
    the caller runs it on its own elsewhere.
    """
    history_meta = [now, reason[:100] or None, "~", getattr(actor, "pk", None)]
    if isinstance(tickets, QuerySet):
        using = tickets.db
    database = connections[using]
    if database.vendor == "postgresql":
        if isinstance(tickets, QuerySet):
            select = tickets.order_by().values_list("id", "assignee_id", "channel", "state").query.sql_with_params()
            prepared = False  # the ORM's text varies with the filter, and it binds for the client
        else:  # one text per kind and arity (one or many), prepared for one (presence/shared/sql.py)
            held = isinstance(tickets, HeldBy)
            values = list(tickets.agent_ids if held else tickets)
            sql, param = matching("assignee_id" if held else "id", values, "integer" if held else "bigint")
            select = (_select_sql(using, sql, held), [param])
            prepared = len(values) == 1
        ids = _move_in_one_statement(*select, using, assignee_id, now, history_meta, also, prepared=prepared)
        return _announce(ids, assignee_id, actor, reason)
    if isinstance(tickets, HeldBy):
        tickets = Ticket.objects.using(using).filter(assignee_id__in=tickets.agent_ids, state__in=HELD_STATES)
    elif not isinstance(tickets, QuerySet):
        tickets = Ticket.objects.using(using).filter(pk__in=list(tickets))
    rows = list(tickets.order_by().values_list("id", "assignee_id", "channel", "state"))
    ids = [row[0] for row in rows]
    if not ids:
        return []
    Ticket.objects.using(using).filter(pk__in=ids).update(**assignment_fields(assignee_id, now))
    with database.cursor() as cursor:
        for start in range(0, len(ids), HISTORY_BATCH):
            chunk = ids[start : start + HISTORY_BATCH]
            cursor.execute(
                f"INSERT INTO {_history_table()} ({_ticket_columns()}, {_history_meta_columns()}) "
                f"SELECT {_ticket_columns()}, %s, %s, %s, %s FROM {_quote(Ticket._meta.db_table)} "
                f"WHERE {_quote('id')} IN ({', '.join(['%s'] * len(chunk))})",
                [*history_meta, *chunk],
            )
    deltas = None
    for _, old_assignee, channel, state in rows:
        if state in HELD_STATES:
            deltas = delta(old_assignee, channel, -1, deltas)
            deltas = delta(assignee_id, channel, +1, deltas)
    if deltas:
        load_apply(deltas, using=using)
    return _announce(ids, assignee_id, actor, reason)


def _announce(ids: list[int], assignee_id: int | None, actor, reason: str) -> list[int]:
    """`tickets_assigned` for tickets given to an agent (not for a move to the queue), in the
    move's transaction."""
    if assignee_id is not None and ids:
        tickets_assigned.send(sender=Ticket, ticket_ids=ids, assignee_id=assignee_id, actor=actor, reason=reason)
    return ids


@cache
def _select_sql(using: str, condition: str, held: bool) -> str:
    """The tickets a move takes, by `condition` on the ticket table (and, for HeldBy, the held states)."""
    table = _quote(Ticket._meta.db_table)
    columns = ", ".join(f"{table}.{_quote(c)}" for c in ("id", "assignee_id", "channel", "state"))
    held_states = ", ".join(f"'{state}'" for state in HELD_STATES)
    states = f" AND {table}.{_quote('state')} IN ({held_states})" if held else ""
    return f"SELECT {columns} FROM {table} WHERE {table}.{condition}{states}"


@cache
def _move_sql(using: str) -> str:
    """The move statement around its `{select}` of (id, assignee, channel, state): the same text
    for every move, so it is built once per database."""
    table = _quote(Ticket._meta.db_table)
    returning = ", ".join(f"t.{_quote(field.column)}" for field in Ticket._meta.concrete_fields)
    capability = capability_case_sql(f"t.{_quote('channel')}")
    held = ", ".join(f"'{state}'" for state in HELD_STATES)
    per_channel = ", ".join(
        f"SUM(CASE WHEN cap = '{channel}' THEN n ELSE 0 END)::integer AS {_quote(channel)}"
        for channel in Channel.values
    )
    # Literal braces of the statement are doubled: it is a template for str.format.
    return (
        (
            f"WITH old (id, old_assignee, old_channel, old_state) AS ({{select}} FOR UPDATE OF {table}), "
            f"moved AS (UPDATE {table} AS t SET {_quote('assignee_id')} = %s, {_quote('assigned_at')} = %s, "
            f"{_quote('opened_at')} = NULL, {_quote('updated_at')} = %s FROM old WHERE t.{_quote('id')} = old.id "
            f"RETURNING {returning}, old.old_assignee, old.old_state, {capability} AS cap), "
            f"hist AS (INSERT INTO {_history_table()} ({_ticket_columns()}, {_history_meta_columns()}) "
            f"SELECT {_ticket_columns()}, %s::timestamptz, %s::varchar, %s::varchar, %s::integer FROM moved), "
            # A move keeps the channel: the capability it counts for is the same on both sides.
            f"d0 AS (SELECT old_assignee AS agent_id, cap, -1 AS n FROM moved "
            f"WHERE old_assignee IS NOT NULL AND old_state IN ({held}) "
            f"UNION ALL SELECT {_quote('assignee_id')}, cap, 1 FROM moved "
            f"WHERE {_quote('assignee_id')} IS NOT NULL AND {_quote('state')} IN ({held})), "
            f"d AS (SELECT agent_id, {per_channel} FROM d0 GROUP BY agent_id), "
            # Unreferenced, these run after the main query, in this order: load rows before
            # membership rows, as every writer of them keeps (tickets.services.load).
            f"up AS ({upsert_sql('d', using)}), "
            f"mem AS ({memberships_sql('d', using)}) "
            f"SELECT id FROM moved"
        )
        .replace("{", "{{")
        .replace("}", "}}")
        .replace("{{select}}", "{select}")
    )


@cache
def _move_text(using: str, select_sql: str, also_sql: str | None) -> str:
    """The move statement around `select_sql`, with `also_sql` as one more unreferenced CTE
    before the final SELECT. Kept per shape for prepared statements (a routed ticket's move,
    of which there are a few shapes), rather than put together again for every ticket."""
    sql = _move_sql(using).format(select=select_sql)
    if also_sql is None:
        return sql
    head, tail = sql.rsplit(" SELECT id FROM moved", 1)
    return f"{head}, also AS ({also_sql}) SELECT id FROM moved{tail}"


def _move_in_one_statement(
    select_sql, select_params, using, assignee_id, now, history_meta, also=None, *, prepared=False
) -> list[int]:
    fields = assignment_fields(assignee_id, now)
    params = [*select_params, fields["assignee_id"], fields["assigned_at"], fields["updated_at"], *history_meta]
    also_sql = None
    if also is not None:
        also_sql, also_params = also
        params += also_params
    sql = _move_text(using, select_sql, also_sql) if prepared else _move_text.__wrapped__(using, select_sql, also_sql)
    with prepared_cursor(using) if prepared else connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def assignment_fields(assignee_id: int | None, now) -> dict:
    """What a move writes on each ticket: a fresh assignment, not yet opened."""
    assigned_at = now if assignee_id else None
    return {"assignee_id": assignee_id, "assigned_at": assigned_at, "opened_at": None, "updated_at": now}


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _ticket_columns() -> str:
    return ", ".join(_quote(field.column) for field in Ticket._meta.concrete_fields)


def _history_table() -> str:
    return _quote(Ticket.history.model._meta.db_table)


def _history_meta_columns() -> str:
    return ", ".join(_quote(c) for c in ("history_date", "history_change_reason", "history_type", "history_user_id"))
