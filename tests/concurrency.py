"""Another transaction holding rows, for tests of what must not wait on it (PostgreSQL)."""

import threading
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def held_elsewhere(queryset, *, lock_timeout: str = "5s"):
    """The rows of `queryset` locked `FOR UPDATE` by another transaction (a thread with its own
    connection) for the duration of the block. This connection gets a lock timeout, so code
    that wrongly waits for those rows fails instead of hanging; what the thread raised is
    raised here."""
    locked, release, errors = threading.Event(), threading.Event(), []

    def hold():
        try:
            with transaction.atomic():
                list(queryset.select_for_update())
                locked.set()
                release.wait(10)
        except BaseException as exc:  # noqa: BLE001 - raised in the test below
            errors.append(exc)
            locked.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10), "the other transaction did not lock the rows"
    try:
        if not errors:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{lock_timeout}'")
            yield
    finally:
        release.set()
        holder.join(10)
        if errors:
            raise errors[0]
