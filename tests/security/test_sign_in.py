"""Sign-in throttling at every door (item 1, A3): the form and the admin login (django-axes), the API's
token endpoint (a DRF throttle in the cache). 10 failures per username and address in 15 minutes
lock that pair out for 15 minutes; supervisors can unlock."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from presence.services import sign_in
from tests.factories import PASSWORD, AgentFactory, SupervisorFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

WRONG = "not-the-password"


def _form(client, username, password, *, address="10.0.0.1", path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _token(client, username, password, *, address="10.0.0.1"):
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def test_the_form_locks_a_username_and_address_after_ten_failures(client, statuses):
    AgentFactory(username="ann")
    for _ in range(9):
        assert _form(client, "ann", WRONG).status_code == 200  # the form again, with its error
    assert _form(client, "ann", WRONG).status_code == 429  # the tenth failure locks
    response = _form(client, "ann", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins for <strong>ann</strong> from your address" in response.content.decode()
    assert "_auth_user_id" not in client.session  # the right password did not sign in
    # another address, or another username from this one, is not locked
    assert _form(Client(), "ann", PASSWORD, address="10.0.0.2").status_code == 302
    AgentFactory(username="bob")
    assert _form(Client(), "bob", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client):
    SupervisorFactory(username="sam", is_staff=True)
    for _ in range(10):
        _form(client, "sam", WRONG, path="/admin/login/")
    assert _form(client, "sam", PASSWORD, path="/admin/login/").status_code == 429


def test_the_form_lock_ends_after_fifteen_minutes(client):
    AgentFactory(username="ann")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(10):
            _form(client, "ann", WRONG)
        assert _form(client, "ann", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert _form(client, "ann", PASSWORD).status_code == 302


def test_the_token_endpoint_answers_429_with_retry_after(api_client):
    AgentFactory(username="ann")
    for _ in range(10):
        assert _token(api_client, "ann", WRONG).status_code == 400
    response = _token(api_client, "ann", PASSWORD)
    assert response.status_code == 429
    assert 850 <= int(response["Retry-After"]) <= 900
    assert response.json()["message"].startswith("Too many failed sign-ins for this username from your address")
    assert _token(APIClient(), "ann", PASSWORD, address="10.0.0.2").status_code == 200  # other address


def test_the_token_lock_ends_and_a_success_resets_the_count(api_client):
    AgentFactory(username="ann")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(9):
            _token(api_client, "ann", WRONG)
        assert _token(api_client, "ann", PASSWORD).status_code == 200  # the count starts again
        for _ in range(9):
            _token(api_client, "ann", WRONG)
        assert _token(api_client, "ann", PASSWORD).status_code == 200
        for _ in range(10):
            _token(api_client, "ann", WRONG)
        assert _token(api_client, "ann", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert _token(api_client, "ann", PASSWORD).status_code == 200


def test_the_form_and_the_api_do_not_count_each_others_failures(client, api_client):
    AgentFactory(username="ann")
    for _ in range(6):
        _form(client, "ann", WRONG)
        _token(api_client, "ann", WRONG)
    assert _form(client, "ann", PASSWORD).status_code == 302
    assert _token(api_client, "ann", PASSWORD).status_code == 200


def test_a_supervisor_unlocks_an_agent_in_the_admin(client, api_client):
    ann = AgentFactory(username="ann")
    for _ in range(10):
        _form(client, "ann", WRONG)
        _token(api_client, "ann", WRONG)
    sam = SupervisorFactory(username="sam", is_staff=True)
    supervisor = Client()
    supervisor.force_login(sam)
    listing = supervisor.get(reverse("admin:presence_agentprofile_changelist")).content.decode()
    assert "locked out" in listing
    response = supervisor.post(
        reverse("admin:presence_agentprofile_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [ann.pk]},
        follow=True,
    )
    assert "Unlocked: ann." in response.content.decode()
    assert _form(client, "ann", PASSWORD).status_code == 302
    assert _token(api_client, "ann", PASSWORD).status_code == 200


def test_the_token_endpoint_still_signs_in_when_the_cache_is_down(api_client, monkeypatch, caplog):
    """Redis down: the API's failure counts are skipped (with a warning), not a 500 for everyone."""
    AgentFactory(username="ann")

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    for method in ("get", "set", "delete", "delete_many"):
        monkeypatch.setattr(sign_in.cache, method, unreachable)

    wrong = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": "nope"}, format="json")
    right = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": PASSWORD}, format="json")

    assert wrong.status_code == 400
    assert right.status_code in (200, 201) and right.json()["token"]
    assert "sign-in failures are not counted" in caplog.text
