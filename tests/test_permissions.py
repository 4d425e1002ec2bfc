"""Who may do what: every endpoint and page as anonymous, agent, other agent, supervisor (a member
of the supervisors group), staff supervisor (as the demo ships `sam`: staff, in the group, with the
group's view permissions) and admin. A last test checks that no URL is left out of the matrix."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient

from presence.management.commands.demo_presence import SUPERVISOR_PERMISSIONS
from presence.models import AgentPresence, Source, Status, StatusChangeLog, StatusRequest
from presence.services import presence_change_status
from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import PASSWORD, AdminFactory, AgentFactory, SupervisorFactory, TeamFactory
from tickets.models import ReassignMapping, Ticket

MON_8, MON_9, MON_16 = "2030-01-07T08:00Z", "2030-01-07T09:00Z", "2030-01-07T16:00Z"
ROLES = ["anonymous", "agent", "other_agent", "supervisor", "staff_supervisor", "admin"]

# (method, path, body) -> expected status for each role, in ROLES order. "agent" owns the
# ticket, shift, appointment and request below; "other_agent" is another agent.
API = [
    ("post", "/api/v1/auth/token/", {"username": "ann", "password": PASSWORD}, (200,) * 6),
    ("post", "/api/v1/auth/token/", {"username": "ann", "password": "wrong"}, (400,) * 6),
    ("get", "/api/v1/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/statuses/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/statuses/", {"name": "New", "category": "inactive"}, (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/statuses/{busy}/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/statuses/{busy}/", {"color": "#000000"}, (401, 403, 403, 403, 403, 200)),
    ("delete", "/api/v1/statuses/{unused}/", None, (401, 403, 403, 403, 403, 204)),
    ("get", "/api/v1/presence/me/", None, (401, 200, 200, 404, 404, 404)),
    ("post", "/api/v1/presence/me/status/", {"status": "{busy}"}, (401, 200, 200, 404, 404, 404)),
    ("post", "/api/v1/presence/me/heartbeat/", None, (401, 204, 204, 404, 404, 404)),
    ("post", "/api/v1/presence/me/activity/", None, (401, 204, 204, 404, 404, 404)),
    ("post", "/api/v1/presence/me/still-working/", None, (401, 200, 200, 404, 404, 404)),
    ("get", "/api/v1/presence-settings/", None, (401, 403, 403, 403, 200, 200)),
    ("patch", "/api/v1/presence-settings/", {"kick_out_minutes": 20}, (401, 403, 403, 403, 403, 200)),
    ("get", "/api/v1/agents/", None, (401, 403, 403, 200, 200, 200)),
    ("post", "/api/v1/agents/", {"username": "newbie", "password": "a-long-enough-pass"},
     (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/agents/{agent}/", None, (401, 200, 403, 200, 200, 200)),
    ("patch", "/api/v1/agents/{agent}/", {"licence_type": "concurrent"}, (401, 403, 403, 403, 403, 200)),
    ("post", "/api/v1/agents/{agent}/status/", {"status": "{busy}"}, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/status-log/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/status-log/{log}/", None, (401, 200, 404, 200, 200, 200)),
    ("get", "/api/v1/status-requests/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/status-requests/{request}/", None, (401, 200, 404, 200, 200, 200)),
    ("post", "/api/v1/status-requests/{request}/approve/", None, (401, 403, 403, 200, 200, 200)),
    ("post", "/api/v1/status-requests/{request}/reject/", None, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/tickets/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/tickets/", {"subject": "Help"}, (401, 201, 201, 201, 201, 201)),
    ("get", "/api/v1/tickets/{ticket}/", None, (401, 200, 404, 200, 200, 200)),
    ("patch", "/api/v1/tickets/{ticket}/", {"pinned": True}, (401, 200, 404, 200, 200, 200)),
    ("delete", "/api/v1/tickets/{ticket}/", None, (401, 405, 405, 405, 405, 405)),
    ("post", "/api/v1/tickets/{ticket}/assign/", {"agent": "{agent}"}, (401, 200, 404, 200, 200, 200)),
    ("post", "/api/v1/tickets/{ticket}/notes/", {"body": "hi"}, (401, 201, 404, 201, 201, 201)),
    ("post", "/api/v1/tickets/{ticket}/close/", None, (401, 200, 404, 200, 200, 200)),
    ("get", "/api/v1/teams/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/teams/", {"name": "New team"}, (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/teams/{team}/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/teams/{team}/", {"routing_method": "round_robin"}, (401, 403, 403, 403, 403, 200)),
    ("get", "/api/v1/live-chat/availability/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/reassign-mappings/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/reassign-mappings/", {"to_status": "{meeting}", "action": "unassign"},
     (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/reassign-mappings/{mapping}/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/reassign-mappings/{mapping}/", {"action": "reroute"}, (401, 403, 403, 403, 403, 200)),
    ("delete", "/api/v1/reassign-mappings/{mapping}/", None, (401, 403, 403, 403, 403, 204)),
    ("get", "/api/v1/shift-types/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/shift-types/", {"name": "Late", "default_status": "{busy}"}, (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/shift-types/{shift_type}/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/shift-types/{shift_type}/", {"name": "Earlier"}, (401, 403, 403, 403, 403, 200)),
    ("get", "/api/v1/shifts/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/shifts/", {"agent": "{agent}", "shift_type": "{shift_type}", "start": "2030-01-08T08:00Z",
                                 "end": "2030-01-08T16:00Z"}, (401, 201, 403, 201, 201, 201)),  # fmt: skip
    ("get", "/api/v1/shifts/{shift}/", None, (401, 200, 404, 200, 200, 200)),
    ("patch", "/api/v1/shifts/{shift}/", {"end": "2030-01-07T17:00Z"}, (401, 200, 404, 200, 200, 200)),
    ("delete", "/api/v1/shifts/{shift}/", None, (401, 204, 404, 204, 204, 204)),
    ("get", "/api/v1/appointments/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/appointments/", {"agent": "{agent}", "subject": "Review", "start": "2030-01-08T10:00Z",
                                       "end": "2030-01-08T11:00Z"}, (401, 201, 403, 201, 201, 201)),  # fmt: skip
    ("get", "/api/v1/appointments/{appointment}/", None, (401, 200, 404, 200, 200, 200)),
    ("patch", "/api/v1/appointments/{appointment}/", {"subject": "1:1 moved"}, (401, 200, 404, 200, 200, 200)),
    ("delete", "/api/v1/appointments/{appointment}/", None, (401, 204, 404, 204, 204, 204)),
    ("get", "/api/v1/reports/workload/", None, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/reports/time-in-status/", None, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/reports/status-log/", None, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/reports/schedule-compliance/", None, (401, 403, 403, 200, 200, 200)),
    ("get", "/api/v1/reports/no-such-report/", None, (401, 403, 403, 404, 404, 404)),
]  # fmt: skip

# Pages (GET): agents' pages, the board, the admin's report page, the API docs, sign-in.
PAGES = [
    ("/", (302, 200, 200, 200, 200, 200)),
    ("/healthz", (200,) * 6),
    ("/accounts/login/", (200,) * 6),
    ("/status/state/", (302, 200, 200, 404, 404, 404)),
    ("/board/", (302, 302, 302, 200, 200, 200)),
    ("/board/rows/", (302, 302, 302, 200, 200, 200)),
    ("/board/agents/{agent}/", (302, 302, 302, 200, 200, 200)),
    ("/admin/", (302, 302, 302, 302, 200, 200)),
    ("/admin/reports/", (302, 302, 302, 302, 200, 200)),
    ("/api/docs/", (200,) * 6),
    ("/api/schema/", (200,) * 6),
]

# Form posts from the agents' pages, as their script sends them (asking for JSON, so refusals
# show as status codes; without JavaScript the same views redirect back with a message), and
# the board's decision and sign-out, which redirect. Anonymous users go to the sign-in page.
POSTS = [
    ("/status/", {"status": "{busy}"}, True, (302, 200, 200, 404, 404, 404)),
    ("/status/finishing/cancel/", {}, True, (302, 200, 200, 404, 404, 404)),
    ("/status/still-working/", {}, True, (302, 200, 200, 404, 404, 404)),
    ("/board/requests/{request}/approve/", {}, False, (302,) * 6),
    ("/accounts/logout/", {}, False, (302,) * 6),
]

# Built-in account views this project only wires up (Django's own, with their own tests).
NOT_IN_MATRIX = {
    "password_change", "password_change_done", "password_reset", "password_reset_done",
    "password_reset_confirm", "password_reset_complete", "api-root",
}  # fmt: skip


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
    staff_supervisor = SupervisorFactory(username="sam")
    staff_supervisor.is_staff = True
    staff_supervisor.save()
    Group.objects.get(name="supervisors").permissions.set(
        Permission.objects.filter(content_type__app_label="presence", codename__in=SUPERVISOR_PERMISSIONS)
    )
    ids = {
        "agent": agent.pk,
        "busy": statuses["busy"].pk,
        "meeting": statuses["meeting"].pk,
        "unused": Status.objects.create(name="Unused", slug="unused", category="inactive").pk,
        "request": StatusRequest.objects.create(agent=agent, status=statuses["training"]).pk,
        "log": StatusChangeLog.objects.filter(agent=agent).latest("at").pk,
        "ticket": Ticket.objects.create(subject="ann's", assignee=agent).pk,
        "team": team.pk,
        "mapping": ReassignMapping.objects.create(to_status=statuses["lunch"]).pk,
        "shift_type": early.pk,
        "shift": Shift.objects.create(agent=agent, shift_type=early, start=MON_8, end=MON_16).pk,
        "appointment": Appointment.objects.create(agent=agent, subject="1:1", start=MON_8, end=MON_9).pk,
    }
    users = {
        "anonymous": None,
        "agent": agent,
        "other_agent": other,
        "supervisor": SupervisorFactory(username="sue"),
        "staff_supervisor": staff_supervisor,
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


def _client(cls, user):
    client = cls()
    if user is not None:
        client.force_login(user)
    return client


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
    response = _client(Client, users[role]).get(_fill(path, ids))
    assert response.status_code == expected[ROLES.index(role)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path, body, as_script, expected", POSTS, ids=[p for p, _, _, _ in POSTS])
def test_form_post_permissions(world, role, path, body, as_script, expected):
    ids, users = world
    headers = {"Accept": "application/json"} if as_script else {}
    response = _client(Client, users[role]).post(_fill(path, ids), _fill(body, ids), headers=headers)
    assert response.status_code == expected[ROLES.index(role)]
    if role == "anonymous" and "logout" not in path:
        assert response.url.startswith(reverse("login"))


def test_only_supervisors_decide_requests_from_the_board(world):
    ids, users = world
    before = StatusRequest.objects.get(pk=ids["request"]).state
    for role in ("agent", "other_agent"):
        _client(Client, users[role]).post(f"/board/requests/{ids['request']}/approve/")
    assert StatusRequest.objects.get(pk=ids["request"]).state == before  # refused, not applied
    _client(Client, users["supervisor"]).post(f"/board/requests/{ids['request']}/approve/")
    assert StatusRequest.objects.get(pk=ids["request"]).state == StatusRequest.State.APPROVED


# --- every admin page ---------------------------------------------------------------------------

# What the staff supervisor may see (the view permissions the demo gives the supervisors group).
SUPERVISOR_VIEWS = {f"presence.{c.removeprefix('view_')}" for c in SUPERVISOR_PERMISSIONS if c.startswith("view_")}
# Admins whose add or delete pages are switched off for everyone: rows made by the system only.
SYSTEM_ROWS = {
    "presence.agentpresence",
    "presence.statuschangelog",
    "presence.statusrequest",
    "presence.presencesettings",
}


def _admin_pages(ids) -> dict[str, str]:
    """Every registered model's changelist and add page, and for this project's own models the
    change, history and delete pages of one row. Maps the URL to the model's label."""
    rows = {
        "presence.status": ids["busy"], "presence.team": ids["team"], "presence.agentprofile": ids["agent"],
        "presence.agentpresence": AgentPresence.objects.get(agent_id=ids["agent"]).pk,
        "presence.statuschangelog": ids["log"], "presence.statusrequest": ids["request"],
        "presence.presencesettings": 1, "tickets.ticket": ids["ticket"], "tickets.reassignmapping": ids["mapping"],
        "scheduling.shifttype": ids["shift_type"], "scheduling.shift": ids["shift"],
        "scheduling.appointment": ids["appointment"],
    }  # fmt: skip
    pages = {}
    for model in admin.site._registry:
        label, info = model._meta.label_lower, (model._meta.app_label, model._meta.model_name)
        pages[reverse("admin:{}_{}_changelist".format(*info))] = label
        pages[reverse("admin:{}_{}_add".format(*info))] = label
        if label in rows:
            for page in ("change", "history", "delete"):
                pages[reverse("admin:{}_{}_{}".format(*info, page), args=[rows[label]])] = label
    return pages


