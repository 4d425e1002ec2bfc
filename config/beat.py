"""Exactly one beat: a second one started by mistake waits instead of sending every task twice."""

import logging
import uuid

from django.core.cache import cache
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)


class BeatLock:
    """A lease in the shared cache (Redis in production): held by one owner until it lapses.

    The owner renews it on every tick; if that beat dies, the lease runs out after `ttl`
    seconds and another beat takes over.
    """

    key = "celery-beat:leader"

    def __init__(self, ttl: int = 60, backend=None):
        self.ttl = ttl
        self.owner = uuid.uuid4().hex
        self.cache = backend or cache

    def acquire(self) -> bool:
        try:
            if self.cache.add(self.key, self.owner, self.ttl):
                return True
            if self.cache.get(self.key) == self.owner:
                self.cache.touch(self.key, self.ttl)
                return True
        except Exception:  # noqa: BLE001 - without the shared cache nobody can prove they lead
            logger.warning("beat: the cache holding the lease is unreachable; standing by", exc_info=True)
        return False

    def release(self) -> None:
        if self.cache.get(self.key) == self.owner:
            self.cache.delete(self.key)


class SingleBeatScheduler(DatabaseScheduler):
    """django-celery-beat's DatabaseScheduler, sending tasks only while it holds the BeatLock."""

    def __init__(self, *args, **kwargs):
        self.lock = BeatLock()
        self._leading = None
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        leading = self.lock.acquire()
        if leading != self._leading:
            logger.info("beat: %s", "leading, sending tasks" if leading else "another beat leads; standing by")
            self._leading = leading
        if not leading:
            return 5.0
        return super().tick(*args, **kwargs)

    def close(self):
        self.lock.release()
        super().close()
