"""Schedule compliance (R2): scheduled shift time against time spent in receiving statuses."""

from collections import defaultdict

from presence.models import AgentProfile, Status
from presence.reports import Period, Report, clip, split_by_day, status_intervals
from scheduling.models import Shift


def schedule_compliance(period: Period) -> list[dict]:
    shifts = Shift.objects.filter(start__lt=period.until, end__gt=period.since)
    if period.agent_id:
        shifts = shifts.filter(agent_id=period.agent_id)
    by_agent = defaultdict(list)
    for agent_id, start, end in shifts.values_list("agent_id", "start", "end"):
        by_agent[agent_id].extend(clip([(start, end)], period.since, period.until))
    if not by_agent:
        return []
    receiving = set(Status.objects.filter(can_receive=True).values_list("pk", flat=True))
    intervals = status_intervals(Period(period.since, period.until, None, period.zone))
    usernames = dict(AgentProfile.objects.filter(user_id__in=list(by_agent)).values_list("user_id", "user__username"))
    scheduled, worked = defaultdict(float), defaultdict(float)
    for agent_id, shift_spans in by_agent.items():
        for start, end in shift_spans:
            for day, a, b in split_by_day(start, end, period.zone):
                scheduled[(agent_id, day)] += (b - a).total_seconds()
            for status_id, s_start, s_end in intervals.get(agent_id, []):
                if status_id in receiving:
                    for a, b in clip([(s_start, s_end)], start, end):
                        for day, x, y in split_by_day(a, b, period.zone):
                            worked[(agent_id, day)] += (y - x).total_seconds()
    return [
        {
            "agent": agent_id,
            "username": usernames.get(agent_id, ""),
            "day": day,
            "scheduled_seconds": round(seconds),
            "receiving_seconds": round(worked[(agent_id, day)]),
            "compliance_percent": round(100 * worked[(agent_id, day)] / seconds, 1) if seconds else None,
        }
        for (agent_id, day), seconds in sorted(
            scheduled.items(), key=lambda kv: (usernames.get(kv[0][0], ""), kv[0][1])
        )
    ]


COMPLIANCE = Report(
    "schedule-compliance",
    "Schedule compliance (shift time vs time in receiving statuses)",
    ["username", "day", "scheduled_seconds", "receiving_seconds", "compliance_percent"],
    schedule_compliance,
)
