"""Bookkeeping times: an agent's last heartbeat (C5) and last activity (C4), an API token's last
use (A3). Written behind, in batches.

Every open panel sends a heartbeat, and every heartbeat uses a token, so these are the writes
made most often; a crash may lose one without harm, since the next comes a minute later. Each is
coalesced first: a cache key per agent or token lets one time a minute through. Then

- with the Redis cache, one round trip (a Lua script) does the coalescing, puts the time that
  gets through in a Redis hash of pending times, and tells the caller whether to write the batch
  (and each process skips the round trip while it knows the gate is closed, `_Pending`):
  everything pending, one statement per kind, written by whichever request comes once the last
  batch is `FLUSH_INTERVAL` seconds old, and by the sweeps that read these times
  (`bookkeeping_flush()` before they look), so a sweep sees every time recorded before it ran;
- with any other cache (the embedded default's local memory: `first_in_interval`), or when
  Redis cannot be reached, written through at once: one statement.

So agents whose panels open together (a team starting its shift, a load test) do not each write
in the same second: a burst of a thousand first heartbeats is a few statements. Batches commit
without waiting for the disk (`bookkeeping_transaction`).
"""

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, DateTimeField, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.connection import ConnectionProxy
from rest_framework.authtoken.models import Token

from presence.models import AgentPresence, ApiTokenUse
from presence.services.status_change import presence_ensure

logger = logging.getLogger(__name__)

# A time reaches the database at most once per agent or token per this many seconds; the
# cache absorbs the rest. Sweeps that read these times allow for this lag.
HEARTBEAT_WRITE_INTERVAL = 60
# How old the pending batch may grow before a request writes it.
FLUSH_INTERVAL = 5


def presence_record_heartbeat(agent, *, now=None) -> None:
    """The open agent panel says it is alive (C5): `last_heartbeat`, at most once a minute."""
    bookkeeping_record("heartbeat", agent.pk, now)


def presence_record_activity(agent, *, now=None) -> None:
    """The agent did something (C4): `last_activity`, at most once a minute."""
    bookkeeping_record("activity", agent.pk, now)


def api_token_record_use(token: Token, *, now=None) -> None:
    """When the token was last used, for the token admin (A3): at most once a minute."""
    bookkeeping_record("token-use", token.key, now)


def bookkeeping_record(kind: str, key, now=None) -> None:
    """Record `now` as the latest time of `kind` for `key` (an agent's id, a token's key)."""
    now = now or timezone.now()
    redis = _redis()
    if redis is not None:
        try:
            flush = redis.record(f"{kind}:{key}", now)
        except Exception:  # noqa: BLE001 - any Redis failure means "write through", every time
            logger.warning("Cache unreachable: writing %s straight to the database", kind, exc_info=True)
        else:
            if flush:
                bookkeeping_flush()
            return
    elif not first_in_interval(f"presence:{kind}:{key}"):
        return
    KINDS[kind].write({key: now})  # written through: one statement


def bookkeeping_flush() -> int:
    """Write every pending time to the database: one statement per kind. Returns how many.

    The pending times are taken from Redis at once (a copy running at the same moment takes
    none of them twice). If a kind's write fails, its times and those of the kinds not written
    yet are put back, unless a newer time came meanwhile, and the error is raised. With Redis
    unreachable there is nothing to write (times are written through meanwhile)."""
    redis = _redis()
    if redis is None:
        return 0
    try:
        pending = redis.take()
    except Exception:  # noqa: BLE001 - a sweep goes on without the batch
        logger.warning("Cache unreachable: pending heartbeat and activity times not written", exc_info=True)
        return 0
    by_kind: dict[str, dict] = {kind: {} for kind in KINDS}
    fields: dict[str, dict] = {kind: {} for kind in KINDS}
    for field, at in pending.items():
        kind, _, key = field.decode().partition(":")
        if kind in by_kind:
            by_kind[kind][KINDS[kind].parse_key(key)] = datetime.fromisoformat(at.decode())
            fields[kind][field] = at
    written = 0
    kinds = [kind for kind, times in by_kind.items() if times]
    for done, kind in enumerate(kinds):
        try:
            with bookkeeping_transaction():
                written += KINDS[kind].write(by_kind[kind])
        except Exception:
            redis.put_back({f: at for left in kinds[done:] for f, at in fields[left].items()})
            raise
    return written


