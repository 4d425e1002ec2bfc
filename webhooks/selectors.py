"""Reads of the webhooks app."""

import time
from functools import cache

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import QuerySet

from presence.models import TeamMembership
from presence.shared.sql import prepared_cursor
from webhooks.models import Delivery, Event, Webhook


def subscriptions(events=None) -> dict[str, list[int]]:
    """Event -> ids of the active webhooks subscribed to it: one query, however many events.

    It runs in every assignment's and status change's transaction, so it is one prepared
    statement rather than an ORM query (whose building cost more than the read). The events
    are filtered here rather than with a JSON `contains` lookup, which SQLite lacks; the active
    webhooks are a handful of rows.

    `events`: the ones the caller asks about. When this process read, less than
    WEBHOOK_SUBSCRIPTIONS_SECONDS ago, that no active webhook wants any of them, there is no
    query at all (`_Unwanted`)."""
    if events is not None and _unwanted.known(events):
        return {}
    events_field = Webhook._meta.get_field("events")
    with prepared_cursor() as cursor:
        cursor.execute(_subscriptions_sql())
        rows = cursor.fetchall()
    found: dict[str, list[int]] = {}
    for webhook_id, raw in rows:
        wanted = events_field.from_db_value(raw, None, connection)
        for event in wanted if isinstance(wanted, list) else ():
            if event in Event.values and webhook_id not in found.setdefault(event, []):
                found[event].append(webhook_id)
    _unwanted.remember(found)
    return found


class _Unwanted:
    """The events no active webhook wanted at this process's last read, trusted for
    WEBHOOK_SUBSCRIPTIONS_SECONDS: most helpdesks have no webhook for most events, and routing
    asked on every ticket it placed (about a tenth of a routed ticket's time, docs/benchmarks.md).

    Only "nobody wants it" is remembered. An event that some webhook wants is read afresh every
    time, so a webhook deleted or switched off meanwhile gets none: no delivery is written for a
    row that is gone. A webhook saved or deleted in this process makes it forget at once
    (`forget`, on Webhook's post_save and post_delete), and it learns nothing new until that
    transaction ends, so a rolled-back change leaves nothing behind; other processes see a new
    webhook or subscription within the TTL."""

    def __init__(self) -> None:
        self.clock = time.monotonic
        self.events: frozenset[str] = frozenset()
        self.until = 0.0
        self.writing = False  # a webhook changed in a transaction that has not ended yet

    def known(self, events) -> bool:
        return self._learning() and self.clock() < self.until and self.events.issuperset(events)

    def remember(self, found: dict[str, list[int]]) -> None:
        if self._learning():
            self.events = frozenset(Event.values) - found.keys()
            self.until = self.clock() + settings.WEBHOOK_SUBSCRIPTIONS_SECONDS

    def forget(self, *, using: str = "default", **kwargs) -> None:
        self.until = 0.0
        if connections[using].in_atomic_block:
            self.writing = True
            transaction.on_commit(self._written, using=using)

    def clear(self) -> None:
        """Know nothing (the tests start each from here)."""
        self.events, self.until, self.writing = frozenset(), 0.0, False

    def _written(self) -> None:
        self.writing, self.until = False, 0.0

    def _learning(self) -> bool:
        if self.writing and not connection.in_atomic_block:
            self.writing = False  # that transaction ended without committing: on_commit never ran
        return not self.writing


_unwanted = _Unwanted()
subscriptions_forget = _unwanted.forget
subscriptions_clear = _unwanted.clear


@cache
def _subscriptions_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {quote('id')}, {quote('events')} FROM {quote(Webhook._meta.db_table)} "
        f"WHERE {quote('active')} ORDER BY {quote('id')}"
    )


def subscribed_webhook_ids(event: str) -> list[int]:
    return subscriptions([event]).get(event, [])


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.order_by("pk")


def delivery_list(*, webhook: Webhook | None = None) -> QuerySet[Delivery]:
    """Newest first; serializers read only the delivery's own columns."""
    deliveries = Delivery.objects.order_by("-pk")
    return deliveries.filter(webhook=webhook) if webhook is not None else deliveries


def agents_team_ids(agent_ids: list[int]) -> list[int]:
    """Every team these agents belong to, in queue or not: leaving a queue changes a team's live chat too."""
    return list(
        TeamMembership.objects.filter(agent_id__in=agent_ids)
        .order_by("team_id")
        .values_list("team_id", flat=True)
        .distinct()
    )
