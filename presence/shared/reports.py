"""The report registry (R1-R3) the apps fill, and the interval arithmetic reports share.

Each report takes a Period (and optionally one agent) and returns rows of plain values, so
the API can answer JSON or CSV and the admin can show a table from the same function. The
presence app's own reports (time in status, the status log, the chart) are in presence.reports;
tickets and scheduling register theirs from their AppConfig.ready().
"""

import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    agent_id: int | None = None
    zone: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    source: str | None = None


@dataclass(frozen=True)
class Summary:
    """Totals above a report's table, as people read them: a header, a row per agent, a total."""

    header: list[str]
    rows: list[list[str]]
    footer: list[str]


@dataclass(frozen=True)
class Report:
    """A report: `columns` are the keys of its rows, as the API and the CSV give them (durations
    in seconds, for machines, and as h:mm, for people); the admin's table shows them under their
    `labels`, all but the `hidden` ones, and the `summarize`d totals above them."""

    slug: str
    title: str
    columns: list[str]
    compute: Callable[[Period], list[dict]]
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    hidden: tuple[str, ...] = ()
    summarize: Callable[[list[dict]], Summary] | None = None

    def label(self, column: str) -> str:
        return self.labels.get(column) or column.replace("_", " ").capitalize()

    @property
    def shown(self) -> list[str]:
        """The columns of the admin's table: not the machine-only ones (seconds)."""
        return [column for column in self.columns if column not in self.hidden]


REPORTS: dict[str, Report] = {}


def register_report(report: Report) -> None:
    REPORTS[report.slug] = report


# --- open work, told by the tickets app ---------------------------------------------------------

# (agent_ids, since, until) -> {agent_id: [(start, end), ...]} when the agent held open work.
OpenWorkProvider = Callable[[list[int], datetime, datetime], dict[int, list[Interval]]]
_open_work: OpenWorkProvider | None = None


def register_open_work_provider(provider: OpenWorkProvider | None) -> None:
    global _open_work
    _open_work = provider


def open_work(agent_ids: list[int], since: datetime, until: datetime) -> dict[int, list[Interval]]:
    """When each agent held open work (merged intervals), as the tickets app tells; {} without it."""
    if _open_work is None or not agent_ids:
        return {}
    return _open_work(agent_ids, since, until)


# --- durations as people read them --------------------------------------------------------------------------


def hours_minutes(seconds: float | None) -> str:
    """A duration as h:mm, rounded to the nearest minute ("8:05"; "26:30" past a day): how every
    report, table and chart alike, shows time."""
    if seconds is None:
        return ""
    minutes = int((seconds + 30) // 60)  # half a minute and more rounds up
    return f"{minutes // 60}:{minutes % 60:02d}"


# --- interval arithmetic ----------------------------------------------------------------------------


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start)]


def subtract(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """The parts of `intervals` outside every hole."""
    result = []
    for start, end in intervals:
        pieces = [(start, end)]
        for hole_start, hole_end in holes:
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, hole_start)), (max(a, hole_end), b))
                if piece[1] > piece[0]
            ]
        result.extend(pieces)
    return result


def intersect(intervals: list[Interval], others: list[Interval]) -> list[Interval]:
    """The parts of `intervals` inside one of `others` (merged: none overlaps another)."""
    return [
        (max(a, c), min(b, d)) for a, b in intervals for c, d in others if min(b, d) > max(a, c)
    ]  # fmt: skip


def split_by_day(start: datetime, end: datetime, zone) -> list[tuple[str, datetime, datetime]]:
    """[(local day, start, end)] pieces of an interval cut at local midnights."""
    pieces = []
    cursor = start
    while cursor < end:
        local = cursor.astimezone(zone)
        next_midnight = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)
        piece_end = min(end, next_midnight.astimezone(start.tzinfo))
        pieces.append((local.date().isoformat(), cursor, piece_end))
        cursor = piece_end
    return pieces
