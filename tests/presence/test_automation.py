"""Time-travel tests of the presence sweeps: timed statuses (P5), auto-offline (C5), idle timeout
(C4), kick-out (C6)."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from presence.models import AgentPresence, AgentSession, Source, Status, StatusChangeLog, StillWorkingPrompt
from presence.services import (
    presence_answer_still_working,
    presence_ask_still_working,
    presence_auto_offline,
    presence_change_status,
    presence_expire_timed_statuses,
    presence_idle_timeout,
    presence_kick_out_unanswered,
    presence_record_activity,
    presence_record_heartbeat,
)
from tests.factories import PASSWORD, AgentFactory, StatusFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


def at(minutes: float):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def status_slug(agent) -> str:
    return AgentPresence.objects.select_related("status").get(agent=agent).status.slug


def _in(statuses, status, username="ann", **profile):
    """An agent put in `status` (a slug of a built-in, or a Status) at T0."""
    with at(0):
        agent = AgentFactory(username=username, profile=profile or None)
        status = statuses[status] if isinstance(status, str) else status
        presence_change_status(agent, status, actor=agent, source=Source.API)
    return agent


# --- P5 ---------------------------------------------------------------------------------------


def test_custom_timed_status_expires_and_a_manual_change_stops_it(statuses):
    coffee = StatusFactory(name="Coffee", max_duration=10, return_status=statuses["busy"])
    ann = _in(statuses, coffee)
    bob = _in(statuses, coffee, username="bob")
    with at(5):
        presence_change_status(bob, statuses["meeting"], actor=bob, source=Source.API)
    with at(11):
        assert presence_expire_timed_statuses() == 1
    assert (status_slug(ann), status_slug(bob)) == ("busy", "meeting")


def test_expiry_catches_up_after_a_missed_run(statuses):
    ann = _in(statuses, "lunch")
    with at(300):  # the beat was down for hours
        assert presence_expire_timed_statuses() == 1
    assert status_slug(ann) == "available"


# --- C5 auto-offline --------------------------------------------------------------------------------


def test_auto_offline_after_n_minutes_without_heartbeat(statuses, presence_settings):
    ann = _in(statuses, "available")
    with at(9):
        presence_record_heartbeat(ann)
    with at(19):  # 10 minutes after the last heartbeat, plus the write lag still inside
        assert presence_auto_offline() == 0
    with at(20.5):
        assert presence_auto_offline() == 1
        assert presence_auto_offline() == 0
    assert status_slug(ann) == "offline"
    assert StatusChangeLog.objects.filter(agent=ann, source=Source.AUTO_OFFLINE).count() == 1


def test_heartbeat_inside_the_window_changes_nothing(statuses):
    ann = _in(statuses, "available")
    for minute in range(0, 60, 5):
        with at(minute):
            presence_record_heartbeat(ann)
            assert presence_auto_offline() == 0
    assert status_slug(ann) == "available"


def test_auto_offline_only_for_receiving_statuses_and_uses_the_configured_status(statuses, presence_settings):
    presence_settings.auto_offline_minutes = 5
    presence_settings.auto_offline_status = statuses["not-ready"]
    presence_settings.save()
    ann = _in(statuses, "available")
    bob = _in(statuses, "busy", username="bob")
    with at(7):
        assert presence_auto_offline() == 1
    assert (status_slug(ann), status_slug(bob)) == ("not-ready", "busy")


# --- C4 idle timeout ------------------------------------------------------------------------------------


@pytest.fixture
def idle_15(presence_settings):
    presence_settings.idle_timeout_minutes = 15
    presence_settings.save()
    return presence_settings


def test_idle_timeout_logs_out_and_ends_sessions(client, statuses, idle_15, django_capture_on_commit_callbacks):
    with at(0):
        ann = AgentFactory(username="ann")
        client.post("/accounts/login/", {"username": "ann", "password": PASSWORD})
    assert AgentSession.objects.filter(agent=ann).count() == 1
    with at(10):
        presence_record_activity(ann)
    with at(25.5):  # 15 minutes after the last activity, plus the write lag
        assert presence_idle_timeout() == 0
    with at(26.5), django_capture_on_commit_callbacks(execute=True):
        assert presence_idle_timeout() == 1
        assert presence_idle_timeout() == 0
    assert status_slug(ann) == "offline"
    assert not AgentSession.objects.exists() and not Session.objects.exists()
    assert client.get("/").status_code == 302  # signed out


def test_idle_timeout_for_named_and_concurrent_licences(statuses, idle_15):
    named = _in(statuses, "available", username="named", licence_type="named")
    concurrent = _in(statuses, "available", username="conc", licence_type="concurrent")
    idle_15.idle_timeout_named = False
    idle_15.save()
    with at(20):
        assert presence_idle_timeout() == 1
    assert (status_slug(named), status_slug(concurrent)) == ("available", "offline")


def test_idle_timeout_off_and_per_status_override(statuses, presence_settings):
    assert presence_settings.idle_timeout_minutes is None
    ann = _in(statuses, "available")
    meeting = statuses["meeting"]
    meeting.idle_timeout = 120
    meeting.save()
    bob = _in(statuses, "meeting", username="bob")
    with at(100):
        assert presence_idle_timeout() == 0
    with at(122):
        assert presence_idle_timeout() == 1
    assert (status_slug(ann), status_slug(bob)) == ("available", "offline")


def test_idle_timeout_minimum_is_five_minutes(presence_settings):
    from django.core.exceptions import ValidationError

    presence_settings.idle_timeout_minutes = 4
    with pytest.raises(ValidationError, match="at least 5 minutes"):
        presence_settings.full_clean()


def test_activity_is_written_at_most_once_a_minute(agent):
    """One UPDATE (written through: no Redis here), then nothing."""
    with at(0), CaptureQueriesContext(connection) as first:
        presence_record_activity(agent)
    with at(0.5), CaptureQueriesContext(connection) as second:
        presence_record_activity(agent)
    assert [q["sql"][:6] for q in first] == ["UPDATE"] and len(second) == 0
    assert AgentPresence.objects.get(agent=agent).last_activity == T0


def test_idle_warning_deadline_in_presence_me(agent_api, agent, statuses, idle_15):
    with at(0):
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
        body = agent_api.get("/api/v1/presence/me/").json()
    assert body["idle_logout_at"].startswith((T0 + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))


def test_agent_requests_count_as_activity_but_polling_does_not(client, agent, statuses):
    with at(0):
        client.force_login(agent)
    AgentPresence.objects.filter(agent=agent).update(last_activity=None)
    with at(1):
        client.get("/api/v1/presence/me/")
        client.post("/api/v1/presence/me/heartbeat/")
    assert AgentPresence.objects.get(agent=agent).last_activity is None
    with at(2):
        client.get("/")
    assert AgentPresence.objects.get(agent=agent).last_activity == T0 + timedelta(minutes=2)


# --- C6 prompt and kick-out -----------------------------------------------------------------------------


def test_unanswered_prompt_kicks_out_answered_one_does_not(statuses, presence_settings):
    ann = _in(statuses, "available")
    bob = _in(statuses, "available", username="bob")
    with at(0):
        assert presence_ask_still_working(ann) is not None
        assert presence_ask_still_working(ann) is None  # asked once
        presence_ask_still_working(bob)
    with at(5):
        assert presence_answer_still_working(bob)
    with at(14):
        assert presence_kick_out_unanswered() == 0
    with at(16):
        assert presence_kick_out_unanswered() == 1
        assert presence_kick_out_unanswered() == 0
    assert (status_slug(ann), status_slug(bob)) == (Status.KICKED_OUT, Status.AVAILABLE)
    assert StillWorkingPrompt.objects.get(agent=ann).state == "kicked_out"


def test_prompt_of_an_agent_who_left_receiving_is_withdrawn(statuses):
    ann = _in(statuses, "available")
    with at(0):
        presence_ask_still_working(ann)
    with at(1):
        presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    with at(16):
        assert presence_kick_out_unanswered() == 0
    assert status_slug(ann) == "lunch"
    assert StillWorkingPrompt.objects.get(agent=ann).state == "withdrawn"


def test_still_working_answer_via_api(agent_api, agent, statuses):
    assert agent_api.post("/api/v1/presence/me/still-working/").json() == {"answered": False}
    presence_ask_still_working(agent)
    assert agent_api.get("/api/v1/presence/me/").json()["still_working_asked_at"] is not None
    assert agent_api.post("/api/v1/presence/me/still-working/").json() == {"answered": True}
    assert agent_api.get("/api/v1/presence/me/").json()["still_working_asked_at"] is None
