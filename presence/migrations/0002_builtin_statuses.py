"""Built-in statuses (SPEC S2) and the presence settings row. Only Available receives work."""

from django.db import migrations

BUILTIN = [
    # slug, name, category, color, emoji, extra flags
    ("available", "Available", "online", "#2E7D32", "🟢",
     {"can_receive": True, "online_for_live_chat": True, "in_load_balance": True}),
    ("busy", "Busy", "online", "#C62828", "🔴", {}),
    ("not-ready", "Not ready", "not_ready", "#F9A825", "⏳", {}),
    ("lunch", "Lunch", "inactive", "#EF6C00", "🍽️", {"max_duration": 30, "return_slug": "available"}),
    ("short-break", "Short break", "inactive", "#8D6E63", "☕", {}),
    ("training", "Training", "inactive", "#6A1B9A", "🎓", {}),
    ("meeting", "Meeting", "inactive", "#1565C0", "👥", {}),
    ("technical-break", "Technical break", "inactive", "#546E7A", "🛠️", {}),
    ("after-work", "After work", "inactive", "#455A64", "🏠", {"count_time_after_dialogs_closed": True}),
    ("out-of-office", "Out of office", "inactive", "#AD1457", "✈️", {"warn_on_assign": True, "warn_on_mention": True}),
    ("kicked-out", "Kicked out", "inactive", "#B71C1C", "⛔", {"is_system": True}),
    ("offline", "Offline", "offline", "#9E9E9E", "⚫", {"is_system": True}),
]  # fmt: skip


def create_builtin(apps, schema_editor):
    Status = apps.get_model("presence", "Status")
    PresenceSettings = apps.get_model("presence", "PresenceSettings")
    by_slug = {}
    for order, (slug, name, category, color, emoji, extra) in enumerate(BUILTIN, start=1):
        extra = dict(extra)
        extra.pop("return_slug", None)
        status, _ = Status.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "category": category, "color": color, "emoji": emoji,
                      "sort_order": order * 10, **extra},
        )  # fmt: skip
        by_slug[slug] = status
    for slug, *_, extra in BUILTIN:
        if "return_slug" in extra:
            Status.objects.filter(slug=slug, return_status__isnull=True).update(
                return_status=by_slug[extra["return_slug"]]
            )
    PresenceSettings.objects.get_or_create(
        pk=1, defaults={"login_status": by_slug["available"], "auto_offline_status": by_slug["offline"]}
    )


class Migration(migrations.Migration):
    dependencies = [("presence", "0001_initial")]

    operations = [migrations.RunPython(create_builtin, migrations.RunPython.noop)]
