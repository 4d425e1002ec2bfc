"""The phone system's API (P12): call events, who can take a call, and the agent's Done."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from presence import selectors, services
from presence.agent_state import agent_states
from presence.api.fields import AgentField, IdRelatedField
from presence.api.serializers import PresenceSerializer
from presence.models import Call
from presence.shared.permissions import IsAgent

User = get_user_model()

CALL_EVENTS = [("started", "started"), ("ended", "ended")]
CALL_TARGETS = [("softphone", "softphone"), ("forward", "forward")]


class CanReportCallEvents(permissions.BasePermission):
    """A phone system signs in as a user with the permission `presence.report_call_events`
    (admins have it); supervisors may also read who can take a call."""

    message = "Only a phone system (permission presence.report_call_events) can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.has_perm("presence.report_call_events"):
            return True
        return request.method in permissions.SAFE_METHODS and selectors.is_supervisor(user)


class CallEventSerializer(serializers.Serializer):
    agent = AgentField()
    call_id = serializers.CharField(max_length=128)
    event = serializers.ChoiceField(choices=CALL_EVENTS)


class CallSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField

    class Meta:
        model = Call
        fields = ["call_id", "agent", "state", "started_at", "ended_at", "done_at", "status_before", "wrap_up_until"]
        read_only_fields = fields


class CallEventResponseSerializer(serializers.Serializer):
    call = CallSerializer()
    presence = PresenceSerializer()


class TelephonyEventView(APIView):
    """A call started or ended. `started` puts the agent On a call; `ended` puts them in After call
    work until they press Done (or the settings' maximum passes). Repeating an event changes
    nothing (going Offline ends the agent's calls, so a later `ended` is a repeat); `ended` for an
    unknown call, and `started` for an Offline agent, is 409."""

    permission_classes = [CanReportCallEvents]

    @extend_schema(
        operation_id="telephony_report_event",
        request=CallEventSerializer,
        responses={200: CallEventResponseSerializer},
        examples=[OpenApiExample("A call starts", value={"agent": 7, "call_id": "c-4711", "event": "started"})],
    )
    def post(self, request):
        data = CallEventSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent, call_id = data.validated_data["agent"], data.validated_data["call_id"]
        report = services.call_started if data.validated_data["event"] == "started" else services.call_ended
        call = report(agent, call_id, actor=request.user)
        presence = selectors.presence_get(agent)
        return Response(
            {
                "call": CallSerializer(call).data,
                "presence": PresenceSerializer(presence, context={"states": agent_states([presence])}).data,
            }
        )


class TelephonyAgentsView(APIView):
    """Who can take a call now, best first: on the softphone (gets phone work by the routing rule
    and has room for another call) or forwarded to their phone (a status with forward to phone)."""

    permission_classes = [CanReportCallEvents]

    @extend_schema(
        responses={
            200: inline_serializer(
                "CallTarget",
                {
                    "agent": serializers.IntegerField(),
                    "status": serializers.IntegerField(),
                    "target": serializers.ChoiceField(choices=CALL_TARGETS),
                    "phone_number": serializers.CharField(allow_null=True),
                },
                many=True,
            )
        }
    )
    def get(self, request):
        return Response(selectors.call_targets())


class PresenceMeWrapUpDoneView(APIView):
    """I am done with my after call work: back to the status I had before the call (409 when I am
    not in after call work)."""

    permission_classes = [permissions.IsAuthenticated, IsAgent]

    @extend_schema(operation_id="presence_me_wrap_up_done", request=None, responses={200: PresenceSerializer})
    def post(self, request):
        change = services.presence_wrap_up_done(request.user, actor=request.user)
        presence = selectors.presence_get(request.user)
        return Response(
            PresenceSerializer(presence, context={"states": agent_states([change.presence])}).data,
            status=status.HTTP_200_OK,
        )
