"""Supervisors' permissions on tickets, notes, re-assign mappings and team routing (presence/roles.py)."""

from django.db import migrations

from presence.roles import grant_supervisor_permissions

CRUD = ("view", "add", "change", "delete")
MATRIX = {
    "ticket": CRUD,
    "ticketnote": CRUD,
    "reassignmapping": CRUD,
    "teamrouting": ("view", "add", "change"),
}


def grant(apps, schema_editor):
    grant_supervisor_permissions(apps, schema_editor, "tickets", MATRIX)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0002_history_user_without_db_constraint"),
        ("presence", "0004_supervisors_role"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
