"""Reads of the presence app: querysets with what their callers render already joined."""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework import serializers

from presence.adherence import NOTHING, Adherence
from presence.availability import availability_expression
from presence.eligibility import eligible_q, is_eligible, is_overflow, overflow_q
from presence.errors import NotAnAgent
from presence.models import (
    AgentPresence,
    AgentProfile,
    Notice,
    PresenceSettings,
    Status,
    StatusCategory,
    StatusChangeLog,
    StatusRequest,
    StillWorkingPrompt,
    Team,
    TeamMembership,
)
from presence.workload import NO_WORK, Workload


def is_supervisor(user) -> bool:
    """Members of the supervisors group and admins (superusers) act on any agent (SPEC A, O4).

    Being staff alone is not enough: staff get into the admin, and there only what their own
    permissions allow (presence/roles.py).
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_presence_is_supervisor", None)
    if cached is None:
        cached = user.groups.filter(name=settings.PRESENCE_SUPERVISORS_GROUP).exists()
        user._presence_is_supervisor = cached
    return cached


def status_list(*, enabled_only: bool = False) -> QuerySet[Status]:
    qs = Status.objects.select_related("return_status").prefetch_related("teams")
    return qs.filter(enabled=True) if enabled_only else qs


def status_choices_for_agents() -> QuerySet[Status]:
    """What the header dropdown offers: enabled statuses a person may pick."""
    return Status.objects.filter(enabled=True).exclude(slug__in=Status.SYSTEM_ONLY)


def presence_get(agent) -> AgentPresence:
    presence = (
        AgentPresence.objects.select_related("status", "pending_status", "agent").filter(agent_id=agent.pk).first()
    )
    if presence is None:
        from presence.services import presence_ensure

        presence = presence_ensure(agent)
    return presence


AGENT_LANGUAGE_CACHE_SECONDS = 300


def agent_language_cache_key(user_id) -> str:
    return f"presence:language:{user_id}"


def agent_language(user) -> str:
    """The language an agent picked on their profile ("" for none, or for a user who is no agent).

    Cached because every page asks; agent_profile_save drops the entry, other writes show within
    AGENT_LANGUAGE_CACHE_SECONDS."""
    key = agent_language_cache_key(user.pk)
    language = cache.get(key)
    if language is None:
        language = AgentProfile.objects.filter(user_id=user.pk).values_list("language", flat=True).first() or ""
        cache.set(key, language, AGENT_LANGUAGE_CACHE_SECONDS)
    return language


def agent_profile_get(user) -> AgentProfile:
    profile = AgentProfile.objects.filter(user_id=user.pk).select_related("user").first()
    if profile is None:
        raise NotAnAgent(_('User "%(username)s" is not an agent.') % {"username": user.get_username()})
    return profile


def agent_list() -> QuerySet[AgentProfile]:
    return AgentProfile.objects.select_related(
        "user", "user__presence__status", "user__presence__pending_status"
    ).prefetch_related(Prefetch("user__team_memberships", queryset=TeamMembership.objects.order_by("team_id")))


def status_log_list() -> QuerySet[StatusChangeLog]:
    return StatusChangeLog.objects.all()


def presence_prompts(presence: AgentPresence, profile: AgentProfile) -> dict:
    """When idle timeout would log this agent out, and since when "still working?" waits."""
    from presence.services.automation import presence_idle_deadline

    deadline = presence_idle_deadline(presence, profile.licence_type, PresenceSettings.load())
    asked = (
        StillWorkingPrompt.objects.filter(agent_id=presence.agent_id, state=StillWorkingPrompt.State.OPEN)
        .values_list("asked_at", flat=True)
        .first()
    )
    to_text = serializers.DateTimeField().to_representation
    return {
        "idle_logout_at": to_text(deadline) if deadline else None,
        "still_working_asked_at": to_text(asked) if asked else None,
    }


def header_state(user) -> dict:
    """What the header dropdown's script shows after a change (U1)."""
    presence = presence_get(user)
    pending_request = (
        StatusRequest.objects.filter(agent_id=user.pk, state=StatusRequest.State.PENDING)
        .select_related("status")
        .first()
    )
    return {
        "status": presence.status_id,
        "name": presence.status.name,
        "emoji": presence.status.emoji,
        "color": presence.status.color,
        "since": presence.since.isoformat(),
        "pending_status": presence.pending_status.name if presence.pending_status_id else None,
        "requested_status": pending_request.status.name if pending_request else None,
        "wrap_up": presence.status.slug == Status.AFTER_CALL_WORK,
        # The line under the dropdown, in the page's language (the script writes it as it is).
        "note": (
            _("Waiting for approval: %(status)s") % {"status": pending_request.status.name}
            if pending_request
            else _("Finishing before %(status)s") % {"status": presence.pending_status.name}
            if presence.pending_status_id
            else ""
        ),
    }


