from django.db import transaction

from presence import services as presence_services
from presence.models import Team
from tickets.models import RoutingMethod, TeamRouting
from tickets.services.routing import team_queue_route


def team_save(team: Team, *, actor, routing_method: str | None = None, members=None) -> Team:
    """Create or change a team with its routing method and members; a team that starts routing
    automatically takes its waiting queue at once."""
    with transaction.atomic():
        presence_services.team_save(team, actor=actor)
        team_routing_save(team, actor=actor, routing_method=routing_method)
        if members is not None:
            presence_services.team_set_members(team, members)
    return team


def team_routing_save(team: Team, *, actor, routing_method: str | None = None) -> TeamRouting:
    """Make sure the team has its routing row, and change its method; switching to automatic
    routing takes the waiting queue at once (after commit)."""
    with transaction.atomic():
        routing, _ = TeamRouting.objects.select_for_update().get_or_create(team=team)
        if routing_method is not None and routing_method != routing.method:
            routing.method = routing_method
            routing._history_user = actor
            routing.save()
            if routing_method != RoutingMethod.MANUAL:
                transaction.on_commit(lambda: team_queue_route(team.pk, actor=actor))
    return routing
