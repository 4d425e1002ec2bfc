"""The presence API (SPEC "A"). Views validate, call one service, and render."""

import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, Throttled, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from presence import selectors, services
from presence.agent_state import agent_states
from presence.api.filters import IdFilter, TimeFilter
from presence.api.serializers import (
    AgentSerializer,
    AgentUpdateSerializer,
    ConfirmationRequiredSerializer,
    NoticeSerializer,
    PresenceMeSerializer,
    PresenceSerializer,
    PresenceSettingsSerializer,
    QueueSerializer,
    QueuesSerializer,
    StatusChangeInputSerializer,
    StatusChangeRequestSerializer,
    StatusLogSerializer,
    StatusRequestDecisionSerializer,
    StatusSerializer,
)
from presence.api.throttling import SignInThrottle
from presence.availability import Availability, availability_expression
from presence.coverage import coverage_switch_question, coverage_switch_warnings
from presence.errors import ConfirmationRequired
from presence.limits import ID_PATTERN
from presence.models import (
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusChangeLog,
    StatusRequest,
)
from presence.shared.permissions import (
    IsAgent,
    IsConfigAdmin,
    ReadAnyWriteConfigAdmin,
    is_supervisor,
)

User = get_user_model()


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"}, trim_whitespace=False)


class TokenView(APIView):
    """Sign in to the API (A3): POST username and password, get {"token": "<key>"} for
    `Authorization: Token <key>`; DELETE signs the caller out of the API (their token stops
    working). Too many failed sign-ins for one username from one address lock that pair out
    (429 with Retry-After)."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # DRF's own token view would parse JSON unbounded

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self):
        return [SignInThrottle()] if self.request.method == "POST" else []

    def throttled(self, request, wait):
        minutes = max(1, round(wait / 60))
        raise Throttled(
            wait,
            detail=f"Too many failed sign-ins for this username from your address: try again in {minutes} "
            "minute(s), or ask a supervisor to unlock you.",
        )

    @extend_schema(
        operation_id="auth_token_create",
        request=CredentialsSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        examples=[
            OpenApiExample("Sign in", value={"username": "ann", "password": "s3cret-passw0rd"}, request_only=True),
            OpenApiExample("A token", value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}, response_only=True),
        ],
    )
    def post(self, request):
        throttle = SignInThrottle()
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            throttle.record(request, succeeded=False)
            raise ValidationError(data.errors)
        throttle.record(request, succeeded=True)
        return Response({"token": services.api_token_get_or_create(data.validated_data["user"]).key})

    @extend_schema(
        operation_id="auth_token_revoke",
        request=None,
        responses={204: OpenApiResponse(description="Signed out of the API.")},
    )
    def delete(self, request):
        services.api_tokens_revoke(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRotateView(APIView):
    """A new token for the caller; the old one stops working at once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_token_rotate",
        request=None,
        responses={200: inline_serializer("TokenRotated", {"token": serializers.CharField()})},
    )
    def post(self, request):
        return Response({"token": services.api_token_rotate(request.user).key})


class StatusFilter(django_filters.FilterSet):
    class Meta:
        model = Status
        fields = ["category", "enabled", "can_receive", "online_for_live_chat", "requires_approval"]


class StatusViewSet(viewsets.ModelViewSet):
    """The status catalogue (S1). Everyone reads; configuration admins write."""

    lookup_value_regex = ID_PATTERN

    serializer_class = StatusSerializer
    permission_classes = [ReadAnyWriteConfigAdmin]
    filterset_class = StatusFilter
    pagination_class = None
    queryset = Status.objects.none()

    def get_queryset(self):
        return selectors.status_list()

    def perform_create(self, serializer):
        teams = serializer.validated_data.pop("teams", [])
        serializer.instance = services.status_save(
            Status(**serializer.validated_data), actor=self.request.user, teams=teams
        )

    def perform_update(self, serializer):
        teams = serializer.validated_data.pop("teams", None)
        status_obj = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(status_obj, field, value)
        services.status_save(status_obj, actor=self.request.user, teams=teams)

    def perform_destroy(self, instance):
        services.status_delete(instance, actor=self.request.user)


