"""The presence admin, where supervisors configure statuses, teams, agents and settings (U4, O4).

Every write goes through a service, also the ones the admin would do by itself: history
reverts, inline rows and bulk actions. Who may do what is the role matrix (presence/roles.py)
expressed as Django permissions; the admin adds no permission of its own.
"""

from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from rest_framework.authtoken.admin import TokenAdmin as _DRFTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from simple_history.admin import SimpleHistoryAdmin
from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME

from presence import selectors, services
from presence.admin_inputs import BoundedInputsAdminMixin
from presence.admin_pickers import AgentAutocompleteView, AgentPickerMixin
from presence.agent_state import AgentState, agent_states, state_of
from presence.errors import ApplicationError
from presence.models import (
    AgentPresence,
    AgentProfile,
    Call,
    PresenceSettings,
    Status,
    StatusChangeLog,
    StatusRequest,
    Team,
    TeamMembership,
    TeamOpeningHours,
)
from presence.services.approvals import supervisor_change_refusal
from presence.services.status_change import check_selectable

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


def refusal_text(exc: Exception) -> str:
    """One sentence from a domain refusal or a model validation error."""
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return " ".join(f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                        for field, msgs in exc.message_dict.items())  # fmt: skip
    return " ".join(getattr(exc, "messages", [str(exc)]))