@dataclass
class BoardRow:
    profile: AgentProfile
    presence: AgentPresence | None
    availability: str
    workload: Workload
    pending_request: StatusRequest | None
    live_chat: bool = False  # counts as online for live chat (T6)
    adherence: Adherence = NOTHING  # fits their shift, break budget (C8)

    @property
    def agent(self):
        return self.profile.user

    @property
    def memberships(self) -> list[TeamMembership]:
        """The agent's team memberships with their teams, by team name (prefetched)."""
        return list(self.profile.user.team_memberships.all())

    @property
    def queues(self) -> list[str]:
        """The agent's active queues (P10): the teams they take work from."""
        return [m.team.name for m in self.memberships if m.active]


@dataclass
class CountsRow:
    """One line of the board's counts: every agent (team None) or one team's members."""

    team: Team | None
    agents: int
    by_status: list[int]  # in the order of BoardCounts.statuses
    by_availability: list[int]  # in the order of BoardCounts.availabilities
    live_chat: int


@dataclass
class BoardCounts:
    statuses: list[Status]  # the statuses agents are in, in catalogue order
    availabilities: list  # Availability members, in their order
    rows: list[CountsRow]
    pending: int = 0  # approval requests waiting (one at most per agent), all agents

    @property
    def teams(self) -> list[Team]:
        """The teams that have members, by name."""
        return [row.team for row in self.rows if row.team is not None]


@dataclass
class Board:
    rows: list[BoardRow]
    counts: BoardCounts
    page: int = 1
    pages: int = 1
    total: int = 0  # agents matching the filters
    pending: int = 0  # approval requests waiting, all agents


# The board shows this many agents a page; the filters and counts cover them all.
BOARD_PAGE_SIZE = 100


def _board_agents() -> QuerySet[AgentProfile]:
    """Every agent with what a board row shows, availability and live chat decided in SQL."""
    memberships = TeamMembership.objects.select_related("team").order_by("team__name", "team_id")
    return (
        AgentProfile.objects.select_related("user", "user__presence__status", "user__presence__pending_status")
        .prefetch_related(Prefetch("user__team_memberships", queryset=memberships))
        .annotate(
            availability=availability_expression(),
            live_chat=ExpressionWrapper(live_chat_online_q("user__presence__"), output_field=BooleanField()),
        )
        .order_by("user__username")
    )