def _expected_admin(role: str, url: str, label: str) -> int:
    if role not in ("staff_supervisor", "admin"):
        return 302  # not staff: to the admin's sign-in page
    page = url.rstrip("/").rsplit("/", 1)[-1]  # add, change, history, delete, or the list's model name
    if label == "presence.presencesettings" and page == "presencesettings":
        return 302  # the singleton's list goes straight to its one page
    if page in ("add", "delete") and label in SYSTEM_ROWS:
        return 403
    if role == "admin":
        return 200
    return 200 if page not in ("add", "delete") and label in SUPERVISOR_VIEWS else 403


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page(world, role):
    ids, users = world
    client = _client(Client, users[role])
    pages = _admin_pages(ids)
    assert len(pages) > 60
    got = {url: client.get(url).status_code for url in pages}
    expected = {url: _expected_admin(role, url, label) for url, label in pages.items()}
    assert got == expected


# --- nothing left out ---------------------------------------------------------------------------


def _url_names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) != "admin/":  # admin URLs: test_every_admin_page
                yield from _url_names(pattern.url_patterns, prefix + str(pattern.pattern))
        elif pattern.name and "format" not in str(pattern.pattern):
            yield pattern.name


def test_the_matrix_covers_every_url(world):
    ids, _ = world
    paths = [p for _, p, _, _ in API] + [p for p, _ in PAGES] + [p for p, _, _, _ in POSTS]
    covered = {resolve(_fill(path, ids).split("?")[0]).url_name for path in paths}
    missing = set(_url_names(get_resolver().url_patterns)) - covered - NOT_IN_MATRIX
    assert not missing, f"URLs without a row in the permission matrix: {sorted(missing)}"
