"""Who may do what: every endpoint and page as anonymous, agent, other agent, supervisor, admin."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from presence.models import Source, Status, StatusRequest
from presence.services import presence_change_status
from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import AdminFactory, AgentFactory, SupervisorFactory, TeamFactory
from tickets.models import ReassignMapping, Ticket

MON_8, MON_9, MON_16 = "2030-01-07T08:00Z", "2030-01-07T09:00Z", "2030-01-07T16:00Z"
ROLES = ["anonymous", "agent", "other_agent", "supervisor", "admin"]

# (method, path, body) -> expected status for each role, in ROLES order.
API = [
    ("get", "/api/v1/statuses/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/statuses/", {"name": "New", "category": "inactive"}, (401, 403, 403, 403, 201)),
    ("patch", "/api/v1/statuses/{busy}/", {"color": "#000000"}, (401, 403, 403, 403, 200)),
    ("delete", "/api/v1/statuses/{unused}/", None, (401, 403, 403, 403, 204)),
    ("get", "/api/v1/presence/me/", None, (401, 200, 200, 404, 404)),
    ("post", "/api/v1/presence/me/status/", {"status": "{busy}"}, (401, 200, 200, 404, 404)),
    ("post", "/api/v1/presence/me/heartbeat/", None, (401, 204, 204, 404, 404)),
    ("get", "/api/v1/presence-settings/", None, (401, 403, 403, 403, 200)),
    ("patch", "/api/v1/presence-settings/", {"kick_out_minutes": 20}, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/agents/", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/agents/", {"username": "newbie", "password": "a-long-enough-pass"}, (401, 403, 403, 403, 201)),
    ("get", "/api/v1/agents/{agent}/", None, (401, 200, 403, 200, 200)),
    ("patch", "/api/v1/agents/{agent}/", {"licence_type": "concurrent"}, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/agents/{agent}/status/", {"status": "{busy}"}, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/status-log/", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/status-requests/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/status-requests/{request}/approve/", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/status-requests/{request}/reject/", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/tickets/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/tickets/", {"subject": "Help"}, (401, 201, 201, 201, 201)),
    ("get", "/api/v1/tickets/{ticket}/", None, (401, 200, 404, 200, 200)),
    ("patch", "/api/v1/tickets/{ticket}/", {"pinned": True}, (401, 200, 404, 200, 200)),
    ("post", "/api/v1/tickets/{ticket}/assign/", {"agent": "{agent}"}, (401, 200, 404, 200, 200)),
    ("post", "/api/v1/tickets/{ticket}/notes/", {"body": "hi"}, (401, 201, 404, 201, 201)),
    ("post", "/api/v1/tickets/{ticket}/close/", None, (401, 200, 404, 200, 200)),
    ("get", "/api/v1/teams/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/teams/", {"name": "New team"}, (401, 403, 403, 403, 201)),
    ("patch", "/api/v1/teams/{team}/", {"routing_method": "round_robin"}, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/live-chat/availability/", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/reassign-mappings/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/reassign-mappings/", {"to_status": "{meeting}", "action": "unassign"}, (401, 403, 403, 403, 201)),
    ("delete", "/api/v1/reassign-mappings/{mapping}/", None, (401, 403, 403, 403, 204)),
    ("get", "/api/v1/shift-types/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/shift-types/", {"name": "Late", "default_status": "{busy}"}, (401, 403, 403, 403, 201)),
    ("get", "/api/v1/shifts/{shift}/", None, (401, 200, 404, 200, 200)),
    ("delete", "/api/v1/shifts/{shift}/", None, (401, 204, 404, 204, 204)),
    ("get", "/api/v1/appointments/{appointment}/", None, (401, 200, 404, 200, 200)),
    ("get", "/api/v1/reports/workload/", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/reports/time-in-status/", None, (401, 403, 403, 200, 200)),
]

PAGES = [
    ("/", (302, 200, 200, 200, 200)),
    ("/board/", (302, 302, 302, 200, 200)),
    ("/board/rows/", (302, 302, 302, 200, 200)),
    ("/board/agents/{agent}/", (302, 302, 302, 200, 200)),
    ("/status/state/", (302, 200, 200, 404, 404)),
    ("/admin/", (302, 302, 302, 302, 200)),
    ("/admin/presence/status/", (302, 302, 302, 302, 200)),
    ("/admin/presence/presencesettings/1/change/", (302, 302, 302, 302, 200)),
    ("/admin/presence/agentpresence/", (302, 302, 302, 302, 200)),
    ("/admin/presence/statuschangelog/", (302, 302, 302, 302, 200)),
    ("/admin/tickets/ticket/", (302, 302, 302, 302, 200)),
    ("/admin/scheduling/shift/", (302, 302, 302, 302, 200)),
    ("/admin/reports/", (302, 302, 302, 302, 200)),
    ("/api/docs/", (200, 200, 200, 200, 200)),
    ("/api/schema/", (200, 200, 200, 200, 200)),
]


@pytest.fixture
def world(db, statuses):
    agent = AgentFactory(username="ann")
    other = AgentFactory(username="bob")
    for person in (agent, other):
        presence_change_status(person, statuses["available"], actor=person, source=Source.LOGIN)
    statuses["training"].requires_approval = True
    statuses["training"].save()
    team = TeamFactory()
    early = ShiftType.objects.create(name="Early", default_status=statuses["available"])
    ids = {
        "agent": agent.pk,
        "busy": statuses["busy"].pk,
        "meeting": statuses["meeting"].pk,
        "unused": Status.objects.create(name="Unused", slug="unused", category="inactive").pk,
        "request": StatusRequest.objects.create(agent=agent, status=statuses["training"]).pk,
        "ticket": Ticket.objects.create(subject="ann's", assignee=agent).pk,
        "team": team.pk,
        "mapping": ReassignMapping.objects.create(to_status=statuses["lunch"]).pk,
        "shift": Shift.objects.create(agent=agent, shift_type=early, start=MON_8, end=MON_16).pk,
        "appointment": Appointment.objects.create(agent=agent, subject="1:1", start=MON_8, end=MON_9).pk,
    }
    users = {
        "anonymous": None,
        "agent": agent,
        "other_agent": other,
        "supervisor": SupervisorFactory(username="sam"),
        "admin": AdminFactory(username="root"),
    }
    return ids, users


def _fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, body, expected", API, ids=[f"{m} {p}" for m, p, _, _ in API])
def test_api_permissions(world, role, method, path, body, expected):
    ids, users = world
    client = APIClient()
    if users[role] is not None:
        client.force_authenticate(users[role])
    response = getattr(client, method)(_fill(path, ids), _fill(body, ids), format="json")
    assert response.status_code == expected[ROLES.index(role)], response.content[:300]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path, expected", PAGES, ids=[p for p, _ in PAGES])
def test_page_permissions(world, role, path, expected):
    ids, users = world
    client = Client()
    if users[role] is not None:
        client.force_login(users[role])
    response = client.get(_fill(path, ids))
    assert response.status_code == expected[ROLES.index(role)]
