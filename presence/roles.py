"""Who may do what (SPEC O4), defined in code.

Three roles:
- admins are superusers: everything, including user accounts, groups, API tokens and periodic
  tasks, which nobody else gets;
- supervisors are staff users in the group named by `PRESENCE_SUPERVISORS_GROUP`: they run the
  helpdesk from Django admin with exactly the permissions below;
- agents are users with an agent profile: they work in the panel and the API, not the admin.

Each app says what supervisors may do with its models on its AppConfig, as
`supervisor_permissions = {"model": ("view", "add", ...)}`, so `presence` lists no model of the
apps that depend on it. A model listed with no actions stays with admins. Every model of the
project must be listed (a test checks it), so a new model cannot slip in without a decision.

`roles_setup()` makes the group's permissions exactly these; the data migrations grant the same
at install time and `manage.py setup_roles` (run by `bin/dev` and on deploy) keeps an existing
database in line with the code.
"""

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, transaction

CRUD = ("view", "add", "change", "delete")

# The project's apps whose every model needs a row in the role matrix.
PROJECT_APPS = ("presence", "tickets", "scheduling", "webhooks")


def supervisor_permissions(apps=global_apps) -> dict[str, tuple[str, ...]]:
    """'app_label.model' -> the actions supervisors have on it, for every app that declares them."""
    matrix: dict[str, tuple[str, ...]] = {}
    for config in apps.get_app_configs():
        for model, actions in getattr(config, "supervisor_permissions", {}).items():
            matrix[f"{config.label}.{model}"] = tuple(actions)
    return matrix


def permission_codenames(matrix: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    """(app_label, codename) of every permission in the matrix."""
    return {
        (label.split(".")[0], f"{action}_{label.split('.')[1]}")
        for label, actions in matrix.items()
        for action in actions
    }


def grant_supervisor_permissions(apps, schema_editor, app_label: str, matrix: dict[str, tuple[str, ...]]) -> None:
    """For data migrations: make sure the group exists and has these permissions of one app.

    Permissions are normally created after all migrations ran (post_migrate); they are created
    here first so a fresh database gets a working group from `migrate` alone.
    """
    using = schema_editor.connection.alias if schema_editor else DEFAULT_DB_ALIAS
    create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=settings.PRESENCE_SUPERVISORS_GROUP)
    codenames = [f"{action}_{model}" for model, actions in matrix.items() for action in actions]
    group.permissions.add(
        *Permission.objects.using(using).filter(content_type__app_label=app_label, codename__in=codenames)
    )


def roles_setup(*, using: str = DEFAULT_DB_ALIAS):
    """Create the supervisors group and give it exactly the permissions the code declares.

    Idempotent: run it as often as you like. Returns (group, added, removed) with the
    permissions' "app_label.codename" that changed.
    """
    from django.contrib.auth.models import Group, Permission

    for label in PROJECT_APPS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using)
    wanted = permission_codenames(supervisor_permissions())
    with transaction.atomic(using=using):
        group, _ = Group.objects.using(using).get_or_create(name=settings.PRESENCE_SUPERVISORS_GROUP)
        have = {(p.content_type.app_label, p.codename): p for p in group.permissions.select_related("content_type")}
        missing = wanted - set(have)
        extra = set(have) - wanted
        by_key = {
            (p.content_type.app_label, p.codename): p
            for p in Permission.objects.using(using)
            .select_related("content_type")
            .filter(content_type__app_label__in={app for app, _ in missing}, codename__in={c for _, c in missing})
        }
        unknown = missing - set(by_key)
        if unknown:
            raise LookupError(f"No such permissions: {', '.join(sorted(f'{a}.{c}' for a, c in unknown))}.")
        group.permissions.add(*(by_key[key] for key in missing))
        group.permissions.remove(*(have[key] for key in extra))
    return group, sorted(f"{a}.{c}" for a, c in missing), sorted(f"{a}.{c}" for a, c in extra)


def role_matrix_markdown() -> str:
    """The role matrix as the README shows it: one row per model, what each role may do."""
    from django.apps import apps

    matrix = supervisor_permissions()
    notes = {
        f"{config.label}.{model}": note
        for config in apps.get_app_configs()
        for model, note in getattr(config, "role_notes", {}).items()
    }
    lines = [
        "| model | supervisors (staff in the group) | admins (superusers) | notes |",
        "| --- | --- | --- | --- |",
    ]
    for label in sorted(matrix):
        model = apps.get_model(label)
        shown = ", ".join(matrix[label]) if matrix[label] else "—"
        admins = "view" if label == "presence.statuschangelog" else "everything"
        lines.append(f"| {model._meta.verbose_name} (`{label}`) | {shown} | {admins} | {notes.get(label, '')} |")
    lines.append("| users, groups, API tokens, periodic tasks | — | everything | |")
    return "\n".join(lines)
