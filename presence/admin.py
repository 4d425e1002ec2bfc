from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from presence import services
from presence.availability import availability_of
from presence.errors import ApplicationError
from presence.models import (
    AgentPresence,
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusChangeLog,
    StatusRequest,
    Team,
    TeamMembership,
)
from presence.services.status_change import check_selectable
from presence.workload import NO_WORK, workloads

admin.site.site_header = "Helpdesk presence"
admin.site.site_title = "Helpdesk presence"
admin.site.index_title = "Statuses, agents and routing"


def swatch(color: str, label: str = "") -> str:
    return format_html(
        '<span style="display:inline-block;width:.9em;height:.9em;border-radius:50%;'
        'background:{};vertical-align:middle;border:1px solid #0003"></span> {}',
        color,
        label,
    )


class StatusAdminForm(forms.ModelForm):
    class Meta:
        model = Status
        fields = "__all__"
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}


@admin.register(Status)
class StatusAdmin(SimpleHistoryAdmin):
    form = StatusAdminForm
    list_display = [
        "colour", "name", "emoji", "category", "enabled", "can_receive", "online_for_live_chat",
        "in_load_balance", "in_load_balance_for_chat", "warn_on_assign", "warn_on_mention",
        "count_time_after_dialogs_closed", "requires_approval", "drain", "timed", "is_system", "sort_order",
    ]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["sort_order"]
    list_filter = [
        "category", "enabled", "can_receive", "online_for_live_chat", "in_load_balance",
        "requires_approval", "drain", "is_system",
    ]  # fmt: skip
    list_select_related = ["return_status"]
    search_fields = ["name", "slug"]
    ordering = ["sort_order", "name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["teams"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "category", "color", "emoji", "sort_order", "enabled"]}),
        ("Routing", {"fields": [
            "can_receive", "online_for_live_chat", "in_load_balance", "in_load_balance_for_chat", "drain", "teams",
        ]}),
        ("Warnings", {"fields": ["warn_on_assign", "warn_on_mention"]}),
        ("Time", {"fields": ["max_duration", "return_status", "count_time_after_dialogs_closed", "idle_timeout"]}),
        ("Approval", {"fields": ["requires_approval"]}),
    ]  # fmt: skip

    @admin.display(description="colour", ordering="color")
    def colour(self, obj: Status) -> str:
        return swatch(obj.color)

    @admin.display(description="timed", boolean=True)
    def timed(self, obj: Status) -> bool:
        return obj.is_timed

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_system:
            return ["slug", "category"]
        return []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None and obj.is_system else self.prepopulated_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_system:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        services.status_save(obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.status_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for status in queryset:
            services.status_delete(status, actor=request.user)

    def get_deleted_objects(self, objs, request):
        # Anything that keeps a status in use goes in the "protected" list, so the confirmation
        # page refuses by name: system statuses, and pending approval requests (S3).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = list(protected)
        for obj in objs:
            if obj.is_system:
                protected.append(f"{obj.name} (built-in system status)")
            pending = obj.requests.filter(state=StatusRequest.State.PENDING).select_related("agent")
            protected += [f"Pending approval request of {r.agent.get_username()} for {obj.name}" for r in pending]
        # Decided approval requests go with their status; objects in `protected` are refused
        # anyway, so their admins' delete permission is not the message to show.
        perms_needed = set() if protected else perms_needed - {str(StatusRequest._meta.verbose_name)}
        return deleted, counts, perms_needed, protected

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:presence_status_change", args=[object_id]))

    def response_action(self, request, queryset):
        try:
            return super().response_action(request, queryset)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["agent"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]
    inlines = [TeamMembershipInline]

    @admin.display(description="members")
    def member_count(self, obj: Team) -> int:
        return obj.memberships.count()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships")


class AgentProfileForm(forms.ModelForm):
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(), required=False, widget=admin.widgets.FilteredSelectMultiple("teams", False)
    )

    class Meta:
        model = AgentProfile
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["teams"].initial = Team.objects.filter(memberships__agent_id=self.instance.pk)


