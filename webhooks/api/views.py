"""The webhooks API (SPEC A2): configuration admins manage webhooks and read their deliveries."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from presence.limits import ID_PATTERN
from presence.shared.permissions import IsConfigAdmin
from webhooks import selectors, services
from webhooks.api.permissions import CanViewDeliveries
from webhooks.api.serializers import DeliverySerializer, WebhookCreatedSerializer, WebhookSerializer
from webhooks.models import Webhook


@extend_schema(tags=["webhooks"])
@extend_schema_view(
    list=extend_schema(operation_id="webhooks_list"),
    create=extend_schema(operation_id="webhooks_create", responses={201: WebhookCreatedSerializer}),
    retrieve=extend_schema(operation_id="webhooks_retrieve"),
    partial_update=extend_schema(operation_id="webhooks_partial_update"),
    destroy=extend_schema(operation_id="webhooks_destroy"),
)
class WebhookViewSet(viewsets.ModelViewSet):
    """Webhooks: where events are POSTed, signed with the webhook's secret (README "Webhooks").
    Admins only (staff with the webhooks permissions)."""

    serializer_class = WebhookSerializer
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError
    permission_classes = [IsConfigAdmin]
    filterset_fields = ["active"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = Webhook.objects.none()

    def get_queryset(self):
        return selectors.webhook_list()

    def create(self, request, *args, **kwargs):
        data = WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_save(Webhook(**data.validated_data), actor=request.user)
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        webhook = serializer.instance
        for name, value in serializer.validated_data.items():
            if name != "secret" or value:  # a blank secret keeps the one there is
                setattr(webhook, name, value)
        services.webhook_save(webhook, actor=self.request.user)

    def perform_destroy(self, instance):
        services.webhook_delete(instance, actor=self.request.user)

    @extend_schema(operation_id="webhooks_deliveries_list", responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"], permission_classes=[CanViewDeliveries], filterset_fields=[])
    def deliveries(self, request, pk=None):
        """The webhook's deliveries, newest first: state, attempts, the last status code and error."""
        page = self.paginate_queryset(selectors.delivery_list(webhook=self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)
