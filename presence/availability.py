"""Derived availability (P7), computed here and only here: in Python for rows in hand, as SQL for
filtering and counting in the database."""

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from presence.eligibility import eligible_q, is_eligible
from presence.models import AgentPresence, Channel, StatusCategory
from presence.workload import Workload


class Availability(models.TextChoices):
    OFFLINE = "offline", _("Offline")
    AWAY = "away", _("Away")
    FINISHING = "finishing", _("Finishing")
    NOT_RECEIVING = "not_receiving", _("Not receiving")
    BUSY = "busy", _("Busy")
    ACTIVE = "active", _("Active")
    FREE = "free", _("Free")


# The board and the agent card show the value itself, in lower case, and translate it with
# {% translate availability context "availability" %}; listed here so makemessages finds them.
AVAILABILITY_WORDS = [
    pgettext_lazy("availability", "offline"),
    pgettext_lazy("availability", "away"),
    pgettext_lazy("availability", "finishing"),
    pgettext_lazy("availability", "not_receiving"),
    pgettext_lazy("availability", "busy"),
    pgettext_lazy("availability", "active"),
    pgettext_lazy("availability", "free"),
]


# The categories that decide availability before the routing rule is asked.
AWAY_CATEGORIES = (StatusCategory.INACTIVE, StatusCategory.NOT_READY, StatusCategory.TENTATIVE)


def availability_of(presence: AgentPresence, workload: Workload) -> Availability:
    """Free and active only for an agent who gets work automatically (the one routing rule, T7);
    tentative counts as away and conference as busy (S6)."""
    category = presence.status.category
    if category == StatusCategory.OFFLINE:
        return Availability.OFFLINE
    if presence.pending_status_id is not None:
        return Availability.FINISHING
    if category in AWAY_CATEGORIES:
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


def availability_expression(presence: str = "user__presence__", profile: str = "", load: str = "user__load__"):
    """availability_of as SQL, for filtering and counting in the database (board, agents API):
    the same steps in the same order, from the paths to the agent's presence, profile and load
    counters (relative to the queryset's model). A test holds the two equal for every case."""
    capabilities = Q()
    full = Q()
    for channel in Channel.values:
        can = Q(**{f"{profile}can_{channel}": True})
        capabilities |= can
        full &= ~can | Q(**{f"{load}{channel}__gte": F(f"{profile}capacity_{channel}")})
    open_work = sum((F(f"{load}{c}") for c in Channel.values[1:]), F(f"{load}{Channel.values[0]}"))
    return Case(
        When(Q(**{f"{presence}status__isnull": True}), then=Value(Availability.OFFLINE)),
        When(Q(**{f"{presence}status__category": StatusCategory.OFFLINE}), then=Value(Availability.OFFLINE)),
        When(Q(**{f"{presence}pending_status__isnull": False}), then=Value(Availability.FINISHING)),
        When(Q(**{f"{presence}status__category__in": AWAY_CATEGORIES}), then=Value(Availability.AWAY)),
        When(Q(**{f"{presence}status__category": StatusCategory.CONFERENCE}), then=Value(Availability.BUSY)),
        When(~eligible_q(presence), then=Value(Availability.NOT_RECEIVING)),
        When(capabilities & full, then=Value(Availability.BUSY)),
        When(GreaterThan(open_work, Value(0)), then=Value(Availability.ACTIVE)),
        default=Value(Availability.FREE),
        output_field=models.CharField(),
    )
