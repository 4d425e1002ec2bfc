"""Schedule compliance (R2): scheduled shift time against the time the agent was working in it;
and adherence (C8): shift time in a status that fits the shift, and the break budgets.

Working is being in a status that receives work, and also being in a status whose time counts
only after the dialogs are closed (S1 `count_time_after_dialogs_closed`, After work say) while
the agent still holds open dialogs: they are still working them, and that time is not yet the
status's. Shifts of an off-duty type (a day off, leave) schedule no work and are left out.
"""

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from presence.models import AgentProfile, Status
from presence.reports import status_intervals
from presence.shared.reports import Period, Report, Summary, clip, hours_minutes, intersect, open_work, split_by_day
from scheduling.adherence import break_use, working_misfit
from scheduling.models import Shift


def schedule_compliance(period: Period) -> list[dict]:
    shifts = Shift.objects.filter(start__lt=period.until, end__gt=period.since, shift_type__off_duty=False)
    if period.agent_id:
        shifts = shifts.filter(agent_id=period.agent_id)
    by_agent = defaultdict(list)
    for agent_id, start, end in shifts.values_list("agent_id", "start", "end"):
        by_agent[agent_id].extend(clip([(start, end)], period.since, period.until))
    if not by_agent:
        return []
    flags = Status.objects.values_list("pk", "can_receive", "count_time_after_dialogs_closed")
    receiving = {pk for pk, can_receive, _ in flags if can_receive}
    after_close = {pk for pk, _, waits in flags if waits}
    intervals = status_intervals(Period(period.since, period.until, period.agent_id, period.zone))
    waiting_agents = [a for a in by_agent if any(s in after_close for s, _, _ in intervals.get(a, []))]
    busy = open_work(waiting_agents, period.since, period.until) if after_close else {}
    usernames = dict(AgentProfile.objects.filter(user_id__in=list(by_agent)).values_list("user_id", "user__username"))
    scheduled, worked = defaultdict(float), defaultdict(float)
    for agent_id, shift_spans in by_agent.items():
        working = []
        for status_id, start, end in intervals.get(agent_id, []):
            if status_id in receiving:
                working.append((start, end))
            elif status_id in after_close:
                working.extend(intersect([(start, end)], busy.get(agent_id, [])))
        for start, end in shift_spans:
            for day, a, b in split_by_day(start, end, period.zone):
                scheduled[(agent_id, day)] += (b - a).total_seconds()
            for a, b in clip(working, start, end):
                for day, x, y in split_by_day(a, b, period.zone):
                    worked[(agent_id, day)] += (y - x).total_seconds()
    rows = []
    for (agent_id, day), seconds in sorted(scheduled.items(), key=lambda kv: (usernames.get(kv[0][0], ""), kv[0][1])):
        scheduled_seconds, working_seconds = round(seconds), round(worked[(agent_id, day)])
        rows.append(
            {
                "agent": agent_id,
                "username": usernames.get(agent_id, ""),
                "day": day,
                "scheduled_seconds": scheduled_seconds,
                "receiving_seconds": working_seconds,
                "scheduled": hours_minutes(scheduled_seconds),
                "working": hours_minutes(working_seconds),
                "compliance_percent": _percent(working_seconds, scheduled_seconds),
            }
        )
    return rows


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def compliance_summary(rows: list[dict]) -> Summary:
    """Per agent over the period: scheduled, working, compliance; and for everyone."""
    per_agent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        per_agent[row["username"]][0] += row["scheduled_seconds"]
        per_agent[row["username"]][1] += row["receiving_seconds"]
    scheduled, working = sum(s for s, _ in per_agent.values()), sum(w for _, w in per_agent.values())

    def line(name: str, s: int, w: int) -> list[str]:
        percent = _percent(w, s)
        return [name, hours_minutes(s), hours_minutes(w), "" if percent is None else f"{percent} %"]

    return Summary(
        header=["Agent", "Scheduled", "Working", "Compliance"],
        rows=[line(name, s, w) for name, (s, w) in sorted(per_agent.items())],
        footer=line("Total", scheduled, working),
    )


