"""The agent's ticket page without JavaScript (T8, C6, P4, T7): plain form posts that redirect
back with a message, taking from the queue (page and API), and who may assign to whom."""

import html
import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from presence.models import Source, Status, StatusCategory, StillWorkingPrompt, TeamMembership
from presence.services import presence_change_status, presence_request_status
from tests.factories import AgentFactory, TeamFactory, TicketFactory, recount_load, sync_routing
from tests.tickets.conftest import status_of
from tickets.models import RoutingMethod, Ticket, TicketNote
from tickets.selectors import assign_question
from tickets.services import TakeRefused, TicketTaken, ticket_take

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(make_team):
    return make_team("Support", RoutingMethod.MANUAL)


@pytest.fixture
def sales(make_team):
    return make_team("Sales", RoutingMethod.MANUAL)


@pytest.fixture
def ann(make_agent, support):
    return make_agent("ann", teams=[support])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _header_status(response) -> str:
    return re.search(r'id="status-name">([^<]*)<', _text(response)).group(1).strip()


def _options(response) -> list[str]:
    select = re.search(r'<select name="agent" id="hand-over-agent">(.*?)</select>', _text(response), re.S)
    return re.findall(r"<option [^>]*>([^<]*)</option>", select.group(1)) if select else []


def _url(ticket, action: str = "") -> str:
    return f"/tickets/{ticket.pk}/" + (f"{action}/" if action else "")


# --- the page -----------------------------------------------------------------------------------


def test_the_page_shows_the_ticket_its_notes_and_both_timers(ann, support, make_agent):
    bob = make_agent("bob", teams=[support])
    assigned = timezone.now() - timedelta(minutes=90)
    ticket = TicketFactory(subject="Printer on fire", team=support, assignee=ann, assigned_at=assigned,
                                   channel="portal", pinned=True)  # fmt: skip
    TicketNote.objects.create(ticket=ticket, author=bob, body="Tried turning it off and on.")

    page = _client(ann).get(_url(ticket))

    assert page.status_code == 200
    text = _text(page)
    for shown in ("Printer on fire", "Portal", "Support", "Open", "ann", "bob", "Tried turning it off and on."):
        assert shown in text
    assert re.search(r'id="ticket-pinned">Yes<', text)
    assert "1\xa0hour, 30\xa0minutes" in text  # since assignment, rendered by the server
    assert re.search(r'id="since-assigned" class="ticket-timer" data-since="[^"]+"', text)  # ticking with JS
    assert re.search(r'id="since-opened" class="ticket-timer"', text)  # opened just now, by this visit
    assert "tickets/ticket.js" in text


def test_opening_the_page_marks_the_ticket_opened_and_answers_still_working(ann, support, supervisor):
    ticket = TicketFactory(subject="x", team=support, assignee=ann, assigned_at=timezone.now())
    prompt = StillWorkingPrompt.objects.create(agent=ann)

    _client(supervisor).get(_url(ticket))  # someone else reading it opens nothing
    ticket.refresh_from_db()
    assert ticket.opened_at is None

    _client(ann).get(_url(ticket))
    ticket.refresh_from_db()
    prompt.refresh_from_db()
    assert ticket.opened_at is not None
    assert prompt.state == StillWorkingPrompt.State.ANSWERED


