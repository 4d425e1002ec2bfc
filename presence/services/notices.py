"""Notices to the agent (P11): written by the status and approval services, dismissed here."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from presence.errors import ApplicationError
from presence.models import Notice


class NoticeNotFound(ApplicationError):
    code = "not_found"
    http_status = 404


def presence_notice_dismiss(agent, notice_id: int, *, now=None) -> Notice:
    """Dismiss one of the agent's notices; another agent's notice is not found (404) for them.
    Dismissing a dismissed notice changes nothing."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id, agent_id=agent.pk).first()
        if notice is None:
            raise NoticeNotFound(_("No such notice."))
        if notice.dismissed_at is None:
            notice.dismissed_at = now or timezone.now()
            notice.save(update_fields=["dismissed_at"])
    return notice
