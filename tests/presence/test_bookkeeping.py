"""Bookkeeping times written behind (presence/services/bookkeeping.py), with the real Redis cache.

The rest of the suite runs on the local-memory cache, where they are written through; these run
the production path: times pending in Redis, written in batches of one statement per kind.
"""

import os
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from presence.models import AgentPresence, ApiTokenUse
from presence.services import (
    api_token_record_use,
    bookkeeping_flush,
    presence_auto_offline,
    presence_change_status,
    presence_record_activity,
    presence_record_heartbeat,
)
from presence.services.bookkeeping import FLUSH_INTERVAL, HEARTBEAT_WRITE_INTERVAL, _Pending, _redis
from tests.factories import AgentFactory

REDIS_URL = os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_cache(db, settings):
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": REDIS_URL}}
    try:
        cache.clear()
    except Exception as error:  # noqa: BLE001 - say what is missing
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: start it (see README) ({error})")
    cache.add("presence:bookkeeping-flush", 1, timeout=FLUSH_INTERVAL)  # the last batch was just written
    yield cache
    cache.clear()


def _agents(n: int, prefix: str):
    return [AgentFactory(username=f"{prefix}{i}") for i in range(n)]


def _later(seconds: float, *expired: str) -> None:
    """`seconds` pass: the Redis keys named expire, and this process's memory of the gates ages
    as much (its clock moves on)."""
    for key in expired:
        cache.delete(key)
    pending = _redis()
    clock = pending.clock
    pending.clock = lambda: clock() + seconds


def _statements(context) -> list[str]:
    """The statements that touched a table (not the transaction's own)."""
    return [q["sql"] for q in context if q["sql"].split()[0] in ("SELECT", "UPDATE", "INSERT", "DELETE")]


@pytest.mark.parametrize("agents_n", [3, 40])
def test_heartbeats_wait_in_redis_and_are_written_in_one_statement(redis_cache, agents_n):
    agents = _agents(agents_n, f"hb{agents_n}-")
    at = timezone.now().replace(microsecond=0)
    with CaptureQueriesContext(connection) as recording:
        for offset, agent in enumerate(agents):
            presence_record_heartbeat(agent, now=at + timedelta(seconds=offset))
            presence_record_heartbeat(agent, now=at + timedelta(seconds=offset + 1))  # coalesced
    assert len(recording) == 0  # nothing reached the database yet
    assert AgentPresence.objects.filter(agent__in=agents, last_heartbeat__isnull=False).count() == 0

    with CaptureQueriesContext(connection) as flushing:
        assert bookkeeping_flush() == agents_n
    assert len(_statements(flushing)) == 1  # one UPDATE, whatever the number of agents
    if connection.vendor == "postgresql":  # committed without waiting for the disk
        assert "SET LOCAL synchronous_commit TO OFF" in [q["sql"] for q in flushing]
    assert {p.agent_id: p.last_heartbeat for p in AgentPresence.objects.filter(agent__in=agents)} == {
        agent.pk: at + timedelta(seconds=offset) for offset, agent in enumerate(agents)
    }
    assert bookkeeping_flush() == 0  # taken: nothing is written twice


def test_a_request_writes_the_batch_once_it_is_due(redis_cache):
    ann, bob = _agents(2, "due-")
    presence_record_heartbeat(ann)
    assert AgentPresence.objects.get(agent=ann).last_heartbeat is None
    cache.delete("presence:bookkeeping-flush")  # FLUSH_INTERVAL seconds later
    presence_record_heartbeat(bob)
    assert AgentPresence.objects.filter(agent__in=[ann, bob], last_heartbeat__isnull=False).count() == 2


def test_a_coalesced_call_writes_the_batch_too(redis_cache):
    """Not only calls whose time gets through ask: the batch never waits for the next minute."""
    (ann,) = _agents(1, "coalesced-")
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)
    _later(FLUSH_INTERVAL + 1, "presence:bookkeeping-flush")
    presence_record_heartbeat(ann, now=at + timedelta(seconds=6))  # coalesced: not recorded
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == at