def _presence_response(presence, profile, *, http_status=status.HTTP_200_OK) -> Response:
    data = PresenceSerializer(presence, context={"states": agent_states([presence])}).data
    data.update(selectors.presence_prompts(presence, profile))
    data["queues"] = QueueSerializer(selectors.my_queues(profile.user), many=True).data
    data["notices"] = NoticeSerializer(selectors.my_notices(profile.user), many=True).data
    return Response(data, status=http_status)


class PresenceMeView(APIView):
    """The signed-in agent's presence, with when idle timeout would log them out and any open
    "still working?" question, for the agent panel's warnings, their queues (P10) and their
    undismissed notices (P11)."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(responses={200: PresenceMeSerializer})
    def get(self, request):
        return _presence_response(selectors.presence_get(request.user), request.agent_profile)


class PresenceMeStatusView(APIView):
    """Change my status: 200 with my presence, or 202 with the request when it needs approval.
    A switch that would leave one of my open teams below its minimum of routable agents (the
    coverage alarm) is answered 409 with the question in `confirm`, until sent with confirm=true."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(
        operation_id="presence_me_set_status",
        request=StatusChangeInputSerializer,
        responses={200: PresenceMeSerializer, 202: StatusChangeRequestSerializer, 409: ConfirmationRequiredSerializer},
        examples=[
            OpenApiExample("A status, by its id in statuses_list", value={"status": 1}, request_only=True),
            OpenApiExample("With a reason", value={"status": 4, "reason": "Lunch with the team"}, request_only=True),
        ],
    )
    def post(self, request):
        data = StatusChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data["confirm"]:
            warnings = coverage_switch_warnings(request.user, data.validated_data["status"])
            if warnings:
                question = coverage_switch_question(warnings)
                teams = [{"team": w.team_id, "name": w.name, "minimum": w.minimum, "routable": w.routable}
                         for w in warnings]  # fmt: skip
                raise ConfirmationRequired(question, extra={"confirm": question, "teams": teams})
        choice = services.presence_request_status(
            request.user,
            data.validated_data["status"],
            actor=request.user,
            source=Source.API,
            reason=data.validated_data["reason"],
        )
        if choice.request is not None:
            return Response(StatusChangeRequestSerializer(choice.request).data, status=status.HTTP_202_ACCEPTED)
        return _presence_response(choice.presence, request.agent_profile)


