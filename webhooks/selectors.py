"""Reads of the webhooks app."""

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from presence.models import TeamMembership
from presence.shared.sql import prepared_cursor
from webhooks.models import Delivery, Event, Webhook


def subscriptions() -> dict[str, list[int]]:
    """Event -> ids of the active webhooks subscribed to it: one query, however many events.

    It runs in every assignment's and status change's transaction, so it is one prepared
    statement rather than an ORM query (whose building cost more than the read). The events
    are filtered here rather than with a JSON `contains` lookup, which SQLite lacks; the active
    webhooks are a handful of rows."""
    events_field = Webhook._meta.get_field("events")
    with prepared_cursor() as cursor:
        cursor.execute(_subscriptions_sql())
        rows = cursor.fetchall()
    found: dict[str, list[int]] = {}
    for webhook_id, raw in rows:
        events = events_field.from_db_value(raw, None, connection)
        for event in events if isinstance(events, list) else ():
            if event in Event.values and webhook_id not in found.setdefault(event, []):
                found[event].append(webhook_id)
    return found


@cache
def _subscriptions_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {quote('id')}, {quote('events')} FROM {quote(Webhook._meta.db_table)} "
        f"WHERE {quote('active')} ORDER BY {quote('id')}"
    )


def subscribed_webhook_ids(event: str) -> list[int]:
    return subscriptions().get(event, [])


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
