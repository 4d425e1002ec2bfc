"""Automatic assignment (T2, T3) under the one routing rule (T7): who receives (status, channel
capability, capacity, active membership, not finishing P4), round robin and load balance (T2), and
queues routed when an agent becomes eligible (T3)."""

import pytest
from django.db import connection

from presence.models import AgentPresence, Source, TeamMembership
from presence.services import presence_change_status
from presence.shared.sql import PreparedCursor, prepared_cursor
from tests.factories import StatusFactory, TicketFactory, bulk_members, recount_load, sync_routing
from tickets.models import RoutingMethod, Ticket
from tickets.services import team_queue_route, ticket_close, ticket_create

pytestmark = pytest.mark.django_db


def _create(team, actor=None, **kwargs) -> Ticket:
    return ticket_create(actor=actor, subject=kwargs.pop("subject", "Help"), team=team, **kwargs)


# --- T3: eligibility ---------------------------------------------------------------------


@pytest.mark.sqlite
def test_new_ticket_in_a_routing_team_goes_to_an_available_member(make_team, make_agent):
    team = make_team()
    ann = make_agent("ann", teams=[team])
    ticket = _create(team)
    assert ticket.assignee == ann and ticket.assigned_at is not None
    assert ticket.history.first().history_type == "~"


def test_manual_team_and_no_team_leave_tickets_unassigned(make_team, make_agent):
    manual = make_team("Manual", RoutingMethod.MANUAL)
    make_agent("ann", teams=[manual])
    assert _create(manual).assignee is None
    assert _create(None).assignee is None


@pytest.mark.parametrize("status", ["busy", "lunch", "not-ready", "offline", "out-of-office", "kicked-out"])
def test_only_statuses_in_load_balance_receive(make_team, make_agent, status):
    team = make_team()
    make_agent("ann", teams=[team], status=status)
    assert _create(team).assignee is None


def test_in_load_balance_for_chat_receives_only_chat_linked_tickets(make_team, make_agent):
    team = make_team()
    chat_only = StatusFactory(name="Chat only", category="online", can_receive=True, in_load_balance_for_chat=True)
    agent = make_agent("ann", teams=[team])
    presence_change_status(agent, chat_only, actor=agent, source=Source.API)
    assert _create(team, channel="email").assignee is None
    assert _create(team, channel="chat", linked_to_chat=True).assignee == agent
    assert _create(team, channel="chat", linked_to_chat=False).assignee is None


def test_capability_for_the_channel_is_needed(make_team, make_agent):
    team = make_team()
    make_agent("ann", teams=[team], can_phone=False)
    bob = make_agent("bob", teams=[team], can_phone=True)
    assert _create(team, channel="phone").assignee == bob
    # Portal tickets need the email capability.
    cara = make_agent("cara", teams=[make_team("Portal")], can_email=True)
    assert _create(cara.team_memberships.get().team, channel="portal").assignee == cara


def test_capacity_per_channel_is_never_exceeded(make_team, make_agent):
    team = make_team()
    ann = make_agent("ann", teams=[team], capacity_chat=2, capacity_email=1)
    chats = [_create(team, channel="chat") for _ in range(3)]
    assert [t.assignee for t in chats] == [ann, ann, None]
    assert _create(team, channel="email").assignee == ann  # other channels have their own room
    assert _create(team, channel="email").assignee is None


def test_pending_tickets_count_against_capacity_and_closed_ones_do_not(
    make_team, make_agent, django_capture_on_commit_callbacks
):
    team = make_team()
    ann = make_agent("ann", teams=[team], capacity_email=1)
    first = _create(team)
    Ticket.objects.filter(pk=first.pk).update(state="pending")
    assert _create(team).assignee is None
    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(first, actor=ann)
    assert Ticket.objects.filter(assignee=ann).exclude(pk=first.pk).count() == 1  # the queued one got routed


def test_only_active_members_of_the_team_receive(make_team, make_agent):
    team, other = make_team(), make_team("Other")
    ann = make_agent("ann", teams=[team])
    make_agent("bob", teams=[other])
    TeamMembership.objects.filter(agent=ann).update(active=False)
    sync_routing(ann)
    assert _create(team).assignee is None


def test_finishing_agents_receive_nothing_new(make_team, make_agent, statuses):
    team = make_team()
    ann = make_agent("ann", teams=[team])
    AgentPresence.objects.filter(agent=ann).update(pending_status=statuses["lunch"])
    sync_routing(ann)
    assert _create(team).assignee is None


