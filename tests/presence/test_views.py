"""The header status dropdown (U1) without JavaScript: a form post, refusals and approval requests
(P6) as messages; the home page of a non-agent (U2)."""

from html import escape

import pytest
from django.urls import reverse

from presence.models import AgentPresence, Status, StatusChangeLog, StatusRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_agent_page_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.sqlite
def test_header_dropdown_shows_status_and_enabled_choices(agent_client, statuses):
    statuses["training"].enabled = False
    statuses["training"].save()
    page = agent_client.get("/").content.decode()
    assert 'aria-label="Change status"' in page
    assert statuses["available"].color in page  # signing in applied the login status
    assert "Meeting" in page and ">🎓 Training<" not in page and "Kicked out" not in page


@pytest.mark.sqlite
def test_dropdown_form_post_changes_status_without_javascript(agent_client, agent, statuses):
    response = agent_client.post(
        reverse("presence:status-change"), {"status": statuses["busy"].pk, "next": "/"}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    assert AgentPresence.objects.get(agent=agent).status == statuses["busy"]
    assert StatusChangeLog.objects.filter(agent=agent).first().source == "dropdown"
    assert "Your status is now Busy." in response.content.decode()


def test_dropdown_refusal_is_a_message_not_an_error_page(agent_client, agent, statuses):
    kicked_out = statuses[Status.KICKED_OUT].pk
    response = agent_client.post(reverse("presence:status-change"), {"status": kicked_out}, follow=True)
    assert response.status_code == 200
    assert "set by the system only" in response.content.decode()
    assert AgentPresence.objects.get(agent=agent).status == statuses["available"]


def test_dropdown_approval_status_files_a_request(agent_client, agent, statuses):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    page = agent_client.get("/").content.decode()
    assert "Training (needs approval)" in page
    response = agent_client.post(reverse("presence:status-change"), {"status": statuses["training"].pk}, follow=True)
    assert "waits for a supervisor" in response.content.decode()
    assert StatusRequest.objects.get(agent=agent).state == "pending"


@pytest.mark.parametrize("bad", [999999, "x", ""])
def test_dropdown_bad_status_is_a_message(agent_client, agent, statuses, bad):
    response = agent_client.post(reverse("presence:status-change"), {"status": bad}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose a status from the list." in page or "This field is required." in page
    assert AgentPresence.objects.get(agent=agent).status == statuses["available"]


def test_dropdown_offsite_next_is_ignored(agent_client, statuses):
    response = agent_client.post(
        reverse("presence:status-change"), {"status": statuses["busy"].pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_non_agent_home_page(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert "not set up as an agent" in page and 'aria-label="Change status"' not in page


def test_agent_pages_refuse_a_non_agent_with_their_own_answer(client, admin_user, statuses):
    # given a signed-in user without an agent profile
    client.force_login(admin_user)
    not_an_agent = f'User "{admin_user.get_username()}" is not an agent.'
    # the dropdown without JavaScript: a message and back to the page, nothing changed
    page = client.post(reverse("presence:status-change"), {"status": statuses["busy"].pk}, follow=True)
    assert page.status_code == 200 and escape(not_an_agent) in page.content.decode()
    # the page's script: JSON 404 with the message
    state = client.get(reverse("presence:status-state"))
    assert state.status_code == 404 and state.json() == {"message": not_an_agent}
    # a GET of a form post is still a 405, and an anonymous user still goes to the login page
    assert client.get(reverse("presence:still-working")).status_code == 405
    client.logout()
    assert client.post(reverse("presence:still-working"))["Location"].startswith("/accounts/login/")
    assert not AgentPresence.objects.filter(agent=admin_user).exists()
