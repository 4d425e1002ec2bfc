"""The tickets API (A, T1): tickets, queues and notes with @mentions (T1), routing on create (T3),
assignment warnings (T5), taking from the queue (T8), team routing (T2), re-assign mappings (T4),
presence/me with availability (P7), live-chat availability (T6), capacity and delegate (P1)."""

import pytest
from rest_framework.test import APIClient

from presence.models import AgentProfile, TeamMembership
from tests.factories import TicketFactory, sync_routing
from tickets.models import ReassignMapping, RoutingMethod, TeamRouting, Ticket

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def setup(make_team, make_agent, statuses, supervisor, admin_user):
    support = make_team("Support", RoutingMethod.MANUAL)
    sales = make_team("Sales", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[sales])
    tickets = {
        "ann_own": TicketFactory(subject="ann's", team=support, assignee=ann),
        "support_queue": TicketFactory(subject="support queue", team=support),
        "sales_queue": TicketFactory(subject="sales queue", team=sales),
        "bob_own": TicketFactory(subject="bob's", team=sales, assignee=bob),
    }
    return {"support": support, "sales": sales, "ann": ann, "bob": bob, "tickets": tickets}


def _subjects(response) -> set[str]:
    return {row["subject"] for row in response.json()["results"]}


@pytest.mark.sqlite
def test_agents_see_their_tickets_and_their_teams_queue(setup, supervisor):
    assert _subjects(_client(setup["ann"]).get("/api/v1/tickets/")) == {"ann's", "support queue"}
    assert len(_subjects(_client(supervisor).get("/api/v1/tickets/"))) == 4
    assert _client(setup["ann"]).get(f"/api/v1/tickets/{setup['tickets']['bob_own'].pk}/").status_code == 404


def test_ticket_fields_and_filters(setup, supervisor):
    client = _client(supervisor)
    row = client.get(f"/api/v1/tickets/{setup['tickets']['ann_own'].pk}/").json()
    assert {"id", "subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned"} <= set(row)
    assert row["assignee"] == setup["ann"].pk and row["state"] == "open"
    assert _subjects(client.get("/api/v1/tickets/?unassigned=true")) == {"support queue", "sales queue"}
    assert _subjects(client.get(f"/api/v1/tickets/?team={setup['sales'].pk}&unassigned=false")) == {"bob's"}
    assert _subjects(client.get(f"/api/v1/tickets/?assignee={setup['ann'].pk}")) == {"ann's"}
    assert client.get("/api/v1/tickets/?state=closed").json()["count"] == 0


def test_ticket_list_query_count(setup, supervisor, django_assert_max_num_queries):
    for i in range(20):
        TicketFactory(subject=f"more {i}", team=setup["support"])
    with django_assert_max_num_queries(4):  # session user's groups, count, page
        response = _client(supervisor).get("/api/v1/tickets/")
    assert response.json()["count"] == 24


def test_create_routes_in_a_routing_team(make_team, make_agent, supervisor):
    team = make_team("RR", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    response = _client(supervisor).post(
        "/api/v1/tickets/",
        {"subject": "Help", "channel": "chat", "team": team.pk, "linked_to_chat": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["assignee"] == ann.pk


@pytest.mark.parametrize(
    "body, field",
    [
        ({"subject": ""}, "subject"),
        ({"subject": "x", "channel": "fax"}, "channel"),
        ({"subject": "x", "team": 999}, "team"),
    ],
)
def test_create_bad_input_is_400(setup, supervisor, body, field):
    response = _client(supervisor).post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"] and response.json()["message"].startswith(field)


def test_assign_returns_warnings_and_refusals(setup, supervisor, make_agent):
    client = _client(supervisor)
    ticket = setup["tickets"]["support_queue"]
    ooo = make_agent("ooo", status="out-of-office")
    response = client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": ooo.pk}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ticket"]["assignee"] == ooo.pk
    assert body["warnings"] == ["ooo is Out of office: they may not see what they are assigned to for a while."]

    offline = make_agent("off", status="offline")
    refused = client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": offline.pk}, format="json")
    assert refused.status_code == 400 and "offline" in refused.json()["message"]
    AgentProfile.objects.filter(user=setup["bob"]).update(can_email=False)
    refused = client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": setup["bob"].pk}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "assignment_refused"
    assert client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": 99999}, format="json").status_code == 400
    assert client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {}, format="json").status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).assignee == ooo

    back = client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": None}, format="json")
    assert back.status_code == 200 and back.json()["ticket"]["assignee"] is None


def test_agent_takes_a_ticket_from_their_team_queue_but_not_another_team(setup):
    client = _client(setup["ann"])
    queue, other = setup["tickets"]["support_queue"], setup["tickets"]["sales_queue"]
    assert (
        client.post(f"/api/v1/tickets/{queue.pk}/assign/", {"agent": setup["ann"].pk}, format="json").status_code == 200
    )
    assert (
        client.post(f"/api/v1/tickets/{other.pk}/assign/", {"agent": setup["ann"].pk}, format="json").status_code == 404
    )


def test_notes_with_mentions_and_warnings(setup, supervisor, make_agent):
    make_agent("ooo", status="out-of-office")
    ticket = setup["tickets"]["ann_own"]
    response = _client(setup["ann"]).post(f"/api/v1/tickets/{ticket.pk}/notes/", {"body": "cc @ooo"}, format="json")
    assert response.status_code == 201
    assert response.json()["note"]["mentions"] == ["ooo"]
    assert len(response.json()["warnings"]) == 1
    assert (
        _client(setup["ann"]).post(f"/api/v1/tickets/{ticket.pk}/notes/", {"body": " "}, format="json").status_code
        == 400
    )


