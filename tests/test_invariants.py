"""A mixed concurrent workload on PostgreSQL, then every invariant checked (issue 6; P2, T3, T4, P12).

Threads at once: agents switching statuses (signing out too), tickets created (and so routed),
tickets closed and reopened (back to their agent only if they can take it), the sweeps, and a
phone system reporting calls (each event sent twice) while agents press Done. Mappings move tickets away
from any status that does not receive work, so at the end nobody who may not receive holds
routed work.
"""

import random
import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection

from presence.eligibility import eligible_q, is_eligible
from presence.models import AgentPresence, Call, PresenceSettings, Source, Status, StatusChangeLog, TeamMembership
from presence.services import (
    CallEventRefused,
    call_ended,
    call_started,
    presence_auto_offline,
    presence_change_status,
    presence_expire_timed_statuses,
    presence_wrap_up_done,
)
from tests.factories import AgentFactory, TeamFactory, sync_routing
from tickets.models import HELD_STATES, MappingAction, ReassignMapping, RoutingMethod, TeamRouting, Ticket
from tickets.services import team_queue_route, ticket_close, ticket_create, ticket_reopen
from tickets.services.load import load_recount

AGENTS, CAPACITY, ROUNDS = 12, 4, 40


@pytest.mark.django_db(transaction=True)
def test_mixed_workload_keeps_every_invariant():
    statuses = {s.slug: s for s in Status.objects.all()}
    config = PresenceSettings.load()
    config.reassign_on_status_change = True
    config.save()
    for slug in ("busy", "lunch", "meeting", "offline", "on-a-call", "after-call-work"):
        ReassignMapping.objects.create(to_status=statuses[slug], action=MappingAction.REROUTE)
    teams = [TeamFactory(name="RR"), TeamFactory(name="LB")]
    TeamRouting.objects.create(team=teams[0], method=RoutingMethod.ROUND_ROBIN)
    TeamRouting.objects.create(team=teams[1], method=RoutingMethod.LOAD_BALANCE)
    agents = [AgentFactory(status=statuses["available"], profile={"capacity_email": CAPACITY}) for _ in range(AGENTS)]
    TeamMembership.objects.bulk_create([TeamMembership(team=t, agent=a) for t in teams for a in agents])
    sync_routing(*agents)
    created: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(job):
        try:
            job(random.Random(threading.get_ident()))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    def switch_statuses(rng):
        for _ in range(ROUNDS):
            agent = rng.choice(agents)
            slug = rng.choice(["available", "available", "busy", "lunch", "meeting", "offline"])
            # signing out mid-call too: going Offline ends the agent's calls
            source = Source.LOGOUT if slug == "offline" else Source.API
            presence_change_status(agent, statuses[slug], actor=agent, source=source)

    def create_tickets(rng):
        for i in range(ROUNDS):
            ticket = ticket_create(actor=None, subject=f"t{i}", team=rng.choice(teams))
            with lock:
                created.append(ticket.pk)

    def close_tickets(rng):
        for _ in range(ROUNDS):
            held = list(Ticket.objects.filter(state__in=HELD_STATES).values_list("pk", flat=True)[:20])
            if held:
                ticket_close(Ticket.objects.get(pk=rng.choice(held)), actor=None)

    def reopen_tickets(rng):
        for _ in range(ROUNDS // 2):
            closed = list(Ticket.objects.filter(state="closed").values_list("pk", flat=True)[:20])
            if closed:
                ticket_reopen(Ticket.objects.get(pk=rng.choice(closed)), actor=None)

    def phone_calls(rng):
        for i in range(ROUNDS // 2):
            agent = rng.choice(agents)
            for event in ("started", "started", "ended", "ended"):  # the phone system repeats itself
                try:
                    (call_started if event == "started" else call_ended)(agent, f"call-{i}", actor=None)
                except CallEventRefused:
                    pass  # Offline meanwhile (auto-offline), or the start was refused for that
            try:
                presence_wrap_up_done(agent, actor=agent)
            except CallEventRefused:
                pass  # the end was refused, or somebody moved the agent meanwhile

    def sweeps(rng):
        for _ in range(ROUNDS // 4):
            presence_expire_timed_statuses()
            presence_auto_offline()
            for team in teams:
                team_queue_route(team.pk)

    jobs = [switch_statuses, switch_statuses, create_tickets, create_tickets, close_tickets, reopen_tickets, sweeps,
            phone_calls]  # fmt: skip
    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert errors == [], errors

    # no lost ticket
    assert Ticket.objects.count() == len(created) == 2 * ROUNDS
    # nobody over capacity; nobody who may not receive holds work (mappings moved it away)
    held = Ticket.objects.filter(state__in=HELD_STATES, assignee__isnull=False)
    per_agent = Counter(held.values_list("assignee_id", flat=True))
    assert max(per_agent.values(), default=0) <= CAPACITY
    # by the one routing rule itself (presence.eligibility), for each ticket's kind, in SQL and in Python
    not_receiving = held.filter(linked_to_chat=False).exclude(eligible_q("assignee__presence__", chat=False))
    not_receiving |= held.filter(linked_to_chat=True).exclude(eligible_q("assignee__presence__", chat=True))
    assert not not_receiving.exists(), "a ticket is held by an agent whose status does not receive"
    presences = AgentPresence.objects.select_related("status").in_bulk(list(per_agent))
    for assignee_id, chat in held.values_list("assignee_id", "linked_to_chat"):
        assert is_eligible(presences[assignee_id], chat=chat), presences[assignee_id].status.name
    # one log row per actual transition: each agent's log is one unbroken chain to where they are
    chains = defaultdict(list)
    for agent_id, from_id, to_id in StatusChangeLog.objects.order_by("at", "id").values_list(
        "agent_id", "from_status_id", "to_status_id"
    ):
        chains[agent_id].append((from_id, to_id))
    current = dict(AgentPresence.objects.values_list("agent_id", "status_id"))
    for agent_id, chain in chains.items():
        assert all(a[1] == b[0] and a[0] != a[1] for a, b in zip(chain, chain[1:], strict=False)), chain
        assert chain[-1][1] == current[agent_id]
    # each call event took effect once: at most one "started" and one "ended" change per call
    phone = Counter(StatusChangeLog.objects.filter(source="telephony").values_list("reason", flat=True))
    assert all(n == 1 for reason, n in phone.items() if reason.startswith("call ")), phone
    assert Call.objects.count() <= ROUNDS // 2
    # nobody is left On a call, and everyone in after call work has a call to wrap up
    assert not AgentPresence.objects.filter(status__slug="on-a-call").exclude(agent__calls__state="active").exists()
    # every call still running belongs to an agent On a call, and nobody Offline has a call open:
    # going Offline ends an agent's calls, so no end the phone system sends is lost on them
    running = Call.objects.filter(state=Call.State.ACTIVE)
    assert not running.exclude(agent__presence__status__slug="on-a-call").exists(), list(
        running.values_list("call_id", "agent__presence__status__slug")
    )
    open_calls = Call.objects.filter(state__in=[Call.State.ACTIVE, Call.State.WRAP_UP])
    assert not open_calls.filter(agent__presence__status__category="offline").exists()
    assert (
        not AgentPresence.objects.filter(status__slug="after-call-work").exclude(agent__calls__state="wrap_up").exists()
    )
    # the load counters are the tickets held, to the ticket, after all of that
    assert load_recount(repair=False) == []
    # each ticket was routed to one agent at a time: no two assignment rows at the same moment
    moments = Counter(Ticket.history.filter(history_type="~").values_list("id", "history_date"))
    assert max(moments.values(), default=1) == 1
