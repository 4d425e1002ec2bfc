"""Round robin's pick index orders on COALESCE(last_assigned_at, '-infinity') on PostgreSQL, in
place of last_assigned_at NULLS FIRST: the same order (never-assigned members first), which a
row comparison can bound, so a routing decision's look-back at the members just ahead of the
chosen one walks a few index entries instead of the team (tickets/services/decisions.py).
SQLite keeps the plain column."""

from django.db import migrations

NEVER_FIRST = (
    'CREATE INDEX "membership_pick_round_robin" ON "presence_teammembership" '
    "(\"team_id\", \"overflow\", (COALESCE(\"last_assigned_at\", '-infinity'::timestamptz)), \"agent_id\") "
    'WHERE "routable_chat"'
)
NULLS_FIRST = (
    'CREATE INDEX "membership_pick_round_robin" ON "presence_teammembership" '
    '("team_id", "overflow", "last_assigned_at" ASC NULLS FIRST, "agent_id") WHERE "routable_chat"'
)


def _replace(create):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute('DROP INDEX IF EXISTS "membership_pick_round_robin"')
            schema_editor.execute(create)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("presence", "0013_membership_team_index_covered"),
    ]

    operations = [
        migrations.RunPython(_replace(NEVER_FIRST), _replace(NULLS_FIRST)),
    ]
