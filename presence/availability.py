"""Derived availability (P7), computed here and only here."""

from django.db import models

from presence.eligibility import is_eligible
from presence.models import AgentPresence, StatusCategory
from presence.workload import Workload


class Availability(models.TextChoices):
    OFFLINE = "offline", "Offline"
    AWAY = "away", "Away"
    FINISHING = "finishing", "Finishing"
    NOT_RECEIVING = "not_receiving", "Not receiving"
    BUSY = "busy", "Busy"
    ACTIVE = "active", "Active"
    FREE = "free", "Free"


def availability_of(presence: AgentPresence, workload: Workload) -> Availability:
    """Free and active only for an agent who gets work automatically (the one routing rule, T7);
    tentative counts as away and conference as busy (S6)."""
    category = presence.status.category
    if category == StatusCategory.OFFLINE:
        return Availability.OFFLINE
    if presence.pending_status_id is not None:
        return Availability.FINISHING
    if category in (StatusCategory.INACTIVE, StatusCategory.NOT_READY, StatusCategory.TENTATIVE):
        return Availability.AWAY
    if category == StatusCategory.CONFERENCE:
        return Availability.BUSY
    if not is_eligible(presence):
        return Availability.NOT_RECEIVING
    if workload.at_capacity:
        return Availability.BUSY
    if workload.open_tickets:
        return Availability.ACTIVE
    return Availability.FREE
