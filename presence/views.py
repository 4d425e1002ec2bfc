"""Agent pages. Thin: read through selectors, write through services."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from presence import selectors, services
from presence.errors import ApplicationError
from presence.models import AgentProfile, Source, Status


@login_required
def agent_home(request: HttpRequest) -> HttpResponse:
    is_agent = AgentProfile.objects.filter(user_id=request.user.pk).exists()
    return render(request, "presence/home.html", {"is_agent": is_agent})


class StatusChoiceForm(forms.Form):
    status = forms.ModelChoiceField(
        queryset=Status.objects.all(), error_messages={"invalid_choice": "Choose a status from the list."}
    )
    reason = forms.CharField(max_length=255, required=False)


@login_required
@require_POST
def status_change(request: HttpRequest) -> HttpResponse:
    """The header dropdown's form post (U1): works without JavaScript, redirects back."""
    form = StatusChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(_safe_next(request))
    status = form.cleaned_data["status"]
    try:
        selectors.agent_profile_get(request.user)
        choice = services.presence_request_status(
            request.user, status, actor=request.user, source=Source.DROPDOWN, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if choice.request is not None:
            messages.info(request, f'Your switch to "{status.name}" waits for a supervisor\'s approval.')
        else:
            messages.success(request, f"Your status is now {choice.presence.status.name}.")
    return redirect(_safe_next(request))


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target
