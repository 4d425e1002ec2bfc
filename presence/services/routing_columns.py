"""The routing columns of team memberships (TeamMembership.routable, routable_chat, overflow),
written from the one routing rule (presence.eligibility) whenever what it reads changes: an
agent's status or finishing, a membership's active flag, a status's own flags, an account.

Routing then picks through a partial index of routable members in load or round-robin order
and reads a handful of rows, not the team (tickets.services.routing).
"""

from collections import defaultdict

from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from presence.eligibility import is_eligible, is_overflow
from presence.models import AgentLoad, AgentPresence, Channel, TeamMembership


def _flags(presence: AgentPresence | None) -> tuple[bool, bool, bool]:
    if presence is None or not presence.agent.is_active:
        return False, False, False
    return is_eligible(presence, chat=False), is_eligible(presence, chat=True), is_overflow(presence)


def _write(agent_ids, flags: tuple[bool, bool, bool]) -> int:
    routable, routable_chat, overflow = flags
    return TeamMembership.objects.filter(agent_id__in=list(agent_ids)).update(
        routable=Case(When(active=True, then=Value(routable)), default=Value(False)),
        routable_chat=Case(When(active=True, then=Value(routable_chat)), default=Value(False)),
        overflow=Value(overflow),
    )


def memberships_sync_presence(presence: AgentPresence) -> int:
    """After a change to this (locked, freshly written) presence: one statement."""
    return _write([presence.agent_id], _flags(presence))


def memberships_sync(agent_ids) -> int:
    """After changes to these agents' memberships or accounts, or to a status some of them are in:
    one read, and one statement per distinct outcome of the rule (a few at most)."""
    ids = list(agent_ids)
    if not ids:
        return 0
    presences = {
        p.agent_id: p for p in AgentPresence.objects.select_related("status", "agent").filter(agent_id__in=ids)
    }
    return memberships_sync_presences({agent_id: presences.get(agent_id) for agent_id in ids})


def memberships_sync_presences(presences: dict[int, AgentPresence | None]) -> int:
    """After changes to these (locked, freshly written) presences, by agent id: one statement
    per distinct outcome of the rule, with no read."""
    groups: dict[tuple[bool, bool, bool], list[int]] = defaultdict(list)
    for agent_id, presence in presences.items():
        groups[_flags(presence)].append(agent_id)
    return sum(_write(group, flags) for flags, group in groups.items())


def memberships_sync_status(status) -> int:
    """After a status's flags changed: every agent in it."""
    return memberships_sync(AgentPresence.objects.filter(status=status).values_list("agent_id", flat=True))


def memberships_sync_load(agent_ids) -> int:
    """Copy these agents' open load (AgentLoad's total) onto all their memberships: after new
    memberships (which start at 0) or a recount. One statement."""
    ids = list(agent_ids)
    if not ids:
        return 0
    totals = AgentLoad.objects.filter(agent_id=OuterRef("agent_id")).annotate(
        total=sum((F(channel) for channel in Channel.values[1:]), F(Channel.values[0]))
    )
    return TeamMembership.objects.filter(agent_id__in=ids).update(
        load=Coalesce(Subquery(totals.values("total")[:1]), Value(0))
    )
