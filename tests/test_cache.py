"""The production cache backend (config.cache): Django's Redis cache, one client per pool."""

import os
from multiprocessing import get_context

import pytest

from config.cache import RedisCache

REDIS_URL = os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_cache():
    cache = RedisCache(REDIS_URL, {})
    try:
        cache.clear()
    except Exception as error:  # noqa: BLE001 - say what is missing
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: start it (see README) ({error})")
    yield cache
    cache.clear()


def test_one_client_per_pool_serves_every_call(redis_cache):
    client = redis_cache._cache.get_client("a")
    assert redis_cache._cache.get_client("b", write=True) is client
    assert redis_cache.add("presence:heartbeat:1", 1, timeout=60) is True
    assert redis_cache.add("presence:heartbeat:1", 1, timeout=60) is False  # the coalescing gate
    redis_cache.set("k", {"a": 1})
    assert redis_cache.get("k") == {"a": 1}
    assert redis_cache.delete("k") and redis_cache.get("k") is None


def _add_in_child(cache, queue):
    queue.put(cache.add("forked", 1, timeout=60))


def test_the_client_follows_a_fork(redis_cache):
    """A worker process forked after the parent used the cache (gunicorn --preload, Celery)
    gets connections of its own from the shared client's pool."""
    assert redis_cache.add("parent", 1, timeout=60)
    context = get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_add_in_child, args=(redis_cache, queue))
    child.start()
    child.join(20)
    assert queue.get(timeout=5) is True
    assert redis_cache.get("forked") == 1 and redis_cache.get("parent") == 1