class PresenceMeHeartbeatView(APIView):
    """The open agent panel is alive (C5): POST with no body about once a minute while it is open;
    an agent in a receiving status whose heartbeats stop is set to the auto-offline status."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(
        operation_id="presence_me_heartbeat", request=None, responses={204: OpenApiResponse(description="Recorded.")}
    )
    def post(self, request):
        services.presence_record_heartbeat(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PresenceMeActivityView(APIView):
    """The agent did something on the page (typing, clicking): resets the idle timeout (C4)."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(
        operation_id="presence_me_activity", request=None, responses={204: OpenApiResponse(description="Recorded.")}
    )
    def post(self, request):
        services.presence_record_activity(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PresenceMeStillWorkingView(APIView):
    """Answer "still working?" (C6): the open question closes and the agent is not kicked out."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(
        operation_id="presence_me_still_working",
        request=None,
        responses={200: inline_serializer("StillWorkingAnswer", {"answered": serializers.BooleanField()})},
    )
    def post(self, request):
        return Response({"answered": services.presence_answer_still_working(request.user)})


def _queues_response(request, change, team: int) -> Response:
    change(request.user, team, actor=request.user)
    return Response(QueuesSerializer({"queues": selectors.my_queues(request.user)}).data)


class PresenceMeQueueJoinView(APIView):
    """Take work from one of my teams' queues again (P10): 200 with all my queues; 404 when I am
    not a member of that team. Its waiting tickets are routed once I am back in."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(operation_id="presence_me_join_queue", request=None, responses={200: QueuesSerializer})
    def post(self, request, team: int):
        return _queues_response(request, services.presence_queue_join, team)


class PresenceMeQueueLeaveView(APIView):
    """Stop taking work from one of my teams' queues, staying a member (P10): 200 with all my
    queues; 404 when I am not a member of that team."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(operation_id="presence_me_leave_queue", request=None, responses={200: QueuesSerializer})
    def post(self, request, team: int):
        return _queues_response(request, services.presence_queue_leave, team)


class PresenceMeNoticeDismissView(APIView):
    """Dismiss one of my notices (P11); 404 for an unknown notice or someone else's."""

    permission_classes = [IsAuthenticated, IsAgent]

    @extend_schema(
        operation_id="presence_me_dismiss_notice",
        request=None,
        responses={204: OpenApiResponse(description="Dismissed.")},
    )
    def post(self, request, id: int):
        services.presence_notice_dismiss(request.user, id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PresenceSettingsView(generics.GenericAPIView):
    """The presence settings singleton (P9); statuses by id."""

    serializer_class = PresenceSettingsSerializer
    permission_classes = [IsConfigAdmin]
    queryset = PresenceSettings.objects.all()

    @extend_schema(responses={200: PresenceSettingsSerializer})
    def get(self, request):
        return Response(self.get_serializer(PresenceSettings.load()).data)

    @extend_schema(responses={200: PresenceSettingsSerializer})
    def patch(self, request):
        serializer = self.get_serializer(PresenceSettings.load(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        config = services.presence_settings_update(actor=request.user, data=serializer.validated_data)
        return Response(self.get_serializer(config).data)


class AgentFilter(django_filters.FilterSet):
    status = django_filters.ModelChoiceFilter(field_name="user__presence__status", queryset=Status.objects.all())
    team = IdFilter(field_name="user__team_memberships__team_id", distinct=True)
    changed_since = TimeFilter(field_name="user__presence__since", lookup_expr="gt")

    class Meta:
        model = AgentProfile
        fields = ["status", "team", "changed_since", "licence_type"]


class AgentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):  # fmt: skip
    """Agents: supervisors list and read; admins provision and edit; agents read themselves."""

    lookup_value_regex = ID_PATTERN

    queryset = AgentProfile.objects.none()
    filterset_class = AgentFilter
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        return AgentUpdateSerializer if self.action == "partial_update" else AgentSerializer

    def get_queryset(self):
        return selectors.agent_list()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["states"] = getattr(self, "_states", {})
        return context

    def check_permissions(self, request):
        super().check_permissions(request)
        user = request.user
        if self.action == "create":
            # Provisioning creates the user account too: accounts stay with admins (roles.py).
            if not (user.is_staff and user.has_perms(["auth.add_user", "presence.add_agentprofile"])):
                raise PermissionDenied("Only administrators can provision agents: it creates a user account.")
        elif self.action == "partial_update":
            if not (user.is_staff and user.has_perm("presence.change_agentprofile")):
                raise PermissionDenied("Only administrators and supervisors can edit agents.")
        elif self.action in ("list", "change_status") and not is_supervisor(user):
            raise PermissionDenied("Only supervisors can do this.")

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if self.action == "retrieve" and obj.user_id != request.user.pk and not is_supervisor(request.user):
            raise PermissionDenied("Agents can only read their own record.")

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        wanted = request.query_params.get("availability")
        if wanted:
            if wanted not in Availability.values:
                raise ValidationError({"availability": f"Choose one of {', '.join(Availability.values)}."})
            # Availability is derived (P7); the database derives it from the presence, the
            # profile and the load counters, so the filter costs one query at any size.
            queryset = queryset.annotate(availability=availability_expression()).filter(availability=wanted)
        page = self.paginate_queryset(queryset)
        self._states = agent_states(getattr(profile.user, "presence", None) for profile in page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=StatusChangeInputSerializer, responses={200: PresenceSerializer})
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, pk=None):
        """A supervisor changes an agent's status (409 while the agent is Offline)."""
        if not is_supervisor(request.user):
            raise PermissionDenied("Only supervisors can change another agent's status.")
        profile = self.get_object()
        data = StatusChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = services.presence_change_status_by_supervisor(
            profile.user, data.validated_data["status"], actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(PresenceSerializer(change.presence, context={"states": agent_states([change.presence])}).data)

    def retrieve(self, request, *args, **kwargs):
        profile = self.get_object()
        self._states = agent_states([getattr(profile.user, "presence", None)])
        return Response(self.get_serializer(profile).data)

    def create(self, request, *args, **kwargs):
        serializer = AgentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        profile = services.agent_create(
            actor=request.user,
            username=data["username"],
            password=data["password"],
            email=data["email"],
            teams=data["teams"],
            capabilities=data.get("capabilities"),
            capacity=data.get("capacity"),
            licence_type=data["licence_type"],
            delegate=data["delegate"],
            phone_number=data["phone_number"],
        )
        return Response(AgentSerializer(selectors.agent_list().get(pk=profile.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        profile = self.get_object()
        serializer = AgentUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data.get("email", profile.user.email)
        if email != profile.user.email and not request.user.has_perm("auth.change_user"):
            # The e-mail address belongs to the user account, which stays with admins.
            raise PermissionDenied("Only administrators can change an agent's e-mail address.")
        services.agent_update(profile, actor=request.user, **serializer.validated_data)
        profile = selectors.agent_list().get(pk=profile.pk)
        states = agent_states([getattr(profile.user, "presence", None)])
        return Response(AgentUpdateSerializer(profile, context={"states": states}).data)


class StatusRequestFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=StatusRequest.State.choices)

    class Meta:
        model = StatusRequest
        fields = ["state", "agent"]


class StatusRequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Approval requests (P6). Agents see their own; supervisors see all and decide."""

    lookup_value_regex = ID_PATTERN

    serializer_class = StatusChangeRequestSerializer
    filterset_class = StatusRequestFilter
    queryset = StatusRequest.objects.none()

    def get_queryset(self):
        qs = StatusRequest.objects.select_related("status", "agent")
        return qs if is_supervisor(self.request.user) else qs.filter(agent_id=self.request.user.pk)

    def _decide(self, decide):
        if not is_supervisor(self.request.user):
            raise PermissionDenied("Only supervisors can decide approval requests.")
        data = StatusRequestDecisionSerializer(data=self.request.data)
        data.is_valid(raise_exception=True)
        decided = decide(self.get_object(), actor=self.request.user, reason=data.validated_data["reason"])
        return Response(self.get_serializer(decided).data)

    @extend_schema(request=StatusRequestDecisionSerializer, responses={200: StatusChangeRequestSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve: the agent's status changes now (source approval); the optional reason goes to
        the agent's notice."""
        return self._decide(services.status_request_approve)

    @extend_schema(request=StatusRequestDecisionSerializer, responses={200: StatusChangeRequestSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject: the agent stays in their status; the optional reason goes to their notice."""
        return self._decide(services.status_request_reject)


class StatusLogFilter(django_filters.FilterSet):
    since = TimeFilter(field_name="at", lookup_expr="gte")
    until = TimeFilter(field_name="at", lookup_expr="lt")
    source = django_filters.ChoiceFilter(choices=Source.choices)

    class Meta:
        model = StatusChangeLog
        fields = ["agent", "source", "since", "until", "to_status"]


class StatusLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The status change log (P8), newest first. Agents see their own rows; supervisors all."""

    lookup_value_regex = ID_PATTERN

    serializer_class = StatusLogSerializer
    filterset_class = StatusLogFilter
    queryset = StatusChangeLog.objects.none()

    def get_queryset(self):
        qs = selectors.status_log_list()
        if not is_supervisor(self.request.user):
            qs = qs.filter(agent_id=self.request.user.pk)
        return qs
