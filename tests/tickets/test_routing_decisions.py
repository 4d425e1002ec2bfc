"""T11 why this agent: every automatic assignment writes a routing decision (method, candidates,
the chosen agent's load and capacity, and why each member ahead of them was passed over), shown
on the ticket page, in admin and at GET /api/v1/tickets/{id}/routing/; old ones are purged."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from presence.models import AgentPresence, AgentProfile, Source, TeamMembership
from presence.services import presence_change_status
from tests.concurrency import held_elsewhere
from tests.factories import StatusFactory, TicketFactory, bulk_members, recount_load
from tickets.models import MappingAction, ReassignMapping, RoutingDecision, RoutingMethod, Ticket
from tickets.selectors import routing_decisions_of
from tickets.services import tickets_route
from tickets.services.decisions import decisions_purge

pytestmark = pytest.mark.django_db

Reason = RoutingDecision.PassedOver


@pytest.fixture(params=["with the pick", "looking back"])
def read(request, monkeypatch):
    """Both ways a decision reads the members passed over: a single ticket's pick reads them in
    its own walk (PostgreSQL); past the first routing.WINDOW members, or for a pass of several
    tickets, the decision looks back from the chosen member. On SQLite both are the one read."""
    if request.param == "looking back":
        monkeypatch.setattr("tickets.services.routing._pick_with_passed_over", lambda *args: [])
    return request.param


def _route_one(team, **ticket):
    ticket = Ticket.objects.create(subject="Help", team=team, **ticket)
    tickets_route([ticket.pk])
    ticket.refresh_from_db()
    return ticket, RoutingDecision.objects.get(ticket=ticket)


@pytest.mark.sqlite
@pytest.mark.usefixtures("read")
def test_a_load_balanced_pick_records_every_reason_a_better_member_was_passed_over(make_team, make_agent, statuses):
    """Ahead of the chosen agent (by load) sit: a member at capacity, one who cannot take email,
    one whose status takes chat-linked tickets only, and one the router found locked."""
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    full = make_agent("full", teams=[team], capacity_email=1)
    make_agent("noemail", teams=[team], can_email=False)
    chat_only = make_agent("chatonly", teams=[team])
    chats = StatusFactory(name="Chats only", can_receive=True, in_load_balance=False, in_load_balance_for_chat=True)
    presence_change_status(chat_only, chats, actor=chat_only, source=Source.API)
    chosen = make_agent("zed", teams=[team], capacity_email=5)
    TicketFactory(team=team, assignee=chosen)  # zed is the heaviest: everyone else comes first
    TicketFactory(team=team, assignee=full)  # full holds 1 of 1
    recount_load()

    ticket, decision = _route_one(team)

    assert ticket.assignee == chosen
    assert (decision.agent, decision.method) == (chosen, RoutingDecision.Method.LOAD_BALANCE)
    assert (decision.load, decision.capacity) == (1, 5)
    (shown,) = routing_decisions_of(ticket)  # the usernames are read with the decision
    reasons = {row["username"]: row["reason"] for row in shown.passed_over}
    assert list(reasons) == ["noemail", "chatonly", "full"]  # the team's order: load, then id
    assert reasons["noemail"] == Reason.NO_CAPABILITY
    assert reasons["full"] == Reason.AT_CAPACITY
    assert reasons["chatonly"] == Reason.NOT_ELIGIBLE
    assert decision.candidates == 1 + len(decision.passed_over)
    assert decision.reason == "routed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("read")
def test_a_member_another_router_holds_is_recorded_as_locked(make_team, make_agent):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    held = make_agent("held", teams=[team])
    other = make_agent("other", teams=[team])
    TicketFactory(team=team, assignee=other)  # other is heavier: held comes first
    recount_load()
    with held_elsewhere(AgentPresence.objects.filter(agent=held)):
        ticket, decision = _route_one(team)
    assert ticket.assignee == other
    assert decision.passed_over == [{"agent": held.pk, "reason": Reason.LOCKED}]
    held_id = held.pk
    held.delete()  # a deleted user: the decision still names them by id
    (shown,) = routing_decisions_of(ticket)
    assert shown.passed_over == [{"agent": held_id, "username": None, "reason": Reason.LOCKED}]
    assert shown.passed_over_labels() == [(f"#{held_id}", Reason.LOCKED.label)]


@pytest.mark.sqlite
@pytest.mark.usefixtures("read")
def test_round_robin_and_overflow_are_named(make_team, make_agent, statuses):
    team = make_team(method=RoutingMethod.ROUND_ROBIN)
    ann = make_agent("ann", teams=[team])
    _ticket, first = _route_one(team)
    assert (first.agent, first.method, first.passed_over) == (ann, RoutingDecision.Method.ROUND_ROBIN, [])

    tentative = StatusFactory(name="Maybe", category="tentative", can_receive=True, in_load_balance=True)
    presence_change_status(ann, tentative, actor=ann, source=Source.API)
    _ticket, overflow = _route_one(team)
    assert (overflow.agent, overflow.method) == (ann, RoutingDecision.Method.OVERFLOW)


@pytest.mark.sqlite
@pytest.mark.usefixtures("read")
def test_with_more_members_ahead_than_listed_the_nearest_are_listed_in_the_team_s_order(make_team, make_agent):
    """Seven members full before the one chosen by load: the five just ahead of them are listed."""
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    full = [make_agent(f"full{i}", teams=[team], capacity_email=0) for i in range(7)]
    chosen = make_agent("zed", teams=[team])
    TicketFactory(team=team, assignee=chosen)  # zed is the heaviest: everyone else comes first
    recount_load()

    ticket, decision = _route_one(team)

    assert ticket.assignee == chosen
    assert decision.passed_over == [{"agent": a.pk, "reason": Reason.AT_CAPACITY} for a in full[2:]]
    assert decision.candidates == 1 + 5


@pytest.mark.sqlite
@pytest.mark.usefixtures("read")
def test_round_robin_lists_the_members_just_ahead_across_those_never_given_a_ticket(make_team, make_agent):
    """Round robin's order puts members never given a ticket first, then the longest waiting:
    the five just ahead of the chosen one run from the last of the never-given into the rest."""
    team = make_team(method=RoutingMethod.ROUND_ROBIN)
    never = [make_agent(f"never{i}", teams=[team], capacity_email=0) for i in range(3)]
    given = [make_agent(f"given{i}", teams=[team], capacity_email=0) for i in range(4)]
    chosen = make_agent("zed", teams=[team])
    start = timezone.now() - timedelta(hours=1)
    for minutes, agent in enumerate([*given, chosen]):
        cursor = start + timedelta(minutes=minutes)
        TeamMembership.objects.filter(team=team, agent=agent).update(last_assigned_at=cursor)

    ticket, decision = _route_one(team)

    assert ticket.assignee == chosen
    ahead = [never[2], *given]
    assert decision.passed_over == [{"agent": a.pk, "reason": Reason.AT_CAPACITY} for a in ahead]


@pytest.mark.sqlite
def test_past_the_first_members_a_pick_reads_on_and_the_decision_looks_back(make_team, make_agent):
    """More members ahead who cannot take the ticket than a single ticket's pick reads with its
    reasons (routing.WINDOW): it reads on, and the decision still lists the five just ahead."""
    from tickets.services.routing import WINDOW

    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    full = [make_agent(f"full{i:02}", teams=[team], capacity_email=0) for i in range(WINDOW + 2)]
    chosen = make_agent("zed", teams=[team])
    TicketFactory(team=team, assignee=chosen)  # zed is the heaviest: everyone else comes first
    recount_load()

    ticket, decision = _route_one(team)

    assert ticket.assignee == chosen
    assert decision.passed_over == [{"agent": a.pk, "reason": Reason.AT_CAPACITY} for a in full[-5:]]
    assert decision.candidates == 1 + 5


@pytest.mark.sqlite
def test_a_pass_of_several_tickets_records_why_for_each(make_team, make_agent):
    """Several tickets routed together share their pages of members, and each decision looks
    back from its own agent, with the loads as the pass read them: Ann, given the first ticket
    in the same pass, is listed ahead of Bob as locked, as a member another router held would be."""
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    full = make_agent("full", teams=[team], capacity_email=0)
    ann = make_agent("ann", teams=[team], capacity_email=1)
    bob = make_agent("bob", teams=[team])
    tickets = [Ticket.objects.create(subject=f"t{i}", team=team) for i in range(2)]

    tickets_route([t.pk for t in tickets])

    first, second = (RoutingDecision.objects.get(ticket=t) for t in tickets)
    assert (first.agent, second.agent) == (ann, bob)
    assert first.passed_over == [{"agent": full.pk, "reason": Reason.AT_CAPACITY}]
    assert second.passed_over == [
        {"agent": full.pk, "reason": Reason.AT_CAPACITY},
        {"agent": ann.pk, "reason": Reason.LOCKED},
    ]
    assert (first.candidates, second.candidates) == (3, 4)  # the page (ann, bob) and those ahead


@pytest.mark.sqlite
@pytest.mark.parametrize("method", [RoutingMethod.LOAD_BALANCE, RoutingMethod.ROUND_ROBIN])
def test_a_pass_of_several_tickets_writes_its_decisions_in_one_statement(make_team, make_agent, method):
    """Whatever the number of tickets (PostgreSQL takes 65,535 parameters a statement, 7 a
    ticket would pass it at 9,363): on PostgreSQL each column of the pass goes as one array."""
    team = make_team(method=method)
    agents = [make_agent(name, teams=[team], capacity_email=10) for name in ("ann", "bob", "cara")]
    tickets = [Ticket.objects.create(subject=f"t{i}", team=team) for i in range(7)]
    inserts = []

    def record(execute, sql, params, many, context):
        if sql.replace('"', "").startswith("INSERT INTO tickets_routingdecision"):
            inserts.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        tickets_route([t.pk for t in tickets])

    assert len(inserts) == 1
    decisions = RoutingDecision.objects.order_by("ticket_id")
    assert [(d.ticket_id, d.agent_id) for d in decisions] == list(
        Ticket.objects.order_by("pk").values_list("pk", "assignee_id")
    )
    assert {d.agent_id for d in decisions} == {a.pk for a in agents}
    assert all(d.method == method for d in decisions)


@pytest.mark.usefixtures("read")
def test_with_no_members_listed_the_decision_still_counts_the_chosen_one(make_team, make_agent, settings):
    settings.ROUTING_DECISIONS_PASSED_OVER = 0
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    make_agent("full", teams=[team], capacity_email=0)
    ann = make_agent("ann", teams=[team])
    _ticket, decision = _route_one(team)
    assert (decision.agent, decision.passed_over, decision.candidates) == (ann, [], 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement is PostgreSQL's")
@pytest.mark.parametrize("method", [RoutingMethod.LOAD_BALANCE, RoutingMethod.ROUND_ROBIN])
def test_the_look_back_reads_the_entries_just_ahead_not_the_team(make_team, statuses, method):
    """A team of 3,000, the chosen member first in its order: the look-back walks the pick index
    back from them and stops at once. (A walk from the front, bounded by a row comparison, read
    every entry of the team's, since PostgreSQL ends it on the comparison's first column only.)"""
    from tickets.services.decisions import Pick, decisions_sql

    team = make_team(method=method)
    first = bulk_members(team, 3000, statuses["available"])[0]
    ticket = Ticket.objects.create(subject="t", team=team)
    sql, params = decisions_sql([Pick(ticket.pk, first.pk, False, 1, 0, 10, 0, None)], team_id=team.pk,
                                team_method=method, capability="email", chat=False, exclude=[], reason="routed",
                                now=timezone.now())  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()[0]

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    (walk,) = [n for n in nodes(plan["Plan"]) if n.get("Relation Name") == "presence_teammembership"]
    assert walk["Node Type"] == "Index Scan" and walk["Scan Direction"] == "Backward", walk
    assert walk["Actual Rows"] == 0
    assert walk["Shared Hit Blocks"] + walk["Shared Read Blocks"] <= 3, walk  # the team's index is 15 pages
    assert RoutingDecision.objects.get(ticket=ticket).passed_over == []


@pytest.mark.sqlite
@pytest.mark.usefixtures("read")
def test_a_re_route_records_the_agent_the_tickets_came_from_as_excluded(make_team, make_agent, presence_settings):
    """Ann moves to a status that still receives, with a mapping that re-routes her tickets: she
    is ahead of Bob by load, and passed over as the agent they came from."""
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team])
    bob = make_agent("bob", teams=[team])
    ticket = TicketFactory(team=team, assignee=ann)
    TicketFactory.create_batch(3, team=team, assignee=bob)
    recount_load()
    rebalance = StatusFactory(name="Rebalance", can_receive=True, in_load_balance=True)
    ReassignMapping.objects.create(to_status=rebalance, action=MappingAction.REROUTE)

    presence_change_status(ann, rebalance, actor=ann, source=Source.API)

    decision = RoutingDecision.objects.get(ticket=ticket)
    assert decision.agent == bob
    assert decision.passed_over == [{"agent": ann.pk, "reason": Reason.EXCLUDED}]


def test_a_delegate_mapping_records_the_mapping(make_team, make_agent, statuses, presence_settings):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    team = make_team(method=RoutingMethod.MANUAL)
    bob = make_agent("bob", teams=[team])
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=bob)
    ReassignMapping.objects.create(to_status=statuses["out-of-office"], action=MappingAction.DELEGATE)
    ticket = TicketFactory(team=team, assignee=ann)

    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    decision = RoutingDecision.objects.get(ticket=ticket)
    assert (decision.agent, decision.method, decision.candidates) == (bob, RoutingDecision.Method.MAPPING, 1)


def test_the_ticket_page_the_api_and_admin_show_why(make_team, make_agent, client, api_client, admin_user):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    make_agent("full", teams=[team], capacity_email=0)
    ann = make_agent("ann", teams=[team])
    ticket, decision = _route_one(team)

    client.force_login(ann)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="routing-decisions"' in page
    assert "full: passed over, at capacity" in page

    api_client.force_authenticate(ann)
    body = api_client.get(f"/api/v1/tickets/{ticket.pk}/routing/").json()
    assert body[0]["agent"] == ann.pk and body[0]["method"] == "load_balance"
    assert body[0]["passed_over"][0]["reason"] == "at_capacity"

    client.force_login(admin_user)
    admin_page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "full: at capacity" in admin_page


def test_routing_writes_one_statement_of_decisions_per_pass(make_team, make_agent, django_assert_max_num_queries):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    for i in range(5):
        make_agent(f"a{i}", teams=[team], capacity_email=10)
    tickets = [Ticket.objects.create(subject=f"t{i}", team=team) for i in range(20)]
    with django_assert_max_num_queries(40):
        tickets_route([t.pk for t in tickets])
    assert RoutingDecision.objects.count() == 20


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement is PostgreSQL's")
@pytest.mark.parametrize("method", [RoutingMethod.LOAD_BALANCE, RoutingMethod.ROUND_ROBIN])
def test_one_tickets_move_with_its_decision_stays_short_enough_for_psycopg_to_cache(make_team, make_agent, method):
    """psycopg re-parses, on every execution, a statement longer than 4 kB (its query cache's
    limit): the move of one routed ticket with its decision must stay under it."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    team = make_team(method=method)
    make_agent("ann", teams=[team])
    ticket = Ticket.objects.create(subject="t", team=team)
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        tickets_route([ticket.pk])
    (move,) = [sql for sql in statements if sql.startswith("WITH old")]
    assert "INSERT INTO tickets_routingdecision" in move
    assert len(move.encode()) <= MAX_CACHED_STATEMENT_LENGTH


def test_old_decisions_are_purged(make_team, make_agent, settings):
    settings.ROUTING_DECISIONS_KEEP_DAYS = 30
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    make_agent("ann", teams=[team])
    _old_ticket, old = _route_one(team)
    _new_ticket, new = _route_one(team)
    RoutingDecision.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))

    assert decisions_purge() == 1
    assert list(RoutingDecision.objects.values_list("pk", flat=True)) == [new.pk]


def test_decisions_can_be_switched_off(make_team, make_agent, settings):
    settings.ROUTING_DECISIONS = False
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    make_agent("ann", teams=[team])
    ticket = Ticket.objects.create(subject="Help", team=team)
    tickets_route([ticket.pk])
    assert not RoutingDecision.objects.exists()