def test_the_page_follows_the_apis_visibility_rule(ann, support, sales, make_agent, supervisor):
    bob = make_agent("bob", teams=[support])
    own = TicketFactory(subject="own", team=support, assignee=ann)
    queue = TicketFactory(subject="queue", team=support)
    teammates = TicketFactory(subject="bob's", team=support, assignee=bob)
    other_queue = TicketFactory(subject="sales queue", team=sales)
    client = _client(ann)
    assert client.get(_url(own)).status_code == 200
    assert client.get(_url(queue)).status_code == 200
    assert client.get(_url(teammates)).status_code == 404
    assert client.get(_url(other_queue)).status_code == 404
    assert client.get("/tickets/999999/").status_code == 404
    for ticket in (own, teammates, other_queue):
        assert _client(supervisor).get(_url(ticket)).status_code == 200
    # the forms too: nothing happens to a ticket the agent may not see
    for action, data in [("notes", {"body": "hi"}), ("close", {}), ("pin", {"pinned": "yes"}),
                         ("hand-over", {"agent": ann.pk})]:  # fmt: skip
        assert client.post(_url(teammates, action), data).status_code == 404
    assert client.post(_url(other_queue, "take")).status_code == 404
    # a teammate's ticket: taking it says who has it (the API's 409) rather than "no such ticket"
    taken = client.post(_url(teammates, "take"), follow=True)
    assert f"bob took ticket #{teammates.pk} first." in _messages(taken)
    teammates.refresh_from_db()
    assert (teammates.state, teammates.pinned, teammates.assignee) == ("open", False, bob)
    assert not TicketNote.objects.exists()


def test_the_panel_links_every_ticket_and_offers_take_on_the_queue(ann, support):
    own = TicketFactory(subject="own", team=support, assignee=ann)
    queue = TicketFactory(subject="queue", team=support)
    text = _text(_client(ann).get("/"))
    assert f'href="/tickets/{own.pk}/"' in text and f'href="/tickets/{queue.pk}/"' in text
    assert f'action="/tickets/{queue.pk}/take/"' in text
    assert f'action="/tickets/{own.pk}/take/"' not in text


def test_the_page_query_count_does_not_grow_with_notes_or_teammates(
    ann, support, make_agent, django_assert_max_num_queries
):
    mates = [make_agent(f"mate{i}", teams=[support]) for i in range(8)]
    ticket = TicketFactory(subject="x", team=support, assignee=ann, assigned_at=timezone.now())
    for i, mate in enumerate(mates * 3):
        TicketNote.objects.create(ticket=ticket, author=mate, body=f"note {i} @{mate.username}")
    client = _client(ann)
    client.get(_url(ticket))  # the first visit opens it (two more writes)
    # session, user, supervisor group, ticket, notes, header (profile, presence, statuses,
    # request), hand-over candidates, teammates, routing decisions (T11)
    with django_assert_max_num_queries(12):
        page = client.get(_url(ticket))
    assert page.status_code == 200
    assert len(_options(page)) == 8 and _text(page).count('class="note-item"') == 24


def test_the_panel_query_count_does_not_grow_with_tickets(ann, support):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/")
        assert page.status_code == 200
        return len(captured)

    TicketFactory(subject="mine", team=support, assignee=ann)
    TicketFactory(subject="queued", team=support)
    client = _client(ann)
    client.get("/")  # the first request of the minute records activity
    few = queries()
    for i in range(30):
        TicketFactory(subject=f"mine {i}", team=support, assignee=ann)
        TicketFactory(subject=f"queue {i}", team=support)
    assert queries() == few
    assert _text(client.get("/")).count("/take/") == 31


# --- notes and mentions ----------------------------------------------------------------------------


def test_adding_a_note_with_a_mention(ann, support, make_agent):
    bob = make_agent("bob", teams=[support])
    ticket = TicketFactory(subject="x", team=support, assignee=ann)

    response = _client(ann).post(_url(ticket, "notes"), {"body": "Asked @bob to look."}, follow=True)

    assert response.redirect_chain[-1][0] == f"/tickets/{ticket.pk}/#notes"
    assert "Note added." in _messages(response)
    note = TicketNote.objects.get(ticket=ticket)
    assert (note.author, note.body, list(note.mentions.all())) == (ann, "Asked @bob to look.", [bob])
    assert "Asked @bob to look." in _text(response)


