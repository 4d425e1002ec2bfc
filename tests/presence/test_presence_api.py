"""The presence API of SPEC "A": statuses (S1), presence/me (P2, P6), settings (P9), agents (P1),
status log (P8), tokens (A3)."""

import pytest
from rest_framework.test import APIClient

from presence.models import AgentPresence, AgentProfile, PresenceSettings, Status, StatusChangeLog, StatusRequest
from presence.services import presence_change_status
from tests.factories import PASSWORD, AgentFactory, StatusFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

STATUS_FIELDS = {
    "id", "name", "slug", "category", "color", "emoji", "sort_order", "enabled", "is_system", "can_receive",
    "online_for_live_chat", "in_load_balance", "in_load_balance_for_chat", "warn_on_assign", "warn_on_mention",
    "count_time_after_dialogs_closed", "max_duration", "return_status", "requires_approval", "teams", "drain",
    "idle_timeout", "forward_to_phone",
}  # fmt: skip


def _error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_token_then_token_auth(api_client, agent):
    response = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": PASSWORD}, format="json")
    assert response.status_code == 200 and set(response.json()) == {"token"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/presence/me/").json()["agent"] == agent.pk


def test_bad_credentials_and_bad_token(api_client, agent):
    _error(api_client.post("/api/v1/auth/token/", {"username": "ann", "password": "nope"}, format="json"), 400)
    _error(api_client.post("/api/v1/auth/token/", {}, format="json"), 400)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert _error(client.get("/api/v1/presence/me/"), 401)["code"] == "authentication_failed"


# --- statuses ---------------------------------------------------------------------------------


def test_anyone_signed_in_lists_statuses_anonymous_does_not(api_client, agent_api, statuses):
    rows = agent_api.get("/api/v1/statuses/").json()
    assert len(rows) == 14 and set(rows[0]) == STATUS_FIELDS
    lunch = next(row for row in rows if row["slug"] == "lunch")
    assert (lunch["max_duration"], lunch["return_status"]) == (30, statuses["available"].pk)
    assert [row["slug"] for row in agent_api.get("/api/v1/statuses/?can_receive=true").json()] == ["available"]
    assert _error(api_client.get("/api/v1/statuses/"), 401)["code"] == "not_authenticated"


def test_admin_creates_a_status_with_a_slug_from_its_name(admin_api, statuses):
    team = TeamFactory()
    response = admin_api.post(
        "/api/v1/statuses/",
        {"name": "Coffee Break", "category": "inactive", "color": "#6D4C41", "emoji": "☕", "max_duration": 10,
         "return_status": statuses["available"].pk, "teams": [team.pk], "is_system": True},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["is_system"], body["teams"]) == ("coffee-break", False, [team.pk])
    assert Status.objects.get(slug="coffee-break").history.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"in_load_balance": True, "in_load_balance_for_chat": True}, "in_load_balance_for_chat"),
        ({"can_receive": True, "count_time_after_dialogs_closed": True}, "count_time_after_dialogs_closed"),
        ({"max_duration": 10}, "max_duration"),
        ({"color": "blue"}, "color"),
        ({"category": "sleeping"}, "category"),
        ({"name": "Available"}, "name"),
        ({"idle_timeout": 2}, "idle_timeout"),
    ],
)
def test_status_validation_errors_are_400_with_a_message(admin_api, statuses, payload, field):
    body = _error(
        admin_api.post("/api/v1/statuses/", {"name": "New", "category": "inactive", **payload}, format="json"), 400
    )
    assert field in body["errors"] and body["message"].startswith(field)
    assert not Status.objects.filter(name="New").exists()


def test_return_status_without_max_duration(admin_api, statuses):
    body = _error(
        admin_api.post(
            "/api/v1/statuses/", {"name": "New", "category": "inactive", "return_status": statuses["available"].pk},
            format="json",
        ),
        400,
    )  # fmt: skip
    assert "needs a max duration" in body["message"]


def test_agents_and_supervisors_cannot_write_statuses(agent_api, supervisor_api, statuses):
    busy = statuses["busy"].pk
    _error(agent_api.post("/api/v1/statuses/", {"name": "X", "category": "inactive"}, format="json"), 403)
    _error(supervisor_api.patch(f"/api/v1/statuses/{busy}/", {"color": "#000000"}, format="json"), 403)
    _error(agent_api.delete(f"/api/v1/statuses/{busy}/"), 403)


