from django.contrib.auth import get_user_model
from rest_framework import serializers

from presence.api.fields import AgentField, IdRelatedField
from presence.models import Team
from tickets.models import MappingAction, ReassignMapping, RoutingDecision, RoutingMethod, Ticket, TicketNote

User = get_user_model()


class TicketSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    team = IdRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Ticket
        fields = [
            "id", "subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned",
            "created_at", "updated_at", "assigned_at", "opened_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = ["assignee", "created_at", "updated_at", "assigned_at", "opened_at", "closed_at"]


class TicketAssignInputSerializer(serializers.Serializer):
    agent = IdRelatedField(queryset=User.objects.all(), allow_null=True)


class TicketAssignOutputSerializer(serializers.Serializer):
    ticket = TicketSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class TicketNoteSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    mentions = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = TicketNote
        fields = ["id", "ticket", "author", "body", "mentions", "created_at"]
        read_only_fields = ["ticket", "author", "mentions", "created_at"]


class TicketNoteOutputSerializer(serializers.Serializer):
    note = TicketNoteSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class TeamSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    routing_method = serializers.ChoiceField(choices=RoutingMethod.choices, required=False)
    members = AgentField(many=True, required=False)

    class Meta:
        model = Team
        fields = ["id", "name", "routing_method", "members"]

    def to_representation(self, team: Team) -> dict:
        routing = getattr(team, "routing", None)
        return {
            "id": team.pk,
            "name": team.name,
            "routing_method": routing.method if routing else RoutingMethod.MANUAL,
            "members": sorted(m.agent_id for m in team.memberships.all()),
        }


class ReassignMappingSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    action = serializers.ChoiceField(choices=MappingAction.choices)

    class Meta:
        model = ReassignMapping
        fields = ["id", "from_status", "to_status", "action"]
        validators = []  # the model's constraints are checked in full_clean with a readable message


class TeamAvailabilitySerializer(serializers.Serializer):
    team = serializers.IntegerField()
    name = serializers.CharField()
    online = serializers.IntegerField()


class LiveChatAvailabilitySerializer(serializers.Serializer):
    online = serializers.IntegerField()
    teams = TeamAvailabilitySerializer(many=True)


class PassedOverSerializer(serializers.Serializer):
    agent = serializers.IntegerField()
    username = serializers.CharField(allow_null=True, help_text="Null once the user is deleted.")
    reason = serializers.ChoiceField(choices=RoutingDecision.PassedOver.choices)


class RoutingDecisionSerializer(serializers.ModelSerializer):
    """Why an automatic assignment went where it went (T11)."""

    agent = serializers.IntegerField(source="agent_id", allow_null=True, read_only=True)
    agent_username = serializers.CharField(source="agent.username", default=None, read_only=True)
    passed_over = PassedOverSerializer(many=True, read_only=True)

    class Meta:
        model = RoutingDecision
        fields = ["id", "at", "agent", "agent_username", "method", "candidates", "load", "capacity", "passed_over",
                  "reason"]  # fmt: skip
        read_only_fields = fields
