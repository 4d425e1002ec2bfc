"""The webhooks admin (A2, U4): a webhook's secret is shown once and never rendered again, a bad URL or
event is a form error, and the delivery log's Resend sends a delivery again."""

import pytest
from django.urls import reverse

from webhooks.models import Delivery, Event, Webhook
from webhooks.services import webhooks_emit


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _add(client, **data):
    data = {"url": "https://chat.example/hooks", "events": ["status.changed"], "active": "on", "new_secret": "", **data}
    return client.post(reverse("admin:webhooks_webhook_add"), data)


def test_adding_a_webhook_shows_its_secret_once(admin_client):
    response = _add(admin_client, events=["status.changed", "live_chat.availability_changed"])
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.events == ["status.changed", "live_chat.availability_changed"] and len(webhook.secret) == 64
    shown = admin_client.get(response.url)  # the page after saving, with its messages
    assert webhook.secret in shown.content.decode()
    for url in (response.url, reverse("admin:webhooks_webhook_change", args=[webhook.pk])):
        page = admin_client.get(url)
        assert page.status_code == 200 and webhook.secret not in page.content.decode()


def test_the_webhook_list_in_a_fixed_number_of_queries(admin_client, make_webhook, django_assert_max_num_queries):
    for i in range(5):
        make_webhook(f"https://chat.example/{i}")
    # session, user, counts (2), page, agent check, activity
    with django_assert_max_num_queries(7):
        page = admin_client.get(reverse("admin:webhooks_webhook_changelist"))
    assert page.status_code == 200 and "https://chat.example/4" in page.content.decode()


@pytest.mark.parametrize(
    "data, field",
    [({"url": "ftp://files.example/"}, "url"), ({"url": "file:///etc/passwd"}, "url"), ({"events": []}, "events"),
     ({"events": ["status.exploded"]}, "events")],
)  # fmt: skip
def test_a_bad_url_or_event_is_a_form_error(admin_client, data, field):
    response = _add(admin_client, **data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Webhook.objects.exists()


def test_changing_keeps_the_secret_unless_a_new_one_is_typed(admin_client, make_webhook):
    webhook = make_webhook("https://chat.example/hooks")
    url = reverse("admin:webhooks_webhook_change", args=[webhook.pk])
    data = {"url": "https://chat.example/v2", "events": ["ticket.assigned"], "active": "on", "new_secret": ""}
    assert admin_client.post(url, data).status_code == 302
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.secret) == ("https://chat.example/v2", ["ticket.assigned"],
                                                             "s3cret-for-tests")  # fmt: skip
    assert admin_client.post(url, {**data, "new_secret": "rotated"}).status_code == 302
    webhook.refresh_from_db()
    assert webhook.secret == "rotated"


def test_resend_queues_a_failed_delivery_again(
    admin_client, receiver, make_webhook, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # given a delivery that failed for good
    make_webhook(receiver.url)
    (delivery,) = webhooks_emit(Event.STATUS_CHANGED, {"x": 1})
    Delivery.objects.filter(pk=delivery.pk).update(state="failed", attempts=8, next_attempt_at=None,
                                                   last_status_code=500, last_error="HTTP 500")  # fmt: skip
    changelist = reverse("admin:webhooks_delivery_changelist")
    webhooks_emit(Event.STATUS_CHANGED, {"x": 2})
    make_webhook(receiver.url + "/other")
    webhooks_emit(Event.STATUS_CHANGED, {"x": 3})
    # session, user, the webhook filter, counts, page, agent check, date hierarchy (2), activity
    with django_assert_max_num_queries(10):
        page = admin_client.get(changelist)
    assert page.status_code == 200 and "HTTP 500" in page.content.decode()
    # when the admin resends it
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(changelist, {"action": "resend", "_selected_action": [delivery.pk]})
    # then it is sent again, and delivered
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 1, 200, "")  # fmt: skip
    assert len(receiver.requests) == 1


def test_the_delivery_log_is_read_only(admin_client, make_webhook):
    make_webhook("https://chat.example/hooks")
    (delivery,) = webhooks_emit(Event.STATUS_CHANGED, {"x": 1})
    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:webhooks_delivery_add")).status_code == 403
    assert admin_client.get(reverse("admin:webhooks_delivery_delete", args=[delivery.pk])).status_code == 403
