"""Reads of the tickets app."""

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from presence.models import AgentPresence, StatusCategory, Team, TeamMembership
from presence.selectors import is_supervisor
from tickets.models import RoutingDecision, Ticket, TicketNote, channels_for_capability, mentioned_usernames

User = get_user_model()


def ticket_list_for(user) -> QuerySet[Ticket]:
    """Supervisors see every ticket; an agent sees their own and their teams' Unassigned queue."""
    qs = Ticket.objects.select_related("team")
    if is_supervisor(user):
        return qs
    team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    return qs.filter(Q(assignee_id=user.pk) | Q(assignee__isnull=True, team_id__in=team_ids))


def team_list() -> QuerySet[Team]:
    return Team.objects.select_related("routing").prefetch_related("memberships")


def my_open_tickets(user) -> QuerySet[Ticket]:
    """The agent's held tickets, pinned first, oldest first."""
    return Ticket.objects.held().filter(assignee_id=user.pk).select_related("team").order_by("-pinned", "created_at")


def team_queue_for(user, limit: int = 50) -> QuerySet[Ticket]:
    """The Unassigned queue of the teams the agent takes work from (active memberships: a queue
    they left is not theirs to take from until they join again), oldest first."""
    team_ids = TeamMembership.objects.filter(agent_id=user.pk, active=True).values("team_id")
    return (
        Ticket.objects.unassigned().filter(team_id__in=team_ids).select_related("team").order_by("created_at")[:limit]
    )


def _status_of(agent):
    return (
        AgentPresence.objects.select_related("status")
        .filter(agent_id=agent.pk)
        .values_list(
            "status__name",
            "status__warn_on_assign",
            "status__warn_on_mention",
            "status__can_receive",
            "status__category",
        )
        .first()
    )


def assign_question(agent) -> str | None:
    """What to ask before assigning to this agent by hand (T5, T7), or None: "ann is Out of office.
    Assign anyway?" for a status that warns on assign, "bob is Busy, which cannot receive work.
    Assign anyway?" for another status that cannot receive (only supervisors may go on; Offline
    is refused, not asked)."""
    row = _status_of(agent)
    if row and row[1]:
        return _("%(agent)s is %(status)s. Assign anyway?") % {"agent": agent.get_username(), "status": row[0]}
    if row and not row[3] and row[4] != StatusCategory.OFFLINE:
        question = _("%(agent)s is %(status)s, which cannot receive work. Assign anyway?")
        return question % {"agent": agent.get_username(), "status": row[0]}
    return None


def mention_questions(bodies) -> list[str]:
    """What to ask before posting notes that mention agents whose status warns on mention."""
    names = set().union(*(mentioned_usernames(body) for body in bodies)) if bodies else set()
    if not names:
        return []
    rows = AgentPresence.objects.filter(agent__username__in=names, status__warn_on_mention=True).values_list(
        "agent__username", "status__name"
    )
    question = _("%(agent)s is %(status)s. Mention them anyway?")
    return [question % {"agent": username, "status": status} for username, status in sorted(rows)]


# --- the agent's ticket page -------------------------------------------------------------------


def ticket_page_for(user) -> QuerySet[Ticket]:
    """ticket_list_for(user) with what the ticket page shows: team, assignee, notes with authors."""
    return (
        ticket_list_for(user)
        .select_related("assignee")
        .prefetch_related(Prefetch("notes", queryset=TicketNote.objects.select_related("author")))
    )


def ticket_take_scope(user) -> QuerySet[Ticket]:
    """Tickets a user may try to take: supervisors any; agents their own and every ticket of their
    teams, so one a teammate took first answers "taken" rather than "no such ticket"."""
    if is_supervisor(user):
        return Ticket.objects.all()
    team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    return Ticket.objects.filter(Q(assignee_id=user.pk) | Q(team_id__in=team_ids))


def teammates_of(user) -> QuerySet:
    """Members of the user's teams but the user, with their status: whom a note may @mention."""
    team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    members = TeamMembership.objects.filter(team_id__in=team_ids).values("agent_id")
    return (
        User.objects.filter(pk__in=members, is_active=True)
        .exclude(pk=user.pk)
        .select_related("presence__status")
        .order_by("username")
    )


def ticket_teammates(ticket: Ticket, user) -> QuerySet:
    """The people `user` (an agent) may hand `ticket` to at all: active users who are active members
    of its team, or of one of the user's teams when it has none. Anybody else is beyond what the
    user's panel shows them, and a refusal tells nothing about them (ticket_assign)."""
    if ticket.team_id is not None:
        team_ids = [ticket.team_id]
    else:
        team_ids = TeamMembership.objects.filter(agent_id=user.pk).values("team_id")
    members = TeamMembership.objects.filter(team_id__in=team_ids, active=True).values("agent_id")
    return User.objects.filter(pk__in=members, is_active=True)


def ticket_receivers(ticket: Ticket, user) -> QuerySet:
    """The ticket's rule for an agent's hand-over, defined once for the ticket page's list and for
    ticket_assign: ticket_teammates whose status can receive and who are not finishing (P4), with
    the channel's capability and room under its capacity."""
    capability = ticket.capability
    # A subquery, not a join: the team join would count a ticket once per shared team.
    held = (
        Ticket.objects.held()
        .filter(assignee_id=OuterRef("pk"), channel__in=channels_for_capability(capability))
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        ticket_teammates(ticket, user)
        .filter(
            presence__status__can_receive=True,
            presence__pending_status__isnull=True,
            **{f"agent_profile__can_{capability}": True},
        )
        .annotate(held=Coalesce(Subquery(held), 0))
        .filter(held__lt=F(f"agent_profile__capacity_{capability}"))
    )


def handover_candidates(ticket: Ticket, user) -> QuerySet:
    """Whom the ticket page offers `user` to hand `ticket` over to: ticket_receivers, neither the
    user nor the current assignee, with their status."""
    return (
        ticket_receivers(ticket, user)
        .exclude(pk__in=[pk for pk in (user.pk, ticket.assignee_id) if pk is not None])
        .select_related("presence__status")
        .order_by("username")
    )


# How many routing decisions the ticket page and the API show: the latest.
DECISIONS_SHOWN = 20


def routing_decisions_of(ticket: Ticket) -> list[RoutingDecision]:
    """Why this ticket went where it went (T11), newest first, each member passed over with their
    username (None for a deleted user): one more query for all of them, if anyone was."""
    decisions = list(RoutingDecision.objects.filter(ticket=ticket).select_related("agent")[:DECISIONS_SHOWN])
    rows = [row for decision in decisions for row in decision.passed_over]
    if rows:
        names = dict(
            get_user_model().objects.filter(pk__in={row["agent"] for row in rows}).values_list("pk", "username")
        )
        for row in rows:
            row["username"] = names.get(row["agent"])
    return decisions
