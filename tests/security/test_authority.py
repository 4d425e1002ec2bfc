"""Item 8 (O4, P6, C2, T8): who may decide, book and hand over what. A supervisor who is also an agent does not
approve their own requests; an agent's own appointment does not skip approval; no schedule sets
a system or disabled status; agents hand tickets only to teammates who can take them, without
learning anything about anybody else's presence."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from presence.errors import ApplicationError
from presence.models import AgentPresence, Source, StatusRequest
from presence.services import presence_request_status, status_request_approve, status_request_reject
from scheduling.models import Appointment, ShiftType
from scheduling.services import appointment_apply_due
from tests.factories import TicketFactory, sync_routing
from tickets.models import Ticket
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _status_slug(agent) -> str:
    return AgentPresence.objects.select_related("status").get(agent=agent).status.slug


@pytest.fixture
def training(statuses):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    return statuses["training"]


# --- nobody approves their own request -----------------------------------------------------------------


@pytest.fixture
def lead(make_agent, training):
    """An agent who is also a supervisor, with a pending request of their own."""
    lead = make_agent("lead")
    lead.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    lead.is_staff = True
    lead.save()
    request = presence_request_status(lead, training, actor=lead, source=Source.API).request
    return lead, request


@pytest.mark.sqlite
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_supervisor_cannot_decide_their_own_request(lead, decision, supervisor, client):
    lead, request = lead
    decide = {"approve": status_request_approve, "reject": status_request_reject}[decision]
    # the service, which every path goes through
    with pytest.raises(ApplicationError) as refused:
        decide(request, actor=lead)
    assert refused.value.http_status == 403 and "own request" in refused.value.message
    # the API
    response = _api(lead).post(f"/api/v1/status-requests/{request.pk}/{decision}/", {}, format="json")
    assert response.status_code == 403 and "own request" in response.json()["message"]
    # the board
    client.force_login(lead)
    page = client.post(reverse("presence:request-decide", args=[request.pk, decision]), follow=True)
    assert "own request" in page.content.decode()
    # the admin's actions
    response = client.post(
        reverse("admin:presence_statusrequest_changelist"),
        {"action": decision, "_selected_action": [request.pk]},
        follow=True,
    )
    assert "own request" in response.content.decode()
    request.refresh_from_db()
    assert request.state == StatusRequest.State.PENDING and _status_slug(lead) == "available"
    # another supervisor decides it
    decide(request, actor=supervisor)
    request.refresh_from_db()
    assert request.state == decision + ("d" if decision == "approve" else "ed")


# --- an agent's own appointment asks for approval ----------------------------------------------------------


T0 = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)


def _booking(agent, status, start_min=0, end_min=60) -> dict:
    return {"agent": agent.pk, "subject": "Course", "agent_status": status.pk,
            "start": (T0 + timedelta(minutes=start_min)).isoformat(),
            "end": (T0 + timedelta(minutes=end_min)).isoformat()}  # fmt: skip


@pytest.mark.sqlite
def test_an_agents_own_appointment_in_a_status_that_needs_approval_files_a_request(make_agent, training):
    ann = make_agent("ann")
    created = _api(ann).post("/api/v1/appointments/", _booking(ann, training), format="json")
    assert created.status_code == 201, created.json()
    assert Appointment.objects.get().booked_by == ann

    with time_machine.travel(T0, tick=False):
        appointment_apply_due()
    assert _status_slug(ann) == "available"  # not applied: it waits for a supervisor
    request = StatusRequest.objects.get(agent=ann)
    assert (request.status, request.state, request.reason) == (training, StatusRequest.State.PENDING, "Course")

    with time_machine.travel(T0 + timedelta(minutes=60), tick=False):
        appointment_apply_due()
    assert _status_slug(ann) == "available"  # and the end gives nothing back


@pytest.mark.sqlite
def test_a_supervisors_booking_applies_at_once(make_agent, supervisor, training):
    ann = make_agent("ann")
    assert _api(supervisor).post("/api/v1/appointments/", _booking(ann, training), format="json").status_code == 201
    with time_machine.travel(T0, tick=False):
        appointment_apply_due()
    assert _status_slug(ann) == "training" and not StatusRequest.objects.exists()
    with time_machine.travel(T0 + timedelta(minutes=60), tick=False):
        appointment_apply_due()
    assert _status_slug(ann) == "available"


def test_an_agent_editing_a_supervisors_booking_books_it_themselves(make_agent, supervisor, statuses, training):
    ann = make_agent("ann")
    created = _api(supervisor).post("/api/v1/appointments/", _booking(ann, statuses["meeting"]), format="json")
    changed = _api(ann).patch(f"/api/v1/appointments/{created.json()['id']}/", {"agent_status": training.pk},
                              format="json")  # fmt: skip
    assert changed.status_code == 200
    with time_machine.travel(T0, tick=False):
        appointment_apply_due()
    assert _status_slug(ann) == "available" and StatusRequest.objects.get(agent=ann).status == training


# --- no schedule sets a system or disabled status ---------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("slug", ["offline", "kicked-out", "on-a-call", "disabled"])
def test_no_appointment_or_shift_type_with_a_system_or_disabled_status(admin_api, make_agent, statuses, slug):
    if slug == "disabled":
        statuses["meeting"].enabled = False
        statuses["meeting"].save()
    status = statuses["meeting" if slug == "disabled" else slug]
    ann = make_agent("ann")
    refused = admin_api.post("/api/v1/appointments/", _booking(ann, status), format="json")
    assert refused.status_code == 400 and "agent_status" in refused.json()["errors"], refused.json()
    ok = admin_api.post("/api/v1/appointments/", _booking(ann, statuses["busy"]), format="json")
    assert ok.status_code == 201
    patch = admin_api.patch(f"/api/v1/appointments/{ok.json()['id']}/", {"agent_status": status.pk}, format="json")
    assert patch.status_code == 400 and "agent_status" in patch.json()["errors"]
    for field in ("default_status", "end_status"):
        body = {"name": f"Shift {field}", "default_status": statuses["available"].pk, field: status.pk}
        refused = admin_api.post("/api/v1/shift-types/", body, format="json")
        assert refused.status_code == 400 and field in refused.json()["errors"], refused.json()
    assert Appointment.objects.get().agent_status == statuses["busy"] and not ShiftType.objects.exists()


def test_admin_forms_refuse_a_system_status_on_a_schedule(client, admin_user, make_agent, statuses):
    client.force_login(admin_user)
    ann = make_agent("ann")
    appointment = {"agent": ann.pk, "subject": "x", "agent_status": statuses["offline"].pk, "start_0": "2030-01-07",
                   "start_1": "10:00:00", "end_0": "2030-01-07", "end_1": "11:00:00"}  # fmt: skip
    page = client.post(reverse("admin:scheduling_appointment_add"), appointment)
    assert page.status_code == 200 and "system status" in page.content.decode()
    shift_type = {"name": "Late", "default_status": statuses["available"].pk, "end_status": statuses["offline"].pk}
    page = client.post(reverse("admin:scheduling_shifttype_add"), shift_type)
    assert page.status_code == 200 and "system status" in page.content.decode()
    assert not Appointment.objects.exists() and not ShiftType.objects.exists()


# --- agents hand tickets only to teammates who can take them ---------------------------------------------


@pytest.fixture
def desk(make_team, make_agent):
    support, sales = make_team("Support"), make_team("Sales")
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support], capacity_email=1)
    carl = make_agent("carl", teams=[sales], status="out-of-office")
    ticket = TicketFactory(subject="mine", team=support, assignee=ann)
    return {"support": support, "sales": sales, "ann": ann, "bob": bob, "carl": carl, "ticket": ticket}


OUTSIDER = "You can hand tickets only to a teammate on the ticket's team who can receive work and has room for it."


@pytest.mark.sqlite
@pytest.mark.parametrize("carl_status", ["out-of-office", "offline", "available"])
def test_an_agent_cannot_push_a_ticket_outside_the_team_nor_learn_the_outsiders_presence(desk, carl_status, statuses):
    AgentPresence.objects.filter(agent=desk["carl"]).update(status=statuses[carl_status])
    sync_routing(desk["carl"])
    refused = _api(desk["ann"]).post(f"/api/v1/tickets/{desk['ticket'].pk}/assign/", {"agent": desk["carl"].pk},
                                     format="json")  # fmt: skip
    assert refused.status_code == 400
    assert refused.json() == {"message": OUTSIDER, "code": "assignment_refused"}
    assert Ticket.objects.get(pk=desk["ticket"].pk).assignee == desk["ann"]


@pytest.mark.sqlite
def test_an_agent_hands_over_only_to_a_teammate_with_room(desk, make_agent):
    ann, bob, ticket = desk["ann"], desk["bob"], desk["ticket"]
    TicketFactory(subject="bob's", team=desk["support"], assignee=bob)  # bob is at capacity (1)
    full = _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": bob.pk}, format="json")
    assert full.status_code == 400 and "capacity" in full.json()["message"]
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann
    # a teammate who left the queue is not handed work either
    dana = make_agent("dana", teams=[desk["support"]])
    dana.team_memberships.update(active=False)
    left = _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": dana.pk}, format="json")
    assert left.status_code == 400 and left.json()["message"] == OUTSIDER
    dana.team_memberships.update(active=True)
    ok = _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": dana.pk}, format="json")
    assert ok.status_code == 200 and Ticket.objects.get(pk=ticket.pk).assignee == dana


def test_without_a_team_the_ticket_goes_to_a_teammate_of_one_of_my_teams(desk):
    ann, ticket = desk["ann"], TicketFactory(subject="teamless", assignee=desk["ann"])
    assert _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": desk["carl"].pk},
                          format="json").json()["message"] == OUTSIDER  # fmt: skip
    assert _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": desk["bob"].pk},
                          format="json").status_code == 200  # fmt: skip


def test_supervisors_still_assign_to_anyone_who_is_signed_in(desk, supervisor, statuses):
    response = _api(supervisor).post(f"/api/v1/tickets/{desk['ticket'].pk}/assign/", {"agent": desk["carl"].pk},
                                     format="json")  # fmt: skip
    assert response.status_code == 200 and Ticket.objects.get(pk=desk["ticket"].pk).assignee == desk["carl"]


def test_the_ticket_page_lists_whom_the_service_accepts(desk, client, make_agent):
    """The hand-over list and the service share one rule: everyone listed is accepted, nobody else."""
    ann, ticket = desk["ann"], desk["ticket"]
    make_agent("erin", teams=[desk["support"]], status="busy")
    make_agent("fay", teams=[desk["support"]], can_email=False)
    client.force_login(ann)
    page = client.get(reverse("tickets:ticket", args=[ticket.pk]))
    listed = {user.username for user in page.context["hand_over_to"]}
    assert listed == {"bob"}
    for other in ("carl", "erin", "fay"):
        user = type(ann).objects.get(username=other)
        with pytest.raises(ApplicationError):
            ticket_assign(ticket, user, actor=ann)


@pytest.mark.django_db(transaction=True)
def test_two_agents_cannot_both_fill_a_teammates_last_place(make_team, make_agent):
    support = make_team("Support")
    ann, cleo = make_agent("ann", teams=[support]), make_agent("cleo", teams=[support])
    bob = make_agent("bob", teams=[support], capacity_email=1)
    tickets = [TicketFactory(subject=f"t{i}", team=support, assignee=owner)
               for i, owner in enumerate([ann, cleo] * 5)]  # fmt: skip
    results: list = []
    start = threading.Barrier(len(tickets))

    def hand_over(ticket):
        try:
            start.wait()
            ticket_assign(ticket, bob, actor=ticket.assignee)
            results.append("ok")
        except ApplicationError:
            results.append("refused")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hand_over, args=(ticket,)) for ticket in tickets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(str, results)) == ["ok"] + ["refused"] * (len(tickets) - 1)
    assert Ticket.objects.filter(assignee=bob).count() == 1
