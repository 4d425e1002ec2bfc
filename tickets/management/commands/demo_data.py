"""All demo data for the embedded default (`bin/dev` runs it): people first, then their past
days, then the present: shifts started, tickets routed, a lunch, a meeting and a request."""

import argparse

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from presence.models import Team
from tickets.demo import DEFAULT_DAYS, MAX_DAYS, demo_cast_prepare, demo_history_create, demo_moments, demo_shifts_start
from tickets.models import HELD_STATES, RoutingMethod, Ticket
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


def days_error(value) -> str | None:
    """Why `value` is not a number of days of history (None: it is)."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = None
    if days is None or str(days) != str(value).strip() or not 1 <= days <= MAX_DAYS:
        return f"a whole number of days from 1 to {MAX_DAYS} is needed, not {value!r}."
    return None


def days_argument(value: str) -> int:
    error = days_error(value)
    if error:
        raise argparse.ArgumentTypeError(error)
    return int(value)


class Command(BaseCommand):
    help = (
        "Create all demo data: people, teams with routing, the last days' history (statuses, shifts, "
        "appointments, tickets) and today's shifts and tickets. Safe to run again: days already there are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=days_argument,
            default=DEFAULT_DAYS,
            help=f"How many days before today the history covers (1 to {MAX_DAYS}, default {DEFAULT_DAYS}).",
        )

    def handle(self, *args, days=DEFAULT_DAYS, **options) -> None:
        error = days_error(days)  # call_command(days=...) skips the parser
        if error:
            raise CommandError(f"--days: {error}")
        days = int(days)
        call_command("demo_presence", stdout=self.stdout)
        admin = get_user_model().objects.get(username="admin")
        # One transaction: all of it or nothing, and one commit (SQLite syncs the disk on each).
        with transaction.atomic():
            teams = {team.name: team for team in Team.objects.filter(name__in=ROUTING)}
            for name, method in ROUTING.items():
                team_save(teams[name], actor=admin, routing_method=method)
            demo_cast_prepare(actor=admin)
            written = demo_history_create(days=days)
            started = demo_shifts_start(actor=admin)
            # The queue of today: tickets routed through the services to whoever receives now.
            if not Ticket.objects.filter(state__in=HELD_STATES).exists():
                for subject, channel, team, linked in TICKETS:
                    ticket_create(
                        actor=admin, subject=subject, channel=channel, team=teams[team], linked_to_chat=linked
                    )
            moments = demo_moments(started, actor=admin)
        if written.changes or written.tickets:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo history ready: {written.day_count} day(s), {written.changes} status changes, "
                    f"{written.shifts} shifts, {written.appointments} appointments, {written.tickets} tickets."
                )
            )
        else:
            self.stdout.write(f"Demo history: the last {days} day(s) are there already.")
        if started:
            names = ", ".join(agent.username for agent in started)
            self.stdout.write(self.style.SUCCESS(f"Shifts started now: {names}."))
        for moment in moments:
            self.stdout.write(f"  {moment}")
        held = Ticket.objects.filter(state__in=HELD_STATES).count()
        self.stdout.write(self.style.SUCCESS(f"Demo tickets ready: {Ticket.objects.count()} in all, {held} open."))
