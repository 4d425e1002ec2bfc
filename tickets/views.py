"""The agent panel (U2): my work, my teams' queue, and the banners that need me."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from presence import selectors as presence_selectors
from presence.models import AgentProfile, PresenceSettings
from tickets import selectors


@login_required
def agent_panel(request: HttpRequest) -> HttpResponse:
    profile = AgentProfile.objects.filter(user_id=request.user.pk).first()
    if profile is None:
        return render(request, "tickets/panel.html", {"is_agent": False})
    context = {
        "is_agent": True,
        "my_tickets": selectors.my_open_tickets(request.user),
        "queue": selectors.team_queue_for(request.user),
        "prompts": presence_selectors.presence_prompts(presence_selectors.presence_get(request.user), profile),
        "idle_warning_seconds": PresenceSettings.load().idle_warning_seconds,
        **presence_selectors.panel_context(request.user),
    }
    return render(request, "tickets/panel.html", context)
