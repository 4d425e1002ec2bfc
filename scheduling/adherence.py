"""Break budgets and live adherence (C8): does an agent's status fit their shift now, and how much
of the shift's break budget have they used?

A working shift (a shift type that is not off duty) expects work. A status fits it unless it is
Offline, or an away status (inactive, not ready, tentative: AWAY_CATEGORIES) that the shift type
does not list among its break statuses. Time in a listed break status is break time; the shift
type may cap it in minutes and in breaks, a break being one stay in break statuses (moving from
one break status to another is the same break). Outside a working shift (no shift, or an
off-duty one) only Offline fits, for an agent who works to a schedule at all: one with a shift
within SHIFTS_IN_USE_DAYS of now.

Break use comes from the status change log in the shift's window, so it is whatever the log
knows: with logging off only the current status counts, from when it began. The reads answer
for many agents at once, for the board's page: one query for the agents' statuses with their
running shifts, shift types and break statuses, and one for the log rows in those shifts.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, FilteredRelation, OuterRef, Q

from presence.adherence import BREAK_NOT_ALLOWED, OFFLINE_IN_SHIFT, ONLINE_OUTSIDE_SHIFT, Adherence, BreakUsage
from presence.availability import AWAY_CATEGORIES
from presence.models import StatusCategory, StatusChangeLog
from scheduling.models import Shift

# An agent with a shift this many days before or after now works to a schedule, so being online
# outside a shift is worth a flag; an agent never scheduled is not flagged.
SHIFTS_IN_USE_DAYS = 7

Piece = tuple[int, datetime, datetime]  # (status id, start, end)


def break_use(pieces: Iterable[Piece], break_statuses: frozenset[int]) -> tuple[float, int]:
    """Seconds in break statuses and breaks taken, from consecutive (status, start, end) pieces."""
    seconds, taken, previous = 0.0, 0, None
    for status_id, start, end in pieces:
        if status_id in break_statuses:
            seconds += (end - start).total_seconds()
            if previous not in break_statuses:
                taken += 1
        previous = status_id
    return seconds, taken


def working_misfit(status_id: int | None, category: str | None, break_statuses: frozenset[int]) -> str:
    """Why a status does not fit a running working shift (a key of presence.adherence.MISFITS), or ""."""
    if status_id is None or category == StatusCategory.OFFLINE:
        return OFFLINE_IN_SHIFT
    if category in AWAY_CATEGORIES and status_id not in break_statuses:
        return BREAK_NOT_ALLOWED
    return ""


@dataclass(frozen=True)
class ShiftNow:
    """An agent's status and running shift, as _shifts_now reads them (shift fields None: no shift)."""

    agent_id: int
    status_id: int | None
    status_since: datetime | None
    category: str | None
    uses_shifts: bool
    shift_id: int | None = None
    start: datetime | None = None
    off_duty: bool = False
    break_minutes: int | None = None
    break_count: int | None = None
    break_statuses: frozenset[int] = frozenset()

    @property
    def working(self) -> bool:
        return self.shift_id is not None and not self.off_duty


def _shifts_now(agent_ids: list[int], now: datetime) -> dict[int, ShiftNow]:
    """One query: each agent's presence, running shift with its type, and whether they have a shift
    near now. Shifts of one agent never overlap, so the join yields one shift per agent, and a
    row per break status of its type."""
    near = Shift.objects.filter(
        agent_id=OuterRef("pk"),
        start__lt=now + timedelta(days=SHIFTS_IN_USE_DAYS),
        end__gt=now - timedelta(days=SHIFTS_IN_USE_DAYS),
    )
    rows = (
        get_user_model()
        .objects.filter(pk__in=agent_ids)
        .annotate(
            running=FilteredRelation("shifts", condition=Q(shifts__start__lte=now, shifts__end__gt=now)),
            uses_shifts=Exists(near),
        )
        .values_list(
            "pk", "presence__status", "presence__since", "presence__status__category", "uses_shifts",
            "running__id", "running__start", "running__shift_type__off_duty", "running__shift_type__break_minutes",
            "running__shift_type__break_count", "running__shift_type__break_statuses",
        )
        .order_by()
    )  # fmt: skip
    found: dict[int, dict] = {}
    for pk, status_id, since, category, uses, shift_id, start, off_duty, minutes, count, break_status in rows:
        entry = found.setdefault(
            pk,
            {
                "agent_id": pk, "status_id": status_id, "status_since": since, "category": category,
                "uses_shifts": uses, "shift_id": shift_id, "start": start, "off_duty": bool(off_duty),
                "break_minutes": minutes, "break_count": count, "break_statuses": set(),
            },
        )  # fmt: skip
        if break_status is not None:
            entry["break_statuses"].add(break_status)
    return {pk: ShiftNow(**{**e, "break_statuses": frozenset(e["break_statuses"])}) for pk, e in found.items()}


