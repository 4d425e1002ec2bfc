"""Supervisors' permissions on shift types, shifts and appointments (presence/roles.py)."""

from django.db import migrations

from presence.roles import grant_supervisor_permissions

CRUD = ("view", "add", "change", "delete")
MATRIX = {"shifttype": CRUD, "shift": CRUD, "appointment": CRUD}


def grant(apps, schema_editor):
    grant_supervisor_permissions(apps, schema_editor, "scheduling", MATRIX)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_pending_schedule_indexes"),
        ("presence", "0004_supervisors_role"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