def board(
    *, status: Status | None = None, availability: str | None = None, team: Team | None = None, page: int = 1
) -> Board:
    """The supervisor board (U3): one page of agents matching the filters, and the counts over
    every agent, in a constant number of queries whatever the number of agents (the filters,
    the availability and the counts run in the database). Adherence (C8) is the page's agents'
    only: one or two queries of the provider's."""
    from presence.adherence import adherence
    from presence.agent_state import agent_states

    agents = _board_agents()
    if status is not None:
        agents = agents.filter(user__presence__status=status)
    if availability:
        agents = agents.filter(availability=availability)
    if team is not None:
        agents = agents.filter(Exists(TeamMembership.objects.filter(agent_id=OuterRef("user_id"), team=team)))
    total = agents.count()
    pages = max(1, -(-total // BOARD_PAGE_SIZE))
    page = min(max(1, page), pages)
    profiles = list(agents[(page - 1) * BOARD_PAGE_SIZE : page * BOARD_PAGE_SIZE])
    ids = [p.user_id for p in profiles]
    states = agent_states(getattr(p.user, "presence", None) for p in profiles)
    fits = adherence(ids)
    requests = StatusRequest.objects.filter(state=StatusRequest.State.PENDING).select_related("status")
    pending = {r.agent_id: r for r in requests.filter(agent_id__in=ids)}
    rows = [
        BoardRow(
            profile=p,
            presence=getattr(p.user, "presence", None),
            availability=p.availability,
            workload=states[p.user_id].workload if p.user_id in states else NO_WORK,
            pending_request=pending.get(p.user_id),
            live_chat=bool(p.live_chat),
            adherence=fits.get(p.user_id, NOTHING),
        )
        for p in profiles
    ]
    counts = board_counts()
    return Board(rows=rows, counts=counts, page=page, pages=pages, total=total, pending=counts.pending)


def board_counts() -> BoardCounts:
    """Agents by status and by availability, and online for live chat, for every agent and for
    each team's members: two grouped aggregates in the database (plus the statuses and teams they
    name), whatever the number of agents or teams. A team's live-chat count takes its active
    members only, as live_chat_availability."""
    from presence.availability import Availability

    by_status: dict = {}
    by_availability: dict = {}
    live: dict = {}
    pending = 0

    def add(team, status_id, availability, online, n):
        if status_id is not None:
            by_status[(team, status_id)] = by_status.get((team, status_id), 0) + n
        by_availability[(team, availability)] = by_availability.get((team, availability), 0) + n
        if online:
            live[team] = live.get(team, 0) + n

    everyone = AgentProfile.objects.annotate(
        s=F("user__presence__status"),
        a=availability_expression(),
        live=ExpressionWrapper(live_chat_online_q("user__presence__"), output_field=BooleanField()),
        pending=Exists(StatusRequest.objects.filter(agent_id=OuterRef("user_id"), state=StatusRequest.State.PENDING)),
    )
    for row in everyone.values("s", "a", "live", "pending").annotate(n=Count("pk")).order_by():
        add(None, row["s"], row["a"], row["live"], row["n"])
        pending += row["n"] if row["pending"] else 0
    members = TeamMembership.objects.annotate(
        s=F("agent__presence__status"),
        a=availability_expression("agent__presence__", "agent__agent_profile__", "agent__load__"),
        live=ExpressionWrapper(Q(active=True) & live_chat_online_q("agent__presence__"), output_field=BooleanField()),
    )
    for row in members.values("team", "s", "a", "live").annotate(n=Count("pk")).order_by():
        add(row["team"], row["s"], row["a"], row["live"], row["n"])
    status_ids = {status_id for (_, status_id) in by_status if status_id is not None}
    statuses = list(Status.objects.filter(pk__in=status_ids).order_by("sort_order", "name"))
    teams = sorted({team for (team, _) in {**by_status, **by_availability} if team is not None})
    team_objects = {t.pk: t for t in Team.objects.filter(pk__in=teams).order_by("name", "pk")}
    availabilities = list(Availability)

    def line(team_id):
        statuses_n = [by_status.get((team_id, s.pk), 0) for s in statuses]
        availability_n = [by_availability.get((team_id, a.value), 0) for a in availabilities]
        team = team_objects.get(team_id) if team_id is not None else None
        return CountsRow(team, sum(availability_n), statuses_n, availability_n, live.get(team_id, 0))

    lines = [line(None)] + [line(t.pk) for t in team_objects.values()]
    return BoardCounts(statuses=statuses, availabilities=availabilities, rows=lines, pending=pending)


def agent_card(agent) -> dict:
    from presence.agent_state import agent_states

    profile = agent_list().get(user_id=agent.pk)
    presence = getattr(profile.user, "presence", None)
    state = agent_states([presence]).get(agent.pk)
    return {
        "agent": agent,
        "profile": profile,
        "presence": presence,
        "availability": state.availability.value if state else "offline",
        "workload": state.workload if state else NO_WORK,
        "requests": StatusRequest.objects.filter(agent=agent, state=StatusRequest.State.PENDING).select_related(
            "status"
        ),
        "log": StatusChangeLog.objects.filter(agent=agent).select_related("actor")[:10],
    }


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


def my_queues(user) -> list[dict]:
    """The agent's team memberships as queues they take work from or have left (P10), by team name."""
    rows = TeamMembership.objects.filter(agent_id=user.pk).order_by("team__name", "team_id")
    return [
        {"team": row["team_id"], "name": row["team__name"], "active": row["active"]}
        for row in rows.values("team_id", "team__name", "active")
    ]


# The panel and the API show at most this many undismissed notices, newest first.
NOTICES_SHOWN = 20


def my_notices(user) -> list[dict]:
    """The agent's undismissed notices (P11), newest first."""
    notices = Notice.objects.filter(agent_id=user.pk, dismissed_at__isnull=True).order_by("-created_at", "-id")
    return list(notices.values("id", "kind", "text", "created_at")[:NOTICES_SHOWN])


def panel_context(user) -> dict:
    """What the agent panel shows of presence beyond the header: notices (P11), queues (P10) and
    the break left in the running shift (C8)."""
    from presence.adherence import adherence_of

    return {"presence_notices": my_notices(user), "my_queues": my_queues(user), "my_shift": adherence_of(user.pk)}


def call_targets() -> list[dict]:
    """Who can take a phone call now (P12), best first: agents with the phone capability, signed
    in and not on a call or in after call work, who either get phone work by the routing rule and
    have room for another call (target softphone; tentative agents last, as overflow), or are in
    a status that forwards calls to the phone number on their profile (target forward)."""
    from presence.workload import workloads

    forwarding = Q(status__forward_to_phone=True) & ~Q(agent__agent_profile__phone_number="")
    presences = list(
        AgentPresence.objects.filter(agent__agent_profile__can_phone=True)
        .exclude(status__category=StatusCategory.OFFLINE)
        .exclude(status__slug__in=[Status.ON_A_CALL, Status.AFTER_CALL_WORK])
        .filter(forwarding | eligible_q(chat=False))
        .select_related("status", "agent__agent_profile")
        .order_by("agent_id")
    )
    loads = workloads(p.agent_id for p in presences)
    softphone, forward = [], []
    for presence in presences:
        profile = presence.agent.agent_profile
        row = {"agent": presence.agent_id, "status": presence.status_id}
        if presence.status.forward_to_phone and profile.phone_number:
            forward.append({**row, "target": "forward", "phone_number": profile.phone_number})
            continue
        on_phone = loads.get(presence.agent_id, NO_WORK).by_capability.get("phone", 0)
        if is_eligible(presence, chat=False) and on_phone < profile.capacity_phone:
            softphone.append((is_overflow(presence), on_phone, {**row, "target": "softphone", "phone_number": None}))
    return [row for *_, row in sorted(softphone, key=lambda item: (item[0], item[1], item[2]["agent"]))] + forward
