"""Idempotent demo data for the embedded default: run it as often as you like."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from presence import services
from presence.models import AgentProfile, Team

# Local demo logins only; set DEMO_PASSWORD to choose another.
DEFAULT_PASSWORD = "helpdesk-demo"

TEAMS = ["Support", "Sales", "Chat"]
AGENTS = [
    # username, first name, teams, capabilities, licence
    ("ann", "Ann", ["Support", "Chat"], ["email", "chat"], "named"),
    ("bob", "Bob", ["Support"], ["email", "phone"], "named"),
    ("cara", "Cara", ["Sales"], ["email", "phone", "video"], "concurrent"),
    ("dev", "Dev", ["Chat"], ["chat"], "concurrent"),
    ("eve", "Eve", ["Support", "Sales"], ["email", "chat", "phone"], "named"),
]


class Command(BaseCommand):
    help = "Create the demo superuser, supervisor, teams and agents (safe to run again); demo_data runs it."

    def handle(self, *args, **options) -> None:
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
        User = get_user_model()
        with transaction.atomic():
            admin = User.objects.filter(username="admin").first()
            if admin is None:
                admin = User.objects.create_superuser("admin", "admin@example.com", password)
            # The group and its permissions come from the role matrix (setup_roles, migrations).
            supervisors, _ = Group.objects.get_or_create(name=settings.PRESENCE_SUPERVISORS_GROUP)
            supervisor = User.objects.filter(username="sam").first()
            if supervisor is None:
                supervisor = User.objects.create_user(
                    "sam", "sam@example.com", password, first_name="Sam", is_staff=True
                )
            supervisor.groups.add(supervisors)
            teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
            for username, first_name, team_names, capabilities, licence in AGENTS:
                if AgentProfile.objects.filter(user__username=username).exists():
                    continue
                services.agent_create(
                    actor=admin,
                    username=username,
                    password=password,
                    email=f"{username}@example.com",
                    first_name=first_name,
                    teams=[teams[name] for name in team_names],
                    capabilities=capabilities,
                    licence_type=licence,
                )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  admin      admin / {password}   (superuser)")
        self.stdout.write(f"  supervisor sam / {password}")
        self.stdout.write(f"  agents     {', '.join(a[0] for a in AGENTS)} / {password}")
