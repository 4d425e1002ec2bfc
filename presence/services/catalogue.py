from django.db import transaction

from presence.errors import StatusInUse
from presence.models import Status, StatusRequest


def status_save(status: Status, *, actor, teams=None) -> Status:
    """Create or update a status after checking every rule of S1 (a ValidationError otherwise)."""
    with transaction.atomic():
        status.full_clean()
        status._history_user = actor
        status.save()
        if teams is not None:
            status.teams.set(teams)
    return status


def status_delete(status: Status, *, actor) -> None:
    """Delete a status nobody uses (S3); otherwise StatusInUse names what uses it."""
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
