"""One routing rule (T7): automatic work only for a status that can receive and is in load balance
(or in load balance for chat, for chat-linked tickets); Tentative receives only as overflow and
Conference shows busy (S6). Routing, availability and live-chat counts all follow it."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from presence.agent_state import agent_states
from presence.availability import availability_of
from presence.eligibility import (
    eligible_q,
    eligible_sql,
    is_eligible,
    row_is_eligible,
    status_receives_automatically,
)
from presence.models import AgentPresence, PresenceSettings, Status
from presence.selectors import agent_list, live_chat_availability
from presence.workload import workloads
from tests.concurrency import held_elsewhere
from tests.factories import StatusFactory, recount_load, sync_routing
from tickets.models import RoutingMethod, Ticket
from tickets.services import team_queue_route, ticket_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def backoffice(db):
    """Contradictory flags as an old database may hold them: load balance on, can receive off."""
    status = StatusFactory(name="Backoffice", slug="backoffice", category="online", can_receive=True,
                           in_load_balance=True)  # fmt: skip
    Status.objects.filter(pk=status.pk).update(can_receive=False)
    return Status.objects.get(pk=status.pk)


def _availability(agent) -> str:
    presence = agent_list().get(user_id=agent.pk).user.presence
    return agent_states([presence])[agent.pk].availability.value


def _eligible_in_raw_sql(agents, *, chat) -> set[int]:
    """The agents `eligible_sql` selects, in a raw query over presence, as routing's pick runs it."""
    ids = [agent.pk for agent in agents]
    sql = (
        f"SELECT s.agent_id FROM {AgentPresence._meta.db_table} s"
        f" WHERE s.agent_id IN ({', '.join(['%s'] * len(ids))}) AND ({eligible_sql('s', chat=chat)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return {agent_id for (agent_id,) in cursor.fetchall()}


def test_the_filter_and_the_predicate_agree_for_every_combination_of_flags(make_agent, statuses):
    combos = []
    for can_receive in (False, True):
        for lb in (False, True):
            for lb_chat in (False, True):
                status = StatusFactory(category="online", can_receive=True, in_load_balance=lb,
                                       in_load_balance_for_chat=lb_chat and not lb)  # fmt: skip
                # past validation, as an old database may hold them
                Status.objects.filter(pk=status.pk).update(can_receive=can_receive, in_load_balance_for_chat=lb_chat)
                for finishing in (False, True):
                    combos.append(make_agent(f"a{len(combos)}", status="available"))
                    AgentPresence.objects.filter(agent=combos[-1]).update(
                        status=status, pending_status=statuses["after-work"] if finishing else None
                    )
                    sync_routing(combos[-1])
    presences = list(AgentPresence.objects.select_related("status").filter(agent__in=combos))
    for chat in (False, True, None):
        eligible = AgentPresence.objects.filter(eligible_q(chat=chat), agent__in=combos)
        in_sql = set(eligible.values_list("agent_id", flat=True))
        in_python = {p.agent_id for p in presences if is_eligible(p, chat=chat)}
        assert in_sql == in_python, chat
        assert _eligible_in_raw_sql(combos, chat=chat) == in_sql, chat
        assert in_sql, chat  # the rule lets somebody through, so agreeing is not agreeing on nobody
        rows = AgentPresence.objects.filter(agent__in=combos).values("agent_id", "status__can_receive",
                                                                     "status__in_load_balance",
                                                                     "status__in_load_balance_for_chat",
                                                                     "pending_status", "status__category")  # fmt: skip
        assert {r["agent_id"] for r in rows if row_is_eligible(r, chat=chat)} == in_sql
    # nobody who cannot receive, or who is finishing, is ever eligible
    assert not [p for p in presences if not p.status.can_receive and is_eligible(p)]
    assert not [p for p in presences if p.pending_status_id and is_eligible(p)]
    # as the issue words it: can receive and in load balance, or in load balance for chat for a
    # chat-linked ticket; never while finishing
    for chat in (False, True):
        expected = {
            p.agent_id
            for p in presences
            if p.status.can_receive
            and (p.status.in_load_balance or (chat and p.status.in_load_balance_for_chat))
            and not p.pending_status_id
        }
        assert _eligible_in_raw_sql(combos, chat=chat) == expected, chat


def test_a_status_that_cannot_receive_gets_no_work_even_with_load_balance_set(make_team, make_agent, backoffice):
    team = make_team("Support", RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team])
    AgentPresence.objects.filter(agent=ann).update(status=backoffice)
    sync_routing(ann)
    ticket = ticket_create(actor=None, subject="x", team=team)
    assert ticket.assignee is None
    assert _availability(ann) == "not_receiving"
    assert not status_receives_automatically(backoffice)


