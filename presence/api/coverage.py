"""The coverage alarm in the API (C7): `GET /api/v1/coverage/`, for supervisors."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from presence.coverage import coverage_list
from presence.models import Team
from presence.shared.permissions import IsSupervisor


class CoverageSerializer(serializers.Serializer):
    """A team's coverage as the last sweep (every 30 seconds) saw it."""

    team = serializers.IntegerField(source="pk", read_only=True)
    name = serializers.CharField(read_only=True)
    minimum = serializers.IntegerField(
        source="coverage_minimum", read_only=True, help_text="The team's minimum of routable agents; 0: no alarm."
    )
    open = serializers.BooleanField(read_only=True, help_text="Within the team's opening hours.")
    required = serializers.IntegerField(read_only=True, help_text="The minimum in force: 0 while closed.")
    routable = serializers.IntegerField(
        read_only=True, help_text="Members who get work automatically (the routing rule for any ticket)."
    )
    deficit = serializers.IntegerField(read_only=True, help_text="Agents missing: required - routable, at least 0.")
    since = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the current deficit began; null while covered."
    )
    checked_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="The sweep's last look; null until its first."
    )

    def to_representation(self, team: Team) -> dict:
        state = getattr(team, "coverage", None)
        return {
            "team": team.pk,
            "name": team.name,
            "minimum": team.coverage_minimum,
            "open": state.open if state else False,
            "required": state.required if state else 0,
            "routable": state.routable if state else 0,
            "deficit": state.deficit if state else 0,
            "since": self.fields["since"].to_representation(state.since) if state and state.since else None,
            "checked_at": self.fields["checked_at"].to_representation(state.checked_at)
            if state and state.checked_at
            else None,
        }


class CoverageView(APIView):
    """Every team's coverage (C7): its minimum, whether it is open, how many members can receive
    work and how many are missing, and since when. Supervisors only."""

    permission_classes = [IsAuthenticated, IsSupervisor]

    @extend_schema(
        operation_id="coverage_list",
        tags=["teams"],
        responses={200: CoverageSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Support is two agents short",
                value={"team": 1, "name": "Support", "minimum": 3, "open": True, "required": 3, "routable": 1,
                       "deficit": 2, "since": "2030-01-07T09:12:30Z", "checked_at": "2030-01-07T09:20:00Z"},
                response_only=True,
            )
        ],
    )  # fmt: skip
    def get(self, request):
        return Response(CoverageSerializer(coverage_list(), many=True).data)
