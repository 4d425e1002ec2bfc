"""T10: a reopened ticket goes back to its last assignee only when they can take it now (the
routing rule, an active account, the channel's capability and room under its capacity);
otherwise it goes to its team's routing, and a note says why."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from presence.models import AgentLoad, Source
from presence.services import presence_change_status
from tests.factories import TicketFactory
from tests.tickets.conftest import status_of
from tickets.models import RoutingMethod, Ticket, TicketNote
from tickets.services import ticket_reopen, ticket_update
from tickets.services.load import load_recount
from tickets.signals import tickets_assigned

pytestmark = pytest.mark.django_db


def _closed(team, owner, **kwargs) -> Ticket:
    return TicketFactory(team=team, assignee=owner, state="closed", closed_at=timezone.now(), **kwargs)


def _email_load(agent) -> int:
    return AgentLoad.objects.get(agent=agent).email


def _notes(ticket) -> list[str]:
    return list(TicketNote.objects.filter(ticket=ticket).values_list("body", flat=True))


@pytest.fixture
def support(make_team):
    return make_team("Support", RoutingMethod.ROUND_ROBIN)


def test_owner_who_can_receive_and_has_room_gets_it_back(support, make_agent, supervisor):
    # given: ann closed the ticket; bob, next in round robin, is free too
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support])
    ticket = _closed(support, ann)
    # when
    reopened = ticket_update(ticket, actor=supervisor, state="open")
    # then
    ticket.refresh_from_db()
    assert (ticket.state, ticket.assignee, ticket.closed_at) == ("open", ann, None)
    assert reopened.assignee == ann
    assert (_email_load(ann), _email_load(bob)) == (1, 0)
    assert _notes(ticket) == []
    assert load_recount(repair=False) == []


def test_a_ticket_back_with_its_owner_is_announced_as_assigned(support, make_agent, supervisor):
    """Webhooks (ticket.assigned) hear of it like any assignment."""
    ann = make_agent("ann", teams=[support])
    ticket = _closed(support, ann)
    heard = []

    def listen(sender, **kwargs):
        heard.append((kwargs["ticket_ids"], kwargs["assignee_id"], kwargs["reason"]))

    tickets_assigned.connect(listen, dispatch_uid="test-reopen-heard")
    try:
        ticket_update(ticket, actor=supervisor, state="open")
    finally:
        tickets_assigned.disconnect(dispatch_uid="test-reopen-heard")
    assert heard == [([ticket.pk], ann.pk, "reopened")]


def test_owner_away_goes_to_a_teammate_with_a_note(support, make_agent, supervisor, statuses):
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support])
    ticket = _closed(support, ann)
    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)

    reopened = ticket_update(ticket, actor=supervisor, state="pending")

    ticket.refresh_from_db()
    assert (ticket.state, ticket.assignee) == ("pending", bob)
    assert reopened.assignee == bob
    assert (_email_load(ann), _email_load(bob)) == (0, 1)
    note = TicketNote.objects.get(ticket=ticket)
    assert note.body == (
        "Reopened: ann is Lunch (cannot receive), so the ticket went to Support's routing, which gave it to bob."
    )
    assert note.author == supervisor
    assert load_recount(repair=False) == []


def test_owner_at_capacity_goes_to_routing_and_the_note_names_the_capacity(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support], capacity_email=2)
    bob = make_agent("bob", teams=[support])
    TicketFactory.create_batch(2, team=support, assignee=ann)  # ann's two open email tickets
    ticket = _closed(support, ann, channel="portal")  # portal needs the email capacity

    ticket_reopen(ticket, actor=supervisor)

    ticket.refresh_from_db()
    assert ticket.assignee == bob
    assert (_email_load(ann), _email_load(bob)) == (2, 1)
    assert _notes(ticket) == [
        "Reopened: ann is at capacity for email (2 of 2), "
        "so the ticket went to Support's routing, which gave it to bob."
    ]
    assert load_recount(repair=False) == []


def test_room_in_another_channel_does_not_count(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support], can_phone=True, capacity_phone=1)
    TicketFactory(team=support, assignee=ann, channel="phone")  # full on phone, not on email
    phone, email = _closed(support, ann, channel="phone"), _closed(support, ann)

    ticket_reopen(email, actor=supervisor)
    ticket_reopen(phone, actor=supervisor)

    assert Ticket.objects.get(pk=email.pk).assignee == ann
    assert Ticket.objects.get(pk=phone.pk).assignee is None  # nobody else can take it: the queue
    assert _notes(phone) == [
        "Reopened: ann is at capacity for phone (1 of 1), so the ticket went to Support's routing; "
        "nobody can take it now, so it waits in the queue."
    ]
    assert load_recount(repair=False) == []


def test_manual_team_and_owner_away_waits_unassigned_in_the_queue(make_team, make_agent, supervisor, statuses):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    make_agent("bob", teams=[team])
    ticket = _closed(team, ann)
    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    ticket_update(ticket, actor=supervisor, state="open")

    assert list(Ticket.objects.unassigned().filter(team=team)) == [ticket]
    assert _notes(ticket) == [
        "Reopened: ann is Out of office (cannot receive), so the ticket waits in Support's queue (manual routing)."
    ]
    assert _email_load(ann) == 0
    assert load_recount(repair=False) == []


def test_deactivated_owner_is_passed_over(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support])
    ticket = _closed(support, ann)
    ann.is_active = False
    ann.save()  # deactivation takes ann Offline as well

    ticket_reopen(ticket, actor=supervisor)

    ticket.refresh_from_db()
    assert ticket.assignee == bob
    assert _notes(ticket) == [
        "Reopened: ann's account is deactivated, so the ticket went to Support's routing, which gave it to bob."
    ]
    assert load_recount(repair=False) == []


def test_finishing_owner_is_passed_over(support, make_agent, supervisor, statuses):
    statuses["lunch"].drain = True
    statuses["lunch"].save()
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support])
    TicketFactory(team=support, assignee=ann)  # ann finishes this one before lunch
    ticket = _closed(support, ann)
    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    assert status_of(ann).pending_status == statuses["lunch"]

    ticket_reopen(ticket, actor=supervisor)

    ticket.refresh_from_db()
    assert ticket.assignee == bob
    assert _notes(ticket)[0].startswith("Reopened: ann is finishing their open tickets before Lunch, so")


def test_owner_without_the_capability_is_passed_over(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support], can_video=False)
    bob = make_agent("bob", teams=[support], can_video=True)
    ticket = _closed(support, ann, channel="video")

    ticket_reopen(ticket, actor=supervisor)

    assert Ticket.objects.get(pk=ticket.pk).assignee == bob
    assert "ann cannot handle video tickets (no video capability)" in _notes(ticket)[0]


def test_ticket_closed_unassigned_is_routed_without_a_note(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support])
    ticket = _closed(support, None)

    ticket_reopen(ticket, actor=supervisor)

    assert Ticket.objects.get(pk=ticket.pk).assignee == ann
    assert _notes(ticket) == []


def test_reopening_an_open_ticket_changes_nothing(support, make_agent, supervisor):
    ann = make_agent("ann", teams=[support])
    ticket = TicketFactory(team=support, assignee=ann)

    ticket_reopen(ticket, actor=supervisor)

    assert _email_load(ann) == 1
    assert load_recount(repair=False) == []


def test_api_patch_reopens_through_the_service(support, make_agent, supervisor, statuses):
    ann = make_agent("ann", teams=[support])
    bob = make_agent("bob", teams=[support])
    ticket = _closed(support, ann)
    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    client = APIClient()
    client.force_authenticate(supervisor)

    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "open"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["assignee"]) == ("open", bob.pk)
    assert len(_notes(ticket)) == 1


def test_reopen_queries_are_bounded(support, make_agent, supervisor, statuses, django_assert_max_num_queries):
    ann = make_agent("ann", teams=[support])
    for name in ("bob", "cara", "dev", "eve"):
        make_agent(name, teams=[support])
    back, routed = _closed(support, ann), _closed(support, ann)

    with django_assert_max_num_queries(11):  # with the webhooks' subscriptions for ticket.assigned
        ticket_update(back, actor=supervisor, state="open")
    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    with django_assert_max_num_queries(18):  # with the routing decision (T11)
        ticket_update(routed, actor=supervisor, state="open")

    assert Ticket.objects.get(pk=back.pk).assignee == ann
    assert Ticket.objects.get(pk=routed.pk).assignee not in (None, ann)
    assert load_recount(repair=False) == []
