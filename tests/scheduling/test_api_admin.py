"""Shift types, shifts and appointments (C1, C2) through the API (A) and the admin (U4): CRUD,
validation as JSON 400, deletion guards, who may schedule whom, local times."""

import pytest
from django.urls import reverse

from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def early(statuses):
    return ShiftType.objects.create(name="Early", default_status=statuses["available"])


def _shift(agent, shift_type, start="2030-01-07T08:00:00Z", end="2030-01-07T16:00:00Z") -> dict:
    return {"agent": agent.pk, "shift_type": shift_type.pk, "start": start, "end": end}


# --- API ------------------------------------------------------------------------------------


def test_shift_types_crud_for_admins(admin_api, agent_api, statuses, early):
    rows = agent_api.get("/api/v1/shift-types/").json()
    assert rows == [
        {
            "id": early.pk, "name": "Early", "default_status": statuses["available"].pk, "end_status": None,
            "off_duty": False, "break_statuses": [], "break_minutes": None, "break_count": None,
        }
    ]  # fmt: skip
    body = {"name": "Late", "default_status": statuses["available"].pk, "end_status": statuses["busy"].pk}
    assert agent_api.post("/api/v1/shift-types/", body, format="json").status_code == 403
    created = admin_api.post("/api/v1/shift-types/", body, format="json")
    assert created.status_code == 201 and created.json()["end_status"] == statuses["busy"].pk
    assert (
        admin_api.post("/api/v1/shift-types/", {"name": "X", "default_status": 9999}, format="json").status_code == 400
    )
    # a status a shift type uses is protected (S3)
    blocked = admin_api.delete(f"/api/v1/statuses/{statuses['busy'].pk}/")
    assert blocked.status_code == 409 and "shift types: Late" in blocked.json()["message"]
    assert admin_api.delete(f"/api/v1/shift-types/{created.json()['id']}/").status_code == 204


def test_shift_type_in_use_cannot_be_deleted(admin_api, agent, early):
    Shift.objects.create(agent=agent, shift_type=early, start="2030-01-07T08:00Z", end="2030-01-07T16:00Z")
    response = admin_api.delete(f"/api/v1/shift-types/{early.pk}/")
    assert response.status_code == 400 and "used by 1 shift" in response.json()["message"]


def test_shift_validation_is_json_400(supervisor_api, agent, early):
    ok = supervisor_api.post("/api/v1/shifts/", _shift(agent, early), format="json")
    assert ok.status_code == 201, ok.json()
    assert ok.json()["start"] == "2030-01-07T08:00:00Z"
    backwards = supervisor_api.post(
        "/api/v1/shifts/", _shift(agent, early, "2030-01-08T16:00Z", "2030-01-08T08:00Z"), format="json"
    )
    assert backwards.status_code == 400 and "end must be after the start" in backwards.json()["message"]
    overlap = supervisor_api.post(
        "/api/v1/shifts/", _shift(agent, early, "2030-01-07T15:00Z", "2030-01-07T20:00Z"), format="json"
    )
    assert overlap.status_code == 400 and "overlaps" in overlap.json()["message"]
    touching = supervisor_api.post(
        "/api/v1/shifts/", _shift(agent, early, "2030-01-07T16:00Z", "2030-01-07T20:00Z"), format="json"
    )
    assert touching.status_code == 201
    assert supervisor_api.post("/api/v1/shifts/", {"agent": agent.pk}, format="json").status_code == 400
    assert supervisor_api.post("/api/v1/shifts/", _shift(agent, early, start="soon"), format="json").status_code == 400
    moved = supervisor_api.patch(f"/api/v1/shifts/{ok.json()['id']}/", {"end": "2030-01-07T17:00Z"}, format="json")
    assert moved.status_code == 400 and "overlaps" in moved.json()["message"]


def test_agents_schedule_themselves_only(agent_api, agent, other_agent, early, statuses):
    mine = agent_api.post(
        "/api/v1/appointments/",
        {"agent": agent.pk, "subject": "Dentist", "start": "2030-01-07T10:00Z", "end": "2030-01-07T11:00Z",
         "agent_status": statuses["out-of-office"].pk},
        format="json",
    )  # fmt: skip
    assert mine.status_code == 201, mine.json()
    theirs = agent_api.post(
        "/api/v1/appointments/",
        {"agent": other_agent.pk, "subject": "x", "start": "2030-01-07T10:00Z", "end": "2030-01-07T11:00Z"},
        format="json",
    )
    assert theirs.status_code == 403
    Appointment.objects.create(agent=other_agent, subject="theirs", start="2030-01-07T10:00Z", end="2030-01-07T11:00Z")
    assert [a["subject"] for a in agent_api.get("/api/v1/appointments/").json()["results"]] == ["Dentist"]
    assert agent_api.post("/api/v1/shifts/", _shift(other_agent, early), format="json").status_code == 403


def test_schedule_filters(supervisor_api, agent, other_agent, early):
    Shift.objects.create(agent=agent, shift_type=early, start="2030-01-07T08:00Z", end="2030-01-07T16:00Z")
    Shift.objects.create(agent=other_agent, shift_type=early, start="2030-01-08T08:00Z", end="2030-01-08T16:00Z")
    assert supervisor_api.get(f"/api/v1/shifts/?agent={agent.pk}").json()["count"] == 1
    day = supervisor_api.get("/api/v1/shifts/?end_after=2030-01-08T00:00Z&start_before=2030-01-09T00:00Z").json()
    assert [row["agent"] for row in day["results"]] == [other_agent.pk]


