"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` for every cache operation; building one
fills its table of response callbacks, about a tenth of a millisecond each time. The heartbeat
makes two cache calls (its write-coalescing gate and the API token's), so that was a good part
of its cost. A redis-py client is safe to share between threads (each command takes a
connection from the pool) and follows a fork through its pool, so one per pool is kept.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """`config.cache.RedisCache` in CACHES, where Django's would be."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
