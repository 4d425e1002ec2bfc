"""Item 7: edge inputs are refused with 400 or 404 and a message naming the field, never a 5xx,
and nothing is half-written: datetimes at the ends of the calendar, time zones that are not
zones, ids beyond 64 bits (SQLite cannot even bind them), non-integers for ids, over-long notes
and reasons, endless shifts and appointments, and decisions other than approve and reject."""

import django_filters
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from presence.api.filters import IdFilter
from presence.errors import ApplicationError
from presence.models import AgentProfile, Source, StatusRequest
from presence.services import presence_request_status
from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import AgentFactory, TicketFactory
from tickets.models import TicketNote
from tickets.services import ticket_note_add

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999  # beyond 64 bits: SQLite cannot even bind it
PLACEHOLDER = 7654321


def _refused(response, *codes: int, field: str | None = None) -> dict:
    codes = codes or (400,)
    assert response.status_code in codes, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert field in body["message"] or field in body.get("errors", {}), body
    return body


def _quiet(client):
    client.raise_request_exception = False  # a 500 is a response to count, not an exception
    return client


# Paths whose views live in presence/api (checked apart only to name them in a failure).
OWNED_ELSEWHERE = {
    f"/api/v1/agents/{HUGE}/",
    f"/api/v1/agents/{HUGE}/status/",
    f"/api/v1/presence/me/queues/{HUGE}/join/",
    f"/api/v1/presence/me/queues/{HUGE}/leave/",
}


@pytest.fixture
def world(statuses, make_team, supervisor):
    """An agent with a team, a ticket, a shift, an appointment and a pending request."""
    team = make_team("Support")
    ann = AgentFactory(username="ann", status=statuses["available"], teams=[team])
    ticket = TicketFactory(team=team, assignee=ann)
    early = ShiftType.objects.create(name="Early", default_status=statuses["available"])
    shift = Shift.objects.create(agent=ann, shift_type=early, start="2030-01-07T08:00Z", end="2030-01-07T16:00Z")
    appointment = Appointment.objects.create(
        agent=ann, subject="Review", start="2030-01-08T08:00Z", end="2030-01-08T09:00Z"
    )
    statuses["training"].requires_approval = True
    statuses["training"].save()
    request = presence_request_status(ann, statuses["training"], actor=ann, source=Source.API).request
    ann_api = APIClient()
    ann_api.force_authenticate(ann)
    return {"team": team, "ann": ann, "ann_api": ann_api, "ticket": ticket, "early": early, "shift": shift,
            "appointment": appointment, "request": request}  # fmt: skip


# --- datetimes at the ends of the calendar ----------------------------------------------------------


def _schedule_body(kind: str, world, start: str, end: str) -> dict:
    body = {"agent": world["ann"].pk, "start": start, "end": end}
    if kind == "shifts":
        body["shift_type"] = world["early"].pk
    else:
        body["subject"] = "Review"
    return body


EXTREME_SPANS = [
    ("0001-01-01T00:00:00Z", "0001-01-01T08:00:00Z"),
    ("0001-01-01T00:00:00", "0001-01-01T08:00:00"),  # read in New York: before year 1 in UTC
    ("9999-12-31T10:00:00Z", "9999-12-31T18:00:00Z"),
    ("9999-12-31T20:00:00", "9999-12-31T23:00:00"),  # read in New York: after year 9999 in UTC
    ("9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59.999999-14:00"),
]


