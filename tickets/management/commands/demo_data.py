"""All demo data for the embedded default (`bin/dev` runs it): people first, then their work."""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from presence.models import Team
from tickets.models import RoutingMethod, Ticket
from tickets.services import team_save, ticket_create

ROUTING = {"Support": RoutingMethod.ROUND_ROBIN, "Sales": RoutingMethod.LOAD_BALANCE, "Chat": RoutingMethod.ROUND_ROBIN}
TICKETS = [
    ("Cannot log in to the portal", "portal", "Support", False),
    ("Invoice shows the wrong VAT number", "email", "Sales", False),
    ("Where is my order?", "chat", "Chat", True),
    ("Password reset mail never arrives", "email", "Support", False),
    ("Upgrade to the business plan", "phone", "Sales", False),
    ("Widget does not load on Safari", "chat", "Chat", True),
]


class Command(BaseCommand):
    help = "Create all demo data: people, teams with routing, and a few tickets (safe to run again)."

    def handle(self, *args, **options) -> None:
        call_command("demo_presence", stdout=self.stdout)
        admin = get_user_model().objects.get(username="admin")
        with transaction.atomic():
            teams = {team.name: team for team in Team.objects.filter(name__in=ROUTING)}
            for name, method in ROUTING.items():
                team_save(teams[name], actor=admin, routing_method=method)
            if not Ticket.objects.exists():
                for subject, channel, team, linked in TICKETS:
                    ticket_create(
                        actor=admin, subject=subject, channel=channel, team=teams[team], linked_to_chat=linked
                    )
        self.stdout.write(self.style.SUCCESS(f"Demo tickets ready: {Ticket.objects.count()} in all."))
