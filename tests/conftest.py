import importlib

import pytest
from django.apps import apps
from django.core.cache import cache
from rest_framework.test import APIClient

from presence.models import PresenceSettings, Status, TeamMembership
from presence.roles import roles_setup
from tests.factories import AdminFactory, AgentFactory, SupervisorFactory, TeamFactory, sync_routing
from tickets.models import RoutingMethod, TeamRouting
from webhooks.selectors import subscriptions_clear


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Tests create many users; a real password hash each time costs a fifth of a second."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _builtin_rows(request):
    """Transactional tests flush the database after them, data-migration rows included: give
    them the built-in statuses, settings and the supervisors group back, with the same
    idempotent code the migrations run."""
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (len(marker.args) > 0 and marker.args[0])):
        request.getfixturevalue("transactional_db")
        importlib.import_module("presence.migrations.0002_builtin_statuses").create_builtin(apps, None)
        importlib.import_module("presence.migrations.0007_phone_statuses_one_routing_rule").create(apps, None)
        roles_setup()


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    subscriptions_clear()  # what this process remembers of the webhooks' subscriptions
    yield
    cache.clear()


@pytest.fixture
def statuses(db) -> dict[str, Status]:
    """The built-in statuses of the data migration, by slug."""
    return {status.slug: status for status in Status.objects.all()}


@pytest.fixture
def presence_settings(db) -> PresenceSettings:
    return PresenceSettings.load()


@pytest.fixture
def agent(db):
    return AgentFactory(username="ann")


@pytest.fixture
def other_agent(db):
    return AgentFactory(username="bob")


@pytest.fixture
def supervisor(db):
    return SupervisorFactory(username="sam")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="root")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def agent_api(agent) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


@pytest.fixture
def supervisor_api(supervisor) -> APIClient:
    client = APIClient()
    client.force_authenticate(supervisor)
    return client


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


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
        sync_routing(agent)
        return agent

    return make