# --- round robin and load balance -----------------------------------------------------------


def test_round_robin_takes_turns_and_remembers_the_cursor(make_team, make_agent):
    team = make_team()
    ann, bob, cara = (make_agent(name, teams=[team]) for name in ("ann", "bob", "cara"))
    got = [_create(team).assignee for _ in range(5)]
    assert got == [ann, bob, cara, ann, bob]
    # the cursor is each membership's last turn: cara waited longest, bob just had a ticket
    turns = team.memberships.order_by("last_assigned_at").values_list("agent__username", flat=True)
    assert list(turns) == ["cara", "ann", "bob"]
    # The cursor survives; an agent leaving the pool is skipped.
    presence_change_status(cara, AgentPresence.objects.get(agent=ann).status.__class__.objects.get(slug="busy"),
                           actor=cara, source=Source.API)  # fmt: skip
    assert [_create(team).assignee for _ in range(2)] == [ann, bob]


def test_load_balance_picks_the_agent_with_fewest_open_tickets(make_team, make_agent):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    ann, bob = make_agent("ann", teams=[team]), make_agent("bob", teams=[team])
    elsewhere = make_team("Elsewhere", RoutingMethod.MANUAL)
    for _ in range(2):  # ann already holds two tickets from another team
        TicketFactory(subject="old", team=elsewhere, assignee=ann)
    got = [_create(team).assignee for _ in range(4)]
    assert got == [bob, bob, ann, bob]


# --- routing the queue again -------------------------------------------------------------------


def test_queue_is_routed_when_an_agent_becomes_eligible(
    make_team, make_agent, statuses, django_capture_on_commit_callbacks
):
    team = make_team()
    ann = make_agent("ann", teams=[team], status="busy")
    waiting = [_create(team) for _ in range(2)]
    assert all(t.assignee is None for t in waiting)
    with django_capture_on_commit_callbacks(execute=True):
        presence_change_status(ann, statuses["available"], actor=ann, source=Source.API)
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in waiting]).values_list("assignee", flat=True)) == {ann.pk}


def test_queue_is_routed_when_capacity_frees_up(make_team, make_agent, django_capture_on_commit_callbacks):
    team = make_team()
    ann = make_agent("ann", teams=[team], capacity_email=1)
    first, second = _create(team), _create(team)
    assert (first.assignee, second.assignee) == (ann, None)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_close(first, actor=ann)
    second.refresh_from_db()
    assert second.assignee == ann


def test_team_queue_route_is_oldest_first_and_idempotent(make_team, make_agent):
    team = make_team()
    ann = make_agent("ann", teams=[team], status="busy", capacity_email=2)
    tickets = [_create(team, subject=f"t{i}") for i in range(3)]
    AgentPresence.objects.filter(agent=ann).update(
        status=AgentPresence.objects.get(agent=ann).status.__class__.objects.get(slug="available")
    )
    sync_routing(ann)
    routed = team_queue_route(team.pk)
    assert [t.subject for t in routed] == ["t0", "t1"]
    assert team_queue_route(team.pk) == []
    assert Ticket.objects.get(pk=tickets[2].pk).assignee is None


def test_routing_one_ticket_query_count(make_team, make_agent, django_assert_max_num_queries):
    team = make_team()
    for name in ("ann", "bob", "cara"):
        make_agent(name, teams=[team])
    with django_assert_max_num_queries(16):
        # validate team, insert + history; then lock ticket, lock team row, read candidates and
        # their load, lock the chosen one and count its load again, move the cursor, UPDATE with
        # history; refresh; 4 savepoint statements
        ticket = _create(team)
    assert ticket.assignee is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_routing_statements_are_prepared_once_and_keep_a_generic_plan(make_team, make_agent):
    """The ticket lock, the pick and the move are planned once per connection, not per ticket
    (presence/shared/sql.py): PostgreSQL keeps their generic plan and never plans them again."""
    team = make_team()
    make_agent("ann", teams=[team])
    for _ in range(3):
        assert _create(team).assignee is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        rows = cursor.fetchall()
    lock, pick, move = (
        [(generic, custom) for statement, generic, custom in rows if marker in statement]
        for marker in (
            "FOR UPDATE OF t SKIP LOCKED",
            "SELECT m.agent_id, m.overflow, m.load",
            "WITH old (id, old_assignee",
        )
    )
    for plans in (lock, pick, move):
        assert plans and sum(generic for generic, _ in plans) >= 3 and all(custom == 0 for _, custom in plans)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
