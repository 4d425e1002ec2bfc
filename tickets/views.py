"""The agent panel (U2): my work, my teams' queue, and the banners that need me; and the ticket
page, where an agent works a ticket with plain form posts that redirect back with a message
(tickets/ticket.js only makes the timers tick and the @mention list clickable)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from presence import selectors as presence_selectors
from presence.decorators import agent_required
from presence.errors import ApplicationError
from presence.http import post_view, safe_next
from presence.models import PresenceSettings
from tickets import selectors, services
from tickets.models import NOTE_MAX_LENGTH, Ticket


@agent_required(refuse=lambda request, exc: render(request, "tickets/panel.html", {"is_agent": False}))
def agent_panel(request: HttpRequest) -> HttpResponse:
    profile = request.agent_profile
    context = {
        "is_agent": True,
        "my_tickets": selectors.my_open_tickets(request.user),
        "queue": selectors.team_queue_for(request.user),
        "prompts": presence_selectors.presence_prompts(presence_selectors.presence_get(request.user), profile),
        "idle_warning_seconds": PresenceSettings.load().idle_warning_seconds,
        **presence_selectors.panel_context(request.user),
    }
    return render(request, "tickets/panel.html", context)


# --- the ticket page -------------------------------------------------------------------------------


class NoteForm(forms.Form):
    body = forms.CharField(
        required=False,
        strip=False,
        max_length=NOTE_MAX_LENGTH,
        error_messages={
            "max_length": gettext_lazy("A note is at most %(limit_value)s characters (this one has %(show_value)s).")
        },
    )
    confirmed = forms.BooleanField(required=False)


class PinForm(forms.Form):
    pinned = forms.TypedChoiceField(
        choices=[("yes", gettext_lazy("Pin")), ("no", gettext_lazy("Unpin"))], coerce=lambda value: value == "yes"
    )


class HandOverForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={
            "required": gettext_lazy("Choose a teammate to hand the ticket over to."),
            "invalid_choice": gettext_lazy(
                "That teammate cannot take this ticket now: choose one from the list (their status "
                "must receive work, and they need the channel and room for it)."
            ),
        },
    )
    confirmed = forms.BooleanField(required=False)

    def __init__(self, *args, ticket: Ticket, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = selectors.handover_candidates(ticket, user)


def _ticket_url(ticket: Ticket) -> str:
    return reverse("tickets:ticket", args=[ticket.pk])


def _visible_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    """The page's ticket: the API's rule (ticket_list_for), anyone else gets 404."""
    return get_object_or_404(selectors.ticket_list_for(request.user), pk=ticket_id)


def _require_open(ticket: Ticket) -> None:
    if not ticket.is_held:
        raise ApplicationError(_("Ticket #%(ticket)s is closed.") % {"ticket": ticket.pk})


def _done(request: HttpRequest, to: str, message: str, warnings=()) -> HttpResponse:
    messages.success(request, message)
    for warning in warnings:
        messages.warning(request, warning)
    return redirect(to)


def _refused(request: HttpRequest, to: str, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect(to)


def _confirm(request: HttpRequest, ticket: Ticket, *, questions: list[str], fields: dict, button: str) -> HttpResponse:
    """Ask before a note or hand-over that warns (T5): Confirm posts the same fields again with
    `confirmed`, Cancel goes back to the ticket and nothing is saved."""
    context = {"ticket": ticket, "questions": questions, "fields": fields, "button": button,
               "action": request.path, "cancel_url": _ticket_url(ticket)}  # fmt: skip
    return render(request, "tickets/confirm.html", context)


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.ticket_page_for(request.user), pk=ticket_id)
    # The assignee opening the page opens the ticket (C6), which answers "still working?".
    services.ticket_mark_opened(ticket, agent=request.user)
    context = {
        "ticket": ticket,
        "notes": ticket.notes.all(),
        "teammates": selectors.teammates_of(request.user),
        "hand_over_to": selectors.handover_candidates(ticket, request.user),
        "decisions": selectors.routing_decisions_of(ticket),
    }
    return render(request, "tickets/ticket.html", context)


@login_required
@post_view
def ticket_note(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, ticket_id)
    form = NoteForm(request.POST)
    if not form.is_valid():  # too long; an empty note is the service's to refuse
        return _refused(request, _ticket_url(ticket), " ".join(form.errors.get("body", [])))
    body = form.cleaned_data.get("body", "")
    questions = [] if form.cleaned_data.get("confirmed") else selectors.mention_questions([body])
    if questions:
        return _confirm(request, ticket, questions=questions, fields={"body": body}, button=_("Post the note"))
    try:
        _note, warnings = services.ticket_note_add(ticket, author=request.user, body=body)
    except ApplicationError as exc:
        return _refused(request, _ticket_url(ticket), exc.message)
    return _done(request, _ticket_url(ticket) + "#notes", _("Note added."), warnings)


@login_required
@post_view
def ticket_close(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Close, then the panel: when this was a finishing agent's last ticket the pending status has
    just applied (P4), and the panel's header shows it."""
    ticket = _visible_ticket(request, ticket_id)
    try:
        _require_open(ticket)
        services.ticket_close(ticket, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, _ticket_url(ticket), exc.message)
    return _done(request, reverse("tickets:panel"), _("Ticket #%(ticket)s closed.") % {"ticket": ticket.pk})


