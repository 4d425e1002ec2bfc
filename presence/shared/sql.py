"""Prepared statements for the few raw statements that run on every routed ticket or API call.

PostgreSQL spends far longer planning routing's statements (a five-table pick, the move with its
history and counters) than running them: about 1 ms of planning against 0.1 ms of work for the
pick. Django binds parameters on the client and never prepares, so every execution is planned
again. `prepared_cursor()` gives a Django cursor (logged and counted like any other, inside the
same transaction) whose statements psycopg prepares on their first execution on a connection
and reuses after, by their text: each statement keeps one text per shape for that reason.

A prepared statement is only saved planning if PostgreSQL keeps its generic plan; by default it
plans each execution again when the first custom plans look cheaper, which they do here. So
connections start with `plan_cache_mode = force_generic_plan` (config.settings.database). That
setting touches prepared statements only, and no other statement of this project is prepared.

A generic plan is made without the parameters' values, so a prepared statement must not leave
the planner guessing what it could know: a limit is written into the text, and a statement
about one row says `id = %s` (`matching()`), which plans as a primary-key lookup whatever the
table's statistics, where `id = ANY(%s)` may plan as a scan of a table that looked small. Such
a statement about many rows is not prepared: planning is small beside the work.

`DATABASE_PREPARED_STATEMENTS=0` turns both off, for a transaction-mode pooler that cannot keep
prepared statements (PgBouncer before 1.21): the statements then run as any other.
"""

import psycopg
from django.conf import settings
from django.db import connections


class PreparedCursor(psycopg.Cursor):
    """Server-side binding, every statement prepared (psycopg keeps the last 100 per connection)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor(using: str = "default"):
    """A cursor whose statements are prepared once per connection (PostgreSQL), or a plain
    cursor elsewhere. Use it as `with prepared_cursor() as cursor:`."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS or connection.queries_logged:
        # Django logs a statement's text from psycopg's client-side query, which a prepared
        # statement does not have: where statements are logged (DEBUG, a test capturing them),
        # they run unprepared, the same statements with their text in the log.
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off (None), and psycopg then ignores prepare=True as well. A
        # huge threshold keeps anything from being prepared by count (Django's own cursors bind
        # on the client and never prepare anyway) while an explicit prepare=True works.
        raw.prepare_threshold = 2**31 - 1
    return connection._prepare_cursor(PreparedCursor(raw))


def matching(column: str, values, array_type: str) -> tuple[str, object]:
    """`column = %s` for one value, `column = ANY(%s::array_type[])` for several, with the
    parameter: a prepared statement's generic plan for one value is an index lookup."""
    values = list(values)
    if len(values) == 1:
        return f"{column} = %s", values[0]
    return f"{column} = ANY(%s::{array_type}[])", values
