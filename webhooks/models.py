import uuid

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from presence.models import Team


class Event(models.TextChoices):
    """Every event a webhook may subscribe to: the one list (payloads in webhooks/events.py)."""

    STATUS_CHANGED = "status.changed", "status.changed: an agent's status changed"
    TICKET_ASSIGNED = "ticket.assigned", "ticket.assigned: a ticket was given to an agent"
    LIVE_CHAT_AVAILABILITY_CHANGED = (
        "live_chat.availability_changed",
        "live_chat.availability_changed: a team's live chat opened or closed",
    )
    STATUS_REQUEST_DECIDED = "status_request.decided", "status_request.decided: a request was approved or rejected"
    # The coverage alarm (SPEC C7), from presence's coverage sweep.
    COVERAGE_CHANGED = "coverage.changed", "coverage.changed: a team's shortage of agents started, changed or cleared"


def validate_http_url(value: str) -> None:
    """Receivers are web servers: no ftp://, file:// or anything else URLField lets through."""
    if value.split(":", 1)[0].lower() not in ("http", "https"):
        raise ValidationError("Only http:// and https:// URLs can receive webhooks.", code="invalid_scheme")


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event.", code="required")
    unknown = [str(item) for item in value if not isinstance(item, str) or item not in Event.values]
    if unknown:
        raise ValidationError(
            f"Unknown event(s): {', '.join(unknown)[:200]}. Choose from {', '.join(Event.values)}.", code="invalid"
        )


class Webhook(models.Model):
    """A receiver (a chat widget, a phone system) and the events it wants, signed with its secret."""

    url = models.URLField(
        "URL", max_length=500, validators=[validate_http_url], help_text="Where the events are POSTed (http or https)."
    )
    # A list of Event values; JSON rather than an array column: the embedded default is SQLite.
    events = models.JSONField(default=list, validators=[validate_events], help_text="The events sent to this URL.")
    secret = models.CharField(
        max_length=128, blank=True, help_text="Signs every delivery (HMAC-SHA256). Generated when left blank."
    )
    active = models.BooleanField(default=True, help_text="Inactive webhooks receive nothing.")
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url


class Delivery(models.Model):
    """One event for one webhook, and how sending it went (webhooks/services.py: the lifecycle)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64, choices=Event.choices)
    # The event's id: the same for every webhook the event goes to, so receivers can drop a repeat.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-pk"]
        indexes = [
            # The sweep's read: pending deliveries that are due, in key order.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(state="pending"), name="delivery_due"),
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class LiveChatState(models.Model):
    """What `live_chat.availability_changed` last said of a team, so only a transition is sent.
    No row yet means closed: nobody was online for live chat."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, primary_key=True, related_name="+")
    available = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "live-chat state"

    def __str__(self) -> str:
        return f"team {self.team_id}: {'open' if self.available else 'closed'}"