@pytest.mark.sqlite
@pytest.mark.parametrize("kind", ["shifts", "appointments"])
@pytest.mark.parametrize(("start", "end"), EXTREME_SPANS)
def test_schedule_times_at_the_ends_of_the_calendar_are_400(supervisor_api, world, kind, start, end):
    profile = world["ann"].agent_profile
    profile.time_zone = "America/New_York"
    profile.save()
    _quiet(supervisor_api)
    before = (Shift.objects.count(), Appointment.objects.count())
    _refused(supervisor_api.post(f"/api/v1/{kind}/", _schedule_body(kind, world, start, end), format="json"))
    existing = world["shift" if kind == "shifts" else "appointment"]
    patch = supervisor_api.patch(f"/api/v1/{kind}/{existing.pk}/", {"start": start, "end": end}, format="json")
    _refused(patch)
    assert (Shift.objects.count(), Appointment.objects.count()) == before
    existing.refresh_from_db()
    assert existing.start.year == 2030


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z"},
        {"until": "0001-01-03T00:00:00Z"},  # the default start is a week before
        {"since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z", "tz": "America/New_York"},
        {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T23:59:59Z"},
        {"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T23:59:59Z", "tz": "Pacific/Kiritimati"},
        {"since": "9999-12-31T00:00:00"},
    ],
)
@pytest.mark.parametrize("slug", ["time-in-status", "status-log", "workload", "schedule-compliance"])
def test_report_ranges_at_the_ends_of_the_calendar_are_400(supervisor, admin_user, world, slug, params):
    api = _quiet(APIClient())
    api.force_authenticate(supervisor)
    _refused(api.get(f"/api/v1/reports/{slug}/", params))
    _refused(api.get(f"/api/v1/reports/{slug}/", {**params, "format": "csv"}))
    admin = _quiet(Client())
    admin.force_login(admin_user)
    page = admin.get("/admin/reports/", {"report": slug, **params})
    assert page.status_code == 200 and "errorlist" in page.content.decode()


TIME_FILTERS = [
    ("/api/v1/shifts/", ["end_after", "start_before"]),
    ("/api/v1/appointments/", ["end_after", "start_before"]),
]
TIME_FILTERS_ELSEWHERE = [("/api/v1/status-log/", ["since", "until"]), ("/api/v1/agents/", ["changed_since"])]


def _time_filters_refused(client, filters) -> None:
    for path, names in filters:
        for name in names:
            for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59"):
                _refused(_quiet(client).get(path, {name: value}), field=name)


@pytest.mark.sqlite
def test_time_filters_at_the_ends_of_the_calendar_are_400(supervisor_api, world):
    _time_filters_refused(supervisor_api, TIME_FILTERS)


@pytest.mark.sqlite
def test_time_filters_of_the_presence_api_at_the_ends_of_the_calendar_are_400(supervisor_api, world):
    _time_filters_refused(supervisor_api, TIME_FILTERS_ELSEWHERE)


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "tz", ["A" * 5000, "Europe/" + "x" * 300, "../../../etc/passwd", "UTC\x00", "Mars/Olympus"],
    ids=["5000 characters", "long name in a real area", "a path", "a null byte", "no such zone"],
)  # fmt: skip
def test_report_time_zone_that_is_no_zone_is_400(supervisor_api, world, tz):
    _refused(_quiet(supervisor_api).get("/api/v1/reports/time-in-status/", {"tz": tz}), field="tz")


# --- ids beyond 64 bits -------------------------------------------------------------------------------