COMPLIANCE = Report(
    "schedule-compliance",
    "Schedule compliance (shift time vs time working)",
    ["username", "day", "scheduled_seconds", "receiving_seconds", "scheduled", "working", "compliance_percent"],
    schedule_compliance,
    labels={
        "username": "Agent",
        "day": "Day",
        "scheduled_seconds": "Scheduled (seconds)",
        "receiving_seconds": "Working (seconds)",
        "compliance_percent": "Compliance %",
        "scheduled": "Scheduled",
        "working": "Working",
    },
    hidden=("scheduled_seconds", "receiving_seconds"),
    summarize=compliance_summary,
)


# --- adherence and break budgets (C8) --------------------------------------------------------------------


def _fitting(pieces, break_statuses: frozenset[int], allowed_seconds: int | None, categories: dict) -> list:
    """The parts of a working shift's (status, start, end) pieces spent in a status that fits it
    (scheduling.adherence.working_misfit): break time counts until the budget's minutes are used,
    and what comes after is the overage."""
    fitting, used = [], 0.0
    for status_id, start, end in pieces:
        if status_id in break_statuses:
            length = (end - start).total_seconds()
            within = length if allowed_seconds is None else max(0.0, min(length, allowed_seconds - used))
            used += length
            if within > 0:
                fitting.append((start, start + timedelta(seconds=within)))
        elif not working_misfit(status_id, categories.get(status_id), break_statuses):
            fitting.append((start, end))
    return fitting


def adherence(period: Period) -> list[dict]:
    """Per agent and local day: working-shift time so far, the part of it in a status that fits the
    shift, and the break budgets of the shifts that start that day (a budget is a shift's, so a
    night shift's breaks count on the day it starts, all of them, even past midnight): break time
    used, allowed and past the budget, breaks taken and allowed. Off-duty shifts are left out."""
    now = timezone.now()
    end = min(period.until, now)
    shifts = Shift.objects.filter(start__lt=end, end__gt=period.since, shift_type__off_duty=False)
    if period.agent_id:
        shifts = shifts.filter(agent_id=period.agent_id)
    # A row per break status of each shift's type (the join), gathered back into one per shift.
    found: dict[int, dict] = {}
    for pk, agent_id, start, stop, minutes, count, break_status in shifts.values_list(
        "pk", "agent_id", "start", "end", "shift_type__break_minutes", "shift_type__break_count",
        "shift_type__break_statuses",
    ):  # fmt: skip
        shift = found.setdefault(pk, {"agent": agent_id, "start": start, "end": min(stop, now), "minutes": minutes,
                                      "count": count, "breaks": set()})  # fmt: skip
        if break_status is not None:
            shift["breaks"].add(break_status)
    if not found:
        return []
    # Break budgets are a whole shift's: read the log over whole shifts, not only the period.
    since, until = min(s["start"] for s in found.values()), max(s["end"] for s in found.values())
    intervals = status_intervals(Period(since, until, period.agent_id, period.zone))
    categories = dict(Status.objects.values_list("pk", "category"))
    totals: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    budgets: dict[tuple, dict] = defaultdict(dict)
    for shift in found.values():
        agent_id, start, stop, breaks = shift["agent"], shift["start"], shift["end"], frozenset(shift["breaks"])
        pieces = [
            (status_id, max(a, start), min(b, stop))
            for status_id, a, b in intervals.get(agent_id, [])
            if min(b, stop) > max(a, start)
        ]
        allowed = shift["minutes"] * 60 if shift["minutes"] is not None else None
        for a, b in clip([(start, stop)], period.since, period.until):
            for day, x, y in split_by_day(a, b, period.zone):
                totals[(agent_id, day)]["shift"] += (y - x).total_seconds()
        for a, b in clip(_fitting(pieces, breaks, allowed, categories), period.since, period.until):
            for day, x, y in split_by_day(a, b, period.zone):
                totals[(agent_id, day)]["fitting"] += (y - x).total_seconds()
        if not (breaks and period.since <= start < period.until):
            continue
        used, taken = break_use(pieces, breaks)
        budget = budgets[(agent_id, start.astimezone(period.zone).date().isoformat())]
        budget["used"] = budget.get("used", 0.0) + used
        budget["taken"] = budget.get("taken", 0) + taken
        if allowed is not None:
            budget["allowed"] = budget.get("allowed", 0) + allowed
            budget["overage"] = budget.get("overage", 0.0) + max(0.0, used - allowed)
        if shift["count"] is not None:
            budget["count"] = budget.get("count", 0) + shift["count"]
    agents = AgentProfile.objects.filter(user_id__in={agent_id for agent_id, _ in totals})
    usernames = dict(agents.values_list("user_id", "user__username"))
    rows = []
    for agent_id, day in sorted(totals, key=lambda key: (usernames.get(key[0], ""), key[1])):
        seconds = totals[(agent_id, day)]
        shift_seconds, fitting_seconds = round(seconds["shift"]), round(seconds["fitting"])
        if not shift_seconds:
            continue
        budget = budgets.get((agent_id, day), {})
        used, allowed = round(budget.get("used", 0)), budget.get("allowed")
        overage = round(budget.get("overage", 0)) if allowed is not None else None
        rows.append(
            {
                "agent": agent_id,
                "username": usernames.get(agent_id, ""),
                "day": day,
                "shift_seconds": shift_seconds,
                "fitting_seconds": fitting_seconds,
                "break_used_seconds": used,
                "break_allowed_seconds": allowed,
                "break_overage_seconds": overage,
                "shift": hours_minutes(shift_seconds),
                "fitting": hours_minutes(fitting_seconds),
                "break_used": hours_minutes(used),
                "break_allowed": hours_minutes(allowed),
                "break_overage": hours_minutes(overage),
                "breaks_taken": budget.get("taken", 0),
                "breaks_allowed": budget.get("count"),
                "adherence_percent": _percent(fitting_seconds, shift_seconds),
            }
        )
    return rows