def test_patch_status_and_system_rules(admin_api, statuses):
    busy = statuses["busy"]
    response = admin_api.patch(f"/api/v1/statuses/{busy.pk}/", {"color": "#000000", "enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["color"] == "#000000"
    offline = statuses["offline"].pk
    body = _error(admin_api.patch(f"/api/v1/statuses/{offline}/", {"category": "inactive"}, format="json"), 400)
    assert "category" in body["errors"]
    assert admin_api.patch(f"/api/v1/statuses/{offline}/", {"is_system": False}, format="json").json()["is_system"]


def test_delete_unused_status(admin_api):
    status = StatusFactory()
    assert admin_api.delete(f"/api/v1/statuses/{status.pk}/").status_code == 204
    assert not Status.objects.filter(pk=status.pk).exists()


def test_delete_used_statuses_is_409_naming_the_user(admin_api, statuses, presence_settings):
    AgentFactory(username="zed", status=statuses["training"])
    body = _error(admin_api.delete(f"/api/v1/statuses/{statuses['training'].pk}/"), 409)
    assert "zed" in body["message"] and body["code"] == "status_in_use"
    back = StatusFactory(name="Back")
    StatusFactory(name="Coffee", max_duration=5, return_status=back)
    assert "Coffee" in _error(admin_api.delete(f"/api/v1/statuses/{back.pk}/"), 409)["message"]
    assert _error(admin_api.delete("/api/v1/statuses/999999/"), 404)


def test_delete_of_a_status_a_setting_or_the_system_needs_is_400_naming_it(admin_api, statuses, presence_settings):
    presence_settings.appointment_default_status = statuses["meeting"]
    presence_settings.save()
    body = _error(admin_api.delete(f"/api/v1/statuses/{statuses['meeting'].pk}/"), 400)
    assert "appointment default status in the presence settings" in body["message"]
    assert body["code"] == "status_protected"
    body = _error(admin_api.delete(f"/api/v1/statuses/{statuses['available'].pk}/"), 400)
    assert "login status" in body["message"]
    assert "system" in _error(admin_api.delete(f"/api/v1/statuses/{statuses['offline'].pk}/"), 400)["message"]
    assert Status.objects.filter(slug__in=["meeting", "available", "offline"]).count() == 3


# --- presence/me ---------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_presence_me(agent_api, agent, statuses):
    body = agent_api.get("/api/v1/presence/me/").json()
    assert set(body) == {
        "agent",
        "status",
        "since",
        "pending_status",
        "availability",
        "open_tickets",
        "seconds_in_status",
        "idle_logout_at",
        "still_working_asked_at",
        "queues",
        "notices",
    }
    assert body["idle_logout_at"] is None and body["still_working_asked_at"] is None  # idle timeout is off
    assert (body["agent"], body["status"], body["availability"], body["open_tickets"]) == (
        agent.pk,
        statuses["offline"].pk,
        "offline",
        0,
    )
    assert body["since"].endswith(("Z", "+00:00"))


def test_presence_me_query_count(agent_api, django_assert_max_num_queries):
    # profile, presence, workload (tickets, profiles), settings, open "still working?" prompt,
    # queues, notices
    with django_assert_max_num_queries(8):
        assert agent_api.get("/api/v1/presence/me/").status_code == 200


def test_presence_me_for_a_non_agent_is_404(supervisor_api):
    assert _error(supervisor_api.get("/api/v1/presence/me/"), 404)["code"] == "not_an_agent"


def test_change_my_status(agent_api, agent, statuses):
    response = agent_api.post(
        "/api/v1/presence/me/status/", {"status": statuses["busy"].pk, "reason": "call"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == statuses["busy"].pk and response.json()["availability"] == "not_receiving"
    row = StatusChangeLog.objects.get(agent=agent)
    assert (row.source, row.reason, row.actor) == ("api", "call", agent)


@pytest.mark.parametrize("body", [{}, {"status": 999999}, {"status": "busy"}, {"status": None}, {"status": [1]}])
def test_change_my_status_bad_input_is_400(agent_api, agent, statuses, body):
    _error(agent_api.post("/api/v1/presence/me/status/", body, format="json"), 400)
    assert AgentPresence.objects.get(agent=agent).status == statuses["offline"]


def test_change_my_status_to_disabled_or_system_only_is_400(agent_api, statuses):
    statuses["training"].enabled = False
    statuses["training"].save()
    body = _error(
        agent_api.post("/api/v1/presence/me/status/", {"status": statuses["training"].pk}, format="json"), 400
    )
    assert body["code"] == "status_not_selectable"
    kicked_out = statuses[Status.KICKED_OUT].pk
    _error(agent_api.post("/api/v1/presence/me/status/", {"status": kicked_out}, format="json"), 400)


def test_malformed_json_is_400(agent_api):
    response = agent_api.post("/api/v1/presence/me/status/", "{not json", content_type="application/json")
    _error(response, 400)


def test_approval_status_is_202_with_the_request(agent_api, agent, statuses):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    response = agent_api.post("/api/v1/presence/me/status/", {"status": statuses["training"].pk}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (body["state"], body["status"], body["agent"]) == ("pending", statuses["training"].pk, agent.pk)
    assert StatusRequest.objects.get(pk=body["id"]).state == "pending"
    assert AgentPresence.objects.get(agent=agent).status == statuses["offline"]


def test_heartbeat(agent_api, agent, django_assert_num_queries):
    assert agent_api.post("/api/v1/presence/me/heartbeat/").status_code == 204
    first = AgentPresence.objects.get(agent=agent).last_heartbeat
    assert first is not None
    with django_assert_num_queries(1):  # only the agent check: the heartbeat itself is not written again
        assert agent_api.post("/api/v1/presence/me/heartbeat/").status_code == 204
    assert AgentPresence.objects.get(agent=agent).last_heartbeat == first


def test_heartbeat_by_a_non_agent_is_404(supervisor_api):
    _error(supervisor_api.post("/api/v1/presence/me/heartbeat/"), 404)


# --- presence settings ------------------------------------------------------------------------------


SETTINGS_FIELDS = {
    "log_status_changes", "reassign_on_status_change", "apply_mappings_to_schedules", "login_status",
    "idle_timeout_minutes", "idle_timeout_named", "idle_timeout_concurrent", "idle_warning_seconds",
    "auto_offline_minutes", "auto_offline_status", "kick_out_minutes", "appointment_default_status",
    "wrap_up_max_minutes",
}  # fmt: skip


def test_settings_read_and_write_by_admin(admin_api, admin_user, statuses):
    body = admin_api.get("/api/v1/presence-settings/").json()
    assert set(body) == SETTINGS_FIELDS and body["auto_offline_minutes"] == 10
    response = admin_api.patch(
        "/api/v1/presence-settings/",
        {"idle_timeout_minutes": 15, "login_status": statuses["not-ready"].pk, "log_status_changes": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    config = PresenceSettings.load()
    assert (config.idle_timeout_minutes, config.login_status, config.log_status_changes) == (
        15,
        statuses["not-ready"],
        False,
    )
    assert config.history.first().history_user == admin_user


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"idle_timeout_minutes": 4}, "idle_timeout_minutes"),
        ({"auto_offline_status": "available"}, "auto_offline_status"),
        ({"login_status": "offline"}, "login_status"),
        ({"login_status": 999999}, "login_status"),
        ({"auto_offline_minutes": 0}, "auto_offline_minutes"),
    ],
)
def test_settings_validation(admin_api, statuses, payload, field):
    payload = {k: statuses[v].pk if isinstance(v, str) else v for k, v in payload.items()}
    body = _error(admin_api.patch("/api/v1/presence-settings/", payload, format="json"), 400)
    assert field in body["errors"]
    assert PresenceSettings.load().login_status == statuses["available"]


def test_settings_are_admin_only(agent_api, supervisor_api):
    _error(agent_api.get("/api/v1/presence-settings/"), 403)
    _error(supervisor_api.patch("/api/v1/presence-settings/", {"log_status_changes": False}, format="json"), 403)


# --- agents -----------------------------------------------------------------------------------------


def test_admin_provisions_an_agent(admin_api, statuses):
    team = TeamFactory()
    response = admin_api.post(
        "/api/v1/agents/",
        {"username": "nia", "password": "a-long-enough-pass", "email": "nia@example.com", "teams": [team.pk],
         "capabilities": ["chat", "phone"], "capacity": {"chat": 4}, "licence_type": "concurrent"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["capabilities"] == ["chat", "phone"] and body["capacity"]["chat"] == 4
    assert (body["teams"], body["licence_type"], body["delegate"]) == ([team.pk], "concurrent", None)
    assert "password" not in body
    profile = AgentProfile.objects.get(user__username="nia")
    assert body["id"] == profile.user_id
    assert AgentPresence.objects.get(agent=profile.user).status == statuses["offline"]
    assert (
        APIClient().post("/api/v1/auth/token/", {"username": "nia", "password": "a-long-enough-pass"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "ann"}, "username"),
        ({"password": "123"}, "password"),
        ({"capabilities": ["fax"]}, "capabilities"),
        ({"capacity": {"fax": 2}}, "capacity"),
        ({"capacity": {"chat": -1}}, "capacity"),
        ({"licence_type": "pirated"}, "licence_type"),
        ({"teams": [999999]}, "teams"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_provisioning_bad_input_is_400_and_creates_nothing(admin_api, agent, payload, field):
    body = {"username": "newbie", "password": "a-long-enough-pass", **payload}
    error = _error(admin_api.post("/api/v1/agents/", body, format="json"), 400)
    assert field in error["errors"] or field in error["message"]
    assert not UserFactory._meta.model.objects.filter(username="newbie").exists()


def test_only_admins_provision_and_edit(agent_api, supervisor_api, agent):
    body = {"username": "x1", "password": "a-long-enough-pass"}
    _error(agent_api.post("/api/v1/agents/", body, format="json"), 403)
    _error(supervisor_api.post("/api/v1/agents/", body, format="json"), 403)
    _error(supervisor_api.patch(f"/api/v1/agents/{agent.pk}/", {"licence_type": "concurrent"}, format="json"), 403)


def test_admin_edits_an_agent(admin_api, agent):
    team = TeamFactory()
    response = admin_api.patch(
        f"/api/v1/agents/{agent.pk}/",
        {"capabilities": ["email"], "capacity": {"email": 2}, "teams": [team.pk], "email": "ann@new.example"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["capabilities"], body["capacity"]["email"], body["teams"], body["email"]) == (
        ["email"],
        2,
        [team.pk],
        "ann@new.example",
    )
    assert body["username"] == "ann"
    _error(admin_api.patch(f"/api/v1/agents/{agent.pk}/", {"delegate": agent.pk}, format="json"), 400)


def test_agent_list_for_supervisors_with_filters(supervisor_api, agent_api, agent, other_agent, statuses):
    team = TeamFactory()
    other_agent.team_memberships.create(team=team)
    presence_change_status(agent, statuses["busy"], actor=agent, source="api")
    body = supervisor_api.get("/api/v1/agents/").json()
    assert body["count"] == 2 and body["results"][0]["presence"]["status"] == statuses["busy"].pk
    assert [
        a["username"] for a in supervisor_api.get(f"/api/v1/agents/?status={statuses['busy'].pk}").json()["results"]
    ] == ["ann"]
    assert [a["username"] for a in supervisor_api.get(f"/api/v1/agents/?team={team.pk}").json()["results"]] == ["bob"]
    since = AgentPresence.objects.get(agent=other_agent).since.isoformat()
    changed = supervisor_api.get("/api/v1/agents/", {"changed_since": since}).json()["results"]
    assert [a["username"] for a in changed] == ["ann"]
    _error(agent_api.get("/api/v1/agents/"), 403)
    _error(supervisor_api.get("/api/v1/agents/?changed_since=yesterday"), 400)


def test_agent_list_query_count_is_constant(supervisor_api, django_assert_max_num_queries):
    for _ in range(15):
        AgentFactory()
    with django_assert_max_num_queries(7):
        assert supervisor_api.get("/api/v1/agents/").json()["count"] == 15


def test_agent_detail_permissions(agent_api, supervisor_api, agent, other_agent):
    assert agent_api.get(f"/api/v1/agents/{agent.pk}/").json()["username"] == "ann"
    _error(agent_api.get(f"/api/v1/agents/{other_agent.pk}/"), 403)
    assert supervisor_api.get(f"/api/v1/agents/{other_agent.pk}/").status_code == 200
    _error(supervisor_api.get("/api/v1/agents/999999/"), 404)


# --- status log ---------------------------------------------------------------------------------------


def test_status_log_scope_filters_and_pagination(agent_api, supervisor_api, agent, other_agent, statuses):
    for status in ("available", "busy", "available"):
        presence_change_status(agent, statuses[status], actor=agent, source="api")
    presence_change_status(other_agent, statuses["busy"], actor=None, source="supervisor")

    mine = agent_api.get("/api/v1/status-log/").json()
    assert mine["count"] == 3 and {row["agent"] for row in mine["results"]} == {agent.pk}
    assert set(mine["results"][0]) >= {"id", "agent", "from_status", "to_status", "actor", "source", "reason", "at"}
    assert supervisor_api.get("/api/v1/status-log/").json()["count"] == 4
    assert supervisor_api.get(f"/api/v1/status-log/?agent={other_agent.pk}").json()["count"] == 1
    assert supervisor_api.get("/api/v1/status-log/?source=supervisor").json()["count"] == 1
    first_at = StatusChangeLog.objects.order_by("at").first().at
    assert supervisor_api.get("/api/v1/status-log/", {"since": first_at.isoformat()}).json()["count"] == 4
    assert supervisor_api.get("/api/v1/status-log/", {"until": first_at.isoformat()}).json()["count"] == 0
    _error(supervisor_api.get("/api/v1/status-log/?source=magic"), 400)
    assert "Invalid page" in _error(supervisor_api.get("/api/v1/status-log/?page=2"), 404)["message"]
    page_one = supervisor_api.get("/api/v1/status-log/").json()
    assert page_one["next"] is None and page_one["previous"] is None
