"""The tickets admin (U4): the Unassigned queue filter, assigning with warnings (T5) and refusals
(T7), routing teams (T2, T3), and re-assign mappings edited next to the status (T4)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from presence.models import AgentProfile, Team
from tests.factories import TicketFactory
from tickets.models import ReassignMapping, RoutingMethod, TeamRouting, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _ticket_form(**overrides) -> dict:
    data = {
        "subject": "Printer on fire", "channel": "email", "team": "", "assignee": "", "state": "open",
        "notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0", "notes-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_ticket_changelist_with_unassigned_queue_filter(
    admin_client_, make_team, make_agent, django_assert_max_num_queries
):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    for i in range(10):
        TicketFactory(subject=f"queued {i}", team=team)
    TicketFactory(subject="mine", team=team, assignee=ann)
    with django_assert_max_num_queries(12):
        page = admin_client_.get(reverse("admin:tickets_ticket_changelist") + "?queue=unassigned")
    assert page.status_code == 200
    html = page.content.decode()
    assert "queued 3" in html and ">mine<" not in html


def test_assigning_in_the_change_form_warns_as_a_message(admin_client_, make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    ooo = make_agent("ooo", teams=[team], status="out-of-office")
    ticket = TicketFactory(subject="x", team=team)
    response = admin_client_.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        _ticket_form(team=team.pk, assignee=ooo.pk, _confirmed="yes"),
        follow=True,
    )
    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).assignee == ooo
    assert any("Out of office" in m for m in _messages(response))


def test_capability_mismatch_is_a_form_error(admin_client_, make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    nophone = make_agent("nophone", teams=[team], can_phone=False)
    ticket = TicketFactory(subject="call", team=team, channel="phone")
    response = admin_client_.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        _ticket_form(team=team.pk, assignee=nophone.pk, channel="phone"),
    )
    assert response.status_code == 200
    assert "nophone cannot handle phone tickets (no phone capability)." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_offline_agent_refusal_is_a_form_error(admin_client_, make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    gone = make_agent("gone", teams=[team], status="offline")
    ticket = TicketFactory(subject="x", team=team)
    response = admin_client_.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), _ticket_form(team=team.pk, assignee=gone.pk)
    )
    assert "gone is offline and cannot be assigned tickets." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_add_ticket_in_a_routing_team_routes_it(admin_client_, make_team, make_agent):
    team = make_team("Support", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    admin_client_.post(reverse("admin:tickets_ticket_add"), _ticket_form(team=team.pk))
    assert Ticket.objects.get(subject="Printer on fire").assignee == ann


def test_assign_action_assigns_warns_and_reports_refusals(admin_client_, make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    ooo = make_agent("ooo", teams=[team], status="out-of-office", can_phone=False)
    email = TicketFactory(subject="e", team=team)
    phone = TicketFactory(subject="p", team=team, channel="phone")
    response = admin_client_.post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "assign_to", "_selected_action": [email.pk, phone.pk], "agent": ooo.pk, "apply": "yes",
         "confirmed": "yes"},
        follow=True,
    )  # fmt: skip
    messages = _messages(response)
    assert "Assigned 1 ticket(s) to ooo." in messages
    assert any("Out of office" in m for m in messages)
    assert any(m.startswith(f"#{phone.pk}:") and "phone" in m for m in messages)
    assert Ticket.objects.get(pk=email.pk).assignee == ooo and Ticket.objects.get(pk=phone.pk).assignee is None


def test_team_admin_edits_routing_and_shows_the_queue(
    admin_client_, make_team, make_agent, django_capture_on_commit_callbacks
):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    TicketFactory(subject="waiting", team=team)
    changelist = admin_client_.get(reverse("admin:presence_team_changelist")).content.decode()
    assert "Manual" in changelist
    data = {
        "name": "Support", "coverage_minimum": "0",
        "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
        "routing-TOTAL_FORMS": "1", "routing-INITIAL_FORMS": "1",
        "routing-MIN_NUM_FORMS": "1", "routing-MAX_NUM_FORMS": "1",
        "routing-0-team": team.pk, "routing-0-method": "round_robin",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": ann.team_memberships.get().pk, "memberships-0-team": team.pk,
        "memberships-0-agent": ann.pk, "memberships-0-active": "on",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("admin:presence_team_change", args=[team.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert TeamRouting.objects.get(team=team).method == "round_robin"
    assert Ticket.objects.get(subject="waiting").assignee == ann


def test_status_page_edits_mappings_next_to_the_status(admin_client_, statuses):
    page = admin_client_.get(reverse("admin:presence_status_change", args=[statuses["out-of-office"].pk]))
    assert "re-assign mappings into this status" in page.content.decode().lower()
    mapping = ReassignMapping.objects.create(to_status=statuses["out-of-office"], action="unassign")
    listing = admin_client_.get(reverse("admin:tickets_reassignmapping_changelist")).content.decode()
    assert str(mapping) in listing.replace("&gt;", ">")


def test_team_without_routing_row_lists_as_manual(admin_client_):
    Team.objects.create(name="Fresh")
    assert "Manual" in admin_client_.get(reverse("admin:presence_team_changelist")).content.decode()
    assert AgentProfile.objects.count() == 0
