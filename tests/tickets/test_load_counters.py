"""Load counters (issue 13): open load per agent and channel, kept by every service that changes a
ticket's assignee or state, in the same transaction; rebuilt by `recount_load`; checked by a
periodic self-check (C3). Availability (P7), the board (U3) and the agents API read them in SQL;
load balance (T2) and capacity (T7) route by them."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command

from presence.availability import availability_expression, availability_of
from presence.models import AgentLoad, AgentPresence, AgentProfile, Source, TeamMembership
from presence.services import presence_change_status
from presence.workload import workloads
from tests.factories import StatusFactory, TicketFactory, sync_routing
from tickets.models import HELD_STATES, MappingAction, ReassignMapping, RoutingMethod, Ticket
from tickets.services import (
    ticket_assign,
    ticket_close,
    ticket_create,
    ticket_delete,
    ticket_take,
    ticket_unassign,
    ticket_update,
)
from tickets.services.load import load_recount
from tickets.tasks import load_self_check_task

pytestmark = pytest.mark.django_db


def _counters(agent) -> dict:
    row = AgentLoad.objects.filter(agent=agent).first()
    return {c: getattr(row, c) for c in ("email", "chat", "phone", "video")} if row else {}


def _held(agent) -> dict:
    counts = dict.fromkeys(("email", "chat", "phone", "video"), 0)
    for ticket in Ticket.objects.filter(assignee=agent, state__in=HELD_STATES):
        counts[ticket.capability] += 1
    return counts


def _membership_loads(agent) -> set[int]:
    return set(TeamMembership.objects.filter(agent=agent).values_list("load", flat=True))


def _agree(*agents) -> None:
    for agent in agents:
        assert _counters(agent) == _held(agent), agent
        assert _membership_loads(agent) <= {sum(_held(agent).values())}, agent


@pytest.mark.sqlite
def test_every_service_keeps_the_counters(make_team, make_agent, statuses, supervisor):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team], can_chat=True, can_phone=True)
    bob = make_agent("bob", teams=[team], can_chat=True, can_phone=True)
    ticket = ticket_create(actor=None, subject="one", team=team)
    ticket_assign(ticket, ann, actor=supervisor)
    _agree(ann, bob)
    ticket_assign(ticket, bob, actor=supervisor)  # a move
    _agree(ann, bob)
    ticket_update(ticket, actor=supervisor, channel="phone")  # its channel changes
    assert _counters(bob)["phone"] == 1
    ticket_close(ticket, actor=supervisor)
    _agree(bob)
    ticket_update(ticket, actor=supervisor, state="open")  # reopened, still bob's
    assert _counters(bob)["phone"] == 1
    ticket_unassign(ticket, actor=supervisor)
    _agree(bob)
    ticket_take(ticket, agent=ann)
    _agree(ann)
    ticket_delete(ticket, actor=supervisor)
    _agree(ann, bob)
    assert sum(_counters(ann).values()) == 0


@pytest.mark.sqlite
def test_routing_and_mappings_keep_the_counters(make_team, make_agent, statuses, presence_settings):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    ReassignMapping.objects.create(to_status=statuses["busy"], action=MappingAction.REROUTE)
    ReassignMapping.objects.create(to_status=statuses["lunch"], action=MappingAction.UNASSIGN)
    team = make_team("Support", RoutingMethod.LOAD_BALANCE)
    ann, bob = make_agent("ann", teams=[team]), make_agent("bob", teams=[team])
    for i in range(6):
        ticket_create(actor=None, subject=f"t{i}", team=team)
    assert (sum(_counters(ann).values()), sum(_counters(bob).values())) == (3, 3)
    presence_change_status(ann, statuses["busy"], actor=ann, source=Source.API)  # re-routed to bob
    _agree(ann, bob)
    assert sum(_counters(bob).values()) == 6
    presence_change_status(bob, statuses["lunch"], actor=bob, source=Source.API)  # to the queue
    _agree(ann, bob)


def test_recount_load_rebuilds_drifted_counters(make_team, make_agent):
    team = make_team("Support", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    TicketFactory(team=team, assignee=ann)
    AgentLoad.objects.filter(agent=ann).update(email=7)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("recount_load", "--check", stdout=out)
    assert "drift for 1 agent(s)" in out.getvalue() and _counters(ann)["email"] == 7
    call_command("recount_load", stdout=out)
    _agree(ann)
    out = StringIO()
    call_command("recount_load", stdout=out)
    assert "match the tickets" in out.getvalue()


def test_the_self_check_logs_and_repairs_drift(make_team, make_agent, caplog):
    ann = make_agent("ann", teams=[make_team("Support", RoutingMethod.MANUAL)])
    Ticket.objects.create(subject="written around the services", assignee=ann)
    with caplog.at_level(logging.WARNING, logger="tickets"):
        assert load_self_check_task() == 1
    assert "drifted" in caplog.text
    _agree(ann)
    assert load_self_check_task() == 0


def test_routing_never_reads_the_whole_team(make_team, make_agent, django_assert_max_num_queries):
    team = make_team("Big", RoutingMethod.LOAD_BALANCE)
    agents = [make_agent(f"a{i:03d}", teams=[team]) for i in range(60)]
    ticket_create(actor=None, subject="warm", team=team)
    with django_assert_max_num_queries(13):  # 12, and the routing decision (T11)
        routed = ticket_create(actor=None, subject="t", team=team)
    assert routed.assignee in agents
    assert load_recount(repair=False) == []


# --- availability in SQL, as in Python ------------------------------------------------------------


def test_availability_in_sql_is_availability_in_python(make_agent, statuses):
    """Every combination the two can disagree on: categories, flags, finishing, load and capacity."""
    tentative = StatusFactory(category="tentative", can_receive=True, in_load_balance=True)
    conference = StatusFactory(category="conference")
    manual = StatusFactory(category="online", can_receive=True)
    chats = StatusFactory(category="online", can_receive=True, in_load_balance_for_chat=True)
    cases = []
    for status in (statuses["available"], statuses["busy"], statuses["lunch"], statuses["offline"], tentative,
                   conference, manual, chats):  # fmt: skip
        for finishing in (False, True):
            for held in (0, 1, 2):
                agent = make_agent(f"c{len(cases)}", capacity_email=2, can_chat=False)
                AgentPresence.objects.filter(agent=agent).update(
                    status=status, pending_status=statuses["after-work"] if finishing else None
                )
                for _ in range(held):
                    TicketFactory(assignee=agent)
                cases.append(agent)
    sync_routing(*cases)
    in_sql = dict(
        AgentProfile.objects.filter(user__in=cases).annotate(a=availability_expression()).values_list("user_id", "a")
    )
    loads = workloads(a.pk for a in cases)
    for presence in AgentPresence.objects.select_related("status").filter(agent__in=cases):
        assert in_sql[presence.agent_id] == availability_of(presence, loads[presence.agent_id]).value, (
            presence.status.name, presence.pending_status_id, loads[presence.agent_id]
        )  # fmt: skip


def test_the_agents_api_filters_availability_in_sql(supervisor_api, make_agent, statuses,
                                                     django_assert_max_num_queries):  # fmt: skip
    free = [make_agent(f"free{i}") for i in range(30)]
    busy = make_agent("full", capacity_email=1, can_chat=False)
    TicketFactory(assignee=busy)
    make_agent("away", status="lunch")
    with django_assert_max_num_queries(8):
        response = supervisor_api.get("/api/v1/agents/?availability=free")
    assert response.json()["count"] == len(free)
    assert [r["username"] for r in supervisor_api.get("/api/v1/agents/?availability=busy").json()["results"]] == [
        "full"
    ]