def _count_questions(pending: _Pending) -> list:
    """The script calls this process's Redis side makes from now on."""
    asked, script = [], pending.script

    def counting(**kwargs):
        asked.append(kwargs["args"][0])
        return script(**kwargs)

    pending.script = counting
    return asked


def test_a_process_asks_redis_about_a_closed_gate_once(redis_cache):
    """A panel's heartbeats and token uses within the gate's minute cost no round trip."""
    (ann,) = _agents(1, "once-")
    token = Token.objects.create(user=ann)
    asked = _count_questions(_redis())
    at = timezone.now().replace(microsecond=0)
    for second in range(10):
        presence_record_heartbeat(ann, now=at + timedelta(seconds=second))
        api_token_record_use(token, now=at + timedelta(seconds=second))
    assert asked == [f"heartbeat:{ann.pk}", f"token-use:{token.key}"]
    bookkeeping_flush()
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == at
    assert ApiTokenUse.objects.get(token=token).last_used_at == at


def test_another_process_is_still_coalesced_by_redis(redis_cache):
    (ann,) = _agents(1, "other-")
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)
    other = _Pending(caches["default"])  # another worker: it knows nothing of the gate yet
    asked = _count_questions(other)
    assert other.record(f"heartbeat:{ann.pk}", at + timedelta(seconds=3)) is False
    assert other.record(f"heartbeat:{ann.pk}", at + timedelta(seconds=4)) is False
    assert len(asked) == 1  # asked once, and learnt how long the gate stays closed
    bookkeeping_flush()
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == at  # Redis dropped the later times


def test_a_gate_opens_here_when_it_opens_in_redis(redis_cache):
    (ann,) = _agents(1, "reopen-")
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)
    bookkeeping_flush()
    ttl = _redis().client.ttl(caches["default"].make_key(f"presence:heartbeat:{ann.pk}"))
    assert 0 < ttl <= HEARTBEAT_WRITE_INTERVAL
    _later(ttl, f"presence:heartbeat:{ann.pk}")  # the minute is over, here as in Redis
    presence_record_heartbeat(ann, now=at + timedelta(minutes=1))
    bookkeeping_flush()
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == at + timedelta(minutes=1)


def test_a_time_left_pending_is_asked_about_again_after_the_flush_interval(redis_cache):
    """Another process had just written a batch when this one left a time pending: this one asks
    again FLUSH_INTERVAL seconds later, though every gate it knows is still closed."""
    (ann,) = _agents(1, "again-")
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)  # the batch was written a moment ago (the fixture)
    asked = _count_questions(_redis())
    presence_record_heartbeat(ann, now=at + timedelta(seconds=1))
    assert asked == []  # not yet
    _later(FLUSH_INTERVAL, "presence:bookkeeping-flush")
    presence_record_heartbeat(ann, now=at + timedelta(seconds=FLUSH_INTERVAL))
    assert len(asked) == 1
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == at  # written by that call


def test_nothing_pending_writes_nothing(redis_cache):
    (ann,) = _agents(1, "idle-")
    presence_record_heartbeat(ann)
    bookkeeping_flush()
    _later(FLUSH_INTERVAL + 1, "presence:bookkeeping-flush")
    with CaptureQueriesContext(connection) as coalesced:
        presence_record_heartbeat(ann)
    assert len(coalesced) == 0


def test_the_auto_offline_sweep_sees_heartbeats_not_yet_written(redis_cache, statuses, presence_settings):
    ann, bob = _agents(2, "sweep-")
    start = timezone.now() - timedelta(minutes=30)
    for agent in (ann, bob):
        presence_change_status(agent, statuses["available"], actor=agent, source="api")
    AgentPresence.objects.filter(agent__in=[ann, bob]).update(since=start)
    presence_record_heartbeat(ann)  # pending in Redis; bob's panel is closed
    assert presence_auto_offline() == 1
    assert AgentPresence.objects.get(agent=ann).status == statuses["available"]
    assert AgentPresence.objects.get(agent=bob).status == statuses["offline"]


