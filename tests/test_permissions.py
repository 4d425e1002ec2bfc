"""Who may do what: every endpoint and page as anonymous, agent, other agent, supervisor (a member
of the supervisors group who is not staff), staff supervisor (as the demo ships `sam`: staff, in
the group, with the group's permissions from the role matrix in code), viewer (staff with every
view permission and nothing else) and admin. The last tests check that no URL, admin page or
model is left out of the matrix (O4)."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.test import Client
from django.urls import NoReverseMatch, URLResolver, get_resolver, path, resolve, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from presence.models import Call, PresenceSettings, Source, Status, StatusChangeLog, StatusRequest
from presence.roles import PROJECT_APPS, supervisor_permissions
from presence.services import presence_change_status
from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import (
    PASSWORD,
    AdminFactory,
    AgentFactory,
    SupervisorFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import ReassignMapping, Ticket
from webhooks.models import Delivery, Webhook

MON_8, MON_9, MON_16 = "2030-01-07T08:00Z", "2030-01-07T09:00Z", "2030-01-07T16:00Z"
ROLES = ["anonymous", "agent", "other_agent", "supervisor", "staff_supervisor", "viewer", "admin"]

# (method, path, body) -> expected status for each role, in ROLES order. "agent" owns the
# ticket, shift, appointment and request below; "other_agent" is another agent.
API = [
    ("post", "/api/v1/auth/token/", {"username": "ann", "password": PASSWORD}, (200,) * 7),
    ("post", "/api/v1/auth/token/", {"username": "ann", "password": "wrong"}, (400,) * 7),
    ("delete", "/api/v1/auth/token/", None, (401, 204, 204, 204, 204, 204, 204)),
    ("post", "/api/v1/auth/token/rotate/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/statuses/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/statuses/", {"name": "New", "category": "inactive"}, (401, 403, 403, 403, 201, 403, 201)),
    ("get", "/api/v1/statuses/{busy}/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/statuses/{busy}/", {"color": "#000000"}, (401, 403, 403, 403, 200, 403, 200)),
    ("delete", "/api/v1/statuses/{unused}/", None, (401, 403, 403, 403, 204, 403, 204)),
    ("get", "/api/v1/presence/me/", None, (401, 200, 200, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/status/", {"status": "{busy}"}, (401, 200, 200, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/heartbeat/", None, (401, 204, 204, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/activity/", None, (401, 204, 204, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/still-working/", None, (401, 200, 200, 404, 404, 404, 404)),
    # My queues and notices: the fixture's team has no members and there are no notices.
    ("post", "/api/v1/presence/me/queues/{team}/join/", None, (401, 404, 404, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/queues/{team}/leave/", None, (401, 404, 404, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/notices/999999/dismiss/", None, (401, 404, 404, 404, 404, 404, 404)),
    ("get", "/api/v1/presence-settings/", None, (401, 403, 403, 403, 200, 200, 200)),
    ("patch", "/api/v1/presence-settings/", {"kick_out_minutes": 20}, (401, 403, 403, 403, 200, 403, 200)),
    ("get", "/api/v1/agents/", None, (401, 403, 403, 200, 200, 403, 200)),
    # Provisioning creates a user account: admins only (roles.py).
    ("post", "/api/v1/agents/", {"username": "newbie", "password": "a-long-enough-pass"},
     (401, 403, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/agents/{agent}/", None, (401, 200, 403, 200, 200, 403, 200)),
    ("patch", "/api/v1/agents/{agent}/", {"licence_type": "concurrent"}, (401, 403, 403, 403, 200, 403, 200)),
    ("patch", "/api/v1/agents/{agent}/", {"email": "new@example.com"}, (401, 403, 403, 403, 403, 403, 200)),
    ("post", "/api/v1/agents/{agent}/status/", {"status": "{busy}"}, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/status-log/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/status-log/{log}/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("get", "/api/v1/status-requests/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/status-requests/{request}/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("post", "/api/v1/status-requests/{request}/approve/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("post", "/api/v1/status-requests/{request}/reject/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/tickets/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/tickets/", {"subject": "Help"}, (401, 201, 201, 201, 201, 201, 201)),
    ("get", "/api/v1/tickets/{ticket}/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("patch", "/api/v1/tickets/{ticket}/", {"pinned": True}, (401, 200, 404, 200, 200, 404, 200)),
    ("delete", "/api/v1/tickets/{ticket}/", None, (401, 405, 405, 405, 405, 405, 405)),
    ("post", "/api/v1/tickets/{ticket}/assign/", {"agent": "{agent}"}, (401, 200, 404, 200, 200, 404, 200)),
    ("post", "/api/v1/tickets/{ticket}/notes/", {"body": "hi"}, (401, 201, 404, 201, 201, 404, 201)),
    ("post", "/api/v1/tickets/{ticket}/close/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("get", "/api/v1/tickets/{ticket}/routing/", None, (401, 200, 404, 200, 200, 404, 200)),
    # Taking: the agent's own ticket is already theirs (200, unchanged); users who are not agents are refused.
    ("post", "/api/v1/tickets/{ticket}/take/", None, (401, 200, 404, 400, 400, 404, 400)),
    ("get", "/api/v1/teams/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/teams/", {"name": "New team"}, (401, 403, 403, 403, 201, 403, 201)),
    ("get", "/api/v1/teams/{team}/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/teams/{team}/", {"routing_method": "round_robin"}, (401, 403, 403, 403, 200, 403, 200)),
    ("get", "/api/v1/live-chat/availability/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/reassign-mappings/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/reassign-mappings/", {"to_status": "{meeting}", "action": "unassign"},
     (401, 403, 403, 403, 201, 403, 201)),
    ("get", "/api/v1/reassign-mappings/{mapping}/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/reassign-mappings/{mapping}/", {"action": "reroute"}, (401, 403, 403, 403, 200, 403, 200)),
    ("delete", "/api/v1/reassign-mappings/{mapping}/", None, (401, 403, 403, 403, 204, 403, 204)),
    ("get", "/api/v1/shift-types/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/shift-types/", {"name": "Late", "default_status": "{busy}"},
     (401, 403, 403, 403, 201, 403, 201)),
    ("get", "/api/v1/shift-types/{shift_type}/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("patch", "/api/v1/shift-types/{shift_type}/", {"name": "Earlier"}, (401, 403, 403, 403, 200, 403, 200)),
    ("get", "/api/v1/shifts/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/shifts/", {"agent": "{agent}", "shift_type": "{shift_type}", "start": "2030-01-08T08:00Z",
                                 "end": "2030-01-08T16:00Z"}, (401, 201, 403, 201, 201, 403, 201)),
    ("get", "/api/v1/shifts/{shift}/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("patch", "/api/v1/shifts/{shift}/", {"end": "2030-01-07T17:00Z"}, (401, 200, 404, 200, 200, 404, 200)),
    ("delete", "/api/v1/shifts/{shift}/", None, (401, 204, 404, 204, 204, 404, 204)),
    ("get", "/api/v1/appointments/", None, (401, 200, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/appointments/", {"agent": "{agent}", "subject": "Review", "start": "2030-01-08T10:00Z",
                                       "end": "2030-01-08T11:00Z"}, (401, 201, 403, 201, 201, 403, 201)),
    ("get", "/api/v1/appointments/{appointment}/", None, (401, 200, 404, 200, 200, 404, 200)),
    ("patch", "/api/v1/appointments/{appointment}/", {"subject": "1:1 moved"}, (401, 200, 404, 200, 200, 404, 200)),
    ("delete", "/api/v1/appointments/{appointment}/", None, (401, 204, 404, 204, 204, 404, 204)),
    ("get", "/api/v1/reports/workload/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/reports/time-in-status/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/reports/status-log/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/reports/schedule-compliance/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/reports/adherence/", None, (401, 403, 403, 200, 200, 403, 200)),
    ("get", "/api/v1/reports/no-such-report/", None, (401, 403, 403, 404, 404, 403, 404)),
    # The phone system: a user with presence.report_call_events (admins have it).
    ("post", "/api/v1/telephony/events/", {"agent": "{agent}", "call_id": "c-9", "event": "started"},
     (401, 403, 403, 403, 403, 403, 200)),
    ("get", "/api/v1/telephony/agents/", None, (401, 403, 403, 200, 200, 403, 200)),
    # The coverage alarm (C7): every team's coverage, for supervisors.
    ("get", "/api/v1/coverage/", None, (401, 403, 403, 200, 200, 403, 200)),
    # Confirming a switch that would leave a team short (the fixture's team has nobody: no question).
    ("post", "/api/v1/presence/me/status/", {"status": "{busy}", "confirm": True}, (401, 200, 200, 404, 404, 404, 404)),
    ("post", "/api/v1/presence/me/wrap-up/done/", None, (401, 409, 409, 404, 404, 404, 404)),
    # Webhooks hold secrets and reach outside: admins (the viewer reads, as with every view permission).
    ("get", "/api/v1/webhooks/", None, (401, 403, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/webhooks/", {"url": "https://chat.example/hooks", "events": ["status.changed"]},
     (401, 403, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/webhooks/{webhook}/", None, (401, 403, 403, 403, 403, 200, 200)),
    ("patch", "/api/v1/webhooks/{webhook}/", {"active": False}, (401, 403, 403, 403, 403, 403, 200)),
    ("delete", "/api/v1/webhooks/{webhook}/", None, (401, 403, 403, 403, 403, 403, 204)),
    ("get", "/api/v1/webhooks/{webhook}/deliveries/", None, (401, 403, 403, 403, 403, 200, 200)),
]  # fmt: skip

# Pages (GET): agents' pages, the board, the admin's report page, the API docs, sign-in.
PAGES = [
    ("/", (302, 200, 200, 200, 200, 200, 200)),
    ("/healthz", (200,) * 7),
    ("/accounts/login/", (200,) * 7),
    ("/status/state/", (302, 200, 200, 404, 404, 404, 404)),
    ("/tickets/{ticket}/", (302, 200, 404, 200, 200, 404, 200)),
    ("/board/", (302, 302, 302, 200, 200, 302, 200)),
    ("/board/rows/", (302, 302, 302, 200, 200, 302, 200)),
    ("/board/agents/{agent}/", (302, 302, 302, 200, 200, 302, 200)),
    ("/admin/", (302, 302, 302, 302, 200, 200, 200)),
    ("/admin/reports/", (302, 302, 302, 302, 200, 302, 200)),
    (
        "/admin/presence/agentprofile/pick/?app_label=scheduling&model_name=shift&field_name=agent",
        (302, 302, 302, 302, 200, 200, 200),
    ),
    (
        "/admin/presence/agentprofile/pick/?app_label=presence&model_name=agentprofile&field_name=user",
        (302, 302, 302, 302, 200, 403, 200),
    ),
    (
        "/admin/presence/agentprofile/pick/?app_label=presence&model_name=status&field_name=return_status",
        (302, 302, 302, 302, 403, 403, 403),
    ),
    # The user admin's own page: setting a password is changing the account, an admin's job.
    ("/admin/auth/user/{agent}/password/", (302, 302, 302, 302, 403, 403, 200)),
    ("/api/docs/", (200,) * 7),
    ("/api/schema/", (200,) * 7),
]

# Form posts from the agents' pages, as their script sends them (asking for JSON, so refusals
# show as status codes; without JavaScript the same views redirect back with a message), and
# the board's decision and sign-out, which redirect. Anonymous users go to the sign-in page.
POSTS = [
    ("/status/", {"status": "{busy}"}, True, (302, 200, 200, 404, 404, 404, 404)),
    # Without the script a refusal redirects back with a message too.
    ("/status/", {"status": "{busy}", "confirm": "yes"}, False, (302,) * 7),
    ("/status/finishing/cancel/", {}, True, (302, 200, 200, 404, 404, 404, 404)),
    ("/status/still-working/", {}, True, (302, 200, 200, 404, 404, 404, 404)),
    ("/status/wrap-up/done/", {}, True, (302, 409, 409, 404, 404, 404, 404)),
    ("/queues/{team}/join/", {}, True, (302, 404, 404, 404, 404, 404, 404)),
    ("/queues/{team}/leave/", {}, True, (302, 404, 404, 404, 404, 404, 404)),
    ("/notices/999999/dismiss/", {}, True, (302, 404, 404, 404, 404, 404, 404)),
    # The ticket page's forms redirect back with a message, done or refused; 404: not visible.
    ("/tickets/{ticket}/notes/", {"body": "hi"}, False, (302, 302, 404, 302, 302, 404, 302)),
    ("/tickets/{ticket}/close/", {}, False, (302, 302, 404, 302, 302, 404, 302)),
    ("/tickets/{ticket}/pin/", {"pinned": "yes"}, False, (302, 302, 404, 302, 302, 404, 302)),
    ("/tickets/{ticket}/hand-over/", {"agent": "{agent}"}, False, (302, 302, 404, 302, 302, 404, 302)),
    ("/tickets/{ticket}/take/", {}, False, (302, 302, 404, 302, 302, 404, 302)),
    ("/board/requests/{request}/approve/", {}, False, (302,) * 7),
    ("/accounts/logout/", {}, False, (302,) * 7),
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
    viewer = UserFactory(username="vic", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    PresenceSettings.load().save()  # a version in the settings' history
    webhook = Webhook.objects.create(url="https://chat.example/hooks", events=["ticket.assigned"], secret="s")
    ids = {
        "agent": agent.pk,
        "busy": statuses["busy"].pk,
        "meeting": statuses["meeting"].pk,
        "unused": Status.objects.create(name="Unused", slug="unused", category="inactive").pk,
        "request": StatusRequest.objects.create(agent=agent, status=statuses["training"]).pk,
        "log": StatusChangeLog.objects.filter(agent=agent).latest("at").pk,
        "ticket": TicketFactory(subject="ann's", assignee=agent).pk,
        "team": team.pk,
        "mapping": ReassignMapping.objects.create(to_status=statuses["lunch"]).pk,
        "shift_type": early.pk,
        "shift": Shift.objects.create(agent=agent, shift_type=early, start=MON_8, end=MON_16).pk,
        "appointment": Appointment.objects.create(agent=agent, subject="1:1", start=MON_8, end=MON_9).pk,
        "call": Call.objects.create(agent=agent, call_id="c-1", status_before=statuses["available"]).pk,
        "webhook": webhook.pk,
        "delivery": Delivery.objects.create(webhook=webhook, event="status.changed", payload={}).pk,
        **_third_party_rows(agent),
    }
    users = {
        "anonymous": None,
        "agent": agent,
        "other_agent": other,
        "supervisor": SupervisorFactory(username="sue"),
        "staff_supervisor": staff_supervisor,
        "viewer": viewer,
        "admin": AdminFactory(username="root"),
    }
    return ids, users


def _third_party_rows(agent) -> dict[str, object]:
    """One row of every other app's model that has an admin (accounts, tokens, periodic tasks,
    sign-in lockouts), for their change, history and delete pages."""
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    seen = {"username": "mallory", "ip_address": "10.0.0.9", "user_agent": "curl", "http_accept": "*/*",
            "path_info": "/accounts/login/"}  # fmt: skip
    return {
        "user": agent.pk,
        "group": Group.objects.get(name="supervisors").pk,
        # A user of its own: the matrix's users keep no token the API rows would see. The token
        # admin addresses a token by its user's id (TokenProxy).
        "token": Token.objects.create(user=UserFactory(username="tess")).user_id,
        "interval": interval.pk,
        "periodic_task": PeriodicTask.objects.create(name="matrix", task="matrix.probe", interval=interval).pk,
        "crontab": CrontabSchedule.objects.create().pk,
        "solar": SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0).pk,
        "clocked": ClockedSchedule.objects.create(clocked_time=timezone.now()).pk,
        "access_attempt": AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1).pk,
        "access_log": AccessLog.objects.create(**seen).pk,
        "access_failure_log": AccessFailureLog.objects.create(**seen).pk,
    }


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

# Admins whose add page is switched off for everyone: rows made by the system only.
SYSTEM_ROWS = {
    "axes.accessattempt",  # django-axes writes these on failed sign-ins; nobody adds them by hand
    "axes.accesslog",
    "axes.accessfailurelog",
    "presence.call",
    "presence.agentpresence",
    "presence.statuschangelog",
    "presence.statusrequest",
    "presence.presencesettings",
    "webhooks.delivery",
}
# ... and whose delete page too: django-axes' rows can be deleted (that unlocks a sign-in).
UNDELETABLE_ROWS = SYSTEM_ROWS - {"axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
# One row of every model that has an admin: its change, history and delete pages are tested, and
# for models with django-simple-history its history versions (GET and POST).
ROW_OF = {
    "presence.status": "unused", "presence.team": "team", "presence.agentprofile": "agent",
    "presence.agentpresence": "agent", "presence.statuschangelog": "log", "presence.statusrequest": "request",
    "presence.presencesettings": None, "tickets.ticket": "ticket", "tickets.reassignmapping": "mapping",
    "scheduling.shifttype": "shift_type", "scheduling.shift": "shift", "scheduling.appointment": "appointment",
    "presence.call": "call", "webhooks.webhook": "webhook", "webhooks.delivery": "delivery",
    "auth.user": "user", "auth.group": "group", "authtoken.tokenproxy": "token",
    "django_celery_beat.periodictask": "periodic_task", "django_celery_beat.intervalschedule": "interval",
    "django_celery_beat.crontabschedule": "crontab", "django_celery_beat.solarschedule": "solar",
    "django_celery_beat.clockedschedule": "clocked", "axes.accessattempt": "access_attempt",
    "axes.accesslog": "access_log", "axes.accessfailurelog": "access_failure_log",
}  # fmt: skip


def _row_pk(label: str, ids) -> int:
    return 1 if ROW_OF[label] is None else ids[ROW_OF[label]]


def _admin_pages(ids) -> dict[str, tuple[str, str]]:
    """Every registered model's changelist and add page, and the change, history and delete pages
    of one row. Maps the URL to (model label, page)."""
    pages = {}
    for model in admin.site._registry:
        label, info = model._meta.label_lower, (model._meta.app_label, model._meta.model_name)
        pages[reverse("admin:{}_{}_changelist".format(*info))] = (label, "changelist")
        pages[reverse("admin:{}_{}_add".format(*info))] = (label, "add")
        for page in ("change", "history", "delete"):
            url = reverse("admin:{}_{}_{}".format(*info, page), args=[_row_pk(label, ids)])
            pages[url] = (label, page)
    return pages


def _perms(role: str, label: str) -> set[str]:
    """The actions a role has on a model, by the role matrix in code."""
    if role == "admin":
        return {"view", "add", "change", "delete"}
    if role == "viewer":
        return {"view"}
    if role == "staff_supervisor":
        return set(supervisor_permissions().get(label, ()))
    return set()


def _expected_admin(role: str, label: str, page: str) -> int:
    if role not in ("staff_supervisor", "viewer", "admin"):
        return 302  # not staff: to the admin's sign-in page
    perms = _perms(role, label)
    if label == "presence.presencesettings" and page == "changelist":
        return 302  # the singleton's list goes straight to its one page
    if page in ("add", "delete"):
        switched_off = SYSTEM_ROWS if page == "add" else UNDELETABLE_ROWS
        return 200 if page in perms and label not in switched_off else 403
    return 200 if perms & {"view", "change"} else 403


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page(world, role):
    ids, users = world
    client = _client(Client, users[role])
    pages = _admin_pages(ids)
    assert len(pages) > 100
    got = {url: client.get(url).status_code for url in pages}
    expected = {url: _expected_admin(role, label, page) for url, (label, page) in pages.items()}
    assert got == expected


# --- history pages: a version is viewed with view permission, reverted with change permission ----


def _history_admins():
    return [(m, a) for m, a in admin.site._registry.items() if hasattr(a, "history_form_view")]


def _form_data(form) -> dict:
    """What a browser would post for an unbound form as shown (its initial values)."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        widget = getattr(field.widget, "widget", field.widget)  # past RelatedFieldWidgetWrapper
        if isinstance(widget, MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = "" if value is None else getattr(value, "pk", value)
    return data


def _version(model, pk):
    return model.history.filter(**{model._meta.pk.attname: pk}).latest("history_date")


@pytest.mark.parametrize("role", ROLES)
def test_history_versions_view_and_revert(world, role, rf):
    ids, users = world
    client = _client(Client, users[role])
    checked = 0
    for model, model_admin in _history_admins():
        label = model._meta.label_lower
        pk = _row_pk(label, ids)
        version = _version(model, pk)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history", args=[pk, version.pk])
        perms = _perms(role, label)
        staff = role in ("staff_supervisor", "viewer", "admin")
        assert client.get(url).status_code == (200 if staff and perms & {"view", "change"} else 302 if not staff
                                               else 403), (role, url)  # fmt: skip
        request = rf.get(url)
        request.user = users["admin"]
        form = model_admin.get_form(request, version.instance)(instance=version.instance)
        before = model.history.filter(**{model._meta.pk.attname: pk}).count()
        response = client.post(url, _form_data(form))
        allowed = staff and "change" in perms
        assert response.status_code == (302 if allowed or not staff else 403), (role, url, response.content[:2000])
        if not allowed:  # nothing changed: no new version
            assert model.history.filter(**{model._meta.pk.attname: pk}).count() == before, (role, url)
        checked += 1
    assert checked >= 9


def test_a_view_only_staff_user_cannot_turn_the_status_log_off_through_history(world):
    ids, users = world
    config = PresenceSettings.load()
    version = config.history.latest("history_date")
    url = reverse("admin:presence_presencesettings_simple_history", args=[1, version.pk])
    data = {
        "login_status": config.login_status_id,
        "idle_warning_seconds": 60,
        "auto_offline_minutes": 10,
        "auto_offline_status": config.auto_offline_status_id,
        "kick_out_minutes": 15,
    }  # fmt: skip  (log_status_changes unticked)
    assert _client(Client, users["viewer"]).post(url, data).status_code == 403
    assert PresenceSettings.load().log_status_changes is True
    assert _client(Client, users["staff_supervisor"]).post(url, data).status_code == 302
    assert PresenceSettings.load().log_status_changes is False


def test_agent_presence_has_no_revert(world):
    with pytest.raises(NoReverseMatch):
        reverse("admin:presence_agentpresence_simple_history", args=[1, 1])


# --- nothing left out ---------------------------------------------------------------------------

# Django's own admin pages, which the project only wires up (Django tests them; the index has a row).
DJANGO_ADMIN_PAGES = {
    "index", "login", "logout", "password_change", "password_change_done", "jsi18n", "autocomplete",
    "view_on_site", "app_list",
}  # fmt: skip


def _url_names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) != "admin/":  # admin URLs: test_the_matrix_covers_every_admin_url
                yield from _url_names(pattern.url_patterns, prefix + str(pattern.pattern))
        elif pattern.name and "format" not in str(pattern.pattern):
            yield pattern.name


