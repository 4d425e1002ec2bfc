"""Deactivation (item 3; A3, T4): unticking "active" on a user, or deleting their agent profile, puts the
agent Offline (source system) in the same transaction; their tickets move through the mappings,
or to the team queue; they are never routed again."""

import pytest
from django.test import Client
from django.urls import reverse

from presence.models import AgentPresence, AgentProfile, Source, StatusChangeLog
from presence.services import presence_change_status
from tests.factories import AdminFactory, TicketFactory
from tickets.models import MappingAction, ReassignMapping, RoutingMethod, Ticket
from tickets.services import ticket_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(db):
    client = Client()
    client.force_login(AdminFactory(username="root"))
    return client


def _untick_active(client, user):
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": "00:00:00",
    }  # fmt: skip  (is_active unticked)
    return client.post(reverse("admin:auth_user_change", args=[user.pk]), data)


def test_unticking_active_puts_the_agent_offline_and_queues_their_tickets(
    admin_browser, make_team, make_agent, django_capture_on_commit_callbacks
):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    held = [TicketFactory(subject=f"t{i}", team=team, assignee=ann) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert _untick_active(admin_browser, ann).status_code == 302
    presence = AgentPresence.objects.select_related("status").get(agent=ann)
    assert presence.status.slug == "offline"
    row = StatusChangeLog.objects.filter(agent=ann).latest("at")
    assert (row.source, row.reason) == (Source.SYSTEM, "account deactivated")
    assert not Ticket.objects.filter(pk__in=[t.pk for t in held], assignee__isnull=False).exists()


def test_the_offline_mapping_applies_first(make_team, make_agent, presence_settings, statuses):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    ReassignMapping.objects.create(to_status=statuses["offline"], action=MappingAction.DELEGATE)
    team = make_team("Support", RoutingMethod.MANUAL)
    bob = make_agent("bob", teams=[team])
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=bob)
    ticket = TicketFactory(subject="t", team=team, assignee=ann)
    ann.is_active = False
    ann.save()
    assert Ticket.objects.get(pk=ticket.pk).assignee == bob


def test_deleting_the_agent_profile_does_the_same(admin_browser, make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    ticket = TicketFactory(subject="t", team=team, assignee=ann)
    response = admin_browser.post(reverse("admin:presence_agentprofile_delete", args=[ann.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert AgentPresence.objects.get(agent=ann).status.slug == "offline"
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_a_deactivated_agent_is_never_routed_again(make_team, make_agent, statuses):
    team = make_team("Support", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    ann.is_active = False
    ann.save()
    # nothing puts them back in a receiving status: not a supervisor, a shift, an appointment
    change = presence_change_status(ann, statuses["available"], actor=None, source=Source.SHIFT)
    assert change.outcome == "skipped" and "deactivated" in change.reason
    assert ticket_create(actor=None, subject="new", team=team).assignee is None
    assert AgentPresence.objects.get(agent=ann).status.slug == "offline"
