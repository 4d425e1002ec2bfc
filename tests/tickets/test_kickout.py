"""C6 end to end: unopened work -> "still working?" -> answered, or Kicked out with tickets back."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from presence.models import AgentPresence, Status, StillWorkingPrompt
from presence.services import presence_kick_out_unanswered
from tests.factories import TicketFactory
from tickets.models import RoutingMethod
from tickets.services import ticket_mark_opened, tickets_ask_still_working
from tickets.tasks import kick_out_task

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0)


def at(minutes):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def ann_with_ticket(make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    ticket = TicketFactory(subject="x", team=team, assignee=ann, assigned_at=T0)
    return ann, ticket


def test_no_answer_kicks_out_and_returns_the_tickets(ann_with_ticket):
    ann, ticket = ann_with_ticket
    with at(14):
        assert tickets_ask_still_working() == 0
    with at(16):
        assert kick_out_task() == {"asked": 1, "kicked_out": 0}
        assert kick_out_task() == {"asked": 0, "kicked_out": 0}
    with at(32):
        assert kick_out_task()["kicked_out"] == 1
    presence = AgentPresence.objects.select_related("status").get(agent=ann)
    assert presence.status.slug == Status.KICKED_OUT
    ticket.refresh_from_db()
    assert ticket.assignee is None  # back in the team queue
    with at(50):
        assert tickets_ask_still_working() == 0  # not receiving any more: nobody to ask


def test_answering_keeps_the_agent_and_asks_again_only_after_a_timeout(ann_with_ticket):
    ann, _ = ann_with_ticket
    with at(16):
        tickets_ask_still_working()
    with at(20):
        response = APIClient()
        response.force_authenticate(ann)
        assert response.post("/api/v1/presence/me/still-working/").json() == {"answered": True}
    with at(32):
        assert presence_kick_out_unanswered() == 0
        assert tickets_ask_still_working() == 0
    with at(36):
        assert tickets_ask_still_working() == 1
    assert AgentPresence.objects.get(agent=ann).status.slug == "available"


def test_opening_the_ticket_answers_and_stops_the_asking(ann_with_ticket):
    ann, ticket = ann_with_ticket
    with at(16):
        tickets_ask_still_working()
    with at(18):
        client = APIClient()
        client.force_authenticate(ann)
        assert client.get(f"/api/v1/tickets/{ticket.pk}/").json()["opened_at"] is not None
    assert StillWorkingPrompt.objects.get(agent=ann).state == "answered"
    with at(60):
        assert tickets_ask_still_working() == 0 and presence_kick_out_unanswered() == 0


def test_someone_else_reading_the_ticket_does_not_open_it(ann_with_ticket, supervisor):
    _, ticket = ann_with_ticket
    client = APIClient()
    client.force_authenticate(supervisor)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").json()["opened_at"] is None
    assert ticket_mark_opened(ticket, agent=supervisor).opened_at is None
