"""The phone system's statuses (P12, seed 002) and the one routing rule (T7).

- On a call (online) and After call work (not ready): built-in system statuses that cannot
  receive, set only by call events.
- A load-balance flag on a status that cannot receive contradicted the rule (agents in it got
  work while they showed away): those flags are turned off.
- After work finishes open tickets first (drain).
"""

from django.db import migrations

from presence.roles import grant_supervisor_permissions

PHONE_STATUSES = [
    # slug, name, category, color, emoji
    ("on-a-call", "On a call", "online", "#D84315", "📞"),
    ("after-call-work", "After call work", "not_ready", "#8E24AA", "📝"),
]


def create_phone_statuses(apps, schema_editor):
    Status = apps.get_model("presence", "Status")
    for order, (slug, name, category, color, emoji) in enumerate(PHONE_STATUSES, start=1):
        taken = Status.objects.filter(name=name).exclude(slug=slug).exists()
        Status.objects.get_or_create(
            slug=slug,
            defaults={
                "name": f"{name} (phone)" if taken else name,
                "category": category,
                "color": color,
                "emoji": emoji,
                "sort_order": 200 + order * 10,
                "is_system": True,
            },
        )


def one_routing_rule(apps, schema_editor):
    Status = apps.get_model("presence", "Status")
    Status.objects.filter(can_receive=False, in_load_balance=True).update(in_load_balance=False)
    Status.objects.filter(can_receive=False, in_load_balance_for_chat=True).update(in_load_balance_for_chat=False)


def after_work_finishes_first(apps, schema_editor):
    # "After work" while holding tickets means finishing them first (P4), as agents expect.
    Status = apps.get_model("presence", "Status")
    Status.objects.filter(slug="after-work").update(drain=True)


def create(apps, schema_editor):
    create_phone_statuses(apps, schema_editor)
    one_routing_rule(apps, schema_editor)
    after_work_finishes_first(apps, schema_editor)


def grant(apps, schema_editor):
    grant_supervisor_permissions(apps, schema_editor, "presence", {"call": ("view",)})


class Migration(migrations.Migration):
    dependencies = [("presence", "0006_telephony_notices_tentative")]

    operations = [
        migrations.RunPython(create, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
