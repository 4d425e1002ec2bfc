"""Which changes become which events, with what payload: tickets given to an agent (every path),
decided status requests (P6), and live chat opening and closing per team (T6); all webhooks (A2)."""

import pytest
from django.db import transaction

from presence.models import Source, StatusRequest
from presence.services import presence_change_status, presence_queue_leave
from presence.services.approvals import status_request_approve, status_request_reject
from tests.factories import TicketFactory, recount_load
from tests.webhooks.conftest import free_port
from tickets.models import MappingAction, ReassignMapping, RoutingMethod, Ticket
from tickets.services import ticket_assign, ticket_create, ticket_take, ticket_unassign
from webhooks.models import Delivery, Event, LiveChatState
from webhooks.services import live_chat_states_update

# Nothing listens there: deliveries that get sent fail at once, and never leave the machine.
HOOK = f"http://127.0.0.1:{free_port()}/hooks"


def _payloads(event: str) -> list[dict]:
    return [d.payload for d in Delivery.objects.filter(event=event).order_by("pk")]


# --- ticket.assigned -----------------------------------------------------------------------------


@pytest.mark.sqlite
def test_routing_a_new_ticket_sends_ticket_assigned(make_team, make_agent, make_webhook):
    make_webhook(HOOK, events=[Event.TICKET_ASSIGNED])
    team = make_team("Support", method=RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    ticket = ticket_create(actor=None, subject="Printer on fire", channel="chat", team=team)
    assert ticket.assignee_id == ann.pk
    (payload,) = _payloads("ticket.assigned")
    assert payload["ticket"] == {"id": ticket.pk, "subject": "Printer on fire", "channel": "chat",
                                 "team": {"id": team.pk, "name": "Support"}}  # fmt: skip
    assert payload["assignee"] == {"id": ann.pk, "username": "ann"}
    assert payload["actor"] is None and payload["reason"]


def test_assigning_and_taking_by_hand_send_ticket_assigned_and_unassigning_does_not(
    make_team, make_agent, make_webhook, supervisor
):
    make_webhook(HOOK, events=[Event.TICKET_ASSIGNED])
    team = make_team("Support", method=RoutingMethod.MANUAL)
    ann, bob = make_agent("ann", teams=[team]), make_agent("bob", teams=[team])
    ticket = TicketFactory(subject="Help", team=team)

    ticket_take(ticket, agent=ann)
    ticket_assign(ticket, bob, actor=supervisor)
    ticket_assign(ticket, bob, actor=supervisor)  # already bob's: nothing happens, nothing is sent
    ticket_unassign(ticket, actor=supervisor)

    taken, assigned = _payloads("ticket.assigned")
    assert (taken["assignee"]["username"], taken["reason"], taken["actor"]["username"]) == ("ann", "taken", "ann")
    assert (assigned["assignee"]["username"], assigned["reason"], assigned["actor"]["username"]) == (
        "bob", "assigned", supervisor.username)  # fmt: skip
    assert taken["ticket"]["id"] == assigned["ticket"]["id"] == ticket.pk


def test_a_bulk_move_sends_one_event_per_ticket(make_team, make_agent, make_webhook, statuses, presence_settings):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    hook = make_webhook(HOOK, events=[Event.TICKET_ASSIGNED])
    team = make_team("Support", method=RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team])
    make_agent("bob", teams=[team], capacity_email=100)
    held = Ticket.objects.bulk_create([Ticket(subject=f"held {i}", team=team, assignee=ann) for i in range(5)])
    recount_load()
    ReassignMapping.objects.create(to_status=statuses["lunch"], action=MappingAction.REROUTE)

    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.DROPDOWN)

    deliveries = list(Delivery.objects.filter(event="ticket.assigned").order_by("pk"))
    assert sorted(d.payload["ticket"]["id"] for d in deliveries) == sorted(t.pk for t in held)
    assert {d.payload["assignee"]["username"] for d in deliveries} == {"bob"}
    assert {d.webhook_id for d in deliveries} == {hook.pk}
    assert len({d.event_id for d in deliveries}) == 5  # each ticket its own event
    assert {d.payload["reason"] for d in deliveries} == {"Available -> Lunch: reroute"}


