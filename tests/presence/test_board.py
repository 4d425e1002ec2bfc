"""Supervisor board, agent card, approvals (U3, P6) and their API."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from presence.models import AgentPresence, AgentProfile, Source, Status, StatusChangeLog, StatusRequest
from presence.selectors import BOARD_PAGE_SIZE
from presence.services import presence_request_status
from tests.factories import TicketFactory, recount_load
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def sup_client(client, supervisor):
    client.force_login(supervisor)
    return client


def _many_agents(n, status):
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bulk{i:04d}") for i in range(n)])
    AgentProfile.objects.bulk_create([AgentProfile(user=u) for u in users])
    AgentPresence.objects.bulk_create([AgentPresence(agent=u, status=status) for u in users])
    Ticket.objects.bulk_create([Ticket(subject="t", assignee=u, pinned=i % 2 == 0) for i, u in enumerate(users[:50])])
    recount_load()


@pytest.fixture
def training_needs_approval(statuses):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    return statuses["training"]


@pytest.mark.parametrize("n", [10, 1000])
def test_board_is_a_constant_number_of_queries(sup_client, statuses, n, django_assert_max_num_queries):
    _many_agents(n, statuses["available"])
    # session, user, groups; header check; agents counted, one page of them, memberships, open
    # work, pending requests on the page and in all; counts (2), their statuses and teams; the
    # last-activity write; the page's adherence (C8, +2: their shifts, and the log rows of the
    # shifts that allow breaks; tests/scheduling/test_adherence.py pins it with shifts); the
    # coverage alarms (C7, +1).
    with django_assert_max_num_queries(18):
        page = sup_client.get(reverse("presence:board"))
    shown = min(n, BOARD_PAGE_SIZE)
    assert page.status_code == 200 and page.content.decode().count("data-agent=") == shown
    with django_assert_max_num_queries(18):
        assert sup_client.get(reverse("presence:board-rows")).status_code == 200


def test_the_board_pages_through_every_agent(sup_client, statuses):
    _many_agents(BOARD_PAGE_SIZE + 5, statuses["available"])
    first = sup_client.get(reverse("presence:board")).content.decode()
    assert first.count("data-agent=") == BOARD_PAGE_SIZE
    assert f"Page 1 of 2 ({BOARD_PAGE_SIZE + 5} agents)" in first
    second = sup_client.get(reverse("presence:board"), {"page": 2}).content.decode()
    assert second.count("data-agent=") == 5 and "Page 2 of 2" in second
    # A page past the end shows the last page; the counts still cover every agent.
    past = sup_client.get(reverse("presence:board"), {"page": 99}).content.decode()
    assert past.count("data-agent=") == 5
    rows = sup_client.get(reverse("presence:board-rows"), {"page": 2}).content.decode()
    assert rows.count("data-agent=") == 5


def test_board_rows_counts_filters_and_bell(sup_client, make_agent, statuses, training_needs_approval):
    ann = make_agent("ann")
    make_agent("bob", status="lunch")
    TicketFactory(subject="a", assignee=ann, pinned=True)
    TicketFactory(subject="b", assignee=ann)
    presence_request_status(ann, training_needs_approval, actor=ann, source=Source.DROPDOWN)
    html = sup_client.get(reverse("presence:board")).content.decode()
    row = html[html.index(f'data-agent="{ann.pk}"') :].split("</tr>")[0]
    assert "<td>2</td>" in row and "<td>1</td>" in row and "active" in row and "🔔" in row and "Approve" in row
    assert 'id="bell"' in html and "🔔 1" in html
    only_away = sup_client.get(reverse("presence:board-rows"), {"availability": "away"}).content.decode()
    assert "bob" in only_away and ">ann<" not in only_away
    only_lunch = sup_client.get(reverse("presence:board-rows"), {"status": statuses["lunch"].pk}).content.decode()
    assert "bob" in only_lunch and ">ann<" not in only_lunch


def test_board_is_for_supervisors(client, agent):
    client.force_login(agent)
    assert client.get(reverse("presence:board")).status_code == 302
    assert client.get(reverse("presence:board-rows")).status_code == 302


def test_agent_card_changes_status_but_not_for_offline_agents(sup_client, supervisor, make_agent, statuses):
    ann = make_agent("ann")
    url = reverse("presence:agent-card", args=[ann.pk])
    assert sup_client.get(url).status_code == 200
    response = sup_client.post(url, {"status": statuses["meeting"].pk, "reason": "1:1"}, follow=True)
    assert "ann is now Meeting." in response.content.decode()
    row = StatusChangeLog.objects.get(agent=ann)
    assert (row.source, row.actor, row.reason) == ("supervisor", supervisor, "1:1")
    off = make_agent("off", status="offline")
    page = sup_client.get(reverse("presence:agent-card", args=[off.pk])).content.decode()
    assert "is offline" in page and 'id="card-select"' not in page
    refused = sup_client.post(
        reverse("presence:agent-card", args=[off.pk]), {"status": statuses["busy"].pk}, follow=True
    )
    assert "is offline" in refused.content.decode()
    assert AgentPresence.objects.get(agent=off).status == statuses["offline"]


def test_approve_and_reject_from_the_board(sup_client, supervisor, make_agent, statuses, training_needs_approval):
    ann, bob = make_agent("ann"), make_agent("bob")
    first = presence_request_status(ann, training_needs_approval, actor=ann, source=Source.DROPDOWN).request
    second = presence_request_status(bob, training_needs_approval, actor=bob, source=Source.DROPDOWN).request
    sup_client.post(reverse("presence:request-decide", args=[first.pk, "approve"]))
    sup_client.post(reverse("presence:request-decide", args=[second.pk, "reject"]))
    assert AgentPresence.objects.get(agent=ann).status == training_needs_approval
    assert AgentPresence.objects.get(agent=bob).status == statuses["available"]
    first.refresh_from_db()
    assert (first.state, first.decided_by) == ("approved", supervisor)
    assert StatusChangeLog.objects.get(agent=ann).source == "approval"
    again = sup_client.post(reverse("presence:request-decide", args=[first.pk, "reject"]), follow=True)
    assert "already approved" in again.content.decode()


# --- API ----------------------------------------------------------------------------------------


def test_api_agent_status_change(supervisor_api, agent_api, make_agent, statuses):
    amy = make_agent("amy")
    response = supervisor_api.post(f"/api/v1/agents/{amy.pk}/status/", {"status": statuses["busy"].pk}, format="json")
    assert response.status_code == 200 and response.json()["status"] == statuses["busy"].pk
    off = make_agent("off", status="offline")
    refused = supervisor_api.post(f"/api/v1/agents/{off.pk}/status/", {"status": statuses["busy"].pk}, format="json")
    assert refused.status_code == 409 and "offline" in refused.json()["message"]
    assert (
        agent_api.post(f"/api/v1/agents/{amy.pk}/status/", {"status": statuses["busy"].pk}, format="json").status_code
        == 403
    )
    assert supervisor_api.post(f"/api/v1/agents/{amy.pk}/status/", {"status": 999}, format="json").status_code == 400


def test_api_status_requests(supervisor_api, make_agent, statuses, training_needs_approval):
    from rest_framework.test import APIClient

    ann = make_agent("ann")
    ann_api = APIClient()
    ann_api.force_authenticate(ann)
    created = ann_api.post("/api/v1/presence/me/status/", {"status": training_needs_approval.pk}, format="json")
    assert created.status_code == 202
    request_id = created.json()["id"]
    assert [r["id"] for r in supervisor_api.get("/api/v1/status-requests/?state=pending").json()["results"]] == [
        request_id
    ]
    assert ann_api.get("/api/v1/status-requests/").json()["count"] == 1
    assert ann_api.post(f"/api/v1/status-requests/{request_id}/approve/").status_code == 403
    approved = supervisor_api.post(f"/api/v1/status-requests/{request_id}/approve/")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert AgentPresence.objects.get(agent=ann).status == training_needs_approval
    assert supervisor_api.post(f"/api/v1/status-requests/{request_id}/reject/").status_code == 409
    assert supervisor_api.get("/api/v1/status-requests/?state=weird").status_code == 400
    assert StatusRequest.objects.get().decided_at is not None


def test_api_agents_availability_filter(supervisor_api, make_agent, statuses):
    ann = make_agent("ann")
    make_agent("bob", status="lunch")
    TicketFactory(subject="x", assignee=ann)

    def names(availability):
        rows = supervisor_api.get("/api/v1/agents/", {"availability": availability}).json()["results"]
        return [a["username"] for a in rows]

    assert names("active") == ["ann"] and names("away") == ["bob"] and names("free") == []
    assert supervisor_api.get("/api/v1/agents/", {"availability": "sleepy"}).status_code == 400


# --- dropdown script path and finishing ------------------------------------------------------------


def test_dropdown_answers_json_for_the_script(client, agent, statuses):
    client.force_login(agent)
    response = client.post(
        reverse("presence:status-change"), {"status": statuses["busy"].pk}, HTTP_ACCEPT="application/json"
    )
    body = response.json()
    assert response.status_code == 200 and body["presence"]["name"] == "Busy" and body["presence"]["color"]
    refused = client.post(
        reverse("presence:status-change"), {"status": statuses[Status.KICKED_OUT].pk}, HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 400 and "system" in refused.json()["message"]
    state = client.get(reverse("presence:status-state")).json()
    assert state["name"] == "Busy" and "idle_logout_at" in state


def test_panel_lists_my_tickets_pinned_first_and_the_queue(client, make_team, make_agent, statuses):
    from tickets.models import RoutingMethod

    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    TicketFactory(subject="older", team=team, assignee=ann)
    TicketFactory(subject="pinned one", team=team, assignee=ann, pinned=True)
    TicketFactory(subject="waiting", team=team)
    client.force_login(ann)
    html = client.get("/").content.decode()
    assert html.index("pinned one") < html.index("older")
    assert "waiting" in html[html.index('id="team-queue"') :]


def test_finishing_banner_and_cancel(client, make_team, make_agent, statuses):
    from tickets.models import RoutingMethod

    statuses["lunch"].drain = True
    statuses["lunch"].save()
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    client.force_login(ann)
    TicketFactory(subject="open", team=team, assignee=ann)
    client.post(reverse("presence:status-change"), {"status": statuses["lunch"].pk})
    html = client.get("/").content.decode()
    assert (
        'id="finishing-banner" class="banner" >' in html.replace("  ", " ")
        or "finishing your open tickets before" in html
    )
    assert AgentPresence.objects.get(agent=ann).pending_status == statuses["lunch"]
    client.post(reverse("presence:finishing-cancel"))
    assert AgentPresence.objects.get(agent=ann).pending_status is None
    banner = client.get("/").content.decode().split('id="finishing-banner"')[1].split(">")[0]
    assert "hidden" in banner


def test_still_working_answer_from_the_panel_without_javascript(client, agent, statuses):
    from presence.models import StillWorkingPrompt
    from presence.services import presence_ask_still_working

    client.force_login(agent)
    presence_ask_still_working(agent)
    page = client.get("/").content.decode()
    assert "hidden" not in page.split('id="still-working-banner"')[1].split(">")[0]
    response = client.post(reverse("presence:still-working"), follow=True)
    assert "you stay signed in" in response.content.decode()
    assert StillWorkingPrompt.objects.get(agent=agent).state == "answered"
