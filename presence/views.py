"""Agent and supervisor pages. Thin: read through selectors, write through services."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from presence import selectors, services
from presence.availability import Availability
from presence.errors import ApplicationError
from presence.http import post_view, safe_next
from presence.limits import REASON_MAX_LENGTH
from presence.models import AgentProfile, Source, Status, StatusRequest, Team

User = get_user_model()
supervisor_required = user_passes_test(selectors.is_supervisor)


class StatusChoiceForm(forms.Form):
    status = forms.ModelChoiceField(
        queryset=Status.objects.all(), error_messages={"invalid_choice": "Choose a status from the list."}
    )
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, required=False)


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
        if ok and AgentProfile.objects.filter(user_id=request.user.pk).exists():
            payload["presence"] = selectors.header_state(request.user)
        return JsonResponse(payload, status=status_code if not ok else 200)
    if flash or not ok:
        messages.add_message(request, level if ok else messages.ERROR, message)
    return redirect(_safe_next(request))


@login_required
@post_view
def status_change(request: HttpRequest) -> HttpResponse:
    """The header dropdown (U1): a plain form post, or an in-place update from the script."""
    form = StatusChoiceForm(request.POST)
    if not form.is_valid():
        return _reply(
            request, ok=False, message=" ".join(e for errs in form.errors.values() for e in errs), status_code=400
        )
    status = form.cleaned_data["status"]
    try:
        selectors.agent_profile_get(request.user)
        choice = services.presence_request_status(
            request.user, status, actor=request.user, source=Source.DROPDOWN, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    if choice.request is not None:
        message = f'Your switch to "{status.name}" waits for a supervisor\'s approval.'
        return _reply(request, ok=True, message=message, level=messages.INFO)
    if choice.presence.pending_status_id:
        return _reply(
            request, ok=True, message=f"Finishing your open tickets before {status.name}.", level=messages.INFO
        )
    return _reply(request, ok=True, message=f"Your status is now {choice.presence.status.name}.")


@login_required
def status_state(request: HttpRequest) -> HttpResponse:
    """What the header and the panel's banners show, polled by the page's script."""
    try:
        profile = selectors.agent_profile_get(request.user)
    except ApplicationError as exc:
        return JsonResponse({"message": exc.message}, status=exc.http_status)
    state = selectors.header_state(request.user)
    state.update(selectors.presence_prompts(selectors.presence_get(request.user), profile))
    state.update(queues=selectors.my_queues(request.user), notices=selectors.my_notices(request.user))
    return JsonResponse(state)


@login_required
@post_view
def finishing_cancel(request: HttpRequest) -> HttpResponse:
    try:
        selectors.agent_profile_get(request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    services.presence_cancel_finishing(request.user, actor=request.user)
    return _reply(request, ok=True, message="Finishing cancelled: you take new work again.")


@login_required
@post_view
def still_working(request: HttpRequest) -> HttpResponse:
    """Answer "still working?" from the panel (C6)."""
    try:
        selectors.agent_profile_get(request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    services.presence_answer_still_working(request.user)
    return _reply(request, ok=True, message="Thanks: you stay signed in and keep your tickets.")


def _queue_change(request: HttpRequest, team_id: int, *, join: bool) -> HttpResponse:
    try:
        selectors.agent_profile_get(request.user)
        change = services.presence_queue_join if join else services.presence_queue_leave
        membership = change(request.user, team_id, actor=request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    name = membership.team.name
    message = f"You take work from {name} again." if join else f"You left {name}: no new work comes from its queue."
    return _reply(request, ok=True, message=message, extra={"queues": selectors.my_queues(request.user)})


@login_required
@post_view
def queue_join(request: HttpRequest, team_id: int) -> HttpResponse:
    """My queues (P10): take work from one of my teams again."""
    return _queue_change(request, team_id, join=True)


@login_required
@post_view
def queue_leave(request: HttpRequest, team_id: int) -> HttpResponse:
    """My queues (P10): stop taking work from one of my teams, staying a member."""
    return _queue_change(request, team_id, join=False)


@login_required
@post_view
def notice_dismiss(request: HttpRequest, notice_id: int) -> HttpResponse:
    """Dismiss a notice banner (P11)."""
    try:
        selectors.agent_profile_get(request.user)
        services.presence_notice_dismiss(request.user, notice_id)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    return _reply(request, ok=True, message="Notice dismissed.", flash=False)


@login_required
@post_view
def wrap_up_done(request: HttpRequest) -> HttpResponse:
    """Done with after call work (P12): back to the status the agent had before the call."""
    try:
        selectors.agent_profile_get(request.user)
        change = services.presence_wrap_up_done(request.user, actor=request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    return _reply(request, ok=True, message=f"After call work done: you are {change.presence.status.name}.")


# --- supervisor board (U3) -------------------------------------------------------------------------


class BoardFilter(forms.Form):
    status = forms.ModelChoiceField(queryset=Status.objects.all(), required=False, empty_label="All statuses")
    availability = forms.ChoiceField(choices=[("", "Any availability"), *Availability.choices], required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="All teams")
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
    form.fields["team"].choices = [("", "All teams"), *((team.pk, team.name) for team in teams)]
    return {
        "filter": form,
        "rows": board.rows,
        "counts": board.counts,
        "board": board,
        "pending_count": board.pending,
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
                messages.success(request, f"{agent.get_username()} is now {form.cleaned_data['status'].name}.")
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
            raise ApplicationError(" ".join(f"Reason: {e}" for e in form.errors["reason"]))
        decide(status_request, actor=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(
            request, f"{status_request.agent.get_username()}'s request for {status_request.status.name} {verb}."
        )
    return redirect(safe_next(request, default=reverse("presence:board")))
