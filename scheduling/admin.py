import zoneinfo

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from scheduling import services
from scheduling.models import Appointment, Shift, ShiftType


@admin.register(ShiftType)
class ShiftTypeAdmin(SimpleHistoryAdmin):
    list_display = ["name", "default_status", "end_status"]
    list_select_related = ["default_status", "end_status"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change) -> None:
        services.shift_type_save(obj, actor=request.user)


class ScheduleAdmin(SimpleHistoryAdmin):
    """Calendar-like: browse by day (date hierarchy) and agent; writes go through the service."""

    date_hierarchy = "start"
    list_filter = ["agent", "start"]
    list_select_related = ["agent", "agent__agent_profile"]
    search_fields = ["agent__username"]
    autocomplete_fields = ["agent"]
    readonly_fields = ["start_applied_at", "end_applied_at"]
    ordering = ["start"]

    @admin.display(description="agent's local time")
    def local_time(self, obj) -> str:
        zone = zoneinfo.ZoneInfo(obj.agent.agent_profile.time_zone)
        start, end = obj.start.astimezone(zone), obj.end.astimezone(zone)
        return f"{start:%a %d %b %H:%M}–{end:%H:%M} {zone.key}"

    def save_model(self, request, obj, form, change) -> None:
        services.schedule_save(obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.schedule_delete(obj, actor=request.user)


@admin.register(Shift)
class ShiftAdmin(ScheduleAdmin):
    list_display = ["agent", "shift_type", "start", "end", "local_time", "start_applied_at", "end_applied_at"]
    list_filter = ["agent", "shift_type", "start"]
    list_select_related = [*ScheduleAdmin.list_select_related, "shift_type"]
    fields = ["agent", "shift_type", "start", "end", "start_applied_at", "end_applied_at"]


@admin.register(Appointment)
class AppointmentAdmin(ScheduleAdmin):
    list_display = [
        "subject",
        "agent",
        "agent_status",
        "start",
        "end",
        "local_time",
        "start_applied_at",
        "end_applied_at",
    ]
    list_select_related = [*ScheduleAdmin.list_select_related, "agent_status"]
    search_fields = ["subject", "agent__username"]
    fields = ["agent", "subject", "agent_status", "start", "end", "start_applied_at", "end_applied_at"]
