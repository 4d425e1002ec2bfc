"""Who gets work automatically (T7, S6): one rule, written down once.

An agent receives work automatically only when their status can receive and is in load
balance (any ticket), or can receive and is in load balance for chat (tickets linked to a
chat), and they are not finishing (P4). Agents in a tentative status receive only as overflow,
when nobody else eligible in the team can take the ticket.

The rule is data (`FOR_ANY_TICKET`, `FOR_CHAT_TICKET`, `OVERFLOW`): paths from an
AgentPresence row and the value each must have. `eligible_q()` makes a queryset filter of it
and `is_eligible()` a Python test of a presence row (or of a `values()` row), so the database
and Python cannot disagree. Routing, derived availability (P7), the board and the live-chat
counts all ask here.
"""

from collections.abc import Callable

from django.db.models import Q

from presence.models import StatusCategory

Clauses = tuple[tuple[str, object], ...]

# Every clause must hold; None means "empty".
FOR_ANY_TICKET: Clauses = (
    ("status__can_receive", True),
    ("status__in_load_balance", True),
    ("pending_status", None),
)
FOR_CHAT_TICKET: Clauses = (
    ("status__can_receive", True),
    ("status__in_load_balance_for_chat", True),
    ("pending_status", None),
)
# Eligible agents in a status of this category take a ticket only when nobody else can.
OVERFLOW: Clauses = (("status__category", StatusCategory.TENTATIVE),)

# The paths a `values()` row needs for `row_is_eligible()`.
RULE_FIELDS = sorted({path for clauses in (FOR_ANY_TICKET, FOR_CHAT_TICKET, OVERFLOW) for path, _ in clauses})


def _q(clauses: Clauses, prefix: str) -> Q:
    q = Q()
    for path, value in clauses:
        q &= Q(**{f"{prefix}{path}__isnull": True}) if value is None else Q(**{f"{prefix}{path}": value})
    return q


def _holds(clauses: Clauses, get: Callable[[str, bool], object]) -> bool:
    return all((get(path, value is None) is None) if value is None else get(path, False) == value
               for path, value in clauses)  # fmt: skip


def _clauses_for(chat: bool | None) -> list[Clauses]:
    """The clause sets that make an agent eligible: for a plain ticket, for a chat-linked one
    (either set), or (None) for some ticket."""
    return [FOR_ANY_TICKET] if chat is False else [FOR_ANY_TICKET, FOR_CHAT_TICKET]


def eligible_q(prefix: str = "", *, chat: bool | None = None) -> Q:
    """Presence rows (or, with `prefix`, rows related to one) eligible for automatic work."""
    q = Q()
    for clauses in _clauses_for(chat):
        q |= _q(clauses, prefix)
    return q


def eligible_sql(presence: str, *, chat: bool | None = None) -> str:
    """The same rule as an SQL condition on a presence row (alias `presence`), for the few raw
    statements that must be lean (routing's pick).

    The status's flags are not joined: each clause set asks whether the row's status is among
    the ids a sub-select of the statuses gives, run once per statement. Joined, PostgreSQL would
    estimate the rule by the share of statuses that pass it (one in fourteen here), not by the
    share of agents (in a team at work, nearly all): the pick's plan, made once per connection
    without the parameters, then weighed walking the team's index against reading and sorting
    the whole team as near equals, and in some runs chose the second, twice as slow
    (docs/benchmarks.md, "runs D, E and F"). `= ANY(ARRAY(...))` is estimated as
    nearly always true, so the walk wins by far; SQLite gets `IN (...)`."""
    from django.db import connection

    from presence.models import AgentPresence, Status

    def column(path: str, value, alias: str, model) -> str:
        name = model._meta.get_field(path).column
        if value is None:
            return f"{alias}.{name} IS NULL"
        if isinstance(value, bool):
            return f"{alias}.{name}" if value else f"NOT {alias}.{name}"
        raise ValueError(f"{path}: only booleans and None are written as SQL")

    status_column = f"{presence}.{AgentPresence._meta.get_field('status').column}"
    arms = []
    for clauses in _clauses_for(chat):
        own = [column(path, value, presence, AgentPresence) for path, value in clauses if "__" not in path]
        flags = [column(path.removeprefix("status__"), value, "st", Status)
                 for path, value in clauses if path.startswith("status__")]  # fmt: skip
        if len(own) + len(flags) != len(clauses):
            raise ValueError("The rule's paths go one hop at most, to the status")
        if flags:
            statuses = f"SELECT st.id FROM {Status._meta.db_table} st WHERE {' AND '.join(flags)}"
            if connection.vendor == "postgresql":
                own.append(f"{status_column} = ANY(ARRAY({statuses}))")
            else:
                own.append(f"{status_column} IN ({statuses})")
        arms.append("(" + " AND ".join(own) + ")")
    return " OR ".join(arms)


def overflow_q(prefix: str = "") -> Q:
    return _q(OVERFLOW, prefix)


def _attribute_getter(presence):
    def get(path: str, as_id: bool):
        obj = presence
        *parts, last = path.split("__")
        for part in parts:
            obj = getattr(obj, part)
        return getattr(obj, f"{last}_id" if as_id and hasattr(obj, f"{last}_id") else last)

    return get


def is_eligible(presence, *, chat: bool | None = None) -> bool:
    """Does this presence (with its status loaded) receive work automatically?"""
    get = _attribute_getter(presence)
    return any(_holds(clauses, get) for clauses in _clauses_for(chat))


def is_overflow(presence) -> bool:
    return _holds(OVERFLOW, _attribute_getter(presence))


def row_is_eligible(row: dict, *, chat: bool | None = None) -> bool:
    """The same test for a `values(*RULE_FIELDS)` row."""
    return any(_holds(clauses, lambda path, _: row[path]) for clauses in _clauses_for(chat))


def row_is_overflow(row: dict) -> bool:
    return _holds(OVERFLOW, lambda path, _: row[path])


def status_receives_automatically(status) -> bool:
    """Whether a status, by its flags alone, lets agents get work automatically (finishing aside)."""

    def get(path: str, as_id: bool):
        if not path.startswith("status__"):
            return None  # not about the status: "not finishing" is taken as given
        return getattr(status, path.removeprefix("status__"))

    return any(_holds(clauses, get) for clauses in _clauses_for(None))
