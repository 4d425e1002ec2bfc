from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from presence.models import AgentLoad, AgentPresence, AgentProfile, Channel, Source, Status, Team, TeamMembership
from presence.saving import save_or_refuse
from presence.selectors import agent_language_cache_key
from presence.services.routing_columns import memberships_sync, memberships_sync_load
from presence.signals import agent_deactivated

PROFILE_FIELDS = ("licence_type", "delegate", "phone_number")


def _apply_channels(profile: AgentProfile, capabilities, capacity) -> None:
    if capabilities is not None:
        unknown = set(capabilities) - set(Channel.values)
        if unknown:
            raise ValidationError({"capabilities": f"Unknown capabilities: {', '.join(sorted(unknown))}."})
        for channel in Channel.values:
            setattr(profile, f"can_{channel}", channel in capabilities)
    for channel, amount in (capacity or {}).items():
        if channel not in Channel.values:
            raise ValidationError({"capacity": f'Unknown channel "{channel}".'})
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValidationError({"capacity": f'Capacity for "{channel}" must be a whole number of 0 or more.'})
        setattr(profile, f"capacity_{channel}", amount)


def agent_set_teams(user, teams) -> None:
    """Make the agent a member of exactly these teams (memberships kept keep their active flag)."""
    team_ids = {team.pk for team in teams}
    TeamMembership.objects.filter(agent=user).exclude(team_id__in=team_ids).delete()
    TeamMembership.objects.bulk_create(
        [TeamMembership(agent=user, team_id=team_id) for team_id in team_ids], ignore_conflicts=True
    )
    memberships_sync([user.pk])
    memberships_sync_load([user.pk])


def team_set_members(team, members) -> None:
    """Make exactly these agents members of the team (memberships kept keep their active flag)."""
    wanted = {user.pk for user in members}
    TeamMembership.objects.filter(team=team).exclude(agent_id__in=wanted).delete()
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=team, agent_id=agent_id) for agent_id in wanted], ignore_conflicts=True
    )
    memberships_sync(wanted)
    memberships_sync_load(wanted)


def agent_create(
    *,
    actor,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    teams=(),
    capabilities=None,
    capacity=None,
    licence_type: str = "named",
    delegate=None,
    phone_number: str = "",
) -> AgentProfile:
    """Provision an agent: the user, their profile and team memberships, Offline until they log in."""
    User = get_user_model()
    with transaction.atomic():
        user = User(username=username, email=email, first_name=first_name, last_name=last_name)
        user.full_clean(exclude=["password"])
        validate_password(password, user)
        user.set_password(password)
        save_or_refuse(user)
        profile = AgentProfile(user=user, licence_type=licence_type, delegate=delegate, phone_number=phone_number)
        _apply_channels(profile, capabilities, capacity)
        profile.full_clean()
        profile._history_user = actor
        save_or_refuse(profile)
        AgentPresence.objects.create(agent=user, status=Status.objects.get(slug=Status.OFFLINE))
        AgentLoad.objects.get_or_create(agent=user)
        agent_set_teams(user, teams)
    return profile


def agent_profile_save(profile: AgentProfile, *, actor) -> AgentProfile:
    """Save a profile edited as a whole (admin), and make sure the agent has a presence row."""
    from presence.services.status_change import presence_ensure

    with transaction.atomic():
        profile.full_clean()
        profile._history_user = actor
        profile.save()
        presence_ensure(profile.user)
        AgentLoad.objects.get_or_create(agent=profile.user)
        # The pages read the agent's language through the cache (AgentLanguageMiddleware).
        transaction.on_commit(lambda: cache.delete(agent_language_cache_key(profile.user_id)))
    return profile


def agent_deactivate(user, *, actor, reason: str) -> None:
    """An agent leaves: their account was deactivated, or their agent profile is going. In the
    caller's transaction: their API tokens go, they are put Offline (source system; Offline's
    mappings move their tickets as usual), and `agent_deactivated` lets `tickets` put whatever
    they still hold in its team's queue. The status service keeps a deactivated account Offline."""
    from presence.services.status_change import presence_change_status
    from presence.services.tokens import api_tokens_revoke

    with transaction.atomic():
        api_tokens_revoke(user)
        if not AgentProfile.objects.filter(user_id=user.pk).exists():
            return
        offline = Status.objects.get(slug=Status.OFFLINE)
        presence_change_status(user, offline, actor=actor, source=Source.SYSTEM, reason=reason)
        agent_deactivated.send(sender=AgentProfile, agent=user, actor=actor)


def agent_profile_delete(profile: AgentProfile, *, actor) -> None:
    """Take away a user's agent profile (the user account stays): they leave as agents do when
    deactivated (agent_deactivate), then the profile goes."""
    with transaction.atomic():
        agent_deactivate(profile.user, actor=actor, reason="agent profile deleted")
        profile._history_user = actor
        profile.delete()


def team_save(team: Team, *, actor) -> Team:
    """Create or rename a team (its routing is the tickets app's: tickets.services.team_save)."""
    with transaction.atomic():
        team.full_clean()
        team._history_user = actor
        save_or_refuse(team)
    return team


def team_membership_save(membership: TeamMembership, *, actor) -> TeamMembership:
    """Add an agent to a team, or change whether the membership is active (admin inline)."""
    membership.full_clean()
    save_or_refuse(membership)
    memberships_sync([membership.agent_id])
    memberships_sync_load([membership.agent_id])
    return membership


def team_membership_delete(membership: TeamMembership, *, actor) -> None:
    membership.delete()


def agent_update(
    profile: AgentProfile, *, actor, email=None, teams=None, capabilities=None, capacity=None, **fields
) -> AgentProfile:
    """Change an agent's profile, e-mail and teams; only the given fields change."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"agent_update() got unexpected fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().select_related("user").get(pk=profile.pk)
        if email is not None and email != profile.user.email:
            profile.user.email = email
            profile.user.full_clean(exclude=["password"])
            profile.user.save(update_fields=["email"])
        for field, value in fields.items():
            setattr(profile, field, value)
        _apply_channels(profile, capabilities, capacity)
        profile.full_clean()
        profile._history_user = actor
        profile.save()
        if teams is not None:
            agent_set_teams(profile.user, teams)
    return profile
