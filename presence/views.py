"""Agent and supervisor pages. Thin: read through selectors, write through services."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from presence import selectors, services
from presence.availability import Availability
from presence.coverage import coverage_alarms, coverage_switch_question, coverage_switch_warnings
from presence.decorators import agent_required
from presence.errors import ApplicationError
from presence.http import post_view, safe_next
from presence.limits import REASON_MAX_LENGTH
from presence.models import Source, Status, StatusRequest, Team

User = get_user_model()
supervisor_required = user_passes_test(selectors.is_supervisor)


class StatusChoiceForm(forms.Form):
    status = forms.ModelChoiceField(
        queryset=Status.objects.all(), error_messages={"invalid_choice": gettext_lazy("Choose a status from the list.")}
    )
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, required=False)
    # Yes to "Switch anyway?" (the coverage alarm, C7).
    confirm = forms.BooleanField(required=False)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _safe_next(request: HttpRequest) -> str:
    return safe_next(request)


def _reply(
    request: HttpRequest,
    *,
    ok: bool,
    message: str,
    level=messages.SUCCESS,
    status_code=200,
    extra: dict | None = None,
    flash: bool = True,
) -> HttpResponse:
    """JSON for the page's script, a message and a redirect without JavaScript (no message when
    `flash` is off and it went well: the page itself shows the change)."""
    if _wants_json(request):
        payload = {"message": message, **(extra or {})}
        if ok and getattr(request, "agent_profile", None) is not None:
            payload["presence"] = selectors.header_state(request.user)
        return JsonResponse(payload, status=status_code if not ok else 200)
    if flash or not ok:
        messages.add_message(request, level if ok else messages.ERROR, message)
    return redirect(_safe_next(request))


def _not_an_agent(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)


# The agent check comes after login and after post_view, as it did inside the views: an anonymous
# user goes to the login page, a GET is a 405, then a non-agent is refused.
agent_post_view = agent_required(refuse=_not_an_agent)


@login_required
@post_view
@agent_post_view
def status_change(request: HttpRequest) -> HttpResponse:
    """The header dropdown (U1): a plain form post, or an in-place update from the script."""
    form = StatusChoiceForm(request.POST)
    if not form.is_valid():
        return _reply(
            request, ok=False, message=" ".join(e for errs in form.errors.values() for e in errs), status_code=400
        )
    status = form.cleaned_data["status"]
    if not form.cleaned_data["confirm"]:
        warnings = coverage_switch_warnings(request.user, status)
        if warnings:
            return _confirm_switch(request, form, coverage_switch_question(warnings))
    try:
        choice = services.presence_request_status(
            request.user, status, actor=request.user, source=Source.DROPDOWN, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    if choice.request is not None:
        message = _('Your switch to "%(status)s" waits for a supervisor\'s approval.') % {"status": status.name}
        return _reply(request, ok=True, message=message, level=messages.INFO)
    if choice.presence.pending_status_id:
        return _reply(
            request,
            ok=True,
            message=_("Finishing your open tickets before %(status)s.") % {"status": status.name},
            level=messages.INFO,
        )
    return _reply(
        request, ok=True, message=_("Your status is now %(status)s.") % {"status": choice.presence.status.name}
    )


def _confirm_switch(request: HttpRequest, form: StatusChoiceForm, question: str) -> HttpResponse:
    """Ask before a switch that leaves a team short (C7): the script gets a 409 with the question
    and posts again with confirm; without JavaScript a page asks, and its Switch anyway posts the
    same fields with confirm, Cancel goes back and nothing changes."""
    if _wants_json(request):
        return JsonResponse({"message": question, "code": "confirmation_required", "confirm": question}, status=409)
    context = {
        "question": question,
        "status": form.cleaned_data["status"],
        "reason": form.cleaned_data["reason"],
        "next": _safe_next(request),
    }
    return render(request, "presence/status_confirm.html", context)


@agent_required(refuse=lambda request, exc: JsonResponse({"message": exc.message}, status=exc.http_status))
def status_state(request: HttpRequest) -> HttpResponse:
    """What the header and the panel's banners show, polled by the page's script."""
    profile = request.agent_profile
    state = selectors.header_state(request.user)
    state.update(selectors.presence_prompts(selectors.presence_get(request.user), profile))
    state.update(queues=selectors.my_queues(request.user), notices=selectors.my_notices(request.user))
    return JsonResponse(state)


@login_required
@post_view
@agent_post_view
def finishing_cancel(request: HttpRequest) -> HttpResponse:
    services.presence_cancel_finishing(request.user, actor=request.user)
    return _reply(request, ok=True, message=_("Finishing cancelled: you take new work again."))


@login_required
@post_view
@agent_post_view
def still_working(request: HttpRequest) -> HttpResponse:
    """Answer "still working?" from the panel (C6)."""
    services.presence_answer_still_working(request.user)
    return _reply(request, ok=True, message=_("Thanks: you stay signed in and keep your tickets."))


def _queue_change(request: HttpRequest, team_id: int, *, join: bool) -> HttpResponse:
    try:
        change = services.presence_queue_join if join else services.presence_queue_leave
        membership = change(request.user, team_id, actor=request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    name = membership.team.name
    if join:
        message = _("You take work from %(team)s again.") % {"team": name}
    else:
        message = _("You left %(team)s: no new work comes from its queue.") % {"team": name}
    return _reply(request, ok=True, message=message, extra={"queues": selectors.my_queues(request.user)})


@login_required
@post_view
@agent_post_view
def queue_join(request: HttpRequest, team_id: int) -> HttpResponse:
    """My queues (P10): take work from one of my teams again."""
    return _queue_change(request, team_id, join=True)


@login_required
@post_view
@agent_post_view
def queue_leave(request: HttpRequest, team_id: int) -> HttpResponse:
    """My queues (P10): stop taking work from one of my teams, staying a member."""
    return _queue_change(request, team_id, join=False)


@login_required
@post_view
@agent_post_view
def notice_dismiss(request: HttpRequest, notice_id: int) -> HttpResponse:
    """Dismiss a notice banner (P11)."""
    try:
        services.presence_notice_dismiss(request.user, notice_id)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    return _reply(request, ok=True, message=_("Notice dismissed."), flash=False)


@login_required
@post_view
@agent_post_view
def wrap_up_done(request: HttpRequest) -> HttpResponse:
    """Done with after call work (P12): back to the status the agent had before the call."""
    try:
        change = services.presence_wrap_up_done(request.user, actor=request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    message = _("After call work done: you are %(status)s.") % {"status": change.presence.status.name}
    return _reply(request, ok=True, message=message)


# --- supervisor board (U3) -------------------------------------------------------------------------


class BoardFilter(forms.Form):
    status = forms.ModelChoiceField(
        queryset=Status.objects.all(), required=False, empty_label=gettext_lazy("All statuses")
    )
    availability = forms.ChoiceField(
        choices=[("", gettext_lazy("Any availability")), *Availability.choices], required=False
    )
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label=gettext_lazy("All teams"))
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, widget=forms.HiddenInput)


def _board_context(request: HttpRequest) -> dict:
    form = BoardFilter(request.GET or None)
    wanted = form.cleaned_data if form.is_valid() else {}
    board = selectors.board(
        status=wanted.get("status"), availability=wanted.get("availability") or None, team=wanted.get("team"),
        page=wanted.get("page") or 1,
    )  # fmt: skip
    paging = request.GET.copy()
    paging.pop("page", None)
    # The team choices are the teams the counts list (teams with members), read with the board's
    # rows: no query of their own. A chosen team without members stays shown as chosen.
    teams = board.counts.teams
    if wanted.get("team") and wanted["team"] not in teams:
        teams = sorted([*teams, wanted["team"]], key=lambda team: team.name)
    form.fields["team"].choices = [("", _("All teams")), *((team.pk, team.name) for team in teams)]
    return {
        "filter": form,
        "rows": board.rows,
        "counts": board.counts,
        "board": board,
        "pending_count": board.pending,
        "coverage_alarms": coverage_alarms(),
        "query": request.GET.urlencode(),
        "paging_query": paging.urlencode(),
    }


@login_required
@supervisor_required
def board(request: HttpRequest) -> HttpResponse:
    return render(request, "presence/board.html", _board_context(request))


@login_required
@supervisor_required
def board_rows(request: HttpRequest) -> HttpResponse:
    """The board's table body, polled by the page to refresh in place."""
    return render(request, "presence/board_rows.html", {**_board_context(request), "refresh_counts": True})