def test_activity_and_token_use_are_written_behind_too(redis_cache):
    ann, bob, cid = _agents(3, "use-")
    tokens = [Token.objects.create(user=user) for user in (ann, bob, cid)]
    at = timezone.now().replace(microsecond=0)
    with CaptureQueriesContext(connection) as recording:
        for agent, token in zip((ann, bob, cid), tokens, strict=True):
            presence_record_activity(agent, now=at)
            api_token_record_use(token, now=at)
    assert len(recording) == 0
    tokens[2].delete()  # signed out before the batch was written: its use is dropped
    with CaptureQueriesContext(connection) as flushing:
        assert bookkeeping_flush() == 5
    # activity: one UPDATE; token use: one upsert of the tokens that still exist (elsewhere
    # than PostgreSQL: which tokens still exist, their stored uses, then the upsert)
    assert len(_statements(flushing)) == (2 if connection.vendor == "postgresql" else 4)
    assert AgentPresence.objects.filter(agent__in=[ann, bob, cid], last_activity=at).count() == 3
    assert dict(ApiTokenUse.objects.values_list("token_id", "last_used_at")) == {t.key: at for t in tokens[:2]}


def test_a_late_batch_never_moves_a_time_back(redis_cache):
    (ann,) = _agents(1, "late-")
    now = timezone.now().replace(microsecond=0)
    AgentPresence.objects.filter(agent=ann).update(last_heartbeat=now)
    token = Token.objects.create(user=ann)
    ApiTokenUse.objects.create(token=token, last_used_at=now)
    presence_record_heartbeat(ann, now=now - timedelta(minutes=1))
    api_token_record_use(token, now=now - timedelta(minutes=1))
    bookkeeping_flush()
    assert AgentPresence.objects.get(agent=ann).last_heartbeat == now
    assert ApiTokenUse.objects.get(token=token).last_used_at == now


def test_a_heartbeat_of_an_agent_without_presence_creates_it(redis_cache, statuses):
    (ann,) = _agents(1, "new-")
    AgentPresence.objects.filter(agent=ann).delete()
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)
    bookkeeping_flush()
    presence = AgentPresence.objects.get(agent=ann)
    assert presence.status == statuses["offline"] and presence.last_heartbeat == at


def test_a_failed_batch_is_put_back_and_a_newer_time_kept(redis_cache, monkeypatch):
    ann, bob = _agents(2, "fail-")
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(ann, now=at)
    presence_record_heartbeat(bob, now=at)
    token = Token.objects.create(user=ann)
    api_token_record_use(token, now=at)  # a kind after the failing one: put back too

    from presence.services import bookkeeping

    def broken(times):
        _later(HEARTBEAT_WRITE_INTERVAL, f"presence:heartbeat:{bob.pk}")
        presence_record_heartbeat(bob, now=at + timedelta(minutes=1))  # came while the batch failed
        raise RuntimeError("database gone")

    kinds = dict(bookkeeping.KINDS, heartbeat=bookkeeping.Kind(broken, int))
    monkeypatch.setattr(bookkeeping, "KINDS", kinds)
    with pytest.raises(RuntimeError):
        bookkeeping_flush()
    monkeypatch.undo()
    assert bookkeeping_flush() == 3
    assert ApiTokenUse.objects.get(token=token).last_used_at == at
    assert dict(AgentPresence.objects.filter(agent__in=[ann, bob]).values_list("agent_id", "last_heartbeat")) == {
        ann.pk: at,
        bob.pk: at + timedelta(minutes=1),
    }


def test_a_sweep_goes_on_when_redis_is_down(redis_cache, monkeypatch, statuses, presence_settings):
    from presence.services import bookkeeping

    def down(self):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(bookkeeping._Pending, "take", down)
    assert bookkeeping_flush() == 0
    assert presence_auto_offline() == 0


def test_without_redis_each_time_is_written_through(agent):
    """The embedded default (local-memory cache): no batch, one UPDATE at once."""
    at = timezone.now().replace(microsecond=0)
    presence_record_heartbeat(agent, now=at)
    assert AgentPresence.objects.get(agent=agent).last_heartbeat == at
    assert bookkeeping_flush() == 0
