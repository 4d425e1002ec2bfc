"""Failed API sign-ins, counted per username and address in Django's cache (Redis in
production, so every web process sees the same counts); django-axes does the same for the
sign-in form and the admin login, in the database. presence.api.throttling turns these into a
DRF throttle on the token endpoint."""

import functools
import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# How many addresses per username a supervisor's unlock clears.
ADDRESSES_KEPT = 50
_PREFIX = "sign-in"


def _digest(text: str) -> str:
    # Usernames and addresses come from outside: hashed, any of them makes a valid cache key.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _key(username: str, address: str) -> str:
    return f"{_PREFIX}:failures:{_digest(f'{username.lower()}|{address}')}"


def _addresses_key(username: str) -> str:
    return f"{_PREFIX}:addresses:{_digest(username.lower())}"


def _without_cache(fallback):
    """When the cache is unreachable, the API's failure counts are unknown: the sign-in goes on
    (the password is still checked, and django-axes still counts the form's failures in the
    database) rather than every sign-in failing with a 500."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except Exception:  # noqa: BLE001 - any cache failure: counting is skipped, loudly
                logger.warning("Cache unreachable: sign-in failures are not counted", exc_info=True)
                return fallback

        return wrapper

    return decorate


@_without_cache(None)
def sign_in_locked_until(username: str, address: str) -> float | None:
    """When the lock-out of this username at this address ends (a Unix time), or None."""
    until = cache.get(f"{_key(username, address)}:locked-until")
    return until if until and until > time.time() else None


@_without_cache(False)
def sign_in_failure_record(username: str, address: str, *, limit: int, window_seconds: int) -> bool:
    """Count a failed sign-in; the limit reached within the window locks the username at this
    address out for SIGN_IN_LOCK_MINUTES. True when this failure locked them out."""
    key, now = _key(username, address), time.time()
    history = [at for at in cache.get(key, []) if at > now - window_seconds] + [now]
    addresses_key = _addresses_key(username)
    addresses = [a for a in cache.get(addresses_key, []) if a != address]
    lock = settings.SIGN_IN_LOCK_MINUTES * 60
    cache.set(addresses_key, [address, *addresses][:ADDRESSES_KEPT], max(lock, window_seconds))
    if len(history) >= limit:
        cache.set(f"{key}:locked-until", now + lock, lock)
        cache.delete(key)
        return True
    cache.set(key, history, window_seconds)
    return False


@_without_cache(None)
def sign_in_success(username: str, address: str) -> None:
    """A successful sign-in forgets the failures before it."""
    cache.delete(_key(username, address))


def sign_in_unlock(username: str, *, actor=None) -> int:
    """A supervisor unlocks `username` at every door: the form and admin (django-axes) and the
    API. Returns how many lock-outs and failure records were cleared."""
    from axes.utils import reset

    cleared = reset(username=username)
    addresses_key = _addresses_key(username)
    for address in cache.get(addresses_key, []):
        key = _key(username, address)
        cleared += bool(cache.get(f"{key}:locked-until") or cache.get(key))
        cache.delete_many([key, f"{key}:locked-until"])
    cache.delete(addresses_key)
    return cleared
