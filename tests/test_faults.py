"""Faults (issue 6, O3): Redis down, a database error inside a receiver, a worker killed mid-sweep."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from presence.models import AgentPresence, Source, Status, StatusChangeLog
from presence.services import (
    presence_change_status,
    presence_expire_timed_statuses,
    presence_record_heartbeat,
)
from presence.signals import status_changed
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(monkeypatch):
    """The production cache backend, pointed at a port where no Redis answers."""
    from config.cache import RedisCache

    dead = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    monkeypatch.setattr("presence.services.bookkeeping.cache", dead)
    return dead


def test_redis_down_status_changes_and_api_keep_working(redis_down, agent_api, agent, statuses, caplog):
    assert (
        agent_api.post("/api/v1/presence/me/status/", {"status": statuses["busy"].pk}, format="json").status_code == 200
    )
    assert agent_api.get("/api/v1/presence/me/").json()["status"] == statuses["busy"].pk
    # heartbeats degrade clearly: no coalescing, every beat written, and a warning in the log
    assert agent_api.post("/api/v1/presence/me/heartbeat/").status_code == 204
    first = AgentPresence.objects.get(agent=agent).last_heartbeat
    presence_record_heartbeat(agent, now=first + timedelta(seconds=5))
    assert AgentPresence.objects.get(agent=agent).last_heartbeat == first + timedelta(seconds=5)
    assert "Cache unreachable: writing heartbeat straight to the database" in caplog.text


def test_a_database_error_inside_a_receiver_rolls_the_whole_change_back(agent, statuses):
    def duplicate_log_row(sender, presence, **kwargs):
        # A real database error: the same primary key twice.
        row = StatusChangeLog.objects.filter(agent=presence.agent).first()
        StatusChangeLog.objects.create(pk=row.pk, agent=presence.agent, to_status_name="x", source="system")

    status_changed.connect(duplicate_log_row, dispatch_uid="test-db-error")
    try:
        with pytest.raises(IntegrityError):
            presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    finally:
        status_changed.disconnect(dispatch_uid="test-db-error")
    assert AgentPresence.objects.get(agent=agent).status == statuses["offline"]
    assert not StatusChangeLog.objects.exists()


def test_a_worker_killed_mid_sweep_leaves_whole_changes_and_the_next_run_finishes(statuses):
    """The sweep changes due agents a batch at a time, each batch in one transaction: a worker
    killed in the middle of the second batch leaves the first whole and nothing of the second."""
    lunch = statuses["lunch"]
    agents = [AgentFactory(username=f"k{i}", status=lunch) for i in range(10)]
    AgentPresence.objects.update(since=timezone.now() - timedelta(hours=1))
    calls = {"n": 0}

    def dies_on_the_fifth(sender, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise SystemExit("worker killed")

    status_changed.connect(dies_on_the_fifth, dispatch_uid="test-killed")
    try:
        with pytest.raises(SystemExit):
            presence_expire_timed_statuses(batch_size=3)
    finally:
        status_changed.disconnect(dispatch_uid="test-killed")
    changed = AgentPresence.objects.filter(status=statuses["available"]).count()
    assert changed == 3  # the first batch, whole: each with its log row
    assert StatusChangeLog.objects.filter(source="expiry").count() == 3

    assert presence_expire_timed_statuses(batch_size=3) == 7
    assert AgentPresence.objects.filter(agent__in=agents, status=statuses["available"]).count() == 10
    assert StatusChangeLog.objects.filter(source="expiry").count() == 10
    assert Status.objects.get(slug="lunch").agents.count() == 0
