from django.contrib.auth import get_user_model
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from presence.agent_state import AgentState, state_of
from presence.api.fields import AgentField, IdRelatedField
from presence.availability import Availability
from presence.limits import REASON_MAX_LENGTH
from presence.models import (
    AgentPresence,
    AgentProfile,
    Channel,
    LicenceType,
    Notice,
    PresenceSettings,
    Status,
    StatusChangeLog,
    StatusRequest,
    Team,
)

User = get_user_model()


class StatusSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    slug = serializers.SlugField(max_length=64, required=False)
    max_duration = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Minutes; with return_status it makes a timed status."
    )
    teams = IdRelatedField(many=True, queryset=Team.objects.all(), required=False)

    class Meta:
        model = Status
        fields = [
            "id", "name", "slug", "category", "color", "emoji", "sort_order", "enabled", "is_system",
            "can_receive", "online_for_live_chat", "in_load_balance", "in_load_balance_for_chat",
            "warn_on_assign", "warn_on_mention", "count_time_after_dialogs_closed",
            "max_duration", "return_status", "requires_approval", "teams", "drain", "idle_timeout",
            "forward_to_phone",
        ]  # fmt: skip
        read_only_fields = ["is_system"]

    def validate(self, attrs):
        name = attrs.get("name")
        others = Status.objects.exclude(pk=getattr(self.instance, "pk", None))
        if name and others.filter(name__iexact=name).exists():
            # Before the slug derived from it is found taken too: the name is what to change.
            raise serializers.ValidationError({"name": "A status with this name already exists."})
        if not attrs.get("slug") and name and self.instance is None:
            attrs["slug"] = slugify(name)[:64]
        return attrs


def _presence_fields(state: AgentState) -> dict:
    presence = state.presence
    return {
        "agent": presence.agent_id,
        "status": presence.status_id,
        "since": serializers.DateTimeField().to_representation(presence.since),
        "pending_status": presence.pending_status_id,
        "availability": state.availability.value,
        "open_tickets": state.workload.open_tickets,
        "seconds_in_status": presence.seconds_in_status(),
    }


class PresenceSerializer(serializers.Serializer):
    """Presence as every client sees it; `context["states"]` (presence.agent_state) carries the
    open work and availability."""

    agent = serializers.IntegerField(read_only=True)
    status = serializers.IntegerField(read_only=True)
    since = serializers.DateTimeField(read_only=True)
    pending_status = serializers.IntegerField(read_only=True, allow_null=True)
    availability = serializers.ChoiceField(choices=Availability.choices, read_only=True)
    open_tickets = serializers.IntegerField(read_only=True)
    seconds_in_status = serializers.IntegerField(read_only=True)

    def to_representation(self, presence: AgentPresence) -> dict:
        return _presence_fields(state_of(presence, self.context.get("states", {})))


class QueueSerializer(serializers.Serializer):
    """One of my teams as a queue I take work from (active) or have left (P10)."""

    team = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    active = serializers.BooleanField(read_only=True)


class QueuesSerializer(serializers.Serializer):
    queues = QueueSerializer(many=True, read_only=True, help_text="My team memberships, by team name.")


