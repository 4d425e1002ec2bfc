"""What each webhook event says: the JSON a receiver gets.

Every delivery is a POST of one JSON object, the envelope:

    {"id": "<event uuid>", "event": "status.changed", "created_at": "<ISO 8601>", "data": {...}}

`id` is the event's id, also sent as the `X-Helpdesk-Delivery` header: the same for every
webhook the event goes to and for every retry, so a receiver drops what it has seen. Times are
ISO 8601 with their offset (UTC unless TIME_ZONE says otherwise). A person is
`{"id": 7, "username": "ann"}`, a status `{"id": 1, "slug": "available", "name": "Available"}`,
a team `{"id": 2, "name": "Support"}`; `actor` is null when the system acted. `data` per event:

- `status.changed`: an agent's status changed (any path: dropdown, API, schedule, sweeps).
  `{"agent": person, "old_status": status, "new_status": status, "source": "dropdown",
  "reason": "", "changed_at": time, "actor": person | null}`
- `ticket.assigned`: a ticket was given to an agent (routing, re-assign mapping, by hand,
  taken from the queue); one event per ticket. Not sent when a ticket goes back to the queue.
  `{"ticket": {"id": 12, "subject": "...", "channel": "chat", "team": team | null},
  "assignee": person, "reason": "assigned", "actor": person | null}`
- `live_chat.availability_changed`: a team's live chat opened (someone counts as online for
  live chat, as GET /api/v1/live-chat/availability/ counts) or closed (nobody does). Sent on
  the transition only, checked after each status change of the team's agents, after a queue
  join, and by a sweep every 30 seconds that catches the rest (finishing, leaving a queue).
  `{"team": team, "available": true, "online": 2, "changed_at": time}`
- `status_request.decided`: a supervisor approved or rejected a status request.
  `{"request": {"id": 3, "reason": "..."}, "agent": person, "status": status,
  "decision": "approved" | "rejected", "decided_by": person, "decided_at": time, "reason": "..."}`
  (`request.reason` is the agent's, `reason` the supervisor's).
- `coverage.changed`: the coverage alarm (SPEC C7): during a team's opening hours its routable
  headcount fell below its minimum (the deficit started), the deficit grew or shrank, or it
  cleared (enough agents again, or the team closed). Sent by the sweep every 30 seconds, once
  per change. `since` is when the current deficit began (null once cleared).
  `{"team": team, "open": true, "required": 3, "routable": 1, "deficit": 2,
  "previous_deficit": 0, "since": time | null, "changed_at": time}`
"""

from django.contrib.auth import get_user_model

from presence.models import Status
from tickets.models import Ticket

# Tickets read per query when building `ticket.assigned` payloads for a bulk move.
TICKET_BATCH = 1000


def person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username()}


def status_data(status: Status) -> dict:
    return {"id": status.pk, "slug": status.slug, "name": status.name}


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def status_changed_data(*, agent, presence, old_status, new_status, actor, source, reason) -> dict:
    return {
        "agent": person(agent),
        "old_status": status_data(old_status),
        "new_status": status_data(new_status),
        "source": str(source),
        "reason": reason,
        "changed_at": _time(presence.since),
        "actor": person(actor),
    }


def tickets_assigned_data(ticket_ids, *, assignee_id: int, actor, reason: str) -> list[dict]:
    """One payload per ticket, with a query per TICKET_BATCH tickets and one for the assignee."""
    assignee = get_user_model().objects.filter(pk=assignee_id).first()
    ids = sorted(set(ticket_ids))
    payloads = []
    for start in range(0, len(ids), TICKET_BATCH):
        rows = (
            Ticket.objects.filter(pk__in=ids[start : start + TICKET_BATCH])
            .order_by("pk")
            .values("id", "subject", "channel", "team_id", "team__name")
        )
        for row in rows:
            team = {"id": row["team_id"], "name": row["team__name"]} if row["team_id"] is not None else None
            ticket = {"id": row["id"], "subject": row["subject"], "channel": row["channel"], "team": team}
            payloads.append({"ticket": ticket, "assignee": person(assignee), "reason": reason, "actor": person(actor)})
    return payloads


def live_chat_data(*, team_id: int, name: str, available: bool, online: int, changed_at) -> dict:
    return {
        "team": {"id": team_id, "name": name},
        "available": available,
        "online": online,
        "changed_at": _time(changed_at),
    }


def coverage_changed_data(change) -> dict:
    """`change`: a presence.services.coverage.CoverageChange."""
    return {
        "team": {"id": change.team_id, "name": change.team_name},
        "open": change.open,
        "required": change.required,
        "routable": change.routable,
        "deficit": change.deficit,
        "previous_deficit": change.previous_deficit,
        "since": _time(change.since),
        "changed_at": _time(change.changed_at),
    }


def status_request_decided_data(*, request, decision: str, actor, reason: str) -> dict:
    return {
        "request": {"id": request.pk, "reason": request.reason},
        "agent": person(request.agent),
        "status": status_data(request.status),
        "decision": str(decision),
        "decided_by": person(actor),
        "decided_at": _time(request.decided_at),
        "reason": reason,
    }
