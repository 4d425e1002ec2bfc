"""The project as a whole: schema, docs, demo data, Celery wiring."""

import pytest
from django.conf import settings
from django.core.management import call_command

from presence.models import AgentPresence, AgentProfile, Team
from tickets.models import TeamRouting, Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.sqlite
def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in [
        "/api/v1/statuses/",
        "/api/v1/presence/me/status/",
        "/api/v1/presence-settings/",
        "/api/v1/status-log/",
    ]:
        assert path in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.sqlite
def test_demo_data_is_idempotent(statuses):
    call_command("demo_data")
    call_command("demo_data")
    assert Ticket.objects.count() == 6
    assert TeamRouting.objects.filter(method="round_robin").count() == 2
    assert AgentProfile.objects.count() == 5
    assert AgentPresence.objects.count() == 5
    assert Team.objects.count() == 3


def test_beat_schedule_names_real_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:SingleBeatScheduler"


@pytest.mark.sqlite
def test_unknown_api_urls_answer_json_and_pages_html(client):
    response = client.get("/api/v1/tickets/0.5/close/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
