"""Sweeps change their due agents a batch at a time (presence_change_statuses, P2): each change
as the one-agent service would make it, in statements that do not grow with the batch."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from presence.models import AgentPresence, Notice, Source, StatusChangeLog, TeamMembership
from presence.services import presence_expire_timed_statuses, presence_idle_timeout
from presence.services.status_change import Change, presence_change_statuses
from presence.signals import statuses_changed
from tests.factories import AgentFactory, TicketFactory
from tickets.models import MappingAction, ReassignMapping, RoutingMethod, Ticket
from webhooks.selectors import subscriptions_clear

pytestmark = pytest.mark.django_db


def _on_lunch(statuses, n: int, prefix: str = "l", team=None):
    agents = [AgentFactory(username=f"{prefix}{i}", status=statuses["lunch"]) for i in range(n)]
    if team is not None:
        TeamMembership.objects.bulk_create([TeamMembership(team=team, agent=a) for a in agents])
    AgentPresence.objects.filter(agent__in=agents).update(since=timezone.now() - timedelta(hours=2))
    return agents


def _expiry_statements(statuses, n: int, prefix: str) -> int:
    _on_lunch(statuses, n, prefix)
    subscriptions_clear()  # each sweep reads the webhooks' subscriptions (the second would remember them)
    with CaptureQueriesContext(connection) as queries:
        assert presence_expire_timed_statuses() == n
    return len(queries)


def test_a_sweep_costs_the_same_statements_for_5_or_40_due_agents(statuses):
    """P5 expiry (the other sweeps share the path): no statement per agent."""
    few = _expiry_statements(statuses, 5, "few")
    many = _expiry_statements(statuses, 40, "many")
    assert many == few


def test_each_agent_of_a_batch_is_changed_logged_and_routable_as_alone(statuses, make_team):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    agents = _on_lunch(statuses, 3, team=team)
    assert not TeamMembership.objects.filter(team=team, routable=True).exists()

    assert presence_expire_timed_statuses() == 3

    for agent in agents:
        presence = AgentPresence.objects.get(agent=agent)
        assert presence.status == statuses["available"]  # lunch returns to Available
        log = StatusChangeLog.objects.get(agent=agent)
        assert (log.from_status, log.to_status, log.source) == (statuses["lunch"], statuses["available"], "expiry")
        assert log.at == presence.since
        assert "Lunch ended after" in log.reason
    assert TeamMembership.objects.filter(team=team, routable=True).count() == 3  # routing sees them now
    assert not Notice.objects.exists()  # nobody else changed them


def test_mappings_move_every_agents_tickets_in_one_statement(statuses, make_team, presence_settings):
    """T4: idle timeout to Offline with an unassign mapping, for several agents at once."""
    presence_settings.reassign_on_status_change = True
    presence_settings.idle_timeout_minutes = 30
    presence_settings.save()
    ReassignMapping.objects.create(to_status=statuses["offline"], action=MappingAction.UNASSIGN)
    team = make_team(method=RoutingMethod.MANUAL)
    agents = [AgentFactory(username=f"idle{i}", status=statuses["available"]) for i in range(3)]
    held = [TicketFactory(team=team, assignee=a) for a in agents for _ in range(2)]
    AgentPresence.objects.update(last_activity=timezone.now() - timedelta(hours=2))

    with CaptureQueriesContext(connection) as queries:
        assert presence_idle_timeout() == 3

    moves = [q for q in queries if q["sql"].startswith("WITH old")]
    assert len(moves) == 1
    assert set(Ticket.objects.unassigned().values_list("pk", flat=True)) == {t.pk for t in held}
    history = Ticket.history.filter(id=held[0].pk).first()
    assert history.history_change_reason == "Available -> Offline: unassign"


def test_a_failing_batch_is_made_again_one_agent_at_a_time(statuses):
    """Something that only fails together (here a receiver refusing batches) does not stop the
    sweep: each change is made on its own."""
    agents = _on_lunch(statuses, 4)

    def refuse_batches(sender, changes, **kwargs):
        if len(changes) > 1:
            raise RuntimeError("no batches today")

    statuses_changed.connect(refuse_batches, dispatch_uid="test-refuse-batches")
    try:
        assert presence_expire_timed_statuses() == 4
    finally:
        statuses_changed.disconnect(dispatch_uid="test-refuse-batches")
    assert AgentPresence.objects.filter(agent__in=agents, status=statuses["available"]).count() == 4
    assert StatusChangeLog.objects.filter(source="expiry").count() == 4


def test_conditions_are_checked_per_agent_under_the_lock(statuses):
    ann, bob, cid = _on_lunch(statuses, 3)
    lunch, available = statuses["lunch"], statuses["available"]
    changes = [
        Change(ann, available, "back", if_status=lunch),
        Change(bob, available, "back", if_status=statuses["meeting"]),  # not in a meeting
        Change(cid, available, "back", precondition=lambda presence: "told to wait"),
    ]

    results = presence_change_statuses(changes, source=Source.EXPIRY)

    assert [results[a.pk].outcome for a in (ann, bob, cid)] == ["applied", "skipped", "skipped"]
    assert (results[bob.pk].reason, results[cid.pk].reason) == ("no longer Meeting", "told to wait")
    assert StatusChangeLog.objects.filter(source="expiry").count() == 1


def test_people_cannot_use_the_batch_path(statuses, agent):
    with pytest.raises(ValueError):
        presence_change_statuses([Change(agent, statuses["available"])], source=Source.API)