def _routes(resolver=None, namespace=""):
    """(name, kwarg names) of every named URL, through every include."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", tuple(pattern.pattern.regex.groupindex)


def _paths_with_huge_ids(prefix: str) -> list[str]:
    """Every route of `prefix` with an id in its path, the id beyond 64 bits."""
    paths = set()
    for name, kwargs in _routes():
        if not kwargs or "format" in kwargs:
            continue
        values = {k: "approve" if k == "decision" else PLACEHOLDER for k in kwargs}
        try:
            path = reverse(name, kwargs=values)
        except Exception:  # noqa: BLE001 - a slug or object_id route: not an integer id
            continue
        if path.startswith(prefix) and str(PLACEHOLDER) in path:
            paths.add(path.replace(str(PLACEHOLDER), str(HUGE)))
    return sorted(paths)


def _api_path_failures(clients, paths) -> list:
    failures = []
    for client in clients:
        for path in paths:
            for method in ("get", "post", "patch", "delete"):
                response = getattr(_quiet(client), method)(path, {}, format="json")
                if response.status_code not in (403, 404, 405) or not response.json().get("message"):
                    failures.append((method, path, response.status_code))
    return failures


@pytest.mark.sqlite
def test_ids_beyond_64_bits_in_api_paths_are_404(admin_api, world):
    paths = _paths_with_huge_ids("/api/v1/")
    assert f"/api/v1/tickets/{HUGE}/" in paths and OWNED_ELSEWHERE <= set(paths) and len(paths) > 20
    assert not _api_path_failures([admin_api, world["ann_api"]], sorted(set(paths) - OWNED_ELSEWHERE))


@pytest.mark.sqlite
def test_ids_beyond_64_bits_in_presence_api_paths_are_404(admin_api, world):
    assert not _api_path_failures([admin_api, world["ann_api"]], sorted(OWNED_ELSEWHERE))


@pytest.mark.sqlite
def test_ids_beyond_64_bits_in_page_paths_are_404(client, supervisor, world):
    paths = _paths_with_huge_ids("/")
    paths = [p for p in paths if not p.startswith(("/api/", "/admin/"))]
    assert f"/tickets/{HUGE}/" in paths and f"/board/agents/{HUGE}/" in paths and len(paths) >= 10
    failures = []
    for user in (supervisor, world["ann"]):
        _quiet(client).force_login(user)
        for path in paths:
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                if response.status_code != 404:
                    failures.append((user.username, method, path, response.status_code))
    assert not failures


API_FILTERS = [
    ("/api/v1/agents/", ["status"]),
    ("/api/v1/tickets/", ["team", "assignee"]),
    ("/api/v1/status-requests/", ["agent"]),
    ("/api/v1/status-log/", ["agent", "to_status"]),
    ("/api/v1/shifts/", ["agent", "shift_type"]),
    ("/api/v1/appointments/", ["agent"]),
    ("/api/v1/reports/workload/", ["agent"]),
]


@pytest.mark.sqlite
@pytest.mark.parametrize(("path", "names"), API_FILTERS)
@pytest.mark.parametrize("value", [HUGE, -HUGE, "1.5", "1e3"])
def test_ids_that_are_no_ids_in_api_filters_are_400(supervisor_api, world, path, names, value):
    for name in names:
        _refused(_quiet(supervisor_api).get(path, {name: value}), field=name)


@pytest.mark.sqlite
@pytest.mark.parametrize("value", [HUGE, "1.5", "1e3"])
def test_ids_that_are_no_ids_in_the_agents_team_filter_are_400(supervisor_api, world, value):
    _refused(_quiet(supervisor_api).get("/api/v1/agents/", {"team": value}), field="team")


@pytest.mark.sqlite
def test_the_shared_id_filter_refuses_what_is_no_id(world):
    """IdFilter, for a filter on an id through a join (AgentFilter's `team` wants it)."""

    class AgentsByTeam(django_filters.FilterSet):
        team = IdFilter(field_name="user__team_memberships__team_id", distinct=True)

        class Meta:
            model = AgentProfile
            fields = ["team"]

    for value in (HUGE, "1.5", "1e3", "0", "-1", "true"):
        assert not AgentsByTeam({"team": value}, queryset=AgentProfile.objects.all()).is_valid(), value
    found = AgentsByTeam({"team": str(world["team"].pk)}, queryset=AgentProfile.objects.all()).qs
    assert [profile.user for profile in found] == [world["ann"]]


@pytest.mark.sqlite
def test_ids_beyond_64_bits_in_page_filters_do_not_fail(client, supervisor, world):
    _quiet(client).force_login(supervisor)
    for path in ("/board/", "/board/rows/"):
        assert client.get(path, {"status": HUGE, "team": HUGE}).status_code == 200
    for path, query in [
        ("/admin/presence/agentpresence/", {"status__id__exact": HUGE}),
        ("/admin/tickets/ticket/", {"assignee__id__exact": HUGE, "team__id__exact": HUGE}),
        ("/admin/scheduling/shift/", {"agent__id__exact": HUGE}),
    ]:
        assert client.get(path, query).status_code in (200, 302)


ADMIN_LISTS = [
    "/admin/scheduling/shift/?start__year=9999&start__month=12&start__day=31",
    "/admin/scheduling/shift/?start__year=9999&start__month=12",
    "/admin/scheduling/appointment/?start__year=9999",
    "/admin/tickets/ticket/?created_at__year=9999&created_at__month=12&created_at__day=31",
    "/admin/scheduling/shift/?start__gte=0001-01-01+00:00:00%2B05:00",
    f"/admin/scheduling/shift/?agent__id__exact={HUGE}",
]
ADMIN_LISTS_ELSEWHERE = [  # presence/admin.py: BoundedInputsAdminMixin (presence.admin_inputs) on its admins
    "/admin/presence/statuschangelog/?at__year=9999&at__month=12&at__day=31",
    "/admin/presence/call/?started_at__year=9999",
]


@pytest.mark.sqlite
@pytest.mark.parametrize("path", ADMIN_LISTS)
def test_admin_lists_refuse_dates_and_ids_out_of_range(client, admin_user, world, path):
    _quiet(client).force_login(admin_user)
    response = client.get(path)
    # a list with a filter it cannot apply reloads with ?e=1; one that finds nothing is a list
    assert response.status_code in (200, 302), response.status_code
    if "__year=" in path:
        assert response["Location"].endswith("?e=1")


@pytest.mark.sqlite
@pytest.mark.parametrize("path", ADMIN_LISTS_ELSEWHERE)
def test_admin_lists_of_the_presence_app_refuse_dates_out_of_range(client, admin_user, world, path):
    _quiet(client).force_login(admin_user)
    assert client.get(path).status_code == 302


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "model", ["scheduling/shift", "scheduling/appointment", "scheduling/shifttype", "tickets/ticket"]
)
def test_admin_change_pages_with_ids_beyond_64_bits_say_there_is_no_such_object(client, admin_user, world, model):
    _quiet(client).force_login(admin_user)
    for page in ("change", "delete"):
        response = client.get(f"/admin/{model}/{HUGE}/{page}/", follow=True)
        assert response.status_code == 200 and "doesn’t exist" in response.content.decode(), page
    assert client.get(f"/admin/{model}/{HUGE}/history/").status_code == 404


