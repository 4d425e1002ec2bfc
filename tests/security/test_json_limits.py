"""JSON depth and size (item 5): deep nesting is a 400 and an oversized body a 413, with a
message, on every JSON endpoint, the unauthenticated token endpoint included."""

import pytest
from rest_framework.test import APIClient

from presence.api.parsers import json_depth_exceeds
from tests.factories import AgentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

DEEP = "[" * 1000 + "]" * 1000  # 2 KB


def _post(client, path, body: str):
    return client.generic("POST", path, body, content_type="application/json")


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/presence/me/status/", "/api/v1/tickets/",
                                  "/api/v1/telephony/events/", "/api/v1/statuses/"])  # fmt: skip
def test_deep_nesting_is_a_400_with_a_message(path, statuses):
    # An admin who is an agent too: every endpoint lets them past its permissions to the body.
    client = APIClient()
    client.force_authenticate(AgentFactory(username="ann", is_staff=True, is_superuser=True))
    response = _post(client if path != "/api/v1/auth/token/" else APIClient(), path, DEEP)
    assert response.status_code == 400
    assert response.json()["message"] == "JSON nested deeper than 32 levels is refused."


def test_nesting_up_to_the_limit_parses(statuses):
    client = APIClient()
    client.force_authenticate(AgentFactory(username="ann"))
    body = '{"status": ' + "[" * 31 + "1" + "]" * 31 + "}"
    response = _post(client, "/api/v1/presence/me/status/", body)
    assert response.status_code == 400 and response.json()["code"] == "invalid"  # parsed, then validated


def test_brackets_inside_strings_do_not_count():
    assert not json_depth_exceeds('{"reason": "' + "[" * 100 + '"}', 32)
    assert not json_depth_exceeds('{"reason": "a \\" [[[[ quote"}', 2)
    assert json_depth_exceeds("[[[", 2)


def test_an_oversized_body_is_a_413(settings, statuses):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = APIClient()
    client.force_authenticate(AgentFactory(username="ann"))
    response = _post(client, "/api/v1/tickets/", '{"subject": "' + "x" * 2000 + '"}')
    assert response.status_code == 413 and response.json()["message"] == "The request body is over 1,000 bytes."
    form = client.post("/api/v1/tickets/", {"subject": "x" * 2000})  # a form body: Django's own check
    assert form.status_code == 413


def test_not_json_is_a_400_with_a_message():
    response = _post(APIClient(), "/api/v1/auth/token/", '{"username": ')
    assert response.status_code == 400 and response.json()["message"].startswith("JSON parse error")
    response = _post(APIClient(), "/api/v1/auth/token/", '{"username": NaN}')
    assert response.status_code == 400
