"""Reads of the tickets app."""

from django.db.models import Count, Q, QuerySet

from presence.eligibility import eligible_q, overflow_q
from presence.models import AgentPresence, Team, TeamMembership
from presence.selectors import is_supervisor
from tickets.models import Ticket, mentioned_usernames


def ticket_list_for(user) -> QuerySet[Ticket]:
    """Supervisors see every ticket; an agent sees their own and their teams' Unassigned queue."""
    qs = Ticket.objects.select_related("team")
    if is_supervisor(user):
        return qs
    team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    return qs.filter(Q(assignee_id=user.pk) | Q(assignee__isnull=True, team_id__in=team_ids))


def team_list() -> QuerySet[Team]:
    return Team.objects.select_related("routing").prefetch_related("memberships")


def live_chat_online_q(prefix: str = "") -> Q:
    """Counts as online for live chat (T6): the status says so, and by the one routing rule the
    agent takes chats now (not finishing, not only as tentative overflow)."""
    return Q(**{f"{prefix}status__online_for_live_chat": True}) & eligible_q(prefix, chat=True) & ~overflow_q(prefix)


def live_chat_availability() -> dict:
    """Agents who count as online for live chat (T6), in total and per team: two queries."""
    total = AgentPresence.objects.filter(live_chat_online_q()).count()
    per_team = {
        row["id"]: row
        for row in Team.objects.values("id", "name").annotate(
            online=Count(
                "memberships",
                filter=Q(memberships__active=True) & live_chat_online_q("memberships__agent__presence__"),
            )
        )
    }
    return {
        "online": total,
        "teams": [{"team": tid, "name": row["name"], "online": row["online"]} for tid, row in sorted(per_team.items())],
    }


def my_open_tickets(user) -> QuerySet[Ticket]:
    """The agent's held tickets, pinned first, oldest first."""
    return Ticket.objects.held().filter(assignee_id=user.pk).select_related("team").order_by("-pinned", "created_at")


def team_queue_for(user, limit: int = 50) -> QuerySet[Ticket]:
    """The Unassigned queue of the agent's teams, oldest first."""
    team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    return (
        Ticket.objects.unassigned().filter(team_id__in=team_ids).select_related("team").order_by("created_at")[:limit]
    )


def _status_of(agent):
    return (
        AgentPresence.objects.select_related("status")
        .filter(agent_id=agent.pk)
        .values_list("status__name", "status__warn_on_assign", "status__warn_on_mention")
        .first()
    )


def assign_question(agent) -> str | None:
    """What to ask before assigning to this agent by hand (T5), or None: "ann is Out of office.
    Assign anyway?" for a status that warns on assign."""
    row = _status_of(agent)
    if row and row[1]:
        return f"{agent.get_username()} is {row[0]}. Assign anyway?"
    return None


def mention_questions(bodies) -> list[str]:
    """What to ask before posting notes that mention agents whose status warns on mention."""
    names = set().union(*(mentioned_usernames(body) for body in bodies)) if bodies else set()
    if not names:
        return []
    rows = AgentPresence.objects.filter(agent__username__in=names, status__warn_on_mention=True).values_list(
        "agent__username", "status__name"
    )
    return [f"{username} is {status}. Mention them anyway?" for username, status in sorted(rows)]
