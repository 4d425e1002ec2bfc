"""Create or update the supervisors group from the role matrix in code (safe to run again)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from presence.roles import role_matrix_markdown, roles_setup


class Command(BaseCommand):
    help = (
        f"Give the group named by PRESENCE_SUPERVISORS_GROUP (now {settings.PRESENCE_SUPERVISORS_GROUP!r}) "
        "exactly the supervisor permissions the code declares; idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--print-matrix", action="store_true", help="Print the role matrix as a Markdown table (the README's)."
        )

    def handle(self, *args, **options) -> None:
        if options["print_matrix"]:
            self.stdout.write(role_matrix_markdown())
            return
        try:
            group, added, removed = roles_setup()
        except LookupError as exc:
            raise CommandError(f"{exc} Run `manage.py migrate` first.") from exc
        count = group.permissions.count()
        self.stdout.write(
            self.style.SUCCESS(
                f'Group "{group.name}": {count} permissions ({len(added)} added, {len(removed)} removed).'
            )
        )
        for name in added:
            self.stdout.write(f"  + {name}")
        for name in removed:
            self.stdout.write(f"  - {name}")