# --- status_request.decided ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "decide, decision", [(status_request_approve, "approved"), (status_request_reject, "rejected")]
)
def test_deciding_a_request_sends_status_request_decided(
    make_agent, make_webhook, statuses, supervisor, decide, decision
):
    make_webhook(HOOK, events=[Event.STATUS_REQUEST_DECIDED])
    ann = make_agent("ann")
    request = StatusRequest.objects.create(agent=ann, status=statuses["training"], reason="course at 10")

    decide(request, actor=supervisor, reason="fine" if decision == "approved" else "not today")

    (payload,) = _payloads("status_request.decided")
    request.refresh_from_db()
    assert payload == {
        "request": {"id": request.pk, "reason": "course at 10"},
        "agent": {"id": ann.pk, "username": "ann"},
        "status": {"id": statuses["training"].pk, "slug": "training", "name": "Training"},
        "decision": decision,
        "decided_by": {"id": supervisor.pk, "username": supervisor.username},
        "decided_at": request.decided_at.isoformat(),
        "reason": "fine" if decision == "approved" else "not today",
    }


# --- live_chat.availability_changed --------------------------------------------------------------


@pytest.fixture
def chat_team(make_team, make_webhook):
    make_webhook(HOOK, events=[Event.LIVE_CHAT_AVAILABILITY_CHANGED])
    return make_team("Chat", method=RoutingMethod.MANUAL)


def _change(agent, status, statuses, capture):
    with capture(execute=True):
        presence_change_status(agent, statuses[status], actor=agent, source=Source.DROPDOWN)


def test_live_chat_is_sent_on_transitions_only(chat_team, make_agent, statuses, django_capture_on_commit_callbacks):
    ann = make_agent("ann", teams=[chat_team], status="offline")
    bob = make_agent("bob", teams=[chat_team], status="offline")
    capture = django_capture_on_commit_callbacks

    _change(ann, "available", statuses, capture)  # closed -> open
    _change(bob, "available", statuses, capture)  # still open: nothing
    _change(ann, "busy", statuses, capture)  # bob still online: nothing
    _change(bob, "lunch", statuses, capture)  # open -> closed

    opened, closed = _payloads("live_chat.availability_changed")
    assert (opened["team"], opened["available"], opened["online"]) == ({"id": chat_team.pk, "name": "Chat"}, True, 1)
    assert (closed["available"], closed["online"]) == (False, 0)
    assert LiveChatState.objects.get(team=chat_team).available is False


def test_live_chat_checks_only_the_agents_teams(
    chat_team, make_team, make_agent, statuses, django_capture_on_commit_callbacks
):
    other = make_team("Other")
    make_agent("zoe", teams=[other])  # the other team is open, but nobody of it changed
    ann = make_agent("ann", teams=[chat_team], status="offline")
    _change(ann, "available", statuses, django_capture_on_commit_callbacks)
    assert [p["team"]["name"] for p in _payloads("live_chat.availability_changed")] == ["Chat"]
    assert not LiveChatState.objects.filter(team=other).exists()
    # the sweep looks at every team and catches the other one
    assert live_chat_states_update() == [other.pk]


def test_the_sweep_catches_what_no_status_change_announced(chat_team, make_agent, statuses):
    ann = make_agent("ann", teams=[chat_team])
    assert live_chat_states_update() == [chat_team.pk]  # open
    presence_queue_leave(ann, chat_team, actor=ann)  # no status change: the sweep sees it
    assert live_chat_states_update() == [chat_team.pk]  # closed
    assert live_chat_states_update() == []  # no transition, nothing sent
    assert [p["available"] for p in _payloads("live_chat.availability_changed")] == [True, False]


def test_a_rolled_back_status_change_records_no_live_chat_state(
    chat_team, make_agent, statuses, django_capture_on_commit_callbacks
):
    ann = make_agent("ann", teams=[chat_team], status="offline")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        presence_change_status(ann, statuses["available"], actor=ann, source=Source.DROPDOWN)
        raise RuntimeError
    assert not LiveChatState.objects.exists() and not Delivery.objects.exists()