def test_teammates_are_listed_for_mentions(ann, support, sales, make_agent):
    make_agent("bob", teams=[support])
    make_agent("cara", teams=[support], status="out-of-office")
    make_agent("stranger", teams=[sales])
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    text = _text(_client(ann).get(_url(ticket)))
    listed = re.findall(r'<li class="teammate" data-username="([^"]+)">', text)
    assert listed == ["bob", "cara"]
    assert '@cara <span class="teammate-status">(Out of office)</span>' in text


@pytest.mark.sqlite
def test_mentioning_someone_out_of_office_asks_first_and_cancel_saves_nothing(ann, support, make_agent):
    make_agent("cara", teams=[support], status="out-of-office")
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    client = _client(ann)

    page = client.post(_url(ticket, "notes"), {"body": "cc @cara"})

    assert page.status_code == 200
    text = _text(page)
    assert "cara is Out of office. Mention them anyway?" in text
    assert '<textarea name="body" hidden>cc @cara</textarea>' in text
    assert '<input type="hidden" name="confirmed" value="yes">' in text
    assert f'href="/tickets/{ticket.pk}/" id="cancel"' in text  # Cancel: back to the ticket
    assert not TicketNote.objects.exists()

    response = client.post(_url(ticket, "notes"), {"body": "cc @cara", "confirmed": "yes"}, follow=True)

    assert TicketNote.objects.get().body == "cc @cara"
    assert "cara is Out of office: they may not see what they are mentioned for a while." in _messages(response)


def test_an_empty_note_is_refused_with_a_message(ann, support):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    response = _client(ann).post(_url(ticket, "notes"), {"body": "   "}, follow=True)
    assert "A note needs some text." in _messages(response)
    assert not TicketNote.objects.exists()


# --- pin, close --------------------------------------------------------------------------------------


def test_pin_and_unpin(ann, support):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    client = _client(ann)

    response = client.post(_url(ticket, "pin"), {"pinned": "yes"}, follow=True)
    assert f"Ticket #{ticket.pk} pinned." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).pinned is True
    assert 'id="unpin"' in _text(response)

    response = client.post(_url(ticket, "pin"), {"pinned": "no"}, follow=True)
    assert f"Ticket #{ticket.pk} unpinned." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).pinned is False

    response = client.post(_url(ticket, "pin"), {"pinned": "maybe"}, follow=True)
    assert "Choose to pin or to unpin the ticket." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).pinned is False


def test_close_goes_to_the_panel_and_a_closed_ticket_refuses_actions(ann, support):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    client = _client(ann)

    response = client.post(_url(ticket, "close"))
    assert response.status_code == 302 and response.url == "/"
    assert Ticket.objects.get(pk=ticket.pk).state == "closed"

    for action, data in [("close", {}), ("pin", {"pinned": "yes"})]:
        response = client.post(_url(ticket, action), data, follow=True)
        assert f"Ticket #{ticket.pk} is closed." in _messages(response)
    ticket.refresh_from_db()
    assert ticket.pinned is False
    assert 'id="close"' not in _text(client.get(_url(ticket)))  # no actions on a closed ticket


@pytest.mark.sqlite
def test_closing_the_last_ticket_while_finishing_applies_the_pending_status(
    ann, support, statuses, django_capture_on_commit_callbacks
):
    first = TicketFactory(subject="first", team=support, assignee=ann)
    last = TicketFactory(subject="last", team=support, assignee=ann)
    presence_request_status(ann, statuses["after-work"], actor=ann, source=Source.DROPDOWN)
    client = _client(ann)
    panel = client.get("/")
    assert _header_status(panel).endswith("Available")
    assert "Finishing before After work" in _text(panel)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(first, "close"))
    assert status_of(ann).pending_status == statuses["after-work"]  # one still open

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(last, "close"))

    assert response.status_code == 302 and response.url == "/"
    panel = client.get(response.url)
    assert _header_status(panel).endswith("After work")
    assert "Finishing before" not in _text(panel)
    assert f"Ticket #{last.pk} closed." in _messages(panel)
    presence = status_of(ann)
    assert (presence.status, presence.pending_status) == (statuses["after-work"], None)


