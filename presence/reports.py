"""Reports (R1-R3): a registry the apps fill, and time in status computed from the change log.

Each report takes a Period (and optionally one agent) and returns rows of plain values, so
the API can answer JSON or CSV and the admin can show a table from the same function.
"""

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import escape

from presence.models import AgentPresence, AgentProfile, Status, StatusChangeLog

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    agent_id: int | None = None
    zone: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    source: str | None = None


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    columns: list[str]
    compute: Callable[[Period], list[dict]]


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


# --- time in status ---------------------------------------------------------------------------------------


def status_intervals(period: Period) -> dict[int, list[tuple[int, datetime, datetime]]]:
    """Per agent, [(status_id, start, end)] covering the period as far as the log knows.

    The status at the period's start is the last logged one before it; without one, the
    first change inside the period says what it changed from; without any, the current
    presence counts from when it began. Nothing counts before the agent joined.
    """
    end = min(period.until, timezone.now())
    agents = AgentProfile.objects.all()
    if period.agent_id:
        agents = agents.filter(user_id=period.agent_id)
    before = StatusChangeLog.objects.filter(agent_id=OuterRef("user_id"), at__lt=period.since).order_by("-at", "-id")
    starting = {
        agent_id: (status_id, joined)
        for agent_id, status_id, joined in agents.annotate(s=Subquery(before.values("to_status_id")[:1])).values_list(
            "user_id", "s", "user__date_joined"
        )
    }
    rows = StatusChangeLog.objects.filter(agent_id__in=list(starting), at__gte=period.since, at__lt=end).order_by(
        "agent_id", "at", "id"
    )
    changes: dict[int, list] = defaultdict(list)
    for agent_id, at, from_id, to_id in rows.values_list("agent_id", "at", "from_status_id", "to_status_id"):
        changes[agent_id].append((at, from_id, to_id))
    current = {
        p["agent_id"]: p
        for p in AgentPresence.objects.filter(agent_id__in=list(starting)).values("agent_id", "status_id", "since")
    }
    result: dict[int, list] = {}
    for agent_id, (status_id, joined) in starting.items():
        agent_changes = changes.get(agent_id, [])
        # Nobody has a status before they joined.
        cursor = max(period.since, joined)
        if status_id is None and agent_changes:
            status_id = agent_changes[0][1]
        if status_id is None and not agent_changes and agent_id in current:
            status_id = current[agent_id]["status_id"]
            cursor = max(cursor, current[agent_id]["since"])
        pieces = []
        for at, _, to_id in agent_changes:
            if status_id is not None and at > cursor:
                pieces.append((status_id, cursor, at))
            cursor, status_id = max(cursor, at), to_id
        if status_id is not None and end > cursor:
            pieces.append((status_id, cursor, end))
        result[agent_id] = pieces
    return result


def time_in_status(period: Period) -> list[dict]:
    """Seconds per agent, local day and status (R2). Time in a status that counts only after
    dialogs close (S1) leaves out the moments the agent still held open work."""
    intervals = status_intervals(period)
    statuses = {s.pk: s for s in Status.objects.all()}
    wait_for_close = {pk for pk, s in statuses.items() if s.count_time_after_dialogs_closed}
    busy: dict[int, list[Interval]] = {}
    if wait_for_close and _open_work is not None:
        agents = [a for a, pieces in intervals.items() if any(s in wait_for_close for s, _, _ in pieces)]
        busy = _open_work(agents, period.since, period.until) if agents else {}
    usernames = dict(AgentProfile.objects.filter(user_id__in=list(intervals)).values_list("user_id", "user__username"))
    totals: dict[tuple, float] = defaultdict(float)
    for agent_id, pieces in intervals.items():
        for status_id, start, end in pieces:
            counted = [(start, end)]
            if status_id in wait_for_close:
                counted = subtract(counted, busy.get(agent_id, []))
            for a, b in counted:
                for day, day_start, day_end in split_by_day(a, b, period.zone):
                    totals[(agent_id, day, status_id)] += (day_end - day_start).total_seconds()
    return [
        {
            "agent": agent_id,
            "username": usernames.get(agent_id, ""),
            "day": day,
            "status": status_id,
            "status_name": statuses[status_id].name if status_id in statuses else "(deleted)",
            "seconds": round(seconds),
        }
        for (agent_id, day, status_id), seconds in sorted(totals.items(), key=lambda kv: _order(kv[0], usernames))
        if seconds >= 0.5
    ]


def _order(key: tuple, usernames: dict) -> tuple:
    agent_id, day, status_id = key
    return usernames.get(agent_id, ""), day, status_id


def status_log_rows(period: Period) -> list[dict]:
    """The status change log (R1) for the period, oldest first."""
    rows = StatusChangeLog.objects.filter(at__gte=period.since, at__lt=period.until).select_related("agent", "actor")
    if period.agent_id:
        rows = rows.filter(agent_id=period.agent_id)
    if period.source:
        rows = rows.filter(source=period.source)
    return [
        {
            "at": row.at.isoformat(),
            "agent": row.agent_id,
            "username": row.agent.get_username(),
            "from_status": row.from_status_name,
            "to_status": row.to_status_name,
            "source": row.source,
            "actor": row.actor.get_username() if row.actor else "",
            "reason": row.reason,
        }
        for row in rows.order_by("at", "id")
    ]


TIME_IN_STATUS_COLUMNS = ["username", "day", "status_name", "seconds"]
STATUS_LOG_COLUMNS = ["at", "username", "from_status", "to_status", "source", "actor", "reason"]
register_report(Report("time-in-status", "Time in status per agent per day", TIME_IN_STATUS_COLUMNS, time_in_status))
register_report(Report("status-log", "Status change log", STATUS_LOG_COLUMNS, status_log_rows))


# --- chart (R3) -----------------------------------------------------------------------------------------------


def time_in_status_svg(rows: list[dict], *, width: int = 760, bar_height: int = 22) -> str:
    """A stacked horizontal bar per agent: time in each status over the period, in status colours."""
    colours = dict(Status.objects.values_list("pk", "color"))
    per_agent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    names: dict[int, str] = {}
    for row in rows:
        per_agent[row["username"]][row["status"]] += row["seconds"]
        names[row["status"]] = row["status_name"]
    if not per_agent:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="30" role="img">'
            '<text x="0" y="20">No data for this period.</text></svg>'
        )
    longest = max(sum(v.values()) for v in per_agent.values()) or 1
    label_w, legend_h = 110, 24 * ((len(names) + 3) // 4)
    height = len(per_agent) * (bar_height + 8) + legend_h + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="Time in status per agent" font-family="sans-serif" font-size="12">'
    ]
    for i, (username, by_status) in enumerate(sorted(per_agent.items())):
        y = i * (bar_height + 8)
        parts.append(f'<text x="0" y="{y + 15}">{escape(username)}</text>')
        x = label_w
        for status_id, seconds in sorted(by_status.items()):
            w = (width - label_w - 10) * seconds / longest
            colour = escape(colours.get(status_id, "#999"))
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}">'
                f"<title>{escape(names[status_id])}: {seconds / 3600:.2f} h</title></rect>"
            )
            x += w
    y0 = len(per_agent) * (bar_height + 8) + 10
    for i, (status_id, name) in enumerate(sorted(names.items(), key=lambda kv: kv[1])):
        x, y = (i % 4) * 185, y0 + (i // 4) * 24
        colour = escape(colours.get(status_id, "#999"))
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{colour}"/>'
            f'<text x="{x + 20}" y="{y + 12}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
