"""The scheduling API (SPEC "A"): shift types, shifts and appointments."""

import django_filters
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied

from presence.api.filters import TimeFilter
from presence.limits import ID_PATTERN
from presence.selectors import is_supervisor
from presence.shared.permissions import ReadAnyWriteConfigAdmin
from scheduling import services
from scheduling.api.serializers import AppointmentSerializer, ShiftSerializer, ShiftTypeSerializer
from scheduling.models import Appointment, Shift, ShiftType


class ShiftTypeViewSet(viewsets.ModelViewSet):
    """Shift types: the status at the start and, optionally, at the end, and the breaks a shift
    allows (C8). Admins write."""

    serializer_class = ShiftTypeSerializer
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError
    permission_classes = [ReadAnyWriteConfigAdmin]
    pagination_class = None
    queryset = ShiftType.objects.select_related("default_status", "end_status").prefetch_related("break_statuses")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        breaks = data.pop("break_statuses", [])
        serializer.instance = services.shift_type_save(
            ShiftType(**data), actor=self.request.user, break_statuses=breaks
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        breaks = data.pop("break_statuses", None)  # not sent: the shift type keeps its break statuses
        for name, value in data.items():
            setattr(serializer.instance, name, value)
        # DRF's update() drops the prefetched break statuses afterwards, so the answer shows the new.
        services.shift_type_save(serializer.instance, actor=self.request.user, break_statuses=breaks)

    def perform_destroy(self, instance):
        services.shift_type_delete(instance, actor=self.request.user)


class ScheduleFilter(django_filters.FilterSet):
    """?agent=&from=&to= : entries overlapping the period [from, to)."""

    start_before = TimeFilter(field_name="start", lookup_expr="lt", label="to")
    end_after = TimeFilter(field_name="end", lookup_expr="gt", label="from")

    class Meta:
        fields = ["agent", "start_before", "end_after"]


class ShiftFilter(ScheduleFilter):
    class Meta(ScheduleFilter.Meta):
        model = Shift
        fields = [*ScheduleFilter.Meta.fields, "shift_type"]


class AppointmentFilter(ScheduleFilter):
    class Meta(ScheduleFilter.Meta):
        model = Appointment


class ScheduleViewSet(viewsets.ModelViewSet):
    """Agents read and write their own entries; supervisors anyone's."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = ID_PATTERN  # an id beyond 64 bits is 404, not an OverflowError

    def get_queryset(self):
        qs = self.serializer_class.Meta.model.objects.select_related("agent")
        return qs if is_supervisor(self.request.user) else qs.filter(agent_id=self.request.user.pk)

    def _check_agent(self, agent) -> None:
        if agent.pk != self.request.user.pk and not is_supervisor(self.request.user):
            raise PermissionDenied("Agents can only schedule themselves.")

    def perform_create(self, serializer):
        self._check_agent(serializer.validated_data["agent"])
        model = self.serializer_class.Meta.model
        serializer.instance = services.schedule_save(model(**serializer.validated_data), actor=self.request.user)

    def perform_update(self, serializer):
        self._check_agent(serializer.validated_data.get("agent", serializer.instance.agent))
        for name, value in serializer.validated_data.items():
            setattr(serializer.instance, name, value)
        services.schedule_save(serializer.instance, actor=self.request.user)

    def perform_destroy(self, instance):
        services.schedule_delete(instance, actor=self.request.user)


class ShiftViewSet(ScheduleViewSet):
    """Shifts: status changes at start and end (C1). No two shifts of one agent overlap."""

    serializer_class = ShiftSerializer
    filterset_class = ShiftFilter
    queryset = Shift.objects.none()


class AppointmentViewSet(ScheduleViewSet):
    """Appointments: a status for their duration, the previous one back after (C2)."""

    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    queryset = Appointment.objects.none()