@pytest.mark.sqlite
def test_admin_change_page_of_an_agent_profile_with_an_id_beyond_64_bits(client, admin_user, world):
    _quiet(client).force_login(admin_user)
    assert client.get(f"/admin/presence/agentprofile/{HUGE}/change/", follow=True).status_code in (200, 404)


def _bodies(world, statuses, bad) -> list[tuple[str, str, dict, str]]:
    """(method, path, body, field) for every primary-key field the API takes, with `bad` in it."""
    ann, team, ticket = world["ann"], world["team"], world["ticket"]
    available = statuses["available"].pk
    return [
        ("post", "/api/v1/presence/me/status/", {"status": bad}, "status"),
        ("post", f"/api/v1/agents/{ann.pk}/status/", {"status": bad}, "status"),
        ("post", "/api/v1/agents/", {"username": "neo", "password": "a-long-enough-pass", "teams": [bad]}, "teams"),
        ("post", "/api/v1/agents/", {"username": "neo", "password": "a-long-enough-pass", "delegate": bad},
         "delegate"),
        ("patch", f"/api/v1/agents/{ann.pk}/", {"teams": [team.pk, bad]}, "teams"),
        ("patch", f"/api/v1/agents/{ann.pk}/", {"delegate": bad}, "delegate"),
        ("post", "/api/v1/statuses/", {"name": "New", "category": "inactive", "return_status": bad,
                                       "max_duration": 5}, "return_status"),
        ("post", "/api/v1/statuses/", {"name": "New", "category": "inactive", "teams": [bad]}, "teams"),
        ("patch", "/api/v1/presence-settings/", {"login_status": bad}, "login_status"),
        ("patch", "/api/v1/presence-settings/", {"appointment_default_status": bad}, "appointment_default_status"),
        ("post", "/api/v1/telephony/events/", {"agent": bad, "call_id": "c-1", "event": "started"}, "agent"),
        ("post", "/api/v1/tickets/", {"subject": "Help", "team": bad}, "team"),
        ("patch", f"/api/v1/tickets/{ticket.pk}/", {"team": bad}, "team"),
        ("post", f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": bad}, "agent"),
        ("post", "/api/v1/teams/", {"name": "New team", "members": [bad]}, "members"),
        ("post", "/api/v1/reassign-mappings/", {"to_status": bad, "action": "unassign"}, "to_status"),
        ("post", "/api/v1/reassign-mappings/", {"from_status": bad, "to_status": available, "action": "unassign"},
         "from_status"),
        ("post", "/api/v1/shift-types/", {"name": "Late", "default_status": bad}, "default_status"),
        ("post", "/api/v1/shift-types/", {"name": "Late", "default_status": available, "end_status": bad},
         "end_status"),
        ("post", "/api/v1/shifts/", {"agent": bad, "shift_type": world["early"].pk, "start": "2030-02-01T08:00Z",
                                     "end": "2030-02-01T16:00Z"}, "agent"),
        ("post", "/api/v1/shifts/", {"agent": ann.pk, "shift_type": bad, "start": "2030-02-01T08:00Z",
                                     "end": "2030-02-01T16:00Z"}, "shift_type"),
        ("patch", f"/api/v1/shifts/{world['shift'].pk}/", {"shift_type": bad}, "shift_type"),
        ("post", "/api/v1/appointments/", {"agent": ann.pk, "subject": "x", "start": "2030-02-01T08:00Z",
                                           "end": "2030-02-01T09:00Z", "agent_status": bad}, "agent_status"),
        ("patch", f"/api/v1/appointments/{world['appointment'].pk}/", {"agent": bad}, "agent"),
    ]  # fmt: skip


def _snapshot(world) -> tuple:
    ann = world["ann"]
    ann.presence.refresh_from_db()
    world["ticket"].refresh_from_db()
    return (ann.presence.status_id, world["ticket"].team_id, world["ticket"].assignee_id,
            sorted(ann.team_memberships.values_list("team_id", flat=True)),
            Shift.objects.count(), Appointment.objects.count(), ShiftType.objects.count())  # fmt: skip


@pytest.mark.sqlite
@pytest.mark.parametrize("bad", [HUGE, -1, 0], ids=["huge", "negative", "zero"])
def test_ids_out_of_range_in_bodies_are_400(admin_api, world, statuses, bad):
    _quiet(admin_api)
    before = _snapshot(world)
    for method, path, body, field in _bodies(world, statuses, bad):
        client = world["ann_api"] if path.startswith("/api/v1/presence/me/") else admin_api
        _refused(getattr(_quiet(client), method)(path, body, format="json"), field=field)
    assert _snapshot(world) == before


@pytest.mark.sqlite
@pytest.mark.parametrize("kind", ["float", "whole float", "string with a point", "boolean", "list", "object"])
def test_non_integer_ids_in_bodies_are_400(admin_api, world, statuses, kind):
    """1.5 is not status 1, True is not id 1: every primary-key field takes whole numbers only."""
    busy = statuses["busy"].pk
    bad = {"float": busy + 0.5, "whole float": float(busy), "string with a point": f"{busy}.5", "boolean": True,
           "list": [busy], "object": {"id": busy}}[kind]  # fmt: skip
    _quiet(admin_api)
    before = _snapshot(world)
    for method, path, body, field in _bodies(world, statuses, bad):
        if kind == "list" and isinstance(body.get(field), list):
            continue  # a list of ids is what a many field takes
        client = world["ann_api"] if path.startswith("/api/v1/presence/me/") else admin_api
        _refused(getattr(_quiet(client), method)(path, body, format="json"), field=field)
    assert _snapshot(world) == before


@pytest.mark.sqlite
def test_status_1_5_is_not_status_1(world, statuses):
    available = statuses["available"].pk
    response = _quiet(world["ann_api"]).post("/api/v1/presence/me/status/", {"status": available + 0.5}, format="json")
    _refused(response, field="status")
    # a whole number as a string still works (form-encoded clients send strings)
    ok = world["ann_api"].post("/api/v1/presence/me/status/", {"status": str(statuses["busy"].pk)}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == statuses["busy"].pk


# --- notes and reasons have a length ----------------------------------------------------------------


@pytest.mark.sqlite
def test_note_body_is_at_most_10000_characters(world, client):
    ticket, ann = world["ticket"], world["ann"]
    url = f"/api/v1/tickets/{ticket.pk}/notes/"
    _refused(_quiet(world["ann_api"]).post(url, {"body": "x" * 10_001}, format="json"), field="body")
    assert world["ann_api"].post(url, {"body": "x" * 10_000}, format="json").status_code == 201
    client.force_login(ann)
    page = client.post(reverse("tickets:ticket-note", args=[ticket.pk]), {"body": "y" * 10_001}, follow=True)
    assert page.status_code == 200 and "10000" in page.content.decode().replace(",", "")
    with pytest.raises(ApplicationError, match="10"):
        ticket_note_add(ticket, author=ann, body="z" * 10_001)
    assert list(TicketNote.objects.values_list("body", flat=True)) == ["x" * 10_000]


@pytest.mark.sqlite
def test_reasons_are_at_most_255_characters(world, supervisor_api, statuses, client, supervisor):
    long, ann = "r" * 256, world["ann"]
    request = world["request"]
    _refused(world["ann_api"].post("/api/v1/presence/me/status/", {"status": statuses["busy"].pk, "reason": long},
                                   format="json"), field="reason")  # fmt: skip
    _refused(supervisor_api.post(f"/api/v1/agents/{ann.pk}/status/", {"status": statuses["busy"].pk, "reason": long},
                                 format="json"), field="reason")  # fmt: skip
    for decision in ("approve", "reject"):
        _refused(supervisor_api.post(f"/api/v1/status-requests/{request.pk}/{decision}/", {"reason": long},
                                     format="json"), field="reason")  # fmt: skip
    # the header's status form (JSON for the script, a message without it) and the board
    client.force_login(ann)
    header = client.post(reverse("presence:status-change"), {"status": statuses["busy"].pk, "reason": long},
                         HTTP_ACCEPT="application/json")  # fmt: skip
    assert header.status_code == 400 and "255" in header.json()["message"]
    client.force_login(supervisor)
    for decision in ("approve", "reject"):
        page = client.post(reverse("presence:request-decide", args=[request.pk, decision]), {"reason": long},
                           follow=True)  # fmt: skip
        assert "255" in page.content.decode()
    # the services refuse too: nothing stores a longer reason
    from presence.services import status_request_approve, status_request_reject

    for decide in (status_request_approve, status_request_reject):
        with pytest.raises(ApplicationError, match="255"):
            decide(request, actor=supervisor, reason=long)
    request.refresh_from_db()
    ann.presence.refresh_from_db()
    assert request.state == StatusRequest.State.PENDING and ann.presence.status == statuses["available"]


def test_admin_bulk_status_reason_is_at_most_255_characters(client, admin_user, world, statuses):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:presence_agentpresence_changelist"),
        {"action": "set_status", "_selected_action": [world["ann"].presence.pk], "apply": "1",
         "status": statuses["busy"].pk, "reason": "r" * 256},
    )  # fmt: skip
    assert response.status_code == 200 and "255" in response.content.decode()
    world["ann"].presence.refresh_from_db()
    assert world["ann"].presence.status == statuses["available"]


# --- shifts and appointments have a maximum length ---------------------------------------------------


@pytest.mark.sqlite
def test_a_shift_is_at_most_24_hours_and_an_appointment_31_days(supervisor_api, world):
    day = _schedule_body("shifts", world, "2030-03-01T08:00:00Z", "2030-03-02T08:00:00Z")
    assert supervisor_api.post("/api/v1/shifts/", day, format="json").status_code == 201
    longer = _schedule_body("shifts", world, "2030-03-05T08:00:00Z", "2030-03-06T08:00:01Z")
    assert "24 hours" in _refused(supervisor_api.post("/api/v1/shifts/", longer, format="json"), field="end")["message"]
    month = _schedule_body("appointments", world, "2030-03-01T00:00:00Z", "2030-04-01T00:00:00Z")
    assert supervisor_api.post("/api/v1/appointments/", month, format="json").status_code == 201
    two_months = _schedule_body("appointments", world, "2030-05-01T00:00:00Z", "2030-07-01T00:00:00Z")
    body = _refused(supervisor_api.post("/api/v1/appointments/", two_months, format="json"), field="end")
    assert "31 days" in body["message"]
    millennium = _schedule_body("appointments", world, "2027-01-01T00:00:00Z", "3027-01-01T00:00:00Z")
    _refused(supervisor_api.post("/api/v1/appointments/", millennium, format="json"), field="end")
    patch = supervisor_api.patch(f"/api/v1/appointments/{world['appointment'].pk}/", {"end": "2030-03-01T00:00Z"},
                                 format="json")  # fmt: skip
    _refused(patch, field="end")


def test_schedule_maximums_come_from_settings(supervisor_api, world, settings):
    settings.SHIFT_MAX_HOURS = 12
    settings.APPOINTMENT_MAX_DAYS = 1
    shift = _schedule_body("shifts", world, "2030-03-01T08:00:00Z", "2030-03-01T21:00:00Z")
    assert "12 hours" in _refused(supervisor_api.post("/api/v1/shifts/", shift, format="json"), field="end")["message"]
    two_days = _schedule_body("appointments", world, "2030-03-01T00:00:00Z", "2030-03-03T00:00:00Z")
    _refused(supervisor_api.post("/api/v1/appointments/", two_days, format="json"), field="end")


def test_admin_refuses_an_endless_appointment_on_the_end_field(client, admin_user, world):
    client.force_login(admin_user)
    data = {"agent": world["ann"].pk, "subject": "Sabbatical", "start_0": "2027-01-01", "start_1": "00:00:00",
            "end_0": "2027-03-01", "end_1": "00:00:00"}  # fmt: skip
    response = client.post(reverse("admin:scheduling_appointment_add"), data)
    assert response.status_code == 200 and "31 days" in response.content.decode()
    assert response.context["adminform"].form.errors["end"]
    data["end_0"] = "3027-01-01"
    response = client.post(reverse("admin:scheduling_appointment_add"), data)
    assert response.status_code == 200 and response.context["adminform"].form.errors["end"]
    assert not Appointment.objects.filter(subject="Sabbatical").exists()


# --- a decision is approve or reject ------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("decision", ["approve!", "delete", "APPROVE", "rejected", "x"])
def test_board_decision_other_than_approve_or_reject_is_404(client, supervisor, world, decision):
    client.force_login(supervisor)
    response = client.post(f"/board/requests/{world['request'].pk}/{decision}/")
    assert response.status_code == 404
    world["request"].refresh_from_db()
    assert world["request"].state == StatusRequest.State.PENDING