def test_a_can_receive_only_status_is_not_receiving_and_gets_no_work(make_team, make_agent):
    manual_only = StatusFactory(name="Manual only", category="online", can_receive=True)
    team = make_team("Support", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    AgentPresence.objects.filter(agent=ann).update(status=manual_only)
    sync_routing(ann)
    assert ticket_create(actor=None, subject="x", team=team).assignee is None
    assert _availability(ann) == "not_receiving"


def test_the_migration_turns_contradictory_flags_off(backoffice):
    migration = importlib.import_module("presence.migrations.0007_phone_statuses_one_routing_rule")
    migration.one_routing_rule(apps, None)
    backoffice.refresh_from_db()
    assert (backoffice.in_load_balance, backoffice.in_load_balance_for_chat) == (False, False)
    backoffice.full_clean()


def test_the_api_refuses_load_balance_without_can_receive(admin_api):
    body = {"name": "Backoffice", "category": "online", "in_load_balance": True}
    response = admin_api.post("/api/v1/statuses/", body, format="json")
    assert response.status_code == 400 and "needs 'can receive'" in response.json()["errors"]["in_load_balance"][0]


def test_chat_only_status_gets_only_chat_linked_tickets(make_team, make_agent):
    chats = StatusFactory(name="Chats only", category="online", can_receive=True, in_load_balance_for_chat=True)
    team = make_team("Chat", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    AgentPresence.objects.filter(agent=ann).update(status=chats)
    sync_routing(ann)
    assert ticket_create(actor=None, subject="mail", team=team).assignee is None
    assert ticket_create(actor=None, subject="chat", team=team, channel="chat", linked_to_chat=True).assignee == ann
    assert _availability(ann) == "active"


# --- Tentative and Conference (S6) -------------------------------------------------------------


@pytest.fixture
def tentative(db):
    return StatusFactory(name="Tentative", category="tentative", can_receive=True, in_load_balance=True)


def test_tentative_receives_only_when_nobody_else_can(make_team, make_agent, tentative):
    team = make_team("Support", RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team], capacity_email=1)
    tess = make_agent("tess", teams=[team])
    AgentPresence.objects.filter(agent=tess).update(status=tentative)
    sync_routing(tess)
    first = ticket_create(actor=None, subject="one", team=team)
    second = ticket_create(actor=None, subject="two", team=team)
    assert (first.assignee, second.assignee) == (ann, tess)  # ann full: tess takes the overflow
    assert _availability(tess) == "away"
    # the queue waits for a regular agent while one has room
    Ticket.objects.filter(pk=first.pk).update(state="closed")
    recount_load()
    assert ticket_create(actor=None, subject="three", team=team).assignee == ann


def test_tentative_is_overflow_under_round_robin_too(make_team, make_agent, tentative):
    # given: a round-robin team where tess (tentative) has never had a ticket, which would make
    # her the first in turn were she a regular member
    team = make_team("Support", RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team], capacity_email=1)
    bob = make_agent("bob", teams=[team], capacity_email=1)
    tess = make_agent("tess", teams=[team])
    AgentPresence.objects.filter(agent=tess).update(status=tentative)
    sync_routing(tess)
    # when / then: the regulars take their turns first; tess only once both are full
    tickets = [ticket_create(actor=None, subject=f"t{i}", team=team) for i in range(4)]
    assert [t.assignee for t in tickets] == [ann, bob, tess, tess]
    # a regular with room again comes before tess, whatever the turn order says
    Ticket.objects.filter(pk=tickets[1].pk).update(state="closed")
    recount_load()
    assert ticket_create(actor=None, subject="t4", team=team).assignee == bob


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a second transaction holding a row lock")
def test_tentative_does_not_take_a_ticket_while_a_regular_with_room_is_only_held(make_team, make_agent, tentative):
    """S6: the overflow is for when nobody else can take the ticket. A regular member whom the
    pick skipped because another transaction held their row still can: the ticket waits in the
    queue for them, and the next routing of the queue gives it to them."""
    team = make_team("Support", RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team])
    tess = make_agent("tess", teams=[team])
    AgentPresence.objects.filter(agent=tess).update(status=tentative)
    sync_routing(tess)
    with held_elsewhere(AgentPresence.objects.filter(agent=ann)):
        ticket = ticket_create(actor=None, subject="while ann is held", team=team)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert [t.assignee for t in team_queue_route(team.pk)] == [ann]


def test_conference_shows_busy(make_agent):
    conference = StatusFactory(name="Conference call", category="conference")
    ann = make_agent("ann")
    AgentPresence.objects.filter(agent=ann).update(status=conference)
    sync_routing(ann)
    presence = AgentPresence.objects.select_related("status").get(agent=ann)
    assert availability_of(presence, workloads([ann.pk]).get(ann.pk)).value == "busy"


# --- live-chat counts -----------------------------------------------------------------------------


def test_live_chat_counts_follow_the_rule(make_team, make_agent, statuses, tentative, backoffice):
    team = make_team("Chat", RoutingMethod.MANUAL)
    make_agent("ann", teams=[team])  # Available: counts
    finishing = make_agent("fin", teams=[team])
    AgentPresence.objects.filter(agent=finishing).update(pending_status=statuses["after-work"])
    sync_routing(finishing)
    for name, status in (("tess", tentative), ("bo", backoffice)):
        agent = make_agent(name, teams=[team])
        Status.objects.filter(pk=status.pk).update(online_for_live_chat=True)
        AgentPresence.objects.filter(agent=agent).update(status=status)
        sync_routing(agent)
    counts = live_chat_availability()
    assert counts["online"] == 1
    assert [t["online"] for t in counts["teams"] if t["team"] == team.pk] == [1]


# --- auto-offline can be turned off (C5) ------------------------------------------------------------


def test_auto_offline_off_when_empty(admin_api, make_agent):
    from datetime import timedelta

    from django.utils import timezone

    from presence.services import presence_auto_offline

    ann = make_agent("ann")
    AgentPresence.objects.filter(agent=ann).update(since=timezone.now() - timedelta(hours=5))
    response = admin_api.patch("/api/v1/presence-settings/", {"auto_offline_minutes": None}, format="json")
    assert response.status_code == 200 and response.json()["auto_offline_minutes"] is None
    assert PresenceSettings.load().auto_offline_minutes is None
    assert presence_auto_offline() == 0
    assert AgentPresence.objects.get(agent=ann).status.slug == "available"
    admin_api.patch("/api/v1/presence-settings/", {"auto_offline_minutes": 10}, format="json")
    assert presence_auto_offline() == 1
