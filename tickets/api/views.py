"""The tickets API (SPEC "A"): tickets, teams, re-assign mappings, live-chat availability."""

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from presence.limits import ID_PATTERN
from presence.models import Team
from presence.selectors import live_chat_availability
from presence.shared.permissions import ReadAnyWriteConfigAdmin
from tickets import selectors, services
from tickets.api.serializers import (
    LiveChatAvailabilitySerializer,
    ReassignMappingSerializer,
    RoutingDecisionSerializer,
    TeamSerializer,
    TicketAssignInputSerializer,
    TicketAssignOutputSerializer,
    TicketNoteOutputSerializer,
    TicketNoteSerializer,
    TicketSerializer,
)
from tickets.models import ReassignMapping, Ticket


class TicketFilter(django_filters.FilterSet):
    unassigned = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")

    class Meta:
        model = Ticket
        fields = ["team", "state", "assignee", "channel", "unassigned", "pinned", "linked_to_chat"]


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "An e-mail for a team",
                value={"subject": "Cannot sign in to the portal", "channel": "email", "team": 1},
                request_only=True,
            ),
        ]
    )
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):  # fmt: skip
    """Tickets. Agents see and act on their own tickets and their teams' Unassigned queue;
    supervisors on all. New tickets in a routing team are assigned at once."""

    serializer_class = TicketSerializer
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError
    filterset_class = TicketFilter
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Ticket.objects.none()

    def get_queryset(self):
        if self.action == "take":
            return selectors.ticket_take_scope(self.request.user)
        return selectors.ticket_list_for(self.request.user)

    def retrieve(self, request, *args, **kwargs):
        """The assignee reading their ticket opens it (C6: opened work needs no "still working?")."""
        ticket = services.ticket_mark_opened(self.get_object(), agent=request.user)
        return Response(self.get_serializer(ticket).data)

    def perform_create(self, serializer):
        serializer.instance = services.ticket_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.ticket_update(
            serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(
        request=TicketAssignInputSerializer,
        responses={200: TicketAssignOutputSerializer},
        examples=[
            OpenApiExample("To an agent, by user id", value={"agent": 7}, request_only=True),
            OpenApiExample("Back to the Unassigned queue", value={"agent": None}, request_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign to an agent (`null` puts it back in the Unassigned queue); warnings do not block."""
        ticket = self.get_object()
        data = TicketAssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = data.validated_data["agent"]
        if agent is None:
            ticket, warnings = services.ticket_unassign(ticket, actor=request.user), []
        else:
            ticket, warnings = services.ticket_assign(ticket, agent, actor=request.user)
        return Response({"ticket": TicketSerializer(ticket).data, "warnings": warnings})

    @extend_schema(
        operation_id="tickets_add_note", request=TicketNoteSerializer, responses={201: TicketNoteOutputSerializer}
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        """Add a note; @username mentions warn when the mentioned agent's status asks for it."""
        ticket = self.get_object()
        data = TicketNoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note, warnings = services.ticket_note_add(ticket, author=request.user, body=data.validated_data["body"])
        return Response({"note": TicketNoteSerializer(note).data, "warnings": warnings}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        ticket = services.ticket_close(self.get_object(), actor=request.user)
        return Response(TicketSerializer(ticket).data)

    @extend_schema(operation_id="tickets_routing", request=None, responses={200: RoutingDecisionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def routing(self, request, pk=None):
        """Why this ticket went where it went (T11): its routing decisions, newest first, each with
        the members passed over ahead of the chosen agent and why."""
        decisions = selectors.routing_decisions_of(self.get_object())
        return Response(RoutingDecisionSerializer(decisions, many=True).data)

    @extend_schema(request=None, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        """Take a ticket from my team's Unassigned queue (it counts as opened). 400 names why not
        (status, finishing, capability, capacity, team); 409 `taken` when someone else got it first."""
        ticket = services.ticket_take(self.get_object(), agent=request.user)
        return Response(TicketSerializer(ticket).data)


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):  # fmt: skip
    """Teams with their routing method and members; configuration admins write."""

    serializer_class = TeamSerializer
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError
    permission_classes = [ReadAnyWriteConfigAdmin]
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = None
    queryset = Team.objects.none()

    def get_queryset(self):
        return selectors.team_list()

    def _save(self, team: Team, data: dict) -> Team:
        team.name = data.get("name", team.name)
        services.team_save(
            team, actor=self.request.user, routing_method=data.get("routing_method"), members=data.get("members")
        )
        return selectors.team_list().get(pk=team.pk)

    def perform_create(self, serializer):
        serializer.instance = self._save(Team(), serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self._save(serializer.instance, serializer.validated_data)


class ReassignMappingViewSet(viewsets.ModelViewSet):
    """Re-assign mappings (T4): from status (null = any) to status, and what happens to tickets."""

    serializer_class = ReassignMappingSerializer
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError
    permission_classes = [ReadAnyWriteConfigAdmin]
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = ReassignMapping.objects.none()

    def get_queryset(self):
        return ReassignMapping.objects.select_related("from_status", "to_status").order_by("to_status_id", "pk")

    def perform_create(self, serializer):
        serializer.instance = services.mapping_save(
            ReassignMapping(**serializer.validated_data), actor=self.request.user
        )

    def perform_update(self, serializer):
        mapping = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(mapping, name, value)
        services.mapping_save(mapping, actor=self.request.user)

    def perform_destroy(self, instance):
        services.mapping_delete(instance, actor=self.request.user)


class LiveChatAvailabilityView(APIView):
    """How many agents count as online for live chat (T6), in total and per team."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="live_chat_availability",
        responses={200: LiveChatAvailabilitySerializer},
        examples=[
            OpenApiExample(
                "Three agents online for chat",
                value={
                    "online": 3,
                    "teams": [{"team": 1, "name": "Support", "online": 2}, {"team": 2, "name": "Billing", "online": 1}],
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request):
        return Response(live_chat_availability())
