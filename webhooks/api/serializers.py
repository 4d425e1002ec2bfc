from rest_framework import serializers

from webhooks.models import Delivery, Event, Webhook


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices), allow_empty=False, max_length=len(Event.values) * 2
    )
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=128, style={"input_type": "password"},
        help_text="Signs every delivery. Blank on create: one is generated and shown in that response only. "
        "Never shown again; sending a new one replaces it.",
    )  # fmt: skip

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "secret", "active", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookCreatedSerializer(WebhookSerializer):
    """The answer to a create, the one time the secret is shown."""

    secret = serializers.CharField(read_only=True, help_text="Keep it: it is not shown again.")


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id", "event", "event_id", "payload", "state", "attempts", "last_status_code", "last_error",
            "next_attempt_at", "delivered_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
