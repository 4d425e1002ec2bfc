from django.db import transaction

from presence.errors import StatusInUse, StatusProtected
from presence.models import Status, StatusRequest
from presence.saving import save_or_refuse
from presence.services.routing_columns import memberships_sync_status


def status_save(status: Status, *, actor, teams=None) -> Status:
    """Create or update a status after checking every rule of S1 (a ValidationError otherwise)."""
    with transaction.atomic():
        status.full_clean()
        status._history_user = actor
        save_or_refuse(status)
        if teams is not None:
            status.teams.set(teams)
        memberships_sync_status(status)  # its routing flags may have changed
    return status


def status_delete(status: Status, *, actor) -> None:
    """Delete a status nobody uses (S3); otherwise StatusInUse names what uses it. A status the
    system or a setting needs is refused first (S5, StatusProtected)."""
    reason = status.protection(deleting=True)
    if reason:
        raise StatusProtected(reason)
    pending = list(
        StatusRequest.objects.filter(status=status, state=StatusRequest.State.PENDING)
        .select_related("agent")
        .values_list("agent__username", flat=True)
    )
    if pending:
        raise StatusInUse(
            f'Status "{status.name}" is in use and cannot be deleted. '
            f"Used by pending approval requests: {', '.join(sorted(pending))}."
        )
    with transaction.atomic():
        status._history_user = actor
        status.delete()


def status_set_enabled(statuses, *, enabled: bool, actor) -> tuple[list[Status], list[str]]:
    """Enable or disable statuses (bulk, admin); returns the changed ones and a sentence for each
    refused one (a protected status cannot be disabled, S5). Nobody in a status is moved."""
    changed, refused = [], []
    with transaction.atomic():
        for status in Status.objects.select_for_update().filter(pk__in=[s.pk for s in statuses]).order_by("pk"):
            if status.enabled == enabled:
                continue
            reason = None if enabled else status.protection(deleting=False)
            if reason:
                refused.append(reason)
                continue
            status.enabled = enabled
            status._history_user = actor
            status.save(update_fields=["enabled"])
            changed.append(status)
    return changed, refused