@pytest.mark.parametrize(
    ("method", "index"),
    [
        (RoutingMethod.LOAD_BALANCE, "membership_pick_by_load"),
        (RoutingMethod.ROUND_ROBIN, "membership_pick_round_robin"),
    ],
)
@pytest.mark.parametrize("reader", ["page", "with passed over"])
def test_the_pick_s_generic_plan_walks_the_team_s_index(make_team, statuses, settings, method, index, reader):
    """A team of 100 at work, all Available: one status in fourteen receives, but nearly every
    member does. The pick's plan, made once per connection without the team, walks the pick
    index and stops at the first member free, rather than read and sort the whole team (which
    a join to the statuses made PostgreSQL think as cheap, and half the bench's runs chose: a
    hash join of every presence row to the statuses, then a sort). The same for a single
    ticket's pick that reads the members it passes over for its decision (which, sure that one
    row would be free, once hash-joined them to every load row and sorted them)."""
    from tickets.services.routing import _page, _page_sql, _pick_with_passed_over, _pick_with_passed_over_sql

    team = make_team(method=method)
    users = bulk_members(team, 100, statuses["available"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if reader == "page":
        picked = _page(team.pk, "email", False, method, 1, ())
        sql = _page_sql("postgresql", "email", False, method, 1, 0, False)
    else:
        picked = _pick_with_passed_over(team.pk, "email", False, method, ())
        sql = _pick_with_passed_over_sql("email", False, method, False, settings.ROUTING_DECISIONS_PASSED_OVER)
        assert picked[0].passed == "[]"
    assert [m.agent_id for m in picked] == [users[0].pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement = %s", [sql.replace("%s", "$1")])
        (name,) = cursor.fetchone()
        cursor.execute(f"EXPLAIN EXECUTE {name}(%s)", [team.pk])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The walk goes first and the limit stops it; how the few rows it reads are joined depends
    # on the tables' sizes (a test database's are tiny).
    nodes = [line.strip().removeprefix("->").strip().split("  (")[0] for line in plan.splitlines()]
    assert f"Index Scan using {index} on presence_teammembership m" in nodes, plan
    assert not any(node.startswith(("Sort", "Incremental Sort", "Hash")) for node in nodes), plan


def test_routing_without_prepared_statements(make_team, make_agent, settings):
    """DATABASE_PREPARED_STATEMENTS=0 (a pooler that cannot keep them): the same routing, plain statements."""
    settings.DATABASE_PREPARED_STATEMENTS = False
    team = make_team()
    ann = make_agent("ann", teams=[team])
    with prepared_cursor() as cursor:
        assert not isinstance(cursor.cursor, PreparedCursor)
    assert _create(team).assignee == ann


def test_one_plan_across_two_teams_respects_capacity(make_team, make_agent, statuses, presence_settings):
    """A reroute of tickets from two teams must count what it already gave a shared member."""
    from tickets.models import MappingAction, ReassignMapping

    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    ReassignMapping.objects.create(to_status=statuses["busy"], action=MappingAction.REROUTE)
    one, two = make_team("One"), make_team("Two")
    leaving = make_agent("leaving", teams=[one, two])
    shared = make_agent("shared", teams=[one, two], capacity_email=3)
    Ticket.objects.bulk_create(
        [Ticket(subject=f"{team.name}{i}", team=team, assignee=leaving) for team in (one, two) for i in range(3)]
    )
    recount_load()
    presence_change_status(leaving, statuses["busy"], actor=leaving, source=Source.API)
    assert Ticket.objects.filter(assignee=shared).count() == 3
    assert Ticket.objects.unassigned().count() == 3


def test_queue_sweep_routes_what_was_skipped(make_team, make_agent):
    from tickets.services import tickets_route_queues
    from tickets.tasks import route_queues_task

    team, manual = make_team(), make_team("Manual", RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team, manual])
    waiting = Ticket.objects.bulk_create([Ticket(subject=f"w{i}", team=team) for i in range(3)])
    TicketFactory(subject="by hand", team=manual)
    assert route_queues_task() == 3
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in waiting]).values_list("assignee", flat=True)) == {ann.pk}
    assert Ticket.objects.get(subject="by hand").assignee is None
    assert tickets_route_queues() == 0
