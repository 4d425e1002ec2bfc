"""My queues (P10) and notices (P11): the API, the agent panel without JavaScript, and the schema."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from presence.models import Notice, Source, Status, StatusRequest, TeamMembership
from presence.services import presence_change_status, presence_notice_dismiss, presence_request_status
from scheduling.models import Appointment, Shift, ShiftType
from scheduling.services import appointment_apply_due, shift_apply_due
from tests.factories import TicketFactory, sync_routing
from tickets.models import RoutingMethod
from tickets.services import team_queue_route

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(make_team):
    # Created out of name order: the lists come back by name.
    return {"sales": make_team("Sales"), "billing": make_team("Billing")}


@pytest.fixture
def ann(make_agent, teams):
    return make_agent("ann", teams=[teams["sales"], teams["billing"]])


@pytest.fixture
def ann_api(ann):
    client = APIClient()
    client.force_authenticate(ann)
    return client


@pytest.fixture
def ann_page(client, ann):
    client.force_login(ann)
    return client


def _queues(teams, **active):
    return [
        {"team": teams[key].pk, "name": teams[key].name, "active": active.get(key, True)}
        for key in ("billing", "sales")
    ]


def _join(client, team, action="join"):
    return client.post(f"/api/v1/presence/me/queues/{team.pk}/{action}/")


# --- my queues (P10) -----------------------------------------------------------------------------


def test_me_and_the_panel_state_list_my_queues_by_team_name(ann_api, ann_page, ann, teams):
    TeamMembership.objects.filter(agent=ann, team=teams["sales"]).update(active=False)
    sync_routing(ann)
    assert ann_api.get("/api/v1/presence/me/").json()["queues"] == _queues(teams, sales=False)
    assert ann_page.get(reverse("presence:status-state")).json()["queues"] == _queues(teams, sales=False)


@pytest.mark.sqlite
def test_leave_and_join_a_queue_through_the_api(ann_api, ann, teams):
    left = _join(ann_api, teams["sales"], "leave")
    assert left.status_code == 200 and left.json() == {"queues": _queues(teams, sales=False)}
    assert not TeamMembership.objects.get(agent=ann, team=teams["sales"]).active
    # Idempotent: leaving again, or joining twice, changes nothing and still answers 200.
    assert _join(ann_api, teams["sales"], "leave").json() == {"queues": _queues(teams, sales=False)}
    assert _join(ann_api, teams["sales"]).json() == {"queues": _queues(teams)}
    assert _join(ann_api, teams["sales"]).json() == {"queues": _queues(teams)}
    assert TeamMembership.objects.get(agent=ann, team=teams["sales"]).active


def test_queues_of_teams_i_am_not_in_are_404_with_a_message(ann_api, make_team, supervisor_api, teams):
    other = make_team("Other")
    for response in (_join(ann_api, other), _join(ann_api, other, "leave")):
        assert response.status_code == 404
        assert response.json() == {
            "message": "ann is not a member of that team.",
            "code": "not_a_team_member",
        }
    assert ann_api.post("/api/v1/presence/me/queues/999999/join/").status_code == 404
    assert not TeamMembership.objects.filter(team=other).exists()
    # Someone who is no agent has no queues.
    assert _join(supervisor_api, teams["sales"]).status_code == 404


def test_joining_routes_the_joined_queue_after_commit(ann_api, ann, teams, django_capture_on_commit_callbacks):
    TeamMembership.objects.filter(agent=ann, team=teams["sales"]).update(active=False)
    sync_routing(ann)
    waiting = TicketFactory(subject="waiting", team=teams["sales"])
    # when: ann joins, and the join's transaction has not committed yet
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert _join(ann_api, teams["sales"]).status_code == 200
    waiting.refresh_from_db()
    assert waiting.assignee is None and len(callbacks) == 1
    # then: after the commit the team's waiting queue is routed, to ann
    callbacks[0]()
    waiting.refresh_from_db()
    assert waiting.assignee == ann


def test_joining_routes_only_teams_that_route(ann_api, ann, teams, django_capture_on_commit_callbacks):
    teams["billing"].routing.method = RoutingMethod.MANUAL
    teams["billing"].routing.save()
    TeamMembership.objects.filter(agent=ann).update(active=False)
    sync_routing(ann)
    manual = TicketFactory(subject="manual", team=teams["billing"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _join(ann_api, teams["billing"])
        _join(ann_api, teams["billing"])  # already in: nothing sent
        _join(ann_api, teams["sales"], "leave")  # leaving routes nothing
    assert callbacks == []
    manual.refresh_from_db()
    assert manual.assignee is None


def test_leaving_a_queue_stops_its_work_reaching_me(ann_api, teams):
    _join(ann_api, teams["sales"], "leave")
    ticket = TicketFactory(subject="for sales", team=teams["sales"])
    team_queue_route(teams["sales"].pk)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_panel_shows_queues_left_by_a_queue_group_status_with_a_join_button(
    ann_page, ann, teams, statuses, django_capture_on_commit_callbacks
):
    # given: a queue-group status that keeps only Billing active
    statuses["busy"].teams.set([teams["billing"]])
    presence_change_status(ann, statuses["busy"], actor=ann, source=Source.DROPDOWN)
    page = ann_page.get("/").content.decode()
    section = page[page.index('id="my-queues"') :]
    sales_row = section[section.index(f'data-team="{teams["sales"].pk}"') :].split("</tr>")[0]
    billing_row = section[section.index(f'data-team="{teams["billing"].pk}"') :].split("</tr>")[0]
    assert "left" in sales_row and ">Join</button>" in sales_row
    assert reverse("presence:queue-join", args=[teams["sales"].pk]) in sales_row
    assert "in the queue" in billing_row and ">Leave</button>" in billing_row
    # when: ann joins Sales again with a plain form post (no JavaScript)
    with django_capture_on_commit_callbacks(execute=True):
        response = ann_page.post(reverse("presence:queue-join", args=[teams["sales"].pk]), {"next": "/"}, follow=True)
    # then: back on the panel with a message, Sales in the queue again
    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert "You take work from Sales again." in html
    sales_row = html[html.index(f'data-team="{teams["sales"].pk}"') :].split("</tr>")[0]
    assert ">Leave</button>" in sales_row
    assert TeamMembership.objects.get(agent=ann, team=teams["sales"]).active


def test_panel_queue_posts_answer_json_for_the_script(ann_page, ann, teams, make_team):
    headers = {"Accept": "application/json"}
    left = ann_page.post(reverse("presence:queue-leave", args=[teams["billing"].pk]), headers=headers)
    assert left.status_code == 200
    assert left.json()["queues"] == _queues(teams, billing=False) and "left Billing" in left.json()["message"]
    other = make_team("Other")
    refused = ann_page.post(reverse("presence:queue-join", args=[other.pk]), headers=headers)
    assert refused.status_code == 404 and refused.json()["message"] == "ann is not a member of that team."
    without_js = ann_page.post(reverse("presence:queue-join", args=[other.pk]), follow=True)
    assert "ann is not a member of that team." in without_js.content.decode()


# --- notices (P11) -------------------------------------------------------------------------------


@pytest.fixture
def training(statuses) -> Status:
    statuses["training"].requires_approval = True
    statuses["training"].save()
    return statuses["training"]


def _notices(client) -> list[dict]:
    return client.get("/api/v1/presence/me/").json()["notices"]


def test_approval_and_rejection_through_the_api_notify_with_the_reason(ann_api, ann, supervisor_api, training):
    first = presence_request_status(ann, training, actor=ann, source=Source.API).request
    approved = supervisor_api.post(
        f"/api/v1/status-requests/{first.pk}/approve/", {"reason": "enjoy the course"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    presence_change_status(ann, Status.objects.get(slug="available"), actor=ann, source=Source.API)
    second = presence_request_status(ann, training, actor=ann, source=Source.API).request
    assert supervisor_api.post(f"/api/v1/status-requests/{second.pk}/reject/").status_code == 200  # no reason
    notices = _notices(ann_api)
    assert [(n["kind"], n["text"]) for n in notices] == [
        ("request_rejected", "sam rejected your request for Training."),
        ("request_approved", "sam approved your request for Training: enjoy the course."),
    ]
    assert set(notices[0]) == {"id", "kind", "text", "created_at"}


def test_a_reason_longer_than_255_is_refused(ann, supervisor_api, training):
    request = presence_request_status(ann, training, actor=ann, source=Source.API).request
    response = supervisor_api.post(
        f"/api/v1/status-requests/{request.pk}/reject/", {"reason": "x" * 256}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert StatusRequest.objects.get(pk=request.pk).state == "pending" and not Notice.objects.exists()


def test_deciding_from_the_board_and_the_card_passes_the_reason(client, supervisor, ann, ann_api, training):
    client.force_login(supervisor)
    request = presence_request_status(ann, training, actor=ann, source=Source.DROPDOWN).request
    board = client.get(reverse("presence:board")).content.decode()
    assert 'name="reason"' in board and reverse("presence:request-decide", args=[request.pk, "reject"]) in board
    card = client.get(reverse("presence:agent-card", args=[ann.pk])).content.decode()
    assert 'name="reason"' in card
    client.post(reverse("presence:request-decide", args=[request.pk, "reject"]), {"reason": "we are short today"})
    assert [n["text"] for n in _notices(ann_api)] == ["sam rejected your request for Training: we are short today."]
    too_long = presence_request_status(ann, training, actor=ann, source=Source.DROPDOWN).request
    refused = client.post(
        reverse("presence:request-decide", args=[too_long.pk, "approve"]), {"reason": "x" * 256}, follow=True
    )
    assert "Reason: Ensure this value has at most 255 characters" in refused.content.decode()
    assert StatusRequest.objects.get(pk=too_long.pk).state == "pending"


def test_a_supervisors_change_notifies_the_agent(ann, ann_api, supervisor_api, statuses):
    supervisor_api.post(f"/api/v1/agents/{ann.pk}/status/", {"status": statuses["meeting"].pk, "reason": "1:1"})
    assert [(n["kind"], n["text"]) for n in _notices(ann_api)] == [
        ("changed_by_supervisor", "sam changed your status from Available to Meeting: 1:1.")
    ]


def test_a_shift_change_notifies_the_agent(ann, ann_api, statuses):
    early = ShiftType.objects.create(name="Early", default_status=statuses["busy"])
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    Shift.objects.create(agent=ann, shift_type=early, start=start, end=start + timedelta(hours=8))
    with time_machine.travel(start, tick=False):
        assert shift_apply_due() == 1
    assert [(n["kind"], n["text"]) for n in _notices(ann_api)] == [
        ("changed_by_schedule", "Your shift changed your status to Busy: Early shift starts.")
    ]


def test_an_appointment_notifies_the_agent_at_its_start_and_its_end(ann, ann_api, statuses):
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    Appointment.objects.create(agent=ann, subject="Dentist", start=start, end=start + timedelta(hours=1),
                               agent_status=statuses["meeting"])  # fmt: skip
    with time_machine.travel(start, tick=False):
        assert appointment_apply_due() == 1
    assert [(n["kind"], n["text"]) for n in _notices(ann_api)] == [
        ("changed_by_schedule", "Your appointment changed your status to Meeting: Dentist.")
    ]
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert appointment_apply_due() == 1
    assert [n["text"] for n in _notices(ann_api)] == [
        "Your appointment changed your status to Available: Dentist ended.",
        "Your appointment changed your status to Meeting: Dentist.",
    ]


def test_my_own_change_makes_no_notice(ann, ann_api, statuses):
    presence_change_status(ann, statuses["busy"], actor=ann, source=Source.DROPDOWN)
    assert _notices(ann_api) == []


def test_notices_are_the_newest_twenty_undismissed(ann, ann_api, ann_page):
    now = timezone.now()
    Notice.objects.bulk_create(
        [
            Notice(agent=ann, kind="changed_by_schedule", text=f"n{i}", created_at=now - timedelta(minutes=i))
            for i in range(25)
        ]
    )
    presence_notice_dismiss(ann, Notice.objects.get(text="n0").pk)
    expected = [f"n{i}" for i in range(1, 21)]
    assert [n["text"] for n in _notices(ann_api)] == expected
    assert [n["text"] for n in ann_page.get(reverse("presence:status-state")).json()["notices"]] == expected


@pytest.mark.sqlite
def test_dismiss_through_the_api(ann, ann_api, make_agent):
    mine = Notice.objects.create(agent=ann, kind="changed_by_supervisor", text="mine")
    bobs = Notice.objects.create(agent=make_agent("bob"), kind="changed_by_supervisor", text="bob's")
    assert ann_api.post(f"/api/v1/presence/me/notices/{bobs.pk}/dismiss/").status_code == 404
    assert ann_api.post("/api/v1/presence/me/notices/999999/dismiss/").json()["code"] == "not_found"
    response = ann_api.post(f"/api/v1/presence/me/notices/{mine.pk}/dismiss/")
    assert response.status_code == 204
    assert _notices(ann_api) == []
    assert ann_api.post(f"/api/v1/presence/me/notices/{mine.pk}/dismiss/").status_code == 204  # again: no change
    bobs.refresh_from_db()
    assert bobs.dismissed_at is None


def test_the_panel_shows_notices_as_banners_dismissed_without_javascript(ann, ann_page, supervisor, statuses):
    presence_change_status(ann, statuses["meeting"], actor=supervisor, source=Source.SUPERVISOR, reason="1:1")
    notice = Notice.objects.get(agent=ann)
    page = ann_page.get("/").content.decode()
    banner = page[page.index(f'data-notice="{notice.pk}"') :].split("</div>")[0]
    assert "sam changed your status from Available to Meeting: 1:1." in banner
    assert f'action="{reverse("presence:notice-dismiss", args=[notice.pk])}"' in banner and "Dismiss" in banner
    response = ann_page.post(reverse("presence:notice-dismiss", args=[notice.pk]), {"next": "/"}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert f'data-notice="{notice.pk}"' not in response.content.decode()
    notice.refresh_from_db()
    assert notice.dismissed_at is not None
    # Someone else's notice: refused, as JSON for the script and as a message without it.
    other = Notice.objects.create(agent=supervisor, kind="changed_by_supervisor", text="not ann's")
    url = reverse("presence:notice-dismiss", args=[other.pk])
    assert ann_page.post(url, headers={"Accept": "application/json"}).status_code == 404
    assert "No such notice." in ann_page.post(url, follow=True).content.decode()


# --- schema ---------------------------------------------------------------------------------------


def test_schema_documents_queues_notices_and_the_decision_reason(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    me = components["PresenceMe"]["properties"]
    assert me["queues"]["items"] == {"$ref": "#/components/schemas/Queue"}
    assert me["notices"]["items"] == {"$ref": "#/components/schemas/Notice"}
    assert {"queues", "notices"} <= set(components["PresenceMe"]["required"])
    assert components["Queue"]["properties"].keys() == {"team", "name", "active"}
    assert components["Notice"]["properties"].keys() == {"id", "kind", "text", "created_at"}
    paths = schema["paths"]
    join = paths["/api/v1/presence/me/queues/{team}/join/"]["post"]
    assert join["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Queues"}
    assert "204" in paths["/api/v1/presence/me/notices/{id}/dismiss/"]["post"]["responses"]
    for decision in ("approve", "reject"):
        body = paths[f"/api/v1/status-requests/{{id}}/{decision}/"]["post"]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert components[ref]["properties"]["reason"]["maxLength"] == 255


def test_the_panel_queue_shows_only_queues_i_take_work_from(client, make_team, make_agent):

    support, sales = make_team("Support", "manual"), make_team("Sales", "manual")
    ann = make_agent("ann", teams=[support, sales])
    TicketFactory(subject="support one", team=support)
    TicketFactory(subject="sales one", team=sales)
    client.force_login(ann)
    client.post(f"/queues/{sales.pk}/leave/")
    page = client.get("/").content.decode()
    queue = page.split('id="team-queue"')[1].split("</table>")[0]
    assert "support one" in queue and "sales one" not in queue