@login_required
@post_view
def ticket_pin(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, ticket_id)
    form = PinForm(request.POST)
    if not form.is_valid():
        return _refused(request, _ticket_url(ticket), _("Choose to pin or to unpin the ticket."))
    pinned = form.cleaned_data["pinned"]
    try:
        _require_open(ticket)
        services.ticket_update(ticket, actor=request.user, pinned=pinned)
    except ApplicationError as exc:
        return _refused(request, _ticket_url(ticket), exc.message)
    message = _("Ticket #%(ticket)s pinned.") if pinned else _("Ticket #%(ticket)s unpinned.")
    return _done(request, _ticket_url(ticket), message % {"ticket": ticket.pk})


@login_required
@post_view
def ticket_hand_over(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, ticket_id)
    form = HandOverForm(request.POST, ticket=ticket, user=request.user)
    if not form.is_valid():
        return _refused(request, _ticket_url(ticket), " ".join(form.errors.get("agent", [])))
    agent = form.cleaned_data["agent"]
    question = None if form.cleaned_data["confirmed"] else selectors.assign_question(agent)
    if question:
        return _confirm(request, ticket, questions=[question], fields={"agent": agent.pk},
                        button=_("Hand over to %(agent)s") % {"agent": agent.get_username()})  # fmt: skip
    try:
        ticket, warnings = services.ticket_assign(ticket, agent, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, _ticket_url(ticket), exc.message)
    # An agent no longer sees a ticket they handed over: back to the panel.
    still_visible = selectors.ticket_list_for(request.user).filter(pk=ticket.pk).exists()
    to = _ticket_url(ticket) if still_visible else reverse("tickets:panel")
    message = _("Ticket #%(ticket)s handed over to %(agent)s.") % {"ticket": ticket.pk, "agent": agent.get_username()}
    return _done(request, to, message, warnings)


@login_required
@post_view
def ticket_take(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Take from the queue (the panel's and the page's Take button); a refusal goes back where the
    button was, or to the panel when a teammate took the ticket first."""
    ticket = get_object_or_404(selectors.ticket_take_scope(request.user), pk=ticket_id)
    back = safe_next(request, default=_ticket_url(ticket))
    try:
        ticket = services.ticket_take(ticket, agent=request.user)
    except services.TicketTaken as exc:
        return _refused(request, reverse("tickets:panel"), exc.message)
    except ApplicationError as exc:
        return _refused(request, back, exc.message)
    return _done(request, _ticket_url(ticket), _("You took ticket #%(ticket)s.") % {"ticket": ticket.pk})
