"""API token lifecycle (item 2, A3): tokens die with a password change, a deactivation or the agent
profile; rotate and sign out; an optional lifetime; the admin shows when each was last used."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from presence.models import ApiTokenUse
from tests.factories import PASSWORD, AgentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _token_for(username: str) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _me(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/presence/me/").status_code


def test_a_password_change_on_the_page_kills_the_token(statuses):
    ann = AgentFactory(username="ann")
    key = _token_for("ann")
    assert _me(key) == 200
    client = Client()
    client.force_login(ann)
    new = "a-new-long-password-42"
    response = client.post(
        "/accounts/password_change/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert _me(key) == 401


def test_a_password_set_anywhere_kills_the_token(statuses):
    ann = AgentFactory(username="ann")
    key = _token_for("ann")
    ann.set_password("another-long-password-7")
    ann.save()
    assert _me(key) == 401
    ann.first_name = "Ann"
    ann.save()  # a save that leaves the password alone keeps a new token
    assert _me(_token_for_password("ann", "another-long-password-7")) == 200


def _token_for_password(username, password) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    return response.json()["token"]


def test_deactivating_the_user_or_deleting_the_profile_kills_the_token(statuses):
    ann = AgentFactory(username="ann")
    key = _token_for("ann")
    ann.is_active = False
    ann.save()
    assert _me(key) == 401 and not Token.objects.filter(user=ann).exists()
    bob = AgentFactory(username="bob")
    key = _token_for("bob")
    admin = Client()
    from tests.factories import AdminFactory

    admin.force_login(AdminFactory(username="root"))
    assert admin.post(reverse("admin:presence_agentprofile_delete", args=[bob.pk]), {"post": "yes"}).status_code == 302
    assert _me(key) == 401


def test_a_token_is_read_with_its_user_and_agent_profile_in_one_statement(
    statuses, supervisor, django_assert_num_queries
):
    ann = AgentFactory(username="ann")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {_token_for('ann')}")
    assert client.post("/api/v1/presence/me/heartbeat/").status_code == 204
    # Once the heartbeat and the token's use are recorded for the minute: the token read, no more.
    with django_assert_num_queries(1):
        assert client.post("/api/v1/presence/me/heartbeat/").status_code == 204
    assert client.get("/api/v1/presence/me/").json()["agent"] == ann.pk
    # The same read for someone who is not an agent: the agent endpoints say so (404), others work.
    sam = APIClient()
    sam.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=supervisor).key}")
    response = sam.post("/api/v1/presence/me/heartbeat/")
    assert response.status_code == 404 and response.json()["code"] == "not_an_agent"
    assert sam.get("/api/v1/statuses/").status_code == 200


def test_an_unknown_token_or_an_inactive_user_is_refused(statuses):
    assert _me("not-a-token") == 401
    ann = AgentFactory(username="ann")
    key = _token_for("ann")
    type(ann).objects.filter(pk=ann.pk).update(is_active=False)  # around the service that revokes tokens
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/presence/me/")
    assert response.status_code == 401 and "inactive" in response.json()["message"]


def test_rotate_gives_a_new_key_and_kills_the_old(statuses):
    AgentFactory(username="ann")
    old = _token_for("ann")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    new = client.post("/api/v1/auth/token/rotate/").json()["token"]
    assert new != old and _me(old) == 401 and _me(new) == 200


def test_delete_signs_the_caller_out_of_the_api(statuses):
    AgentFactory(username="ann")
    key = _token_for("ann")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert _me(key) == 401


def test_an_optional_lifetime(settings, statuses):
    settings.API_TOKEN_TTL_HOURS = 8
    AgentFactory(username="ann")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        key = _token_for("ann")
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        assert _me(key) == 200
    with time_machine.travel(start + timedelta(hours=9), tick=False):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = client.get("/api/v1/presence/me/")
        assert response.status_code == 401 and "expired" in response.json()["message"]
    assert not Token.objects.filter(key=key).exists()


def test_without_a_lifetime_tokens_stay(statuses):
    AgentFactory(username="ann")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        key = _token_for("ann")
    with time_machine.travel(start + timedelta(days=400), tick=False):
        assert _me(key) == 200


def test_the_token_admin_shows_when_each_token_was_last_used(admin_client, statuses):
    AgentFactory(username="ann")
    key = _token_for("ann")
    page = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    assert "never" in page
    _me(key)
    assert ApiTokenUse.objects.get(token_id=key).last_used_at
    page = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    assert "last used" in page.lower() and "never" not in page
