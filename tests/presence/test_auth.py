"""Login and logout move agents between statuses (P3): the login status from the settings (P9),
Offline on logout; a second login keeps the working status; non-agents have no presence."""

import pytest
from django.urls import reverse

from presence.models import AgentPresence, Source, StatusChangeLog
from presence.services import presence_change_status
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _status(user):
    return AgentPresence.objects.get(agent=user).status


@pytest.mark.sqlite
def test_login_puts_an_offline_agent_in_the_login_status(client, statuses, agent):
    response = client.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert response.status_code == 302
    assert _status(agent) == statuses["available"]
    row = StatusChangeLog.objects.get(agent=agent)
    assert (row.source, row.actor) == (Source.LOGIN, agent)


def test_login_status_comes_from_the_settings(client, statuses, agent, presence_settings):
    presence_settings.login_status = statuses["not-ready"]
    presence_settings.save()
    client.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert _status(agent) == statuses["not-ready"]


def test_a_second_login_keeps_the_working_status(client, statuses, agent):
    presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)
    client.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    assert _status(agent) == statuses["busy"]


@pytest.mark.sqlite
def test_logout_puts_the_agent_offline(client, statuses, agent):
    client.post(reverse("login"), {"username": "ann", "password": PASSWORD})
    client.post(reverse("logout"))
    assert _status(agent) == statuses["offline"]
    assert StatusChangeLog.objects.filter(agent=agent, source=Source.LOGOUT).count() == 1


def test_failed_login_changes_nothing(client, statuses, agent):
    client.post(reverse("login"), {"username": "ann", "password": "wrong"})
    assert _status(agent) == statuses["offline"]


def test_non_agents_log_in_and_out_without_a_presence(client, admin_user):
    assert client.post(reverse("login"), {"username": "root", "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    assert not AgentPresence.objects.filter(agent=admin_user).exists()
