"""Reads of the presence app: querysets with what their callers render already joined."""

from dataclasses import dataclass

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
    StatusRequest,
    StillWorkingPrompt,
    TeamMembership,
)
from presence.workload import NO_WORK, Workload


def is_supervisor(user) -> bool:
    """Members of the supervisors group and admins (superusers) act on any agent (SPEC A, O4).

    Being staff alone is not enough: staff get into the admin, and there only what their own
    permissions allow (presence/roles.py).
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
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
    return Status.objects.filter(enabled=True).exclude(slug__in=Status.SYSTEM_ONLY)


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


def agent_availability(profile: AgentProfile, loads: dict) -> str:
    """An agent's derived availability (P7) from a profile of agent_list() and workloads()."""
    from presence.availability import availability_of

    presence = getattr(profile.user, "presence", None)
    if presence is None:
        return "offline"
    return availability_of(presence, loads.get(profile.user_id, NO_WORK)).value


def header_state(user) -> dict:
    """What the header dropdown's script shows after a change (U1)."""
    presence = presence_get(user)
    pending_request = (
        StatusRequest.objects.filter(agent_id=user.pk, state=StatusRequest.State.PENDING)
        .select_related("status")
        .first()
    )
    return {
        "status": presence.status_id,
        "name": presence.status.name,
        "emoji": presence.status.emoji,
        "color": presence.status.color,
        "since": presence.since.isoformat(),
        "pending_status": presence.pending_status.name if presence.pending_status_id else None,
        "requested_status": pending_request.status.name if pending_request else None,
    }


@dataclass
class BoardRow:
    profile: AgentProfile
    presence: AgentPresence | None
    availability: str
    workload: Workload
    pending_request: StatusRequest | None

    @property
    def agent(self):
        return self.profile.user


def board_rows(*, status: Status | None = None, availability: str | None = None) -> list[BoardRow]:
    """Every agent for the supervisor board (U3), in five queries whatever their number:
    agents with presence, team memberships, open work (two), pending requests."""
    from presence.workload import workloads

    profiles = agent_list().order_by("user__username")
    if status is not None:
        profiles = profiles.filter(user__presence__status=status)
    profiles = list(profiles)
    loads = workloads(p.user_id for p in profiles)
    requests = StatusRequest.objects.filter(
        state=StatusRequest.State.PENDING, agent_id__in=[p.user_id for p in profiles]
    )
    pending = {r.agent_id: r for r in requests.select_related("status")}
    rows = [
        BoardRow(
            profile=p,
            presence=getattr(p.user, "presence", None),
            availability=agent_availability(p, loads),
            workload=loads.get(p.user_id, NO_WORK),
            pending_request=pending.get(p.user_id),
        )
        for p in profiles
    ]
    return [row for row in rows if availability is None or row.availability == availability]


def agent_card(agent) -> dict:
    from presence.workload import workloads

    profile = agent_list().get(user_id=agent.pk)
    loads = workloads([agent.pk])
    return {
        "agent": agent,
        "profile": profile,
        "presence": getattr(profile.user, "presence", None),
        "availability": agent_availability(profile, loads),
        "workload": loads.get(agent.pk, NO_WORK),
        "requests": StatusRequest.objects.filter(agent=agent, state=StatusRequest.State.PENDING).select_related(
            "status"
        ),
        "log": StatusChangeLog.objects.filter(agent=agent).select_related("actor")[:10],
    }


def panel_context(user) -> dict:
    """What the agent panel shows of presence beyond the header: notices (P11) and queues (P10)."""
    return {}