def test_close_and_patch(setup):
    client = _client(setup["ann"])
    ticket = setup["tickets"]["ann_own"]
    patched = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"pinned": True, "subject": "renamed"}, format="json")
    assert patched.status_code == 200 and patched.json()["pinned"] is True
    closed = client.post(f"/api/v1/tickets/{ticket.pk}/close/")
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and closed.json()["closed_at"]
    assert (
        client.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": 5}, format="json").json()["assignee"]
        == setup["ann"].pk
    )  # assignee is read-only: use assign
    bad = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "lost"}, format="json")
    assert bad.status_code == 400


def test_changing_channel_to_one_the_assignee_cannot_handle_is_refused(setup):
    AgentProfile.objects.filter(user=setup["ann"]).update(can_phone=False)
    ticket = setup["tickets"]["ann_own"]
    response = _client(setup["ann"]).patch(f"/api/v1/tickets/{ticket.pk}/", {"channel": "phone"}, format="json")
    assert response.status_code == 400 and "reassign it first" in response.json()["message"]


# --- teams -------------------------------------------------------------------------------


def test_teams_read_by_anyone_written_by_admins(setup, admin_user):
    ann = _client(setup["ann"])
    rows = ann.get("/api/v1/teams/").json()
    support = next(row for row in rows if row["name"] == "Support")
    assert support == {
        "id": setup["support"].pk,
        "name": "Support",
        "routing_method": "manual",
        "members": [setup["ann"].pk],
    }
    assert ann.post("/api/v1/teams/", {"name": "X"}, format="json").status_code == 403

    admin = _client(admin_user)
    created = admin.post(
        "/api/v1/teams/", {"name": "VIP", "routing_method": "load_balance", "members": [setup["bob"].pk]}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["routing_method"] == "load_balance" and created.json()["members"] == [setup["bob"].pk]
    assert TeamRouting.objects.get(team_id=created.json()["id"]).method == "load_balance"
    patched = admin.patch(f"/api/v1/teams/{setup['support'].pk}/", {"routing_method": "round_robin"}, format="json")
    assert patched.json()["routing_method"] == "round_robin"
    assert admin.post("/api/v1/teams/", {"name": "VIP"}, format="json").status_code == 400  # unique
    assert (
        admin.patch(f"/api/v1/teams/{setup['support'].pk}/", {"routing_method": "random"}, format="json").status_code
        == 400
    )


def test_switching_a_team_to_routing_takes_its_queue(setup, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _client(admin_user).patch(
            f"/api/v1/teams/{setup['support'].pk}/", {"routing_method": "round_robin"}, format="json"
        )
    assert Ticket.objects.get(pk=setup["tickets"]["support_queue"].pk).assignee == setup["ann"]


# --- mappings ----------------------------------------------------------------------------


def test_reassign_mappings_crud_and_validation(statuses, admin_user, agent):
    admin = _client(admin_user)
    created = admin.post(
        "/api/v1/reassign-mappings/",
        {"from_status": None, "to_status": statuses["out-of-office"].pk, "action": "delegate"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": created.json()["id"],
        "from_status": None,
        "to_status": statuses["out-of-office"].pk,
        "action": "delegate",
    }
    dup = admin.post(
        "/api/v1/reassign-mappings/",
        {"from_status": None, "to_status": statuses["out-of-office"].pk, "action": "unassign"},
        format="json",
    )
    assert dup.status_code == 400
    same = admin.post(
        "/api/v1/reassign-mappings/",
        {"from_status": statuses["busy"].pk, "to_status": statuses["busy"].pk, "action": "unassign"},
        format="json",
    )
    assert same.status_code == 400 and "different" in same.json()["message"]
    bad = admin.post("/api/v1/reassign-mappings/", {"to_status": statuses["busy"].pk, "action": "shred"}, format="json")
    assert bad.status_code == 400
    mapping_id = created.json()["id"]
    assert (
        admin.patch(f"/api/v1/reassign-mappings/{mapping_id}/", {"action": "reroute"}, format="json").json()["action"]
        == "reroute"
    )
    assert _client(agent).delete(f"/api/v1/reassign-mappings/{mapping_id}/").status_code == 403
    # a status a mapping uses is protected (S3)
    blocked = admin.delete(f"/api/v1/statuses/{statuses['out-of-office'].pk}/")
    assert blocked.status_code == 409 and "re-assign mappings" in blocked.json()["message"]
    assert admin.delete(f"/api/v1/reassign-mappings/{mapping_id}/").status_code == 204
    assert not ReassignMapping.objects.exists()


# --- presence/me and live chat --------------------------------------------------------------


def test_presence_me_shows_availability_and_open_tickets(setup):
    body = _client(setup["ann"]).get("/api/v1/presence/me/").json()
    assert (body["availability"], body["open_tickets"]) == ("active", 1)


def test_live_chat_availability_endpoint(setup, make_agent, statuses):
    TeamMembership.objects.filter(agent=setup["bob"]).update(active=False)
    sync_routing(setup["bob"])
    body = _client(setup["ann"]).get("/api/v1/live-chat/availability/").json()
    assert body["online"] == 2
    assert {row["name"]: row["online"] for row in body["teams"]} == {"Support": 1, "Sales": 0}
    assert APIClient().get("/api/v1/live-chat/availability/").status_code in (401, 403)


def test_agents_api_capacity_and_delegate(setup, admin_user):
    admin = _client(admin_user)
    response = admin.patch(
        f"/api/v1/agents/{setup['ann'].pk}/", {"capacity": {"chat": 5}, "delegate": setup["bob"].pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["capacity"]["chat"] == 5 and response.json()["delegate"] == setup["bob"].pk