# --- admin -----------------------------------------------------------------------------------


def test_shift_admin_lists_by_day_and_validates(client, admin_user, agent, early):
    client.force_login(admin_user)
    Shift.objects.create(agent=agent, shift_type=early, start="2030-01-07T08:00Z", end="2030-01-07T16:00Z")
    page = client.get(reverse("admin:scheduling_shift_changelist") + "?start__day=7&start__month=1&start__year=2030")
    assert page.status_code == 200 and "Early" in page.content.decode()
    data = {"agent": agent.pk, "shift_type": early.pk, "start_0": "2030-01-07", "start_1": "12:00:00",
            "end_0": "2030-01-07", "end_1": "18:00:00"}  # fmt: skip
    response = client.post(reverse("admin:scheduling_shift_add"), data)
    assert response.status_code == 200 and "overlaps" in response.content.decode()
    data.update(start_0="2030-01-09", end_0="2030-01-08")
    response = client.post(reverse("admin:scheduling_shift_add"), data)
    assert "The end must be after the start." in response.content.decode()
    data.update(start_0="2030-01-09", end_0="2030-01-09")
    assert client.post(reverse("admin:scheduling_shift_add"), data).status_code == 302
    assert Shift.objects.count() == 2


def test_appointment_admin_shows_the_agents_local_time(client, admin_user, statuses):
    client.force_login(admin_user)
    lena = AgentFactory(username="lena", profile={"time_zone": "Europe/Berlin"})
    Appointment.objects.create(agent=lena, subject="Review", start="2030-07-01T08:00Z", end="2030-07-01T09:00Z")
    page = client.get(reverse("admin:scheduling_appointment_changelist")).content.decode()
    assert "10:00–11:00 Europe/Berlin" in page


# --- break budgets (C8) -----------------------------------------------------------------------


def test_a_break_budget_through_the_api(admin_api, statuses, early):
    url = f"/api/v1/shift-types/{early.pk}/"
    breaks = [statuses["lunch"].pk, statuses["short-break"].pk]
    set_up = admin_api.patch(url, {"break_statuses": breaks, "break_minutes": 30, "break_count": 2}, format="json")
    assert set_up.status_code == 200, set_up.json()
    assert (sorted(set_up.json()["break_statuses"]), set_up.json()["break_minutes"]) == (sorted(breaks), 30)
    # Not sending the statuses keeps them.
    assert admin_api.patch(url, {"break_minutes": 45}, format="json").status_code == 200
    early.refresh_from_db()
    assert early.break_minutes == 45 and set(early.break_statuses.values_list("pk", flat=True)) == set(breaks)
    created = admin_api.post(
        "/api/v1/shift-types/",
        {"name": "Late", "default_status": statuses["available"].pk, "break_statuses": [statuses["lunch"].pk],
         "break_count": 1},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["break_statuses"] == [statuses["lunch"].pk]


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"break_minutes": 0}, "break_minutes", "greater than or equal to 1"),
        ({"break_count": -1}, "break_count", ""),
        ({"break_minutes": 24 * 60 + 1}, "break_minutes", "less than or equal to 1440"),
        ({"break_minutes": 30}, "break_statuses", "Choose the break statuses"),
        ({"break_statuses": [999999]}, "break_statuses", "does not exist"),
        ({"break_statuses": ["{offline}"]}, "break_statuses", "system status: it cannot be a break"),
        ({"break_statuses": ["{lunch}"], "off_duty": True}, "off_duty", "no breaks"),
    ],
)
def test_a_break_budget_is_checked(admin_api, statuses, early, body, field, words):
    body = {
        key: [statuses[v[1:-1]].pk if isinstance(v, str) else v for v in value] if key == "break_statuses" else value
        for key, value in body.items()
    }
    response = admin_api.patch(f"/api/v1/shift-types/{early.pk}/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"] and words in str(response.json()["errors"][field])
    early.refresh_from_db()
    assert (early.break_minutes, early.break_count, early.off_duty) == (None, None, False)
    assert not early.break_statuses.exists()


def test_a_break_status_cannot_be_deleted_from_under_a_budget(admin_api, statuses, early):
    early.break_statuses.set([statuses["short-break"]])
    blocked = admin_api.delete(f"/api/v1/statuses/{statuses['short-break'].pk}/")
    assert blocked.status_code == 409 and "shift types' breaks: Early" in blocked.json()["message"]


def test_a_break_budget_in_the_admin(client, admin_user, statuses, early):
    client.force_login(admin_user)
    url = reverse("admin:scheduling_shifttype_change", args=[early.pk])
    assert "Break statuses" in client.get(url).content.decode()
    data = {"name": "Early", "default_status": statuses["available"].pk, "end_status": "", "break_minutes": "30",
            "break_count": "2"}  # fmt: skip
    refused = client.post(url, data)
    assert refused.status_code == 200 and "Choose the break statuses the budget counts." in refused.content.decode()
    offline = client.post(url, {**data, "break_statuses": [statuses["offline"].pk]})
    assert "it cannot be a break" in offline.content.decode()
    saved = client.post(url, {**data, "break_statuses": [statuses["lunch"].pk, statuses["short-break"].pk]})
    assert saved.status_code == 302
    early.refresh_from_db()
    assert (early.break_minutes, early.break_count) == (30, 2)
    assert set(early.break_statuses.values_list("slug", flat=True)) == {"lunch", "short-break"}
    listed = client.get(reverse("admin:scheduling_shifttype_changelist")).content.decode()
    assert "30 min, 2 breaks" in listed