def adherence_summary(rows: list[dict]) -> Summary:
    """Per agent over the period: shift time, time fitting it, adherence, break time used and past
    the budget; and for everyone."""
    keys = ("shift_seconds", "fitting_seconds", "break_used_seconds")
    per_agent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        sums = per_agent[row["username"]]
        for i, key in enumerate(keys):
            sums[i] += row[key]
        sums[3] += row["break_overage_seconds"] or 0
    everyone = [sum(sums[i] for sums in per_agent.values()) for i in range(4)]

    def line(name: str, sums: list[int]) -> list[str]:
        percent = _percent(sums[1], sums[0])
        shift, fitting, used, over = (hours_minutes(value) for value in sums)
        return [name, shift, fitting, "" if percent is None else f"{percent} %", used, over]

    return Summary(
        header=["Agent", "Shift time", "In a fitting status", "Adherence", "Break used", "Break over budget"],
        rows=[line(name, sums) for name, sums in sorted(per_agent.items())],
        footer=line("Total", everyone),
    )


ADHERENCE = Report(
    "adherence",
    "Adherence and break budgets (shift time in a fitting status, breaks against the budget)",
    [
        "username", "day", "shift_seconds", "fitting_seconds", "break_used_seconds", "break_allowed_seconds",
        "break_overage_seconds", "shift", "fitting", "break_used", "break_allowed", "break_overage", "breaks_taken",
        "breaks_allowed", "adherence_percent",
    ],
    adherence,
    labels={
        "username": "Agent",
        "day": "Day",
        "shift_seconds": "Shift time (seconds)",
        "fitting_seconds": "In a fitting status (seconds)",
        "break_used_seconds": "Break used (seconds)",
        "break_allowed_seconds": "Break allowed (seconds)",
        "break_overage_seconds": "Break over budget (seconds)",
        "shift": "Shift time",
        "fitting": "In a fitting status",
        "break_used": "Break used",
        "break_allowed": "Break allowed",
        "break_overage": "Break over budget",
        "breaks_taken": "Breaks taken",
        "breaks_allowed": "Breaks allowed",
        "adherence_percent": "Adherence %",
    },
    hidden=(
        "shift_seconds", "fitting_seconds", "break_used_seconds", "break_allowed_seconds", "break_overage_seconds",
    ),
    summarize=adherence_summary,
)  # fmt: skip
