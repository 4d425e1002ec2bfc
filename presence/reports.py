"""The presence app's reports (R1-R3): time in status computed from the change log, the status
log, and the chart. The registry they are registered in is presence.shared.reports.

Each report takes a Period (and optionally one agent) and returns rows of plain values, so
the API can answer JSON or CSV and the admin can show a table from the same function.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext

from presence.models import AgentPresence, AgentProfile, Status, StatusChangeLog
from presence.shared.reports import (
    Interval,
    Period,
    Report,
    Summary,
    hours_minutes,
    open_work,
    register_report,
    split_by_day,
    subtract,
)

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
    if wait_for_close:
        agents = [a for a, pieces in intervals.items() if any(s in wait_for_close for s, _, _ in pieces)]
        busy = open_work(agents, period.since, period.until)
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
            "duration": hours_minutes(round(seconds)),
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


# --- totals: what the chart draws and the summary table lists ------------------------------------------


@dataclass(frozen=True)
class StatusTotals:
    """Time in status over a report's days, in seconds: per agent and status, per agent, per
    status, in all. The chart and the totals table are both drawn from one of these, so they
    show the same numbers, rounded the same way (hours_minutes)."""

    agents: list[tuple[int, str]]  # (agent id, username), by username
    statuses: list[tuple[int, str, str]]  # (status id, name, colour), in the catalogue's order
    seconds: dict[tuple[int, int], int]  # (agent id, status id) -> seconds
    per_agent: dict[int, int]
    per_status: dict[int, int]
    total: int


def time_in_status_totals(rows: list[dict]) -> StatusTotals:
    seconds: dict[tuple[int, int], int] = defaultdict(int)
    per_agent: dict[int, int] = defaultdict(int)
    per_status: dict[int, int] = defaultdict(int)
    usernames, names = {}, {}
    for row in rows:
        seconds[(row["agent"], row["status"])] += row["seconds"]
        per_agent[row["agent"]] += row["seconds"]
        per_status[row["status"]] += row["seconds"]
        usernames[row["agent"]], names[row["status"]] = row["username"], row["status_name"]
    catalogue = [(pk, name, colour) for pk, name, colour in Status.objects.values_list("pk", "name", "color")]
    known = {pk for pk, _, _ in catalogue}
    statuses = [entry for entry in catalogue if entry[0] in per_status] + sorted(
        (pk, names[pk], "#999999") for pk in per_status if pk not in known
    )
    return StatusTotals(
        agents=sorted(usernames.items(), key=lambda item: (item[1], item[0])),
        statuses=statuses,
        seconds=dict(seconds),
        per_agent=dict(per_agent),
        per_status=dict(per_status),
        total=sum(per_agent.values()),
    )


def time_in_status_summary(rows: list[dict]) -> Summary:
    """Agents down, statuses across, h:mm in each cell, totals per agent and per status."""
    totals = time_in_status_totals(rows)
    return Summary(
        header=["Agent", *(name for _, name, _ in totals.statuses), "Total"],
        rows=[
            [
                username,
                *(hours_minutes(totals.seconds.get((agent_id, status_id))) for status_id, _, _ in totals.statuses),
                hours_minutes(totals.per_agent[agent_id]),
            ]
            for agent_id, username in totals.agents
        ],
        footer=[
            "Total", *(hours_minutes(totals.per_status[status_id]) for status_id, _, _ in totals.statuses),
            hours_minutes(totals.total),
        ],
    )  # fmt: skip


TIME_IN_STATUS_COLUMNS = ["username", "day", "status_name", "seconds", "duration"]
TIME_IN_STATUS_LABELS = {
    "username": "Agent", "day": "Day", "status_name": "Status", "seconds": "Seconds", "duration": "Time in status",
}  # fmt: skip
STATUS_LOG_COLUMNS = ["at", "username", "from_status", "to_status", "source", "actor", "reason"]
STATUS_LOG_LABELS = {
    "at": "Time", "username": "Agent", "from_status": "From", "to_status": "To", "source": "Source",
    "actor": "Changed by", "reason": "Reason",
}  # fmt: skip
register_report(
    Report(
        "time-in-status",
        "Time in status per agent per day",
        TIME_IN_STATUS_COLUMNS,
        time_in_status,
        labels=TIME_IN_STATUS_LABELS,
        hidden=("seconds",),
        summarize=time_in_status_summary,
    )
)
register_report(Report("status-log", "Status change log", STATUS_LOG_COLUMNS, status_log_rows, STATUS_LOG_LABELS))


# --- chart (R3) -----------------------------------------------------------------------------------------------


def time_in_status_chart(rows: list[dict], *, width: int = 760, bar_height: int = 22) -> dict:
    """The geometry of the chart (R3): a stacked horizontal bar per agent, time in each status
    over the period in status colours, each piece with its h:mm and each bar ending in the
    agent's total: the numbers of the totals table (time_in_status_summary). The template
    `presence/time_in_status_chart.svg` draws it."""
    totals = time_in_status_totals(rows)
    chart = {
        "width": width, "bar_height": bar_height, "bars": [], "legend": [],
        "label": gettext("Time in status per agent"), "empty_text": gettext("No data for this period."),
    }  # fmt: skip
    if not totals.agents:
        return chart
    longest = max(totals.per_agent.values()) or 1
    label_w, total_w = 110, 60
    legend_h = 24 * ((len(totals.statuses) + 3) // 4)
    chart["height"] = len(totals.agents) * (bar_height + 8) + legend_h + 30
    scale = (width - label_w - total_w) / longest
    for i, (agent_id, username) in enumerate(totals.agents):
        y = i * (bar_height + 8)
        x, pieces = label_w, []
        for status_id, name, colour in totals.statuses:
            seconds = totals.seconds.get((agent_id, status_id))
            if not seconds:
                continue
            w = seconds * scale
            pieces.append({"x": f"{x:.1f}", "width": f"{w:.1f}", "colour": colour, "name": name, "seconds": seconds,
                           "shown": hours_minutes(seconds)})  # fmt: skip
            x += w
        total = hours_minutes(totals.per_agent[agent_id])
        chart["bars"].append({"username": username, "y": y, "text_y": y + 15, "pieces": pieces,
                              "total_x": f"{x + 6:.1f}", "total": total})  # fmt: skip
    y0 = len(totals.agents) * (bar_height + 8) + 10
    for i, (_, name, colour) in enumerate(totals.statuses):
        x, y = (i % 4) * 185, y0 + (i // 4) * 24
        chart["legend"].append({"x": x, "y": y, "text_x": x + 20, "text_y": y + 12, "colour": colour, "name": name})
    return chart


def time_in_status_svg(rows: list[dict], *, width: int = 760, bar_height: int = 22) -> str:
    """The chart as SVG markup (escaped by the template)."""
    return render_to_string(
        "presence/time_in_status_chart.svg", time_in_status_chart(rows, width=width, bar_height=bar_height)
    )