# --- hand over -----------------------------------------------------------------------------------------


@pytest.fixture
def crowd(ann, support, sales, make_agent):
    """ann's teammates in every situation, and one stranger."""
    full = make_agent("full", teams=[support], capacity_email=1)
    TicketFactory(subject="full's", team=support, assignee=full, channel="portal")  # portal counts as email
    inactive = make_agent("inactive", teams=[support])
    TeamMembership.objects.filter(agent=inactive).update(active=False)
    sync_routing(inactive)
    finishing = make_agent("finishing", teams=[support])
    TicketFactory(subject="finishing's", team=support, assignee=finishing)
    presence_request_status(finishing, Status.objects.get(slug="after-work"), actor=finishing, source=Source.API)
    return {
        "bob": make_agent("bob", teams=[support]),
        "busy": make_agent("busy", teams=[support], status="busy"),
        "ooo": make_agent("ooo", teams=[support], status="out-of-office"),
        "nomail": make_agent("nomail", teams=[support], can_email=False),
        "stranger": make_agent("stranger", teams=[sales]),
        "full": full,
    }


def test_the_hand_over_list_offers_only_teammates_who_can_take_the_ticket(ann, support, crowd):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    assert _options(_client(ann).get(_url(ticket))) == ["bob (Available)"]
    # a ticket without a team: teammates from the agent's own teams
    loose = TicketFactory(subject="y", assignee=ann)
    assert _options(_client(ann).get(_url(loose))) == ["bob (Available)"]


def test_handing_over_to_a_teammate(ann, support, crowd):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    response = _client(ann).post(_url(ticket, "hand-over"), {"agent": crowd["bob"].pk}, follow=True)
    assert response.redirect_chain[-1][0] == "/"  # ann no longer sees it
    assert f"Ticket #{ticket.pk} handed over to bob." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee == crowd["bob"]


@pytest.mark.parametrize("target", ["busy", "ooo", "nomail", "stranger", "full", "inactive", "finishing", "ann"])
def test_handing_over_to_someone_not_listed_is_refused(ann, support, crowd, target):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    agent_id = get_user_model().objects.get(username=target).pk
    response = _client(ann).post(_url(ticket, "hand-over"), {"agent": agent_id}, follow=True)
    assert "That teammate cannot take this ticket now" in _messages(response)[0]
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann


def test_handing_over_to_a_status_that_warns_asks_first(ann, support, make_agent):
    remote = Status.objects.create(name="Remote", slug="remote", category=StatusCategory.ONLINE, can_receive=True,
                                   warn_on_assign=True)  # fmt: skip
    rita = make_agent("rita", teams=[support])
    presence_change_status(rita, remote, actor=rita, source=Source.API)
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    client = _client(ann)

    page = client.post(_url(ticket, "hand-over"), {"agent": rita.pk})

    assert page.status_code == 200 and "rita is Remote. Assign anyway?" in _text(page)
    assert f'href="/tickets/{ticket.pk}/" id="cancel"' in _text(page)
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann

    response = client.post(_url(ticket, "hand-over"), {"agent": rita.pk, "confirmed": "yes"}, follow=True)

    assert Ticket.objects.get(pk=ticket.pk).assignee == rita
    assert "rita is Remote: they may not see what they are assigned to for a while." in _messages(response)


