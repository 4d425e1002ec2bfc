from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from simple_history.admin import SimpleHistoryAdmin

from presence.admin import StatusAdmin, TeamAdmin
from presence.errors import ApplicationError
from presence.models import Status, Team
from tickets import services
from tickets.models import ReassignMapping, TeamRouting, Ticket, TicketNote

User = get_user_model()


def _agents():
    return User.objects.filter(agent_profile__isnull=False).order_by("username")


class AssignActionForm(ActionForm):
    agent = forms.ModelChoiceField(queryset=_agents(), required=False, label="Agent")


class UnassignedFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("unassigned", "Unassigned queue (open)"), ("assigned", "Assigned")]

    def queryset(self, request, queryset):
        if self.value() == "unassigned":
            return queryset.unassigned()
        if self.value() == "assigned":
            return queryset.filter(assignee__isnull=False)
        return queryset


class TicketNoteInline(admin.TabularInline):
    model = TicketNote
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = ["created_at", "author", "body"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _agents()

    def clean(self):
        cleaned = super().clean()
        assignee = cleaned.get("assignee")
        if assignee and "assignee" in self.changed_data:
            probe = Ticket(channel=cleaned.get("channel") or "email")
            if not assignee.agent_profile.has_capability(probe.capability):
                channel = probe.get_channel_display().lower()
                self.add_error("assignee", f"{assignee.username} cannot handle {channel} tickets.")
        return cleaned


@admin.register(Ticket)
class TicketAdmin(SimpleHistoryAdmin):
    """Tickets. Assigning here goes through ticket_assign: refusals are form errors, and the
    warnings an agent's status asks for are shown as messages."""

    form = TicketAdminForm
    action_form = AssignActionForm
    actions = ["assign_to_agent", "put_back_in_queue", "close_tickets"]
    list_display = ["id", "subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned", "created_at"]
    list_display_links = ["id", "subject"]
    list_filter = [UnassignedFilter, "state", "channel", "team", "linked_to_chat", "pinned"]
    list_select_related = ["team", "assignee"]
    search_fields = ["subject", "assignee__username"]
    date_hierarchy = "created_at"
    inlines = [TicketNoteInline]

    def save_model(self, request, obj, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in form.cleaned_data if name != "assignee"}
        assignee = form.cleaned_data.get("assignee")
        try:
            if not change:
                ticket = services.ticket_create(actor=request.user, **data)
            else:
                ticket = services.ticket_update(obj, actor=request.user, **data)
            obj.pk = ticket.pk
            if "assignee" in form.changed_data or (not change and assignee and ticket.assignee_id != assignee.pk):
                if assignee is None:
                    services.ticket_unassign(ticket, actor=request.user)
                else:
                    _, warnings = services.ticket_assign(ticket, assignee, actor=request.user)
                    for warning in warnings:
                        self.message_user(request, warning, messages.WARNING)
        except ApplicationError as exc:
            # Reported on the page; the rest of the save has happened in its own transaction.
            self.message_user(request, exc.message, messages.ERROR)
        obj.refresh_from_db()

    @admin.action(description="Assign selected tickets to the chosen agent")
    def assign_to_agent(self, request, queryset) -> None:
        agent = _agents().filter(pk=request.POST.get("agent") or 0).first()
        if agent is None:
            self.message_user(request, "Choose an agent to assign the tickets to.", messages.ERROR)
            return
        done, refused, warnings = 0, [], set()
        for ticket in queryset:
            try:
                _, ticket_warnings = services.ticket_assign(ticket, agent, actor=request.user)
            except ApplicationError as exc:
                refused.append(f"#{ticket.pk}: {exc.message}")
            else:
                done += 1
                warnings.update(ticket_warnings)
        if done:
            self.message_user(request, f"Assigned {done} ticket(s) to {agent.username}.", messages.SUCCESS)
        for warning in sorted(warnings):
            self.message_user(request, warning, messages.WARNING)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Put selected tickets back in the Unassigned queue")
    def put_back_in_queue(self, request, queryset) -> None:
        for ticket in queryset:
            services.ticket_unassign(ticket, actor=request.user)
        self.message_user(request, "The tickets are back in their team's queue.", messages.SUCCESS)

    @admin.action(description="Close selected tickets")
    def close_tickets(self, request, queryset) -> None:
        for ticket in queryset:
            services.ticket_close(ticket, actor=request.user)
        self.message_user(request, "Closed.", messages.SUCCESS)


class TeamRoutingInline(admin.StackedInline):
    model = TeamRouting
    can_delete = False
    max_num = 1
    min_num = 1
    fields = ["method", "last_agent"]
    readonly_fields = ["last_agent"]


class RoutingTeamAdmin(TeamAdmin):
    inlines = [TeamRoutingInline, *TeamAdmin.inlines]
    list_display = ["name", "routing_method", "member_count", "unassigned_count"]

    @admin.display(description="routing")
    def routing_method(self, obj: Team) -> str:
        routing = getattr(obj, "routing", None)
        return routing.get_method_display() if routing else "Manual"

    @admin.display(description="unassigned queue")
    def unassigned_count(self, obj: Team) -> int:
        return obj.queue_count

    def get_queryset(self, request):
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .select_related("routing")
            .annotate(
                queue_count=Count(
                    "tickets", filter=Q(tickets__assignee__isnull=True, tickets__state__in=["open", "pending"])
                )
            )
        )

    def save_formset(self, request, form, formset, change) -> None:
        # The routing inline saves through the team service so a switch to automatic routing
        # takes the waiting queue at once.
        if formset.model is TeamRouting:
            for routing_form in formset.forms:
                if routing_form.cleaned_data:
                    method = routing_form.cleaned_data["method"]
                    services.team_save(form.instance, actor=request.user, routing_method=method)
            # What the admin's change message reads of a saved formset.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_formset(request, form, formset, change)


admin.site.unregister(Team)
admin.site.register(Team, RoutingTeamAdmin)


class ReassignMappingInline(admin.TabularInline):
    """Mappings that fire when an agent moves to this status, edited next to it."""

    model = ReassignMapping
    fk_name = "to_status"
    extra = 0
    verbose_name = "re-assign mapping into this status"
    verbose_name_plural = "re-assign mappings into this status"


class StatusWithMappingsAdmin(StatusAdmin):
    inlines = [*StatusAdmin.inlines, ReassignMappingInline]


admin.site.unregister(Status)
admin.site.register(Status, StatusWithMappingsAdmin)


@admin.register(ReassignMapping)
class ReassignMappingAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "from_status", "to_status", "action"]
    list_filter = ["action", "to_status"]
    list_select_related = ["from_status", "to_status"]

    def save_model(self, request, obj, form, change) -> None:
        services.mapping_save(obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.mapping_delete(obj, actor=request.user)
