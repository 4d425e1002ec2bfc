import zoneinfo
from datetime import UTC

from django.contrib.auth import get_user_model
from rest_framework import serializers

from presence.api.fields import AgentField, IdRelatedField
from presence.limits import time_out_of_range
from presence.models import Status
from scheduling.models import Appointment, Shift, ShiftType

User = get_user_model()


class LocalDateTimeField(serializers.DateTimeField):
    """ISO 8601. A time with an offset is taken as given; one without is read in the agent's
    own time zone (the serializer does that, knowing the agent), so 09:00 stays 09:00 local
    on both sides of a daylight-saving change."""

    def enforce_timezone(self, value):
        return value

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        # Checked on the wall clock before any zone conversion, which would overflow near year 1 or 9999.
        problem = time_out_of_range(parsed)
        if problem:
            raise serializers.ValidationError(problem)
        return parsed


def _in_zone(naive, zone: zoneinfo.ZoneInfo, field: str):
    local = naive.replace(tzinfo=zone)
    # A wall-clock time skipped by a daylight-saving jump does not exist: say so, do not guess.
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise serializers.ValidationError(
            {field: f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks go forward)."}
        )
    return local


class ScheduledSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    agent = AgentField()
    start = LocalDateTimeField()
    end = LocalDateTimeField()

    def validate(self, attrs):
        agent = attrs.get("agent") or getattr(self.instance, "agent", None)
        zone = zoneinfo.ZoneInfo(agent.agent_profile.time_zone)
        for field in ("start", "end"):
            value = attrs.get(field)
            if value is not None and value.tzinfo is None:
                attrs[field] = _in_zone(value, zone, field)
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in ("start", "end"):
            data[field] = serializers.DateTimeField().to_representation(getattr(instance, field))
        return data


class ShiftTypeSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    default_status = IdRelatedField(queryset=Status.objects.all())
    end_status = IdRelatedField(queryset=Status.objects.all(), required=False, allow_null=True)
    # Declared: DRF would make a many-to-many through a model of our own read-only. The service
    # sets it (and checks it against the budget); min_value 1 is the model's own validator.
    break_statuses = IdRelatedField(queryset=Status.objects.all(), many=True, required=False)

    class Meta:
        model = ShiftType
        fields = ["id", "name", "default_status", "end_status", "off_duty", "break_statuses", "break_minutes",
                  "break_count"]  # fmt: skip


class ShiftSerializer(ScheduledSerializer):
    class Meta:
        model = Shift
        fields = ["id", "agent", "shift_type", "start", "end"]


class AppointmentSerializer(ScheduledSerializer):
    agent_status = IdRelatedField(queryset=Status.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Appointment
        fields = ["id", "agent", "subject", "start", "end", "agent_status"]
