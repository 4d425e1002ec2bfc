"""Agent and supervisor pages. Thin: read through selectors, write through services."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from presence import selectors, services
from presence.availability import Availability
from presence.errors import ApplicationError
from presence.models import AgentProfile, Source, Status, StatusRequest

User = get_user_model()
supervisor_required = user_passes_test(selectors.is_supervisor)


class StatusChoiceForm(forms.Form):
    status = forms.ModelChoiceField(
        queryset=Status.objects.all(), error_messages={"invalid_choice": "Choose a status from the list."}
    )
    reason = forms.CharField(max_length=255, required=False)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def _reply(request: HttpRequest, *, ok: bool, message: str, level=messages.SUCCESS, status_code=200) -> HttpResponse:
    """JSON for the page's script, a message and a redirect without JavaScript."""
    if _wants_json(request):
        payload = {"message": message}
        if ok and AgentProfile.objects.filter(user_id=request.user.pk).exists():
            payload["presence"] = selectors.header_state(request.user)
        return JsonResponse(payload, status=status_code if not ok else 200)
    messages.add_message(request, level if ok else messages.ERROR, message)
    return redirect(_safe_next(request))


@login_required
@require_POST
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
    return JsonResponse(state)


@login_required
@require_POST
def finishing_cancel(request: HttpRequest) -> HttpResponse:
    try:
        selectors.agent_profile_get(request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    services.presence_cancel_finishing(request.user, actor=request.user)
    return _reply(request, ok=True, message="Finishing cancelled: you take new work again.")


@login_required
@require_POST
def still_working(request: HttpRequest) -> HttpResponse:
    """Answer "still working?" from the panel (C6)."""
    try:
        selectors.agent_profile_get(request.user)
    except ApplicationError as exc:
        return _reply(request, ok=False, message=exc.message, status_code=exc.http_status)
    services.presence_answer_still_working(request.user)
    return _reply(request, ok=True, message="Thanks: you stay signed in and keep your tickets.")


# --- supervisor board (U3) -------------------------------------------------------------------------


class BoardFilter(forms.Form):
    status = forms.ModelChoiceField(queryset=Status.objects.all(), required=False, empty_label="All statuses")
    availability = forms.ChoiceField(choices=[("", "Any availability"), *Availability.choices], required=False)


def _board_context(request: HttpRequest) -> dict:
    form = BoardFilter(request.GET or None)
    status = availability = None
    if form.is_valid():
        status, availability = form.cleaned_data["status"], form.cleaned_data["availability"] or None
    rows = selectors.board_rows(status=status, availability=availability)
    return {
        "filter": form,
        "rows": rows,
        "pending_count": sum(row.pending_request is not None for row in rows),
        "query": request.GET.urlencode(),
    }


@login_required
@supervisor_required
def board(request: HttpRequest) -> HttpResponse:
    return render(request, "presence/board.html", _board_context(request))


@login_required
@supervisor_required
def board_rows(request: HttpRequest) -> HttpResponse:
    """The board's table body, polled by the page to refresh in place."""
    return render(request, "presence/board_rows.html", _board_context(request))


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


@login_required
@supervisor_required
@require_POST
def request_decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    status_request = get_object_or_404(StatusRequest, pk=request_id)
    decide = services.status_request_approve if decision == "approve" else services.status_request_reject
    try:
        decide(status_request, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(
            request, f"{status_request.agent.get_username()}'s request for {status_request.status.name} {verb}."
        )
    return redirect(_safe_next(request) if request.POST.get("next") else "presence:board")
