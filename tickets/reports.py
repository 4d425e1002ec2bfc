"""Reports the tickets app adds (R2 workload), and the open-work intervals time-in-status needs."""

from collections import defaultdict
from datetime import datetime

from django.db.models import Count

from presence.models import AgentProfile
from presence.shared.reports import Interval, Period, Report
from tickets.models import HELD_STATES, Ticket


def open_work_intervals(agent_ids: list[int], since: datetime, until: datetime) -> dict[int, list[Interval]]:
    """When each agent held at least one open or pending ticket, from the tickets' history."""
    touched = Ticket.history.filter(assignee_id__in=agent_ids, history_date__lt=until).values("id")
    rows = (
        Ticket.history.filter(id__in=touched, history_date__lt=until)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "assignee_id", "state", "history_date")
    )
    held: dict[int, list[Interval]] = defaultdict(list)
    previous = None
    for row in list(rows) + [(None, None, None, None)]:
        if previous is not None:
            ticket_id, assignee_id, state, start = previous
            end = row[3] if row[0] == ticket_id else until
            if assignee_id in agent_ids and state in HELD_STATES and end > since:
                held[assignee_id].append((max(start, since), min(end, until)))
        previous = row if row[0] is not None else None
    return {agent_id: _merge(intervals) for agent_id, intervals in held.items()}


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def workload(period: Period) -> list[dict]:
    """Per agent: tickets assigned and closed in the period, and open now (R2)."""
    agents = AgentProfile.objects.select_related("user").order_by("user__username")
    if period.agent_id:
        agents = agents.filter(user_id=period.agent_id)
    ids = [a.user_id for a in agents]
    # An assignment is a distinct (ticket, assigned_at) seen in the history with this assignee.
    assigned = defaultdict(int)
    events = (
        Ticket.history.filter(assignee_id__in=ids, assigned_at__gte=period.since, assigned_at__lt=period.until)
        .order_by()  # the history's default ordering would join the DISTINCT
        .values_list("assignee_id", "id", "assigned_at")
        .distinct()
    )
    for agent_id, _, _ in events:
        assigned[agent_id] += 1
    closed = dict(
        Ticket.objects.filter(assignee_id__in=ids, closed_at__gte=period.since, closed_at__lt=period.until)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    open_now = dict(
        Ticket.objects.filter(assignee_id__in=ids, state__in=HELD_STATES)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return [
        {
            "agent": a.user_id,
            "username": a.user.get_username(),
            "assigned": assigned[a.user_id],
            "closed": closed.get(a.user_id, 0),
            "open_now": open_now.get(a.user_id, 0),
        }
        for a in agents
    ]


WORKLOAD = Report(
    "workload",
    "Workload per agent",
    ["username", "assigned", "closed", "open_now"],
    workload,
    labels={"username": "Agent", "assigned": "Assigned", "closed": "Closed", "open_now": "Open now"},
)