def _live_pieces(shift: ShiftNow, changes: list[tuple], now: datetime) -> list[Piece]:
    """(status, start, end) pieces from the shift's start to now: the status at the start is what
    the first change in the shift changed from; without a change, the current status since it
    began."""
    if changes:
        status_id, cursor = changes[0][1], shift.start
    else:
        status_id, cursor = shift.status_id, max(shift.start, shift.status_since or shift.start)
    pieces = []
    for at, _from_id, to_id in changes:
        if status_id is not None and at > cursor:
            pieces.append((status_id, cursor, at))
        cursor, status_id = max(cursor, at), to_id
    if status_id is not None and now > cursor:
        pieces.append((status_id, cursor, now))
    return pieces


def _break_usage(shifts: dict[int, ShiftNow], now: datetime) -> dict[int, BreakUsage]:
    allowing = [s for s in shifts.values() if s.working and s.break_statuses]
    if not allowing:
        return {}
    windows = Q()
    for shift in allowing:
        windows |= Q(agent_id=shift.agent_id, at__gte=shift.start, at__lte=now)
    changes: dict[int, list[tuple]] = defaultdict(list)
    rows = StatusChangeLog.objects.filter(windows).order_by("agent_id", "at", "id")
    for agent_id, at, from_id, to_id in rows.values_list("agent_id", "at", "from_status_id", "to_status_id"):
        changes[agent_id].append((at, from_id, to_id))
    usage = {}
    for shift in allowing:
        seconds, taken = break_use(_live_pieces(shift, changes[shift.agent_id], now), shift.break_statuses)
        usage[shift.agent_id] = BreakUsage(
            used_seconds=int(seconds),
            breaks_taken=taken,
            minutes_allowed=shift.break_minutes,
            breaks_allowed=shift.break_count,
            on_break=shift.status_id in shift.break_statuses,
        )
    return usage


def break_usage(agent_ids: Iterable[int], now: datetime) -> dict[int, BreakUsage]:
    """Break use in each agent's running working shift whose type allows breaks: used minutes,
    breaks taken, minutes left, over budget (presence.adherence.BreakUsage). Agents without such a
    shift are left out. Two queries, whatever the number of agents."""
    ids = list(agent_ids)
    return _break_usage(_shifts_now(ids, now), now) if ids else {}


def agent_adherence(agent_ids: list[int], now: datetime) -> dict[int, Adherence]:
    """The adherence provider (presence.adherence): for each agent in a working shift, or whose
    status does not fit being outside one, whether it fits and their break use. Two queries."""
    shifts = _shifts_now(agent_ids, now)
    usage = _break_usage(shifts, now)
    result = {}
    for agent_id, shift in shifts.items():
        if shift.working:
            misfit = working_misfit(shift.status_id, shift.category, shift.break_statuses)
        elif shift.uses_shifts and shift.status_id is not None and shift.category != StatusCategory.OFFLINE:
            misfit = ONLINE_OUTSIDE_SHIFT
        else:
            misfit = ""
        if shift.working or misfit:
            result[agent_id] = Adherence(in_shift=shift.working, misfit=misfit, breaks=usage.get(agent_id))
    return result
