"""Rebuild the open-load counters from the tickets agents hold (safe to run at any time)."""

from django.core.management.base import BaseCommand

from tickets.services.load import load_recount


class Command(BaseCommand):
    help = (
        "Compare every agent's open-load counters (and the load on their memberships) with the tickets "
        "they hold, and repair what drifted. --check only reports."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="Report drift without repairing it.")

    def handle(self, *args, **options) -> None:
        drift = load_recount(repair=not options["check"])
        if not drift:
            self.stdout.write(self.style.SUCCESS("Load counters match the tickets."))
            return
        verb = "Found" if options["check"] else "Repaired"
        self.stdout.write(self.style.WARNING(f"{verb} drift for {len(drift)} agent(s):"))
        for agent_id, counters, tickets in drift:
            self.stdout.write(f"  agent {agent_id}: counters {counters}, tickets {tickets}")
        if options["check"]:
            raise SystemExit(1)
