from django.db import transaction

from presence.models import Team
from presence.services import team_set_members
from tickets.models import RoutingMethod, TeamRouting
from tickets.services.routing import team_queue_route


def team_save(team: Team, *, actor, routing_method: str | None = None, members=None) -> Team:
    """Create or change a team with its routing method and members; a team that starts routing
    automatically takes its waiting queue at once."""
    with transaction.atomic():
        team.full_clean()
        team._history_user = actor
        team.save()
        routing, _ = TeamRouting.objects.select_for_update().get_or_create(team=team)
        if routing_method is not None and routing_method != routing.method:
            routing.method = routing_method
            routing._history_user = actor
            routing.save()
            if routing_method != RoutingMethod.MANUAL:
                transaction.on_commit(lambda: team_queue_route(team.pk, actor=actor))
        if members is not None:
            team_set_members(team, members)
    return team
