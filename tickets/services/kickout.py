"""C6: agents who leave assigned tickets unopened are asked "still working?"."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from presence.models import PresenceSettings, StillWorkingPrompt
from presence.services import presence_ask_still_working
from tickets.models import HELD_STATES, Ticket

User = get_user_model()
BATCH_SIZE = 500


def tickets_ask_still_working(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Ask every agent in a receiving status who holds a ticket assigned longer than the
    kick-out timeout ago and still unopened. Not again while a prompt is open, nor within a
    timeout of their last answer."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=PresenceSettings.load().kick_out_minutes)
    prompts = StillWorkingPrompt.objects.filter(agent_id=OuterRef("assignee_id"))
    stale = (
        Ticket.objects.filter(
            state__in=HELD_STATES,
            assignee__isnull=False,
            opened_at__isnull=True,
            assigned_at__lt=cutoff,
            assignee__presence__status__can_receive=True,
        )  # fmt: skip
        .exclude(Exists(prompts.filter(state=StillWorkingPrompt.State.OPEN)))
        .exclude(Exists(prompts.filter(state=StillWorkingPrompt.State.ANSWERED, closed_at__gte=cutoff)))
        .values_list("assignee_id", flat=True)
        .distinct()
        .order_by("assignee_id")
    )
    asked = 0
    for agent_id in list(stale[:batch_size]):
        asked += presence_ask_still_working(User(pk=agent_id), now=now) is not None
    return asked
