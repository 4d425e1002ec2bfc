"""Reads of the webhooks app."""

from django.db.models import QuerySet

from presence.models import TeamMembership
from webhooks.models import Delivery, Event, Webhook


def subscriptions() -> dict[str, list[int]]:
    """Event -> ids of the active webhooks subscribed to it: one query, however many events.

    The events are filtered here rather than with a JSON `contains` lookup, which SQLite lacks;
    the active webhooks are a handful of rows."""
    found: dict[str, list[int]] = {}
    for webhook_id, events in Webhook.objects.filter(active=True).order_by("pk").values_list("pk", "events"):
        for event in events if isinstance(events, list) else ():
            if event in Event.values and webhook_id not in found.setdefault(event, []):
                found[event].append(webhook_id)
    return found


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