def test_handing_over_the_last_ticket_while_finishing_applies_the_pending_status(
    ann, support, crowd, statuses, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(subject="x", team=support, assignee=ann)
    presence_request_status(ann, statuses["after-work"], actor=ann, source=Source.DROPDOWN)
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(ann).post(_url(ticket, "hand-over"), {"agent": crowd["bob"].pk})
    assert _header_status(_client(ann).get(response.url)).endswith("After work")


# --- take ------------------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_taking_from_the_queue_on_the_panel(ann, support):
    ticket = TicketFactory(subject="queued", team=support)

    response = _client(ann).post(_url(ticket, "take"), {"next": "/"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/tickets/{ticket.pk}/"
    assert f"You took ticket #{ticket.pk}." in _messages(response)
    ticket.refresh_from_db()
    assert ticket.assignee == ann and ticket.assigned_at is not None and ticket.opened_at is not None
    assert ticket.history.latest().history_user == ann
    assert 'id="take"' not in _text(response)


def test_take_on_the_ticket_page(ann, support):
    ticket = TicketFactory(subject="queued", team=support)
    client = _client(ann)
    assert 'id="take"' in _text(client.get(_url(ticket)))
    client.post(_url(ticket, "take"), {"next": _url(ticket)})
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann


@pytest.mark.parametrize(
    "situation, message",
    [
        ("busy", "You are Busy: that status cannot receive work."),
        ("finishing", "You are finishing your open tickets before After work"),
        ("full", "You are at your email capacity (2 open): close or hand over one first."),
        ("phone", "You cannot handle phone tickets (no phone capability)."),
        ("inactive", "you are not an active member of Support"),
        ("closed", "is closed."),
    ],
)
def test_take_refusals_say_why_and_change_nothing(ann, support, statuses, situation, message):
    ticket = TicketFactory(subject="queued", team=support, channel="phone" if situation == "phone" else "email")
    if situation == "busy":
        presence_change_status(ann, statuses["busy"], actor=ann, source=Source.API)
    elif situation in ("finishing", "full"):
        TicketFactory(subject="mine", team=support, assignee=ann, channel="portal")
        TicketFactory(subject="mine too", team=support, assignee=ann, channel="email")
        TicketFactory(subject="a chat", team=support, assignee=ann, channel="chat")  # another capacity
        ann.agent_profile.capacity_email = 2
        ann.agent_profile.save()
        if situation == "finishing":
            ann.agent_profile.capacity_email = 10
            ann.agent_profile.save()
            presence_request_status(ann, statuses["after-work"], actor=ann, source=Source.DROPDOWN)
    elif situation == "inactive":
        TeamMembership.objects.filter(agent=ann).update(active=False)
        sync_routing(ann)
    elif situation == "closed":
        Ticket.objects.filter(pk=ticket.pk).update(state="closed")
        recount_load()
    before = Ticket.objects.filter(pk=ticket.pk).values().get()

    response = _client(ann).post(_url(ticket, "take"), {"next": "/"}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert any(message in shown for shown in _messages(response)), _messages(response)
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == before


def test_taking_a_ticket_a_teammate_took_first_says_so(ann, support, make_agent):
    bob = make_agent("bob", teams=[support])
    ticket = TicketFactory(subject="queued", team=support)
    ticket_take(ticket, agent=bob)
    response = _client(ann).post(_url(ticket, "take"), {"next": _url(ticket)}, follow=True)
    assert response.redirect_chain[-1][0] == "/"  # not the ticket page: ann no longer sees it
    assert f"bob took ticket #{ticket.pk} first." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee == bob


def test_take_api(ann, support, sales, make_agent, statuses):
    bob = make_agent("bob", teams=[support])
    first, second = (TicketFactory(subject=s, team=support) for s in ("first", "second"))
    other_team = TicketFactory(subject="sales", team=sales)

    response = _api(ann).post(f"/api/v1/tickets/{first.pk}/take/")
    assert response.status_code == 200
    assert response.json()["assignee"] == ann.pk and response.json()["opened_at"] is not None
    assert _api(ann).post(f"/api/v1/tickets/{first.pk}/take/").status_code == 200  # mine already: unchanged

    taken = _api(bob).post(f"/api/v1/tickets/{first.pk}/take/")
    assert taken.status_code == 409
    assert taken.json() == {"message": f"ann took ticket #{first.pk} first.", "code": "taken"}

    presence_change_status(bob, statuses["lunch"], actor=bob, source=Source.API)
    refused = _api(bob).post(f"/api/v1/tickets/{second.pk}/take/")
    assert refused.status_code == 400
    assert refused.json() == {"message": "You are Lunch: that status cannot receive work.", "code": "take_refused"}

    assert _api(ann).post(f"/api/v1/tickets/{other_team.pk}/take/").status_code == 404
    assert Ticket.objects.get(pk=second.pk).assignee is None
    assert Ticket.objects.get(pk=other_team.pk).assignee is None


def test_take_service_refuses_someone_who_is_not_an_agent(support, supervisor):
    ticket = TicketFactory(subject="queued", team=support)
    with pytest.raises(TakeRefused, match="not an agent"):
        ticket_take(ticket, agent=supervisor)


# --- T7: who may assign to a status that cannot receive -------------------------------------------------


def test_an_agent_may_not_assign_to_a_status_that_cannot_receive(ann, support, make_agent):
    dave = make_agent("dave", teams=[support], status="busy")
    ticket = TicketFactory(subject="x", team=support, assignee=ann)

    refused = _api(ann).post(f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": dave.pk}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"message": "dave is Busy: that status cannot receive work.", "code": "assignment_refused"}
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann


@pytest.mark.parametrize("who", ["supervisor", "admin_user"])
def test_supervisors_and_admins_may_with_a_warning(ann, support, make_agent, request, who):
    dave = make_agent("dave", teams=[support], status="busy")
    ticket = TicketFactory(subject="x", team=support, assignee=ann)

    response = _api(request.getfixturevalue(who)).post(
        f"/api/v1/tickets/{ticket.pk}/assign/", {"agent": dave.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["warnings"] == ["dave is Busy, which cannot receive work."]
    assert Ticket.objects.get(pk=ticket.pk).assignee == dave


def test_assign_question_asks_for_a_status_that_cannot_receive(make_agent):
    assert (
        assign_question(make_agent("dave", status="busy")) == "dave is Busy, which cannot receive work. Assign anyway?"
    )
    assert assign_question(make_agent("ooo", status="out-of-office")) == "ooo is Out of office. Assign anyway?"
    assert assign_question(make_agent("ok")) is None
    assert assign_question(make_agent("gone", status="offline")) is None  # refused, not asked


# --- take under concurrency -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_never_overrun_capacity_nor_double_assign():
    # given an agent with room for 2 emails, 6 queued tickets, and a teammate
    available = Status.objects.get(slug=Status.AVAILABLE)
    team = TeamFactory(name="Support")
    ann = AgentFactory(username="ann", status=available, profile={"capacity_email": 2}, teams=[team])
    bob = AgentFactory(username="bob", status=available, teams=[team])
    tickets = [TicketFactory(subject=f"q{i}", team=team) for i in range(6)]
    outcomes: list[object] = []
    start = threading.Barrier(8)

    def take(ticket, agent) -> None:
        try:
            start.wait()
            ticket_take(ticket, agent=agent)
            outcomes.append((agent.username, ticket.pk))
        except TakeRefused as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    # when ann takes all six at once, and ann and bob race for one more
    contested = TicketFactory(subject="contested", team=team)
    jobs = [(t, ann) for t in tickets] + [(contested, bob), (contested, ann)]
    threads = [threading.Thread(target=take, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then ann holds exactly her capacity, and the contested ticket went to exactly one of them
    assert Ticket.objects.filter(assignee=ann).count() == 2
    contested.refresh_from_db()
    assert contested.assignee is not None
    refusals = [o for o in outcomes if isinstance(o, TakeRefused)]
    assert len(outcomes) == 8 and len(refusals) == 8 - 2 - (contested.assignee == bob)
    assert all("capacity" in r.message or isinstance(r, TicketTaken) for r in refusals)
    assert sum(isinstance(r, TicketTaken) for r in refusals) <= 1
