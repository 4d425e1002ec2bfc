"""Reactions of presence to Django's auth signals (P3)."""

from presence.models import (
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusCategory,
)
from presence.selectors import agent_language
from presence.services import (
    agent_deactivate,
    agent_session_forget,
    agent_session_track,
    api_tokens_revoke,
    presence_change_status,
)


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


def warm_language(sender, request, user, **kwargs) -> None:
    """Read the profile's page language once at sign-in, so AgentLanguageMiddleware finds it in
    the cache and a page costs no query for it."""
    if user is not None and user.is_authenticated:
        agent_language(user)


def on_logout(sender, request, user, **kwargs) -> None:
    if not _is_agent(user):
        return
    agent_session_forget(getattr(getattr(request, "session", None), "session_key", None))
    offline = Status.objects.get(slug=Status.OFFLINE)
    presence_change_status(user, offline, actor=user, source=Source.LOGOUT)


# --- user accounts: a password change or a deactivation ends API access (A3) ---------------------


def remember_account_before_save(sender, instance, update_fields=None, **kwargs) -> None:
    """Note what a user save changes that matters here: the password, and "active"."""
    if instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        instance._presence_before = None
        return
    instance._presence_before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()


def account_saved(sender, instance, created=False, **kwargs) -> None:
    """A changed password deletes the user's API tokens; a deactivation also takes the agent
    Offline and their work away (agent_deactivate), in the same transaction as the save."""
    before = getattr(instance, "_presence_before", None)
    instance._presence_before = None
    if created or before is None:
        return
    if before["is_active"] and not instance.is_active:
        agent_deactivate(instance, actor=None, reason="account deactivated")
    elif before["password"] != instance.password:
        api_tokens_revoke(instance)
