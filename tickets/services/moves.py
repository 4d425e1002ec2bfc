"""Moving many tickets to another assignee with their history, in statements that do not
grow with the number of tickets (T4 re-assign, T3 routing).

django-simple-history writes one history row per `save()`; a bulk move skips `save()`, so it
writes the same rows itself: the ticket's columns as they are after the move, plus
simple-history's `history_*` columns.
"""

from django.db import connection, connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery

from tickets.models import Ticket

# Ids per history INSERT on SQLite, under its limit of bound parameters.
HISTORY_BATCH = 5000


def move_tickets(queryset, *, assignee_id: int | None, actor, reason: str, now) -> list[int]:
    """Give every ticket in `queryset` to `assignee_id` (None: the Unassigned queue), as a fresh
    assignment (not yet opened), with one history row each. Returns the moved tickets' ids.

    On PostgreSQL this is one statement, `WITH moved AS (UPDATE ... RETURNING) INSERT ...
    SELECT FROM moved`: the rows are read once and never travel to Python. Elsewhere it is an
    `UPDATE ... RETURNING id` followed by `INSERT ... SELECT` in batches.
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(assignment_fields(assignee_id, now))
    update_sql, update_params = query.get_compiler(queryset.db).as_sql()
    history_meta = [now, reason[:100] or None, "~", getattr(actor, "pk", None)]
    database = connections[queryset.db]
    with database.cursor() as cursor:
        if database.vendor == "postgresql":
            cursor.execute(
                f"WITH moved AS ({update_sql} RETURNING {_ticket_columns()}) "
                f"INSERT INTO {_history_table()} ({_ticket_columns()}, {_history_meta_columns()}) "
                f"SELECT {_ticket_columns()}, %s, %s, %s, %s FROM moved RETURNING {_quote('id')}",
                [*update_params, *history_meta],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"{update_sql} RETURNING {_quote('id')}", update_params)
        ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), HISTORY_BATCH):
            chunk = ids[start : start + HISTORY_BATCH]
            cursor.execute(
                f"INSERT INTO {_history_table()} ({_ticket_columns()}, {_history_meta_columns()}) "
                f"SELECT {_ticket_columns()}, %s, %s, %s, %s FROM {_quote(Ticket._meta.db_table)} "
                f"WHERE {_quote('id')} IN ({', '.join(['%s'] * len(chunk))})",
                [*history_meta, *chunk],
            )
    return ids


def assignment_fields(assignee_id: int | None, now) -> dict:
    """What a move writes on each ticket: a fresh assignment, not yet opened."""
    assigned_at = now if assignee_id else None
    return {"assignee_id": assignee_id, "assigned_at": assigned_at, "opened_at": None, "updated_at": now}


def tickets_with_ids(ids) -> QuerySet:
    """Tickets by id; on PostgreSQL with one array parameter rather than one per id, so any
    number of ids fits in a statement."""
    if connection.vendor == "postgresql":
        column = f"{_quote(Ticket._meta.db_table)}.{_quote('id')}"
        return Ticket.objects.filter(RawSQL(f"{column} = ANY(%s)", [list(ids)], output_field=BooleanField()))
    return Ticket.objects.filter(pk__in=list(ids))


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _ticket_columns() -> str:
    return ", ".join(_quote(field.column) for field in Ticket._meta.concrete_fields)


def _history_table() -> str:
    return _quote(Ticket.history.model._meta.db_table)


def _history_meta_columns() -> str:
    return ", ".join(_quote(c) for c in ("history_date", "history_change_reason", "history_type", "history_user_id"))
