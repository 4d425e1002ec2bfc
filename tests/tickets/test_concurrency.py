"""Routing under real concurrency on PostgreSQL (T3): threads with their own connections."""

import threading
from collections import Counter

import pytest
from django.db import connection

from presence.models import AgentPresence, Status, TeamMembership
from tests.factories import AgentFactory, TeamFactory, sync_routing
from tickets.models import RoutingMethod, TeamRouting, Ticket
from tickets.services import team_queue_route, ticket_create

AGENTS = 20
CAPACITY = 20
TICKETS = 500
THREADS = 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_routing_never_double_assigns_or_overfills():
    # given two routing teams that share all 20 agents, so routers of both teams compete for them
    available = Status.objects.get(slug=Status.AVAILABLE)
    teams = [TeamFactory(name="Round robin"), TeamFactory(name="Load balance")]
    TeamRouting.objects.create(team=teams[0], method=RoutingMethod.ROUND_ROBIN)
    TeamRouting.objects.create(team=teams[1], method=RoutingMethod.LOAD_BALANCE)
    agents = [AgentFactory(status=available, profile={"capacity_email": CAPACITY}) for _ in range(AGENTS)]
    TeamMembership.objects.bulk_create([TeamMembership(team=t, agent=a) for t in teams for a in agents])
    sync_routing(*agents)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def create_tickets(worker: int) -> None:
        try:
            start.wait()
            for i in range(TICKETS // THREADS):
                ticket_create(actor=None, subject=f"w{worker}-{i}", team=teams[(worker + i) % 2])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when ten threads create (and so route) 500 tickets at once
    threads = [threading.Thread(target=create_tickets, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    # a ticket skipped while every agent was locked by another router waits in the queue
    for team in teams:
        team_queue_route(team.pk)

    # then every place is filled exactly, nobody is over capacity, nothing is lost
    assert Ticket.objects.count() == TICKETS
    per_agent = Counter(Ticket.objects.filter(assignee__isnull=False).values_list("assignee_id", flat=True))
    assert max(per_agent.values()) <= CAPACITY
    assert sum(per_agent.values()) == AGENTS * CAPACITY
    assert Ticket.objects.unassigned().count() == TICKETS - AGENTS * CAPACITY
    # and each assigned ticket was assigned once: one history row that sets its assignee
    assignments = Counter(
        Ticket.history.filter(history_type="~", assignee_id__isnull=False).values_list("id", flat=True)
    )
    assert set(assignments) == set(Ticket.objects.filter(assignee__isnull=False).values_list("pk", flat=True))
    assert set(assignments.values()) == {1}
    assert AgentPresence.objects.filter(pending_status__isnull=False).count() == 0
