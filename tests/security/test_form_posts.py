"""What the fuzz found in the pages' form posts: a `next` that is not a path, a body Django
refuses, and a username longer than django-axes stores; each a 500 or a 400 after the change."""

import pytest
from django.test import Client

from presence.models import AgentPresence, Notice
from tests.factories import AgentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def ann(statuses):
    agent = AgentFactory(username="ann", status=statuses["available"])
    client = Client()
    client.force_login(agent)
    return agent, client


@pytest.mark.parametrize("target", ["abc", "-1", "true", "٣", "//evil.example.com/x", "https://evil.example.com/"])
def test_a_next_that_is_not_a_path_here_goes_home(ann, statuses, target):
    agent, client = ann
    response = client.post("/status/", {"status": statuses["busy"].pk, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AgentPresence.objects.get(agent=agent).status == statuses["busy"]


def test_a_body_django_refuses_is_a_400_before_any_change(ann, statuses):
    agent, client = ann
    notice = Notice.objects.create(agent=agent, kind="changed_by_supervisor", text="x")
    fields = {f"f{i}": "x" for i in range(1001)}
    assert client.post(f"/notices/{notice.pk}/dismiss/", fields).status_code == 400
    assert Notice.objects.get(pk=notice.pk).dismissed_at is None
    assert client.post("/status/", {"status": statuses["busy"].pk, **fields}).status_code == 400
    assert AgentPresence.objects.get(agent=agent).status == statuses["available"]


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_username_longer_than_anyone_can_have_is_just_a_failed_sign_in(path):
    response = Client().post(path, {"username": "x" * 5000, "password": "nope"})
    assert response.status_code == 200 and "username" in response.content.decode().lower()
