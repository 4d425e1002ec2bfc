"""The supervisors group with its permissions on this app's models (SPEC O4, presence/roles.py).

The actions are written out here as they were when this migration was made; `manage.py
setup_roles` brings an existing database in line with the code after later changes.
"""

from django.db import migrations

from presence.roles import grant_supervisor_permissions

CRUD = ("view", "add", "change", "delete")
MATRIX = {
    "status": CRUD,
    "team": CRUD,
    "teammembership": CRUD,
    "agentprofile": CRUD,
    "agentpresence": ("view", "change"),
    "statusrequest": ("view", "change"),
    "presencesettings": ("view", "change"),
    "statuschangelog": ("view",),
}


def grant(apps, schema_editor):
    grant_supervisor_permissions(apps, schema_editor, "presence", MATRIX)


class Migration(migrations.Migration):
    dependencies = [
        ("presence", "0003_sessions_prompts_time_zone"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