def test_the_matrix_covers_every_url(world):
    ids, _ = world
    paths = [p for _, p, _, _ in API] + [p for p, _ in PAGES] + [p for p, _, _, _ in POSTS]
    covered = {resolve(_fill(path, ids).split("?")[0]).url_name for path in paths}
    missing = set(_url_names(get_resolver().url_patterns)) - covered - NOT_IN_MATRIX
    assert not missing, f"URLs without a row in the permission matrix: {sorted(missing)}"


def _admin_url_names(patterns):
    """Every named URL of the admin site, each ModelAdmin's own (its get_urls()) included."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _admin_url_names(pattern.url_patterns)
        elif pattern.name:
            yield pattern.name


def _admin_urls_without_a_row(ids) -> set[str]:
    """Named admin URLs that no test above requests: not a per-model page of test_every_admin_page,
    not a history version of test_history_versions_view_and_revert, not a row of PAGES."""
    covered = {resolve(url).url_name for url in _admin_pages(ids)}
    covered |= {f"{m._meta.app_label}_{m._meta.model_name}_simple_history" for m, _ in _history_admins()}
    covered |= {resolve(_fill(p, ids).split("?")[0]).url_name for p, _ in PAGES if p.startswith("/admin/")}
    return set(_admin_url_names(admin.site.get_urls())) - covered - DJANGO_ADMIN_PAGES


def test_the_matrix_covers_every_admin_url(world):
    """A custom admin view (a picker, a page of its own) needs its rows in PAGES, for every role."""
    ids, _ = world
    missing = _admin_urls_without_a_row(ids)
    assert not missing, f"admin URLs without a row in the permission matrix: {sorted(missing)}"


def test_a_new_custom_admin_url_without_a_row_is_named(world, monkeypatch):
    ids, _ = world
    ticket_admin = admin.site._registry[Ticket]
    own_urls = ticket_admin.get_urls
    custom = path("export/", ticket_admin.admin_site.admin_view(ticket_admin.changelist_view), name="tickets_export")
    monkeypatch.setattr(ticket_admin, "get_urls", lambda: [custom, *own_urls()])
    assert _admin_urls_without_a_row(ids) == {"tickets_export"}


def test_the_matrix_covers_every_model():
    """A new model of the project needs a row in the role matrix (its app's supervisor_permissions),
    and any model with an admin a row in ROW_OF above."""
    from django.apps import apps

    matrix = supervisor_permissions()
    models = [m for label in PROJECT_APPS for m in apps.get_app_config(label).get_models()
              if not m.__name__.startswith("Historical")]  # fmt: skip
    assert not [m._meta.label_lower for m in models if m._meta.label_lower not in matrix]
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert registered - set(ROW_OF) == set(), "admin pages without a row in ROW_OF"