@admin.register(AgentProfile)
class AgentProfileAdmin(SimpleHistoryAdmin):
    form = AgentProfileForm
    list_display = [
        "user", "current_status", "licence_type", "can_email", "can_chat", "can_phone", "can_video",
        "capacity_email", "capacity_chat", "capacity_phone", "capacity_video", "delegate",
    ]  # fmt: skip
    list_filter = ["licence_type", "can_email", "can_chat", "can_phone", "can_video", "user__presence__status"]
    list_select_related = ["user", "delegate", "user__presence__status"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user", "delegate"]
    fieldsets = [
        (None, {"fields": ["user", "licence_type", "delegate", "teams"]}),
        ("Capabilities", {"fields": ["can_email", "can_chat", "can_phone", "can_video"]}),
        ("Capacity per channel", {"fields": ["capacity_email", "capacity_chat", "capacity_phone", "capacity_video"]}),
    ]

    @admin.display(description="status", ordering="user__presence__status__sort_order")
    def current_status(self, obj: AgentProfile) -> str:
        presence = getattr(obj.user, "presence", None)
        return swatch(presence.status.color, presence.status.name) if presence else "-"

    def get_readonly_fields(self, request, obj=None):
        return ["user"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        services.agent_profile_save(obj, actor=request.user)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.agent_set_teams(form.instance.user, form.cleaned_data["teams"])


class PresenceStatusForm(forms.ModelForm):
    reason = forms.CharField(max_length=255, required=False)

    class Meta:
        model = AgentPresence
        fields = ["status"]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if status.pk != self.instance.status_id:
            try:
                check_selectable(status)
            except ApplicationError as exc:
                raise ValidationError(exc.message) from exc
        return status


class PresenceChangeList(ChangeList):
    def get_results(self, request) -> None:
        super().get_results(request)
        # One provider call for the whole page keeps the list at a constant number of queries.
        loads = workloads(presence.agent_id for presence in self.result_list)
        for presence in self.result_list:
            presence.workload = loads.get(presence.agent_id, NO_WORK)


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    """Live presence. Changing the status here goes through the status service (source admin)."""

    form = PresenceStatusForm
    list_display = [
        "agent",
        "current_status",
        "availability",
        "since",
        "pending_status",
        "last_heartbeat",
        "last_activity",
    ]
    list_filter = ["status", "status__category"]
    list_select_related = ["agent", "status", "pending_status"]
    search_fields = ["agent__username", "agent__email"]
    readonly_fields = ["agent", "since", "pending_status", "last_heartbeat", "last_activity"]
    fields = ["agent", "status", "reason", "since", "pending_status", "last_heartbeat", "last_activity"]

    def get_changelist(self, request, **kwargs):
        return PresenceChangeList

    @admin.display(description="status", ordering="status__sort_order")
    def current_status(self, obj: AgentPresence) -> str:
        return swatch(obj.status.color, f"{obj.status.emoji} {obj.status.name}")

    @admin.display(description="availability")
    def availability(self, obj: AgentPresence) -> str:
        return availability_of(obj, getattr(obj, "workload", NO_WORK)).label

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.presence_change_status(
            obj.agent, form.cleaned_data["status"], actor=request.user, source=Source.ADMIN,
            reason=form.cleaned_data.get("reason", ""),
        )  # fmt: skip


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StatusChangeLog)
class StatusChangeLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "agent", "from_status_name", "to_status_name", "source", "actor", "reason"]
    list_filter = ["source", "to_status", "at"]
    list_select_related = ["agent", "actor"]
    search_fields = ["agent__username", "reason", "to_status_name", "from_status_name"]
    date_hierarchy = "at"


@admin.register(StatusRequest)
class StatusRequestAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "agent", "status", "state", "reason", "decided_by", "decided_at"]
    list_filter = ["state", "status"]
    list_select_related = ["agent", "status", "decided_by"]
    search_fields = ["agent__username", "reason"]


@admin.register(PresenceSettings)
class PresenceSettingsAdmin(SimpleHistoryAdmin):
    """The singleton is one page: the list goes straight to it."""

    fieldsets = [
        ("Logging", {"fields": ["log_status_changes"]}),
        ("Re-assign", {"fields": ["reassign_on_status_change", "apply_mappings_to_schedules"]}),
        ("Login", {"fields": ["login_status"]}),
        ("Idle timeout", {"fields": [
            "idle_timeout_minutes", "idle_timeout_named", "idle_timeout_concurrent", "idle_warning_seconds",
        ]}),
        ("Lost connection", {"fields": ["auto_offline_minutes", "auto_offline_status"]}),
        ("Kick-out", {"fields": ["kick_out_minutes"]}),
        ("Appointments", {"fields": ["appointment_default_status"]}),
    ]  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        config = PresenceSettings.load()
        return HttpResponseRedirect(reverse("admin:presence_presencesettings_change", args=[config.pk]))

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.presence_settings_update(actor=request.user, data=form.cleaned_data)
