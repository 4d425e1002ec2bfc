import pytest

from presence.models import AgentPresence, TeamMembership
from tests.factories import AgentFactory, TeamFactory
from tickets.models import RoutingMethod, TeamRouting


@pytest.fixture
def make_team(db):
    def make(name="Support", method=RoutingMethod.ROUND_ROBIN):
        team = TeamFactory(name=name)
        TeamRouting.objects.create(team=team, method=method)
        return team

    return make


@pytest.fixture
def make_agent(db, statuses):
    """An agent in `status` (Available by default), member of `teams`, with profile overrides."""

    def make(username, *, teams=(), status="available", **profile):
        agent = AgentFactory(username=username, status=statuses[status], profile=profile or None)
        for team in teams:
            TeamMembership.objects.create(agent=agent, team=team)
        return agent

    return make


def status_of(agent):
    return AgentPresence.objects.select_related("status", "pending_status").get(agent=agent)
