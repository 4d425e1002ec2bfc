import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from presence.admin import SafeHistoryAdmin
from presence.admin_inputs import BoundedInputsAdminMixin
from presence.admin_pickers import AgentPickerMixin
from presence.errors import ApplicationError
from presence.models import Status
from scheduling import services
from scheduling.models import Appointment, Shift, ShiftType, break_budget_errors


class ShiftTypeForm(forms.ModelForm):
    # The admin leaves out a many-to-many through a model of our own: declared here, saved by the
    # service. Checkboxes: the statuses are a short list, and they work without JavaScript.
    break_statuses = forms.ModelMultipleChoiceField(
        Status.objects.order_by("sort_order", "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Break statuses"),
        help_text=ShiftType._meta.get_field("break_statuses").help_text,
    )

    class Meta:
        model = ShiftType
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        budget = ShiftType(
            off_duty=bool(cleaned.get("off_duty")),
            break_minutes=cleaned.get("break_minutes"),
            break_count=cleaned.get("break_count"),
        )
        for field, message in break_budget_errors(budget, cleaned.get("break_statuses") or []).items():
            self.add_error(field, message)
        return cleaned


@admin.register(ShiftType)
class ShiftTypeAdmin(BoundedInputsAdminMixin, SafeHistoryAdmin):
    form = ShiftTypeForm
    list_display = ["name", "default_status", "end_status", "off_duty", "break_budget"]
    list_select_related = ["default_status", "end_status"]
    search_fields = ["name"]

    @admin.display(description=gettext_lazy("break budget"))
    def break_budget(self, obj) -> str:
        parts = []
        if obj.break_minutes is not None:
            parts.append(_("%(minutes)s min") % {"minutes": obj.break_minutes})
        if obj.break_count is not None:
            parts.append(ngettext("%(count)s break", "%(count)s breaks", obj.break_count) % {"count": obj.break_count})
        return ", ".join(parts) or "-"

    def save_model(self, request, obj, form, change) -> None:
        services.shift_type_save(obj, actor=request.user, break_statuses=form.cleaned_data.get("break_statuses"))

    def delete_model(self, request, obj) -> None:
        services.shift_type_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for shift_type in queryset:
            services.shift_type_delete(shift_type, actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path.rsplit("delete/", 1)[0] + "change/")

    def response_action(self, request, queryset):
        try:
            return super().response_action(request, queryset)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ScheduleAdmin(BoundedInputsAdminMixin, AgentPickerMixin, SafeHistoryAdmin):
    """Calendar-like: browse by day (date hierarchy) and agent; writes go through the service.
    The agent is picked among agents only, by search."""

    agent_fields = ("agent",)
    date_hierarchy = "start"
    list_filter = [("agent", admin.RelatedOnlyFieldListFilter), "start"]
    list_select_related = ["agent", "agent__agent_profile"]
    search_fields = ["agent__username"]
    readonly_fields = ["start_applied_at", "end_applied_at", "skipped_reason"]
    ordering = ["start"]

    @admin.display(description="agent's local time")
    def local_time(self, obj) -> str:
        profile = getattr(obj.agent, "agent_profile", None)
        if profile is None:
            return "-"
        zone = zoneinfo.ZoneInfo(profile.time_zone)
        start, end = obj.start.astimezone(zone), obj.end.astimezone(zone)
        return f"{start:%a %d %b %H:%M}–{end:%H:%M} {zone.key}"

    def save_model(self, request, obj, form, change) -> None:
        services.schedule_save(obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.schedule_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            services.schedule_delete(obj, actor=request.user)


@admin.register(Shift)
class ShiftAdmin(ScheduleAdmin):
    list_display = [
        "agent", "shift_type", "start", "end", "local_time", "start_applied_at", "end_applied_at", "skipped_reason",
    ]  # fmt: skip
    list_filter = [("agent", admin.RelatedOnlyFieldListFilter), "shift_type", "start"]
    list_select_related = [*ScheduleAdmin.list_select_related, "shift_type"]
    fields = ["agent", "shift_type", "start", "end", "start_applied_at", "end_applied_at", "skipped_reason"]


@admin.register(Appointment)
class AppointmentAdmin(ScheduleAdmin):
    list_display = [
        "subject", "agent", "agent_status", "start", "end", "local_time", "start_applied_at", "end_applied_at",
        "skipped_reason",
    ]  # fmt: skip
    list_select_related = [*ScheduleAdmin.list_select_related, "agent_status"]
    search_fields = ["subject", "agent__username"]
    readonly_fields = [*ScheduleAdmin.readonly_fields, "booked_by"]
    fields = [
        "agent",
        "subject",
        "agent_status",
        "start",
        "end",
        "booked_by",
        "start_applied_at",
        "end_applied_at",
        "skipped_reason",
    ]