@login_required
@supervisor_required
def agent_card(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(User, pk=agent_id, agent_profile__isnull=False)
    if request.method == "POST":
        form = StatusChoiceForm(request.POST)
        if form.is_valid():
            try:
                services.presence_change_status_by_supervisor(
                    agent, form.cleaned_data["status"], actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                message = _("%(agent)s is now %(status)s.")
                messages.success(
                    request, message % {"agent": agent.get_username(), "status": form.cleaned_data["status"].name}
                )
            return redirect("presence:agent-card", agent_id=agent.pk)
    context = selectors.agent_card(agent)
    context["statuses"] = selectors.status_choices_for_agents()
    return render(request, "presence/agent_card.html", context)


class DecisionForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, required=False)


@login_required
@supervisor_required
@post_view
def request_decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    """Approve or reject a request from the board or the agent card, with an optional reason
    that the agent reads in their notice (P11)."""
    status_request = get_object_or_404(StatusRequest, pk=request_id)
    decide = services.status_request_approve if decision == "approve" else services.status_request_reject
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(" ".join(_("Reason: %(error)s") % {"error": e} for e in form.errors["reason"]))
        decide(status_request, actor=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        names = {"agent": status_request.agent.get_username(), "status": status_request.status.name}
        if decision == "approve":
            messages.success(request, _("%(agent)s's request for %(status)s approved.") % names)
        else:
            messages.success(request, _("%(agent)s's request for %(status)s rejected.") % names)
    return redirect(safe_next(request, default=reverse("presence:board")))