class _Pending:
    """The Redis side: the coalescing gates, the hash of pending times and the batch's gate.

    `record` is at most one round trip (a Lua script): the time's gate (SET NX, a minute), the
    time into the pending hash if the gate let it through (HSET), and whether this call writes
    the batch: something is pending and no batch was written in the last FLUSH_INTERVAL seconds
    (SET NX on the batch's gate). Calls that record nothing ask too, so a batch waits at most
    FLUSH_INTERVAL seconds for the next request that reaches Redis.

    Each process also remembers how long each gate it asked about stays closed (the script
    returns the gate's time to live), and does not ask again meanwhile: Redis would let nothing
    through, so most heartbeats and token uses cost no round trip at all (a panel sends one
    every few seconds, a gate opens once a minute). The process's window ends no later than
    Redis's, since it counts from before the question. One exception: a process that left a
    time pending while another had just written a batch asks again FLUSH_INTERVAL seconds
    later whatever its gates say, so that time never waits for a gate to open."""

    SCRIPT = """
    if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    end
    local ttl = redis.call('PTTL', KEYS[1])
    if redis.call('EXISTS', KEYS[2]) == 0 then
        return {ttl, 0}
    end
    if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then
        return {ttl, 1}
    end
    return {ttl, 2}
    """
    WRITE, LEFT_PENDING = 1, 2  # what the script says of the batch (0: nothing pending)

    def __init__(self, backend: RedisCache):
        self.backend = backend
        self.client = backend._cache.get_client(write=True)
        self.script = self.client.register_script(self.SCRIPT)
        self.hash = backend.make_key("presence:pending")
        self.gate = backend.make_key("presence:bookkeeping-flush")
        self.clock = time.monotonic
        self.closed_until: dict[str, float] = {}  # field -> when its gate opens, as far as we know
        self.ask_again_at: float | None = None  # a time this process left pending: ask by then
        self.prune_above = 1024

    def record(self, field: str, now: datetime) -> bool:
        """Record the time (if its gate lets it through); True if this call writes the batch."""
        clock = self.clock()
        if self.closed_until.get(field, 0.0) > clock and (self.ask_again_at is None or clock < self.ask_again_at):
            return False  # the gate is closed: Redis would drop the time
        gate = self.backend.make_key(f"presence:{field}")
        args = [field, now.isoformat(), HEARTBEAT_WRITE_INTERVAL, FLUSH_INTERVAL]
        ttl_ms, batch = self.script(keys=[gate, self.hash, self.gate], args=args)
        self.closed_until[field] = clock + max(int(ttl_ms), 0) / 1000
        self.ask_again_at = clock + FLUSH_INTERVAL if batch == self.LEFT_PENDING else None
        if len(self.closed_until) > self.prune_above:
            self.closed_until = {f: until for f, until in self.closed_until.items() if until > clock}
            self.prune_above = max(1024, 2 * len(self.closed_until))
        return batch == self.WRITE

    def take(self) -> dict[bytes, bytes]:
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self.hash)
        pipe.delete(self.hash)
        pending, _ = pipe.execute()
        return pending

    def put_back(self, pending: dict[bytes, bytes]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for field, at in pending.items():
            pipe.hsetnx(self.hash, field, at)
        pipe.execute()


@contextmanager
def bookkeeping_transaction():
    """A transaction for writes that a crash may lose without harm (the next comes a minute
    later). On PostgreSQL its commit does not wait for the WAL to reach the disk
    (`synchronous_commit` off for this transaction only)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def first_in_interval(key: str, interval: int = HEARTBEAT_WRITE_INTERVAL) -> bool:
    """True once per `interval` seconds for `key`: the write-coalescing gate of a cache other than
    Redis. When the cache is unreachable the gate stays open (every call writes, which keeps the
    sweeps' view true)."""
    try:
        return bool(cache.add(key, 1, timeout=interval))
    except Exception:  # noqa: BLE001 - any cache failure means "write through"
        logger.warning("Cache unreachable: writing %s straight to the database", key.split(":")[1], exc_info=True)
        return True


def _redis() -> _Pending | None:
    """The Redis side of the default cache, or None when the cache is not Redis."""
    backend = caches["default"] if isinstance(cache, ConnectionProxy) else cache
    if not isinstance(backend, RedisCache):
        return None
    redis = getattr(backend, "_presence_pending", None)
    if redis is None or redis.client is not backend._cache.get_client(write=True):
        redis = backend._presence_pending = _Pending(backend)
    return redis


# --- the writers: one statement for any number of times -----------------------------------------


def _latest(column: str, times: dict, key_field: str):
    """`column` set to each row's time, never moved back (a late batch after a newer one)."""
    value = Case(*(When(**{key_field: key}, then=Value(at)) for key, at in times.items()), output_field=DateTimeField())
    return Greatest(Coalesce(column, value), value)


def _write_presence_time(column: str, times: dict[int, datetime], *, create: bool) -> int:
    updated = _update_presence_times(column, times)
    if create and updated < len(times):  # an agent with no presence row yet (created Offline)
        missing = set(times) - set(AgentPresence.objects.filter(agent_id__in=times).values_list("agent_id", flat=True))
        for agent in get_user_model().objects.filter(pk__in=missing):
            presence_ensure(agent)
        updated += AgentPresence.objects.filter(agent_id__in=missing).update(
            **{column: _latest(column, times, "agent_id")}
        )
    return updated


def _update_presence_times(column: str, times: dict[int, datetime]) -> int:
    """Each agent's `column` moved on to their time. On PostgreSQL one statement of constant text
    whose rows come in two arrays: the ORM's CASE with a branch per agent costs a batch of 500
    about 0.2 s of CPU to build, and the database a comparison per agent and row."""
    if connection.vendor != "postgresql":
        return AgentPresence.objects.filter(agent_id__in=times).update(**{column: _latest(column, times, "agent_id")})
    if column not in ("last_heartbeat", "last_activity"):  # the statement's text comes from it
        raise ValueError(f"Not a bookkeeping time: {column!r}")
    id_type = AgentPresence._meta.get_field("agent").target_field.rel_db_type(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AgentPresence._meta.db_table} p SET {column} = GREATEST(p.{column}, v.at) "
            f"FROM unnest(%s::{id_type}[], %s::timestamptz[]) AS v (agent_id, at) WHERE p.agent_id = v.agent_id",
            [list(times), list(times.values())],
        )
        return cursor.rowcount


def _write_token_uses(times: dict[str, datetime]) -> int:
    """Each token's last use moved on to its time. Tokens deleted since their use are left out,
    and one deleted at this very moment drops the batch (its use no longer matters; the others'
    next use writes again)."""
    if connection.vendor == "postgresql":
        return _upsert_token_uses(times)

    def upsert():
        stored = ApiTokenUse.objects.filter(token_id__in=times).values_list("token_id", "last_used_at")
        for key, at in list(stored):  # never moved back
            if at >= times[key]:
                del times[key]
        ApiTokenUse.objects.bulk_create(
            [ApiTokenUse(token_id=key, last_used_at=at) for key, at in times.items()],
            update_conflicts=True, unique_fields=["token"], update_fields=["last_used_at"],
        )  # fmt: skip

    if len(times) == 1:  # written through, for the token this request has just read
        upsert()
        return len(times)
    times = {key: times[key] for key in Token.objects.filter(key__in=times).values_list("key", flat=True)}
    try:
        with transaction.atomic():
            upsert()
    except IntegrityError:
        logger.info("A token was deleted while its use was written; %d uses dropped", len(times))
        return 0
    return len(times)


def _upsert_token_uses(times: dict[str, datetime]) -> int:
    """PostgreSQL: one statement of constant text, the uses in two arrays, the tokens that still
    exist joined in, a use never moved back."""
    uses, tokens = ApiTokenUse._meta.db_table, Token._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {uses} AS u (token_id, last_used_at) SELECT v.key, v.at "
                f"FROM unnest(%s::varchar[], %s::timestamptz[]) AS v (key, at) JOIN {tokens} t ON t.key = v.key "
                "ON CONFLICT (token_id) DO UPDATE SET last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)",
                [list(times), list(times.values())],
            )
            return cursor.rowcount
    except IntegrityError:
        logger.info("A token was deleted while its use was written; %d uses dropped", len(times))
        return 0


@dataclass(frozen=True)
class Kind:
    write: Callable[[dict], int]  # how many rows it wrote
    parse_key: Callable[[str], object]


KINDS = {
    "heartbeat": Kind(lambda times: _write_presence_time("last_heartbeat", times, create=True), int),
    "activity": Kind(lambda times: _write_presence_time("last_activity", times, create=False), int),
    "token-use": Kind(_write_token_uses, str),
}
