"""Reads of the presence app: querysets with what their callers render already joined."""

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from rest_framework import serializers

from presence.errors import NotAnAgent
from presence.models import (
    AgentPresence,
    AgentProfile,
    PresenceSettings,
    Status,
    StatusChangeLog,
    StillWorkingPrompt,
    TeamMembership,
)


def is_supervisor(user) -> bool:
    """Staff, or members of the supervisors group, act on any agent (SPEC "A")."""
    if not (user and user.is_authenticated):
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_presence_is_supervisor", None)
    if cached is None:
        cached = user.groups.filter(name=settings.PRESENCE_SUPERVISORS_GROUP).exists()
        user._presence_is_supervisor = cached
    return cached


def status_list(*, enabled_only: bool = False) -> QuerySet[Status]:
    qs = Status.objects.select_related("return_status").prefetch_related("teams")
    return qs.filter(enabled=True) if enabled_only else qs


def status_choices_for_agents() -> QuerySet[Status]:
    """What the header dropdown offers: enabled statuses a person may pick."""
    return Status.objects.filter(enabled=True).exclude(slug=Status.KICKED_OUT)


def presence_get(agent) -> AgentPresence:
    presence = (
        AgentPresence.objects.select_related("status", "pending_status", "agent").filter(agent_id=agent.pk).first()
    )
    if presence is None:
        from presence.services import presence_ensure

        presence = presence_ensure(agent)
    return presence


def agent_profile_get(user) -> AgentProfile:
    profile = AgentProfile.objects.filter(user_id=user.pk).select_related("user").first()
    if profile is None:
        raise NotAnAgent(f'User "{user.get_username()}" is not an agent.')
    return profile


def agent_list() -> QuerySet[AgentProfile]:
    return AgentProfile.objects.select_related(
        "user", "user__presence__status", "user__presence__pending_status"
    ).prefetch_related(Prefetch("user__team_memberships", queryset=TeamMembership.objects.order_by("team_id")))


def status_log_list() -> QuerySet[StatusChangeLog]:
    return StatusChangeLog.objects.all()


def presence_prompts(presence: AgentPresence, profile: AgentProfile) -> dict:
    """When idle timeout would log this agent out, and since when "still working?" waits."""
    from presence.services.automation import presence_idle_deadline

    deadline = presence_idle_deadline(presence, profile.licence_type, PresenceSettings.load())
    asked = (
        StillWorkingPrompt.objects.filter(agent_id=presence.agent_id, state=StillWorkingPrompt.State.OPEN)
        .values_list("asked_at", flat=True)
        .first()
    )
    to_text = serializers.DateTimeField().to_representation
    return {
        "idle_logout_at": to_text(deadline) if deadline else None,
        "still_working_asked_at": to_text(asked) if asked else None,
    }
