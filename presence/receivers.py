"""Reactions of presence to Django's auth signals (P3)."""

from presence.models import (
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusCategory,
)
from presence.services import agent_session_forget, agent_session_track, presence_change_status


def _is_agent(user) -> bool:
    return user is not None and user.is_authenticated and AgentProfile.objects.filter(user_id=user.pk).exists()


def on_login(sender, request, user, **kwargs) -> None:
    """Login puts an offline agent in the configured login status.

    Only from an offline status: signing in on a second device must not undo the status the
    agent is working in.
    """
    if not _is_agent(user):
        return
    agent_session_track(user, getattr(getattr(request, "session", None), "session_key", None))
    login_status = PresenceSettings.load().login_status
    presence_change_status(
        user, login_status, actor=user, source=Source.LOGIN,
        precondition=lambda presence: None if presence.status.category == StatusCategory.OFFLINE else "signed in",
    )  # fmt: skip


def on_logout(sender, request, user, **kwargs) -> None:
    if not _is_agent(user):
        return
    agent_session_forget(getattr(getattr(request, "session", None), "session_key", None))
    offline = Status.objects.get(slug=Status.OFFLINE)
    presence_change_status(user, offline, actor=user, source=Source.LOGOUT)
