"""Tickets and notes (T1) with the features around them: finishing (P4: test_finishing_*,
test_picking_the_current_status_again_cancels_finishing, test_automatic_sources_do_not_wait_...),
derived availability (P7: test_availability_in_every_state), warnings on assigning and mentioning
(T5: test_assigning_to_a_warning_status_warns_but_assigns, test_mentions_are_recorded_and_warn),
assignment refusals (T7), and live-chat availability counts (T6)."""

import pytest

from presence.availability import availability_of
from presence.models import AgentPresence, Source, StatusChangeLog
from presence.selectors import live_chat_availability
from presence.services import presence_cancel_finishing, presence_change_status, presence_request_status
from presence.workload import workload_of
from tests.factories import TicketFactory, UserFactory, sync_routing
from tests.tickets.conftest import status_of
from tickets.models import RoutingMethod, Ticket
from tickets.services import (
    AssignmentRefused,
    ticket_assign,
    ticket_close,
    ticket_create,
    ticket_note_add,
    ticket_unassign,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lunch_drains(statuses):
    statuses["lunch"].drain = True
    statuses["lunch"].save()
    return statuses["lunch"]


# --- P4 finishing -------------------------------------------------------------------------


@pytest.mark.sqlite
def test_finishing_end_to_end(make_team, make_agent, statuses, lunch_drains, django_capture_on_commit_callbacks):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    first = TicketFactory(subject="a", team=team, assignee=ann)
    second = TicketFactory(subject="b", team=team, assignee=ann)

    presence_change_status(ann, lunch_drains, actor=ann, source=Source.DROPDOWN)

    presence = status_of(ann)
    assert (presence.status, presence.pending_status) == (statuses["available"], lunch_drains)
    assert availability_of(presence, workload_of(ann.pk)) == "finishing"
    assert not StatusChangeLog.objects.filter(agent=ann, to_status=lunch_drains).exists()

    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(first, actor=ann)
    assert status_of(ann).status == statuses["available"]  # one still open
    with django_capture_on_commit_callbacks(execute=True):
        ticket_unassign(second, actor=ann)  # handing over the last one counts too
    presence = status_of(ann)
    assert (presence.status, presence.pending_status) == (lunch_drains, None)
    assert StatusChangeLog.objects.get(agent=ann, to_status=lunch_drains).source == Source.DRAIN


def test_finishing_without_open_tickets_switches_at_once(make_agent, statuses, lunch_drains):
    ann = make_agent("ann")
    presence_change_status(ann, lunch_drains, actor=ann, source=Source.API)
    assert status_of(ann).status == lunch_drains


def test_finishing_can_be_cancelled(make_team, make_agent, statuses, lunch_drains, django_capture_on_commit_callbacks):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    ticket = TicketFactory(subject="a", team=team, assignee=ann)
    presence_change_status(ann, lunch_drains, actor=ann, source=Source.API)
    presence_cancel_finishing(ann, actor=ann)
    assert status_of(ann).pending_status is None
    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(ticket, actor=ann)
    assert status_of(ann).status == statuses["available"]


def test_picking_the_current_status_again_cancels_finishing(make_team, make_agent, statuses, lunch_drains):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    TicketFactory(subject="a", team=team, assignee=ann)
    presence_change_status(ann, lunch_drains, actor=ann, source=Source.API)
    presence_request_status(ann, statuses["available"], actor=ann, source=Source.DROPDOWN)
    assert status_of(ann).pending_status is None


def test_automatic_sources_do_not_wait_for_open_tickets(make_team, make_agent, statuses):
    statuses["offline"].drain = True
    statuses["offline"].save()
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    TicketFactory(subject="a", team=team, assignee=ann)
    presence_change_status(ann, statuses["offline"], actor=None, source=Source.AUTO_OFFLINE)
    assert status_of(ann).status == statuses["offline"]


# --- P7 availability -------------------------------------------------------------------------


def test_availability_in_every_state(make_team, make_agent, statuses):
    team = make_team(method=RoutingMethod.MANUAL)

    def availability(agent):
        return availability_of(status_of(agent), workload_of(agent.pk)).value

    assert availability(make_agent("off", status="offline")) == "offline"
    assert availability(make_agent("away", status="lunch")) == "away"
    assert availability(make_agent("nr", status="not-ready")) == "away"
    assert availability(make_agent("busy", status="busy")) == "not_receiving"
    free = make_agent("free", teams=[team])
    assert availability(free) == "free"
    TicketFactory(subject="a", team=team, assignee=free)
    assert availability(free) == "active"
    full = make_agent("full", teams=[team], can_chat=False, capacity_email=1)
    TicketFactory(subject="b", team=team, assignee=full)
    assert availability(full) == "busy"
    AgentPresence.objects.filter(agent=free).update(pending_status=statuses["lunch"])
    sync_routing(free)
    assert availability(free) == "finishing"


# --- T5 warnings and refusals ------------------------------------------------------------------


def test_assigning_to_a_warning_status_warns_but_assigns(make_team, make_agent, statuses):
    team = make_team(method=RoutingMethod.MANUAL)
    ooo = make_agent("ooo", teams=[team], status="out-of-office")
    ticket = ticket_create(actor=None, subject="x", team=team)
    ticket, warnings = ticket_assign(ticket, ooo, actor=None)
    assert ticket.assignee == ooo
    assert warnings == ["ooo is Out of office: they may not see what they are assigned to for a while."]
    _, warnings = ticket_assign(ticket_create(actor=None, subject="y", team=team), make_agent("ok"), actor=None)
    assert warnings == []


def test_assignment_refusals(make_team, make_agent, statuses):
    team = make_team(method=RoutingMethod.MANUAL)
    ticket = ticket_create(actor=None, subject="call me", team=team, channel="phone")
    with pytest.raises(AssignmentRefused, match="no phone capability"):
        ticket_assign(ticket, make_agent("nophone", can_phone=False), actor=None)
    with pytest.raises(AssignmentRefused, match="offline"):
        ticket_assign(ticket, make_agent("gone", status="offline", can_phone=True), actor=None)
    with pytest.raises(AssignmentRefused, match="not an agent"):
        ticket_assign(ticket, UserFactory(), actor=None)
    ticket_close(ticket, actor=None)
    with pytest.raises(AssignmentRefused, match="closed"):
        ticket_assign(ticket, make_agent("phone", can_phone=True), actor=None)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_mentions_are_recorded_and_warn(make_team, make_agent, statuses):
    team = make_team(method=RoutingMethod.MANUAL)
    ooo = make_agent("ooo.person", status="out-of-office")
    make_agent("here")
    ticket = ticket_create(actor=None, subject="x", team=team)
    note, warnings = ticket_note_add(
        ticket, author=ooo, body="Ask @ooo.person and @here, not @nobody or mail@example.com."
    )
    assert sorted(note.mentions.values_list("username", flat=True)) == ["here", "ooo.person"]
    assert warnings == ["ooo.person is Out of office: they may not see what they are mentioned for a while."]


def test_empty_note_is_refused(make_team):
    ticket = ticket_create(actor=None, subject="x", team=make_team(method=RoutingMethod.MANUAL))
    with pytest.raises(Exception, match="needs some text"):
        ticket_note_add(ticket, author=None, body="   ")


# --- T6 live chat ------------------------------------------------------------------------------


def test_live_chat_availability_counts_per_team(make_team, make_agent, statuses, django_assert_num_queries):
    chat, sales = make_team("Chat"), make_team("Sales")
    make_agent("a", teams=[chat, sales])
    make_agent("b", teams=[chat])
    make_agent("c", teams=[chat], status="busy")
    inactive = make_agent("d", teams=[sales])
    inactive.team_memberships.update(active=False)
    with django_assert_num_queries(2):
        result = live_chat_availability()
    assert result["online"] == 3
    assert {t["name"]: t["online"] for t in result["teams"]} == {"Chat": 2, "Sales": 1}
