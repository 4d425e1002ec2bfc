"""Tickets, notes, team routing and re-assign mappings in the admin (T1-T5, U4).

Assigning by hand to an agent whose status warns (T5), or mentioning one in a note, first asks
("ann is Out of office. Assign anyway?"): in the change form, in a history revert and in the bulk
"Assign to…" action. Cancel changes nothing; Confirm saves through the services, as every write
here does.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from presence.admin import SafeHistoryAdmin, StatusAdmin, TeamAdmin, mappings_off_banner
from presence.admin_inputs import BoundedInputsAdminMixin
from presence.admin_pickers import AgentChoiceField, AgentPickerMixin, AgentSelect, agent_users
from presence.errors import ApplicationError
from presence.models import Status, Team
from tickets import selectors, services
from tickets.models import ReassignMapping, TeamRouting, Ticket, TicketNote


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
    """Notes are the ticket's record: new ones can be added (with @mentions), old ones stay as written."""

    model = TicketNote
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = ["created_at", "author"]
    can_delete = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "body":
            kwargs["widget"] = forms.Textarea(
                attrs={"rows": 2, "cols": 60, "placeholder": "Write @username to mention"}
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned"]

    def clean(self):
        cleaned = super().clean()
        assignee = cleaned.get("assignee")
        if assignee and ("assignee" in self.changed_data or "channel" in self.changed_data):
            # The same checks ticket_assign makes, before anything is saved.
            probe = Ticket(pk=self.instance.pk, channel=cleaned.get("channel") or "email",
                           state=cleaned.get("state") or "open")  # fmt: skip
            refusal = services.assignment_refusal(probe, assignee)
            if refusal:
                self.add_error("assignee", refusal)
        return cleaned


class AssignForm(forms.Form):
    agent = AgentChoiceField(queryset=agent_users())

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget = AgentSelect(Ticket._meta.get_field("assignee"), admin_site)
        self.fields["agent"].widget.choices = self.fields["agent"].choices
        self.fields["agent"].widget.is_required = True


def _new_note_bodies(post) -> list[str]:
    """The bodies of the notes a change form's POST adds (the inline's extra rows)."""
    try:
        first, total = int(post.get("notes-INITIAL_FORMS", 0)), int(post.get("notes-TOTAL_FORMS", 0))
    except ValueError:
        return []
    bodies = (post.get(f"notes-{i}-body", "") for i in range(first, min(total, first + 1000)))
    return [body for body in bodies if body.strip()]


@admin.register(Ticket)
class TicketAdmin(BoundedInputsAdminMixin, AgentPickerMixin, SafeHistoryAdmin):
    """Tickets. Assigning here goes through ticket_assign: refusals are form errors, and a status
    that warns asks for confirmation first."""

    form = TicketAdminForm
    agent_fields = ("assignee",)
    actions = ["assign_to", "put_back_in_queue", "close_tickets"]
    list_display = ["id", "subject", "channel", "team", "assignee", "state", "linked_to_chat", "pinned", "created_at"]
    list_display_links = ["id", "subject"]
    list_filter = [UnassignedFilter, "state", "channel", "team", "linked_to_chat", "pinned"]
    list_select_related = ["team", "assignee"]
    search_fields = ["subject", "assignee__username"]
    date_hierarchy = "created_at"
    inlines = [TicketNoteInline]
    readonly_fields = ["why_this_agent"]

    @admin.display(description="why this agent")
    def why_this_agent(self, obj: Ticket) -> str:
        """The ticket's routing decisions (T11), newest first: written by routing, read here."""
        decisions = selectors.routing_decisions_of(obj) if obj.pk else []
        if not decisions:
            return "Not routed automatically."
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} by {}, {} considered{}{}",
            (
                (
                    d.at.strftime("%Y-%m-%d %H:%M"),
                    d.agent or "(deleted user)",
                    d.get_method_display(),
                    d.candidates,
                    f"; held {d.load} of {d.capacity}" if d.capacity is not None else "",
                    "; passed over: " + "; ".join(f"{u}: {why}" for u, why in d.passed_over_labels())
                    if d.passed_over
                    else "",
                )  # fmt: skip
                for d in decisions
            ),
        )

    # --- confirmation before a warned assignment or mention ---------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and not request.POST.get("_confirmed"):
            page = self._confirmation_page(request, object_id)
            if page is not None:
                return page
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert saves through save_model as the change form does, so it asks the same question;
        # Cancel goes back to the version, unreverted.
        if request.method == "POST" and not request.POST.get("_confirmed"):
            page = self._confirmation_page(request, object_id, cancel_url=request.get_full_path())
            if page is not None:
                return page
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _confirmation_page(self, request, object_id, cancel_url: str | None = None):
        """A page asking to confirm, when the POST is valid and assigns to or mentions an agent
        whose status warns; None lets the change form (or the revert) go on as usual. The question
        is about the ticket as stored: a revert's old version has no say in what changes."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and (obj is None or not self.has_change_permission(request, obj)):
            return None  # the change form answers with its own 404 or 403
        previous = getattr(obj, "assignee_id", None)  # the form writes the posted one onto obj
        form = self.get_form(request, obj, change=obj is not None)(request.POST, request.FILES, instance=obj)
        if not form.is_valid():
            return None
        questions = []
        assignee = form.cleaned_data.get("assignee")
        if assignee is not None and assignee.pk != previous:
            questions += [q for q in [selectors.assign_question(assignee)] if q]
        questions += selectors.mention_questions(_new_note_bodies(request.POST))
        if not questions:
            return None
        if cancel_url is None:
            cancel_url = reverse("admin:tickets_ticket_change", args=[obj.pk]) if obj else request.get_full_path()
        context = {
            **self.admin_site.each_context(request),
            "title": "Confirm",
            "opts": self.model._meta,
            "original": obj,
            "questions": questions,
            "fields": [(k, v) for k, values in request.POST.lists() if k != "csrfmiddlewaretoken" for v in values],
            "cancel_url": cancel_url,
        }
        return TemplateResponse(request, "admin/tickets/ticket/confirm_warnings.html", context)

    # --- saving through the services -----------------------------------------------------------

    def save_model(self, request, obj, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in form.cleaned_data if name != "assignee"}
        assignee = form.cleaned_data.get("assignee")
        # A refusal here (a race past the form's checks) undoes the whole save: see
        # RefusalsAsMessages.
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
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not TicketNote:
            return super().save_formset(request, form, formset, change)
        for note in formset.save(commit=False):
            try:
                _, warnings = services.ticket_note_add(form.instance, author=request.user, body=note.body)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            for warning in warnings:
                self.message_user(request, warning, messages.WARNING)
        # What the admin's change message reads of a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj) -> None:
        services.ticket_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for ticket in queryset:
            services.ticket_delete(ticket, actor=request.user)

    # --- bulk actions ----------------------------------------------------------------------------

    @admin.action(description="Assign to…", permissions=["change"])
    def assign_to(self, request, queryset):
        """Pick the agent on an intermediate page; a status that warns asks once more."""
        applying = "apply" in request.POST
        form = AssignForm(request.POST if applying else None, admin_site=self.admin_site)
        confirm = None
        if applying and form.is_valid():
            agent = form.cleaned_data["agent"]
            question = selectors.assign_question(agent)
            if question is None or request.POST.get("confirmed"):
                self._assign(request, queryset, agent)
                return None
            confirm = {"question": question, "button": f"Assign to {agent.get_username()}"}
        tickets = list(queryset.select_related("team", "assignee").order_by("pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Assign tickets",
            "opts": self.model._meta,
            "form": form,
            "confirm": confirm,
            "objects": tickets,
            "action_name": "assign_to",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "submit_label": "Assign",
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/tickets/ticket/assign_to.html", context)

    def _assign(self, request, queryset, agent) -> None:
        assigned, warnings, refused = services.tickets_assign_many(
            list(queryset.order_by("pk")), agent, actor=request.user
        )
        if assigned:
            self.message_user(
                request, f"Assigned {len(assigned)} ticket(s) to {agent.get_username()}.", messages.SUCCESS
            )
        for warning in warnings:
            self.message_user(request, warning, messages.WARNING)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Put selected tickets back in the Unassigned queue", permissions=["change"])
    def put_back_in_queue(self, request, queryset) -> None:
        for ticket in queryset:
            services.ticket_unassign(ticket, actor=request.user)
        self.message_user(request, "The tickets are back in their team's queue.", messages.SUCCESS)

    @admin.action(description="Close selected tickets", permissions=["change"])
    def close_tickets(self, request, queryset) -> None:
        for ticket in queryset:
            services.ticket_close(ticket, actor=request.user)
        self.message_user(request, "Closed.", messages.SUCCESS)


# --- teams with their routing --------------------------------------------------------------------


class TeamRoutingInline(admin.StackedInline):
    model = TeamRouting
    can_delete = False
    max_num = 1
    min_num = 1
    fields = ["method"]


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
        # The routing inline saves through the routing service so a switch to automatic routing
        # takes the waiting queue at once.
        if formset.model is TeamRouting:
            for routing_form in formset.forms:
                if routing_form.cleaned_data:
                    services.team_routing_save(
                        form.instance, actor=request.user, routing_method=routing_form.cleaned_data["method"]
                    )
            # What the admin's change message reads of a saved formset.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_formset(request, form, formset, change)


admin.site.unregister(Team)
admin.site.register(Team, RoutingTeamAdmin)


# --- re-assign mappings ----------------------------------------------------------------------------


class ReassignMappingInline(admin.TabularInline):
    """Mappings that fire when an agent moves to this status, edited next to it."""

    model = ReassignMapping
    fk_name = "to_status"
    extra = 0
    verbose_name = "re-assign mapping into this status"
    verbose_name_plural = "re-assign mappings into this status"
    template = "admin/tickets/reassignmapping/inline_with_banner.html"

    @property
    def banners(self) -> list[str]:
        return mappings_off_banner()


class StatusWithMappingsAdmin(StatusAdmin):
    inlines = [*StatusAdmin.inlines, ReassignMappingInline]

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not ReassignMapping:
            return super().save_formset(request, form, formset, change)
        mappings = formset.save(commit=False)
        for mapping in formset.deleted_objects:
            services.mapping_delete(mapping, actor=request.user)
        for mapping in mappings:
            services.mapping_save(mapping, actor=request.user)


admin.site.unregister(Status)
admin.site.register(Status, StatusWithMappingsAdmin)


@admin.register(ReassignMapping)
class ReassignMappingAdmin(SafeHistoryAdmin):
    list_display = ["__str__", "from_status", "to_status", "action"]
    list_filter = ["action", "to_status"]
    list_select_related = ["from_status", "to_status"]
    change_list_template = "admin/tickets/reassignmapping/change_list.html"

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "banners": mappings_off_banner()})

    def save_model(self, request, obj, form, change) -> None:
        services.mapping_save(obj, actor=request.user)

    def delete_model(self, request, obj) -> None:
        services.mapping_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for mapping in queryset:
            services.mapping_delete(mapping, actor=request.user)