class RefusalsAsMessages:
    """A service that refuses (ApplicationError, or a ValidationError past the form's checks,
    say after a race) while the admin saves: the admin's own transaction undoes everything,
    and the page comes back with the refusal as a message instead of a server error."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ApplicationError, ValidationError) as exc:
            if request.method != "POST":
                raise
            self.message_user(request, f"Nothing was saved: {refusal_text(exc)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _compared_with_stored(form_class, stored):
    """A revert's form class whose changed_data is what the revert changes in the row as stored.

    django-simple-history binds the form to the old version, so a field that differs from the
    row now but not from that version would count as unchanged, and whatever acts on changed
    data (the ticket's assignment and its checks) would skip it.
    """
    initial = model_to_dict(stored, form_class._meta.fields, form_class._meta.exclude)

    class RevertForm(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, initial={**initial, **(kwargs.pop("initial", None) or {})}, **kwargs)

    return RevertForm


class SafeHistoryAdmin(RefusalsAsMessages, SimpleHistoryAdmin):
    """django-simple-history's admin with reverting held to the change form's rules.

    Its history form view saves a POST with view permission alone. Here viewing a version
    needs view permission and reverting (POST) needs change permission; the revert saves
    through the same `save_model` (the services) in one transaction, with the form comparing
    against the row as stored, and a refusal is shown as a message with nothing saved.
    """

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if request.method == "POST" and getattr(obj, SIMPLE_HISTORY_REVERSE_ATTR_NAME, None) is not None:
            stored = self.get_object(request, str(obj.pk))
            if stored is not None:
                return _compared_with_stored(form_class, stored)
        return form_class

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "POST":
            return super().history_form_view(request, object_id, version_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            with transaction.atomic():
                return super().history_form_view(request, object_id, version_id, extra_context)
        except (ApplicationError, ValidationError) as exc:
            self.message_user(request, f"Not reverted: {refusal_text(exc)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# --- statuses ------------------------------------------------------------------------------------


class StatusAdminForm(forms.ModelForm):
    class Meta:
        model = Status
        fields = "__all__"
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}


def _yes(value: bool) -> str:
    return "✔" if value else ""


@admin.register(Status)
class StatusAdmin(SafeHistoryAdmin):
    form = StatusAdminForm
    # Narrow columns so the list fits a 1366 px screen beside the admin's menu and filters: each
    # flag keeps a column under a short header (the filters carry the full names); category,
    # timing, "system" and "disabled" go under the name.
    list_display = [
        "label", "receives", "live_chat", "load_balance", "warns", "approval", "finishes_first",
        "sort_order",
    ]  # fmt: skip
    list_display_links = ["label"]
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
    actions = ["enable_statuses", "disable_statuses"]
    empty_value_display = ""

    class Media:
        css = {"all": ["presence/admin.css"]}

    fieldsets = [
        (None, {"fields": ["name", "slug", "category", "color", "emoji", "sort_order", "enabled"]}),
        ("Routing", {"fields": [
            "can_receive", "online_for_live_chat", "in_load_balance", "in_load_balance_for_chat", "drain", "teams",
        ]}),
        ("Warnings", {"fields": ["warn_on_assign", "warn_on_mention"]}),
        ("Time", {"fields": ["max_duration", "return_status", "count_time_after_dialogs_closed", "idle_timeout"]}),
        ("Approval", {"fields": ["requires_approval"]}),
        ("Phone", {"fields": ["forward_to_phone"]}),
    ]  # fmt: skip

    @admin.display(description="status", ordering="name")
    def label(self, obj: Status) -> str:
        details = [obj.get_category_display()]
        if not obj.enabled:
            details.append(format_html('<strong class="disabled">{}</strong>', "disabled"))
        if obj.is_timed:
            details.append(f"{obj.max_duration} min → {obj.return_status}")
        if obj.is_system:
            details.append("system")
        return format_html(
            '{}<br><span class="status-details">{}</span>',
            swatch(obj.color, f"{obj.emoji} {obj.name}".strip()),
            format_html_join(" · ", "{}", ((d,) for d in details)),
        )

    @admin.display(description="receives", boolean=True, ordering="can_receive")
    def receives(self, obj: Status) -> bool:
        return obj.can_receive

    @admin.display(description="chat", boolean=True, ordering="online_for_live_chat")
    def live_chat(self, obj: Status) -> bool:
        return obj.online_for_live_chat

    @admin.display(description="balance", ordering="in_load_balance")
    def load_balance(self, obj: Status) -> str:
        return "all" if obj.in_load_balance else ("chats" if obj.in_load_balance_for_chat else "")

    @admin.display(description="warns")
    def warns(self, obj: Status) -> str:
        return ", ".join(w for w, on in (("assign", obj.warn_on_assign), ("mention", obj.warn_on_mention)) if on)

    @admin.display(description="approval", boolean=True, ordering="requires_approval")
    def approval(self, obj: Status) -> bool:
        return obj.requires_approval

    @admin.display(description="drains", boolean=True, ordering="drain")
    def finishes_first(self, obj: Status) -> bool:
        return obj.drain

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
        # page refuses by name: system statuses, settings that need it, and pending approval
        # requests (S3, S5).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = list(protected)
        for obj in objs:
            reason = obj.protection(deleting=True)
            if reason:
                protected.append(reason)
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

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        changed, refused = services.status_set_enabled(list(queryset), enabled=enabled, actor=request.user)
        verb = "Enabled" if enabled else "Disabled"
        if changed:
            names = ", ".join(s.name for s in changed)
            self.message_user(request, f"{verb} {len(changed)} status(es): {names}.", messages.SUCCESS)
        elif not refused:
            self.message_user(request, f"Nothing to change: they were already {verb.lower()}.", messages.INFO)
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)

    @admin.action(description="Enable selected statuses", permissions=["change"])
    def enable_statuses(self, request, queryset) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected statuses (hidden from agents' choices)", permissions=["change"])
    def disable_statuses(self, request, queryset) -> None:
        self._set_enabled(request, queryset, False)


# --- teams -----------------------------------------------------------------------------------------


class TeamMembershipInline(AgentPickerMixin, admin.TabularInline):
    model = TeamMembership
    extra = 0
    agent_fields = ("agent",)
    fields = ["agent", "active"]


class TeamOpeningHoursInline(admin.TabularInline):
    """When the team is open, for its coverage alarm (C7): times in the team's time zone; a
    closing time at or before the opening time closes the next day."""

    model = TeamOpeningHours
    extra = 0
    fields = ["weekday", "opens", "closes"]


@admin.register(Team)
class TeamAdmin(SafeHistoryAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name"]}),
        (
            "Coverage alarm",
            {
                "fields": ["coverage_minimum", "coverage_time_zone"],
                "description": "During the opening hours below, the board, the API, webhooks and a mail to "
                "the supervisors raise the alarm when fewer members than the minimum can receive work.",
            },
        ),
    ]
    inlines = [TeamMembershipInline, TeamOpeningHoursInline]

    @admin.display(description="members")
    def member_count(self, obj: Team) -> int:
        return len(obj.memberships.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships")

    def save_model(self, request, obj, form, change) -> None:
        services.team_save(obj, actor=request.user)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is TeamOpeningHours:
            rows = formset.save(commit=False)
            for hours in formset.deleted_objects:
                services.team_opening_hours_delete(hours, actor=request.user)
            for hours in rows:
                services.team_opening_hours_save(hours, actor=request.user)
            return
        if formset.model is not TeamMembership:
            return super().save_formset(request, form, formset, change)
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.team_membership_delete(membership, actor=request.user)
        for membership in memberships:
            services.team_membership_save(membership, actor=request.user)


# --- agents ----------------------------------------------------------------------------------------


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
class AgentProfileAdmin(BoundedInputsAdminMixin, AgentPickerMixin, SafeHistoryAdmin):
    """Who is an agent, with what channels and capacity. The user accounts themselves stay with
    admins: making a user an agent picks among users who are not agents yet."""

    form = AgentProfileForm
    agent_fields = ("user", "delegate")
    list_display = [
        "user", "current_status", "licence_type", "can_email", "can_chat", "can_phone", "can_video",
        "capacity_email", "capacity_chat", "capacity_phone", "capacity_video", "delegate", "sign_in",
    ]  # fmt: skip
    list_filter = ["licence_type", "can_email", "can_chat", "can_phone", "can_video", "user__presence__status"]
    actions = ["unlock_sign_in"]
    list_select_related = ["user", "delegate", "user__presence__status"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    fieldsets = [
        (None, {"fields": ["user", "licence_type", "time_zone", "language", "delegate", "teams", "phone_number"]}),
        ("Capabilities", {"fields": ["can_email", "can_chat", "can_phone", "can_video"]}),
        ("Capacity per channel", {"fields": ["capacity_email", "capacity_chat", "capacity_phone", "capacity_video"]}),
    ]

    def get_urls(self):
        picker = AgentAutocompleteView.as_view(admin_site=self.admin_site)
        return [
            path("pick/", self.admin_site.admin_view(picker), name="presence_agent_autocomplete"),
            *super().get_urls(),
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
        if "teams" in form.cleaned_data:
            services.agent_set_teams(form.instance.user, form.cleaned_data["teams"])

    def delete_model(self, request, obj) -> None:
        services.agent_profile_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for profile in queryset:
            services.agent_profile_delete(profile, actor=request.user)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Who is locked out of the sign-in form (django-axes), for the page in one query.
        names = [profile.user.get_username() for profile in changelist.result_list]
        limit, since = settings.AXES_FAILURE_LIMIT, timezone.now() - settings.AXES_COOLOFF_TIME
        attempts = AccessAttempt.objects.filter(
            username__in=names, failures_since_start__gte=limit, attempt_time__gte=since
        )
        locked = set(attempts.values_list("username", flat=True))
        for profile in changelist.result_list:
            profile.sign_in_locked = profile.user.get_username() in locked
        return changelist

    @admin.display(description="sign-in")
    def sign_in(self, obj: AgentProfile) -> str:
        return "locked out" if getattr(obj, "sign_in_locked", False) else ""

    @admin.action(description="Unlock sign-in (form, admin and API)", permissions=["change"])
    def unlock_sign_in(self, request, queryset) -> None:
        unlocked = [p.user.get_username() for p in queryset.select_related("user")
                    if services.sign_in_unlock(p.user.get_username(), actor=request.user)]  # fmt: skip
        if unlocked:
            self.message_user(request, f"Unlocked: {', '.join(unlocked)}.", messages.SUCCESS)
        else:
            self.message_user(request, "None of them was locked out.", messages.INFO)


# --- live presence -------------------------------------------------------------------------------


class PresenceStatusForm(forms.ModelForm):
    reason = forms.CharField(max_length=255, required=False, help_text="Kept in the status log.")

    class Meta:
        model = AgentPresence
        fields = ["status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:  # a view-only page shows it read-only
            self.fields["status"].queryset = selectors.status_choices_for_agents()

    def clean(self):
        cleaned = super().clean()
        refusal = supervisor_change_refusal(self.instance)
        if refusal:
            raise ValidationError(refusal)
        status = cleaned.get("status")
        if status is not None and status.pk != self.instance.status_id:
            try:
                check_selectable(status)
            except ApplicationError as exc:
                self.add_error("status", exc.message)
        return cleaned


class BulkStatusForm(forms.Form):
    status = forms.ModelChoiceField(queryset=Status.objects.none(), empty_label=None)
    reason = forms.CharField(max_length=255, required=False, help_text="Kept in the status log of each agent.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = selectors.status_choices_for_agents()


class PresenceChangeList(ChangeList):
    def get_results(self, request) -> None:
        super().get_results(request)
        # One provider call for the whole page keeps the list at a constant number of queries.
        states = agent_states(self.result_list)
        for presence in self.result_list:
            presence.state = state_of(presence, states)


@admin.register(AgentPresence)
class AgentPresenceAdmin(RefusalsAsMessages, admin.ModelAdmin):
    """Live presence. A change here is a supervisor's change: through the status service (source
    supervisor), refused for an agent who is Offline, as on the board and in the API."""

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
    actions = ["set_status"]

    def get_changelist(self, request, **kwargs):
        return PresenceChangeList

    @admin.display(description="status", ordering="status__sort_order")
    def current_status(self, obj: AgentPresence) -> str:
        return swatch(obj.status.color, f"{obj.status.emoji} {obj.status.name}")

    @admin.display(description="availability")
    def availability(self, obj: AgentPresence) -> str:
        return (getattr(obj, "state", None) or AgentState(obj)).availability.label

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.presence_change_status_by_supervisor(
            obj.agent, form.cleaned_data["status"], actor=request.user, reason=form.cleaned_data.get("reason", "")
        )

    def log_change(self, request, obj, message):
        # The status log is the record of a status change; no second record in the admin's log.
        return None

    @admin.action(description="Set status…", permissions=["change"])
    def set_status(self, request, queryset):
        """An intermediate page asks for the status and a reason, then changes each agent through
        the service; Offline agents are skipped and named."""
        form = BulkStatusForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            status = form.cleaned_data["status"]
            result = services.presences_change_status_by_supervisor(
                [p.agent for p in queryset.select_related("agent")], status,
                actor=request.user, reason=form.cleaned_data["reason"],
            )  # fmt: skip
            self._report_bulk(request, status, result)
            return None
        presences = list(queryset.select_related("agent", "status").order_by("agent__username"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Set status",
            "opts": self.model._meta,
            "form": form,
            "objects": presences,
            "offline": [p for p in presences if supervisor_change_refusal(p)],
            "action_name": "set_status",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "submit_label": "Set status",
            "media": self.media,
        }
        return TemplateResponse(request, "admin/presence/agentpresence/set_status.html", context)

    def _report_bulk(self, request, status: Status, result) -> None:
        if result.changed:
            self.message_user(
                request, f"{status.name} set for {len(result.changed)} agent(s): {', '.join(result.changed)}.",
                messages.SUCCESS,
            )  # fmt: skip
        if result.finishing:
            self.message_user(
                request, f"Finishing their open tickets before {status.name}: {', '.join(result.finishing)}.",
                messages.INFO,
            )  # fmt: skip
        if result.unchanged:
            self.message_user(request, f"Already {status.name}: {', '.join(result.unchanged)}.", messages.INFO)
        if result.skipped:
            skipped = "; ".join(f"{name} ({why})" for name, why in result.skipped.items())
            self.message_user(request, f"Skipped: {skipped}", messages.WARNING)


# --- log and requests ------------------------------------------------------------------------------


class ReadOnlyAdmin(BoundedInputsAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StatusChangeLog)
class StatusChangeLogAdmin(ReadOnlyAdmin):
    """Append-only for everyone, superusers included: rows come from the status service only."""

    list_display = ["at", "agent", "from_status_name", "to_status_name", "source", "actor", "reason"]
    list_filter = ["source", "to_status", "at"]
    list_select_related = ["agent", "actor"]
    search_fields = ["agent__username", "reason", "to_status_name", "from_status_name"]
    date_hierarchy = "at"


@admin.register(StatusRequest)
class StatusRequestAdmin(admin.ModelAdmin):
    """Approval requests (P6): decided with the list's actions; the requests themselves are read-only."""

    list_display = ["requested_at", "agent", "status", "state", "reason", "decided_by", "decided_at"]
    list_filter = ["state", "status"]
    list_select_related = ["agent", "status", "decided_by"]
    search_fields = ["agent__username", "reason"]
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Change permission means "may decide" (the list's actions); a request's page is read-only.
        return obj is None and super().has_change_permission(request)

    def _decide(self, request, queryset, decide, verb: str) -> None:
        done, refused = [], []
        for status_request in queryset.select_related("agent", "status"):
            try:
                decide(status_request, actor=request.user)
            except ApplicationError as exc:
                refused.append(f"{status_request.agent.get_username()}: {exc.message}")
            else:
                done.append(f"{status_request.agent.get_username()} → {status_request.status.name}")
        if done:
            self.message_user(request, f"{verb} {len(done)} request(s): {', '.join(done)}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Approve selected requests (the status applies now)", permissions=["change"])
    def approve(self, request, queryset) -> None:
        self._decide(request, queryset, services.status_request_approve, "Approved")

    @admin.action(description="Reject selected requests", permissions=["change"])
    def reject(self, request, queryset) -> None:
        self._decide(request, queryset, services.status_request_reject, "Rejected")


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    """Phone calls as the phone system reported them (P12); read-only: only call events write them."""

    list_display = ["call_id", "agent", "state", "started_at", "ended_at", "done_at", "status_before", "wrap_up_until"]
    list_filter = ["state", "started_at"]
    list_select_related = ["agent", "status_before"]
    search_fields = ["call_id", "agent__username"]
    date_hierarchy = "started_at"


# --- settings ----------------------------------------------------------------------------------------


@admin.register(PresenceSettings)
class PresenceSettingsAdmin(SafeHistoryAdmin):
    """The singleton is one page: the list goes straight to it."""

    fieldsets = [
        ("Logging", {"fields": ["log_status_changes"]}),
        ("Re-assign", {"fields": ["reassign_on_status_change", "apply_mappings_to_schedules"]}),
        ("Login", {"fields": ["login_status"]}),
        ("Idle timeout", {"fields": [
            "idle_timeout_minutes", "idle_timeout_named", "idle_timeout_concurrent", "idle_warning_seconds",
        ]}),
        ("Lost connection", {"fields": ["auto_offline_minutes", "auto_offline_status"]}),
        ("Phone calls", {"fields": ["wrap_up_max_minutes"]}),
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


def mappings_off_banner(config: PresenceSettings | None = None) -> list[str]:
    """What the mapping pages say when the settings switch mappings off (whole or for schedules)."""
    config = config or PresenceSettings.load()
    url = reverse("admin:presence_presencesettings_change", args=[config.pk])
    lines = []
    if not config.reassign_on_status_change:
        lines.append(("Mappings are off: tickets do not move when a status changes.", url,
                      "Turn them on in Presence settings"))  # fmt: skip
    elif not config.apply_mappings_to_schedules:
        lines.append(("Mappings do not apply to shift and appointment changes.", url,
                      "Turn them on for schedules in Presence settings"))  # fmt: skip
    return [format_html('{} <a href="{}">{}</a>.', text, link, label) for text, link, label in lines]


# --- API tokens: the admin shows when each was last used (A3) --------------------------------------


class TokenAdmin(_DRFTokenAdmin):
    list_display = ["key", "user", "created", "last_used"]
    list_select_related = ["user", "use"]

    @admin.display(description="last used", ordering="use__last_used_at")
    def last_used(self, obj) -> str:
        use = getattr(obj, "use", None)
        return use.last_used_at if use is not None else "never"


admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, TokenAdmin)
