"""The webhooks API (A2): admins create, list, change and delete webhooks and read their deliveries;
the secret is shown once; a bad URL or event is a 400 naming the field."""

import pytest

from webhooks.models import Delivery, Event, Webhook
from webhooks.services import webhooks_emit

URL = "/api/v1/webhooks/"


@pytest.mark.sqlite
def test_create_shows_the_generated_secret_once(admin_api):
    response = admin_api.post(URL, {"url": "https://chat.example/hooks", "events": ["status.changed"],
                                    "description": "chat widget"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    webhook = Webhook.objects.get()
    assert body["secret"] == webhook.secret and len(webhook.secret) == 64
    assert (body["url"], body["events"], body["active"], body["description"]) == (
        "https://chat.example/hooks", ["status.changed"], True, "chat widget")  # fmt: skip
    # never again
    assert "secret" not in admin_api.get(f"{URL}{webhook.pk}/").json()
    assert "secret" not in admin_api.get(URL).json()["results"][0]


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://files.example/", "events": ["status.changed"]}, "url"),
        ({"url": "not a url", "events": ["status.changed"]}, "url"),
        ({"events": ["status.changed"]}, "url"),
        ({"url": "https://x.example/", "events": ["status.exploded"]}, "events"),
        ({"url": "https://x.example/", "events": []}, "events"),
        ({"url": "https://x.example/", "events": "status.changed"}, "events"),
        ({"url": "https://x.example/"}, "events"),
        ({"url": "https://x.example/", "events": ["status.changed"], "secret": "x" * 129}, "secret"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(admin_api, body, field):
    response = admin_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"] and response.json()["message"].startswith(field)
    assert not Webhook.objects.exists()


def test_change_rotate_the_secret_and_delete(admin_api, make_webhook):
    webhook = make_webhook("https://chat.example/hooks")
    detail = f"{URL}{webhook.pk}/"
    response = admin_api.patch(detail, {"events": ["ticket.assigned", "coverage.changed", "ticket.assigned"],
                                        "active": False}, format="json")  # fmt: skip
    assert response.status_code == 200 and "secret" not in response.json()
    assert response.json()["events"] == ["ticket.assigned", "coverage.changed"]  # each once
    assert admin_api.patch(detail, {"secret": ""}, format="json").status_code == 200  # blank keeps it
    assert Webhook.objects.get().secret == webhook.secret
    assert admin_api.patch(detail, {"secret": "a-new-secret"}, format="json").status_code == 200
    assert Webhook.objects.get().secret == "a-new-secret"
    response = admin_api.patch(detail, {"url": "javascript:alert(1)"}, format="json")
    assert response.status_code == 400 and "url" in response.json()["errors"]
    assert admin_api.delete(detail).status_code == 204
    assert not Webhook.objects.exists()


def test_list_and_deliveries_in_a_fixed_number_of_queries(admin_api, make_webhook, django_assert_max_num_queries):
    first = make_webhook("https://a.example/")
    make_webhook("https://b.example/", events=[Event.TICKET_ASSIGNED])
    for i in range(5):
        webhooks_emit(Event.STATUS_CHANGED, {"n": i})
    webhooks_emit(Event.TICKET_ASSIGNED, {"n": 99})
    # the activity middleware's once-a-minute write, then count and page
    with django_assert_max_num_queries(3):
        assert admin_api.get(URL).json()["count"] == 2
    with django_assert_max_num_queries(3):  # the webhook, count, page
        response = admin_api.get(f"{URL}{first.pk}/deliveries/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    newest = body["results"][0]
    assert newest["payload"] == {"n": 4} and newest["event"] == "status.changed"
    assert (newest["state"], newest["attempts"], newest["last_status_code"], newest["last_error"]) == (
        "pending", 0, None, "")  # fmt: skip
    assert set(newest) >= {"event_id", "next_attempt_at", "delivered_at", "created_at"}
    assert Delivery.objects.count() == 6


def test_supervisors_and_agents_are_refused(supervisor_api, agent_api, make_webhook):
    webhook = make_webhook("https://a.example/")
    for client in (supervisor_api, agent_api):
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}{webhook.pk}/deliveries/").status_code == 403
        assert client.post(URL, {"url": "https://x.example/", "events": ["status.changed"]}).status_code == 403