class NoticeSerializer(serializers.Serializer):
    """Something I should know about my status, until I dismiss it (P11)."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Notice.Kind.choices, read_only=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class PresenceMeSerializer(PresenceSerializer):
    """My presence, plus what the agent panel warns about, my queues and my notices."""

    idle_logout_at = serializers.DateTimeField(read_only=True, allow_null=True)
    still_working_asked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    queues = QueueSerializer(many=True, read_only=True, help_text="My team memberships, by team name.")
    notices = NoticeSerializer(many=True, read_only=True, help_text="My undismissed notices, newest first, at most 20.")


class StatusChangeInputSerializer(serializers.Serializer):
    status = IdRelatedField(queryset=Status.objects.all())
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default="")
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Switch even when it leaves one of my teams below its minimum of routable agents (coverage "
        "alarm); without it such a switch is answered 409 with the question in `confirm`.",
    )


class ConfirmationRequiredSerializer(serializers.Serializer):
    """409: the switch would leave one of my teams short of agents; send it again with confirm=true."""

    message = serializers.CharField()
    code = serializers.CharField()
    confirm = serializers.CharField(help_text="The question to ask the agent.")
    teams = serializers.ListField(
        child=serializers.DictField(), help_text="The teams left short: team, name, minimum, routable (now)."
    )


class StatusRequestDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown to the agent in their notice.",
    )


class StatusChangeRequestSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField

    class Meta:
        model = StatusRequest
        fields = ["id", "agent", "status", "reason", "state", "requested_at", "decided_by", "decided_at"]
        read_only_fields = fields


class PresenceSettingsSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    idle_timeout_minutes = serializers.IntegerField(
        min_value=5,
        required=False,
        allow_null=True,
        error_messages={"min_value": "The idle timeout is at least 5 minutes."},
    )

    class Meta:
        model = PresenceSettings
        fields = [
            "log_status_changes", "reassign_on_status_change", "apply_mappings_to_schedules", "login_status",
            "idle_timeout_minutes", "idle_timeout_named", "idle_timeout_concurrent", "idle_warning_seconds",
            "auto_offline_minutes", "auto_offline_status", "kick_out_minutes", "appointment_default_status",
            "wrap_up_max_minutes",
        ]  # fmt: skip


class StatusLogSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField

    class Meta:
        model = StatusChangeLog
        fields = [
            "id", "agent", "from_status", "to_status", "from_status_name", "to_status_name",
            "actor", "source", "reason", "at",
        ]  # fmt: skip
        read_only_fields = fields


class CapacitySerializer(serializers.Serializer):
    email = serializers.IntegerField(min_value=0, required=False)
    chat = serializers.IntegerField(min_value=0, required=False)
    phone = serializers.IntegerField(min_value=0, required=False)
    video = serializers.IntegerField(min_value=0, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(Channel.values)
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown channels: {', '.join(sorted(map(str, unknown)))}. Use {', '.join(Channel.values)}."
                )
        return super().to_internal_value(data)


@extend_schema_field({"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]})
class EmailOrBlankField(serializers.EmailField):
    """An email address, or empty when none is on file (Django's users may have none). The schema
    says so; a plain EmailField would promise an address that is not always there."""

    def __init__(self, **kwargs):
        super().__init__(allow_blank=True, required=False, **kwargs)


class AgentSerializer(serializers.Serializer):
    """An agent as SPEC "A" names it: {id, username, email, teams, capabilities, capacity, licence_type, delegate}."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    email = EmailOrBlankField(default="")
    teams = IdRelatedField(many=True, queryset=Team.objects.all(), required=False, default=list)
    capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), required=False, allow_empty=True
    )
    capacity = CapacitySerializer(required=False)
    licence_type = serializers.ChoiceField(choices=LicenceType.choices, required=False, default=LicenceType.NAMED)
    delegate = AgentField(required=False, allow_null=True, default=None)
    phone_number = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="", help_text="Where forwarded calls go."
    )
    language = serializers.CharField(
        read_only=True, help_text="The agent's page language (en, de); empty: the browser's language."
    )
    presence = serializers.SerializerMethodField()

    def validate_username(self, value: str) -> str:
        if self.instance is None and User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(f'A user named "{value}" already exists.')
        return value

    @extend_schema_field(PresenceSerializer(allow_null=True))
    def get_presence(self, profile: AgentProfile):
        presence = getattr(profile.user, "presence", None)
        if presence is None:
            return None
        return _presence_fields(state_of(presence, self.context.get("states", {})))

    def to_representation(self, profile: AgentProfile) -> dict:
        user = profile.user
        return {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "teams": [m.team_id for m in user.team_memberships.all()],
            "capabilities": profile.capabilities,
            "capacity": profile.capacity,
            "licence_type": profile.licence_type,
            "delegate": profile.delegate_id,
            "phone_number": profile.phone_number,
            "language": profile.language,
            "presence": self.get_presence(profile),
        }


class AgentUpdateSerializer(AgentSerializer):
    username = serializers.CharField(read_only=True)
    password = None
    email = EmailOrBlankField()
    teams = IdRelatedField(many=True, queryset=Team.objects.all(), required=False)
    licence_type = serializers.ChoiceField(choices=LicenceType.choices, required=False)
    delegate = AgentField(required=False, allow_null=True)
    phone_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
