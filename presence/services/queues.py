"""My queues (P10): an agent takes work from a team's queue, or leaves it, keeping the membership."""

from django.db import transaction
from django.utils.translation import gettext as _

from presence.errors import ApplicationError
from presence.models import Team, TeamMembership
from presence.services.routing_columns import memberships_sync
from presence.signals import queues_joined


class NotATeamMember(ApplicationError):
    code = "not_a_team_member"
    http_status = 404


def presence_queue_join(agent, team: Team | int, *, actor) -> TeamMembership:
    """Make the agent's membership of `team` active again: they take work from its queue. Sends
    `queues_joined` in the transaction (tickets routes the team's waiting queue after commit).
    Joining a queue the agent is already in changes nothing and sends nothing."""
    return _set_active(agent, team, True, actor=actor)


def presence_queue_leave(agent, team: Team | int, *, actor) -> TeamMembership:
    """Leave the team's queue: the agent stays a member but gets no new work from it. Tickets
    they hold stay theirs."""
    return _set_active(agent, team, False, actor=actor)


def _set_active(agent, team: Team | int, active: bool, *, actor) -> TeamMembership:
    team_id = getattr(team, "pk", team)
    with transaction.atomic():
        # The row lock orders a join or leave against a queue-group status change that rewrites
        # the same membership, so the flag and the signal agree with what was written last.
        membership = (
            TeamMembership.objects.select_for_update(of=("self",))
            .select_related("team")
            .filter(agent_id=agent.pk, team_id=team_id)
            .first()
        )
        if membership is None:
            raise NotATeamMember(_("%(agent)s is not a member of that team.") % {"agent": agent.get_username()})
        if membership.active == active:
            return membership
        membership.active = active
        membership.save(update_fields=["active"])
        memberships_sync([agent.pk])
        if active:
            queues_joined.send(sender=TeamMembership, agent=agent, team_ids=[team_id], actor=actor)
    return membership
