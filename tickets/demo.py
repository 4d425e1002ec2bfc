"""The demo's past days and its present (`manage.py demo_data`), so that the board, the reports
and the chart have something to show on the first run.

The past: for each demo agent and each of the last days, a working day planned from a seed of
the agent and the date (the same day every time): a shift, signing in, breaks, lunch, a stand-up
and sometimes a training (appointments), tickets opened, routed to them and closed, the end of
the shift and signing out; one day off a week, and now and then a request to leave early that a
supervisor approved. It is written in bulk, as the services would have written it at the time:
log rows through presence.services.demo (which says why not through presence_change_status),
shifts and appointments already applied, tickets closed with their history. Nothing reacts to
it: it is over.

The present goes through the services like any other change: today's shift, signing in, the
shift sweep, then (in the command) tickets routed to whoever can receive, one agent at lunch,
one in a meeting that an appointment started, one waiting for approval.

Running it again writes only days that are not there yet: days after each agent's last logged
change (their current status is closed first, as idle agents are signed out) and, when the log
begins with signing in, days before it. A day the agent has a shift on is never planned again.

This module writes to all three apps because the demo is one story across them; it lives in
`tickets`, which holds the `demo_data` command, and only that command imports it.
"""

import random
from collections import defaultdict
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from presence.management.commands.demo_presence import AGENTS
from presence.models import (
    AgentLoad,
    AgentPresence,
    AgentProfile,
    PresenceSettings,
    Source,
    Status,
    StatusCategory,
    StatusChangeLog,
    StatusRequest,
    TeamMembership,
)
from presence.services import presence_change_status, presence_request_status, status_save
from presence.services.demo import PastChange, status_history_write
from scheduling.models import Appointment, Shift, ShiftType
from scheduling.services import appointment_apply_due, schedule_save, shift_apply_due, shift_type_save
from tickets.models import Ticket, TicketState, channels_for_capability

User = get_user_model()

DEFAULT_DAYS = 7
MAX_DAYS = 90

SHIFT_HOURS = 8
SHIFT_STARTS = {"Early": time(7), "Late": time(11)}
STAND_UP = "Team stand-up"
TRAINING = "Product training"
LEAVE_EARLY = "Doctor's appointment: leaving early"
# What each demo team handles; a team of another name takes whatever its agents can handle.
TEAM_CHANNELS = {"Support": {"email", "portal", "phone"}, "Sales": {"email", "phone", "video"}, "Chat": {"chat"}}
SUBJECTS = {
    "email": [
        "Invoice shows the wrong VAT number",
        "Please cancel my subscription",
        "Refund for a double charge",
        "Change the billing address",
        "Export of last year's invoices",
        "Question about the price list",
    ],
    "portal": [
        "Cannot log in to the portal",
        "Password reset mail never arrives",
        "Two-factor code rejected",
        "Upload fails with a large file",
        "Report page stays empty",
    ],
    "phone": [
        "Caller asks about a delivery date",
        "Urgent: shop is down",
        "Upgrade to the business plan",
        "Callback requested about an offer",
    ],
    "chat": [
        "Where is my order?",
        "Widget does not load on Safari",
        "How do I add a colleague?",
        "Discount code not accepted",
        "Can I change my delivery slot?",
    ],
    "video": ["Product demo for a prospect", "Screen-share: setting up the integration"],
}


@dataclass(frozen=True)
class Written:
    """What one run added: days per agent, and the rows."""

    days: dict[str, list[date]]
    changes: int
    shifts: int
    appointments: int
    tickets: int
    requests: int

    @property
    def day_count(self) -> int:
        return len({day for days in self.days.values() for day in days})


@dataclass
class _Cast:
    """The demo's people, statuses and shift types, read once."""

    agents: list  # users, in the order of demo_presence.AGENTS
    profiles: dict[int, AgentProfile]
    presences: dict[int, AgentPresence]
    teams: dict[int, list]
    supervisor: object
    statuses: dict[str, Status]
    shift_types: dict[str, ShiftType]
    config: PresenceSettings
    approval_status: Status | None

    def status(self, slug: str) -> Status | None:
        """A status the demo may use: there and enabled."""
        status = self.statuses.get(slug)
        return status if status is not None and status.enabled else None


@dataclass
class _Day:
    """One agent's planned day: the timeline of statuses and what happened along it."""

    agent: object
    day: date
    start_status: Status
    changes: list[PastChange] = field(default_factory=list)
    shifts: list[Shift] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    requests: list[StatusRequest] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return self.changes[-1].status if self.changes else self.start_status

    def go(self, at: datetime, status: Status | None, source: str, actor_id=None, reason: str = "") -> bool:
        """The agent's status changes at `at` (nothing if it is the status they are in)."""
        if status is None or status.pk == self.status.pk:
            return False
        self.changes.append(PastChange(at, status, source, actor_id, reason))
        return True

    def receiving_spans(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """When, between `since` and `until`, the agent was in a status that receives work."""
        spans, status, start = [], self.start_status, since
        for change in [*self.changes, PastChange(until, self.start_status, Source.SYSTEM)]:
            end = min(change.at, until)
            if status.can_receive and status.in_load_balance and end > max(start, since):
                spans.append((max(start, since), end))
            status, start = change.status, change.at
        return spans


# --- the cast ---------------------------------------------------------------------------------------------


def demo_cast_prepare(*, actor) -> None:
    """What the demo's days need in the catalogue, made through the services when missing: an
    Early and a Late shift type, and one status that needs a supervisor's approval."""
    available = Status.objects.get(slug=Status.AVAILABLE)
    after_work = Status.objects.filter(slug="after-work", enabled=True, is_system=False).first()
    for name in SHIFT_STARTS:
        if not ShiftType.objects.filter(name__iexact=name).exists():
            shift_type_save(ShiftType(name=name, default_status=available, end_status=after_work), actor=actor)
    if not Status.objects.filter(requires_approval=True, enabled=True).exists():
        leave = Status.objects.filter(slug="out-of-office", enabled=True).first()
        if leave is not None:
            leave.requires_approval = True
            status_save(leave, actor=actor)


def _cast() -> _Cast:
    names = [username for username, *_ in AGENTS]
    users = {u.username: u for u in User.objects.filter(username__in=names, agent_profile__isnull=False)}
    agents = [users[name] for name in names if name in users]
    ids = [agent.pk for agent in agents]
    teams = defaultdict(list)
    for membership in TeamMembership.objects.filter(agent_id__in=ids).select_related("team").order_by("team__name"):
        teams[membership.agent_id].append(membership.team)
    supervisor = (
        User.objects.filter(groups__name=settings.PRESENCE_SUPERVISORS_GROUP, is_active=True).order_by("pk").first()
        or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    )
    return _Cast(
        agents=agents,
        profiles={p.user_id: p for p in AgentProfile.objects.filter(user_id__in=ids)},
        presences={p.agent_id: p for p in AgentPresence.objects.filter(agent_id__in=ids).select_related("status")},
        teams=teams,
        supervisor=supervisor,
        statuses={s.slug: s for s in Status.objects.all()},
        shift_types={t.name: t for t in ShiftType.objects.filter(name__in=SHIFT_STARTS).select_related("end_status")},
        config=PresenceSettings.load(),
        approval_status=Status.objects.filter(requires_approval=True, enabled=True)
        .exclude(slug__in=Status.SYSTEM_ONLY)
        .order_by("sort_order", "pk")
        .first(),
    )


def _zone(cast: _Cast, agent) -> ZoneInfo:
    return ZoneInfo(cast.profiles[agent.pk].time_zone)


def _shift_name(index: int, day: date) -> str:
    """Early and Late, alternating by week, so each shift has someone every day."""
    return "Early" if (index + day.toordinal() // 7) % 2 == 0 else "Late"


def _day_off(index: int, day: date) -> bool:
    """One day a week off per agent, a different weekday each."""
    return (day.toordinal() + index) % 7 == 0


# --- the past ---------------------------------------------------------------------------------------------


def demo_history_create(*, days: int, now: datetime | None = None) -> Written:
    """Write the demo agents' last `days` days before today (in each agent's time zone) that are
    not written yet; see the module's docstring. Returns what it wrote."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"The demo history covers 1 to {MAX_DAYS} days, not {days}.")
    now = now or timezone.now()
    cast = _cast()
    offline = cast.statuses[Status.OFFLINE]
    earlier: dict[int, list[PastChange]] = {}
    later: dict[int, list[PastChange]] = {}
    joined: dict[int, datetime] = {}
    planned: list[_Day] = []
    stamps: list = []
    written_days: dict[str, list[date]] = {}
    for index, agent in enumerate(cast.agents):
        zone = _zone(cast, agent)
        today = now.astimezone(zone).date()
        window = [today - timedelta(days=n) for n in range(days, 0, -1)]
        before, after = _missing_days(cast, agent, window, zone)
        presence = cast.presences[agent.pk]
        agent_days = []
        for part, histories, start_status in ((before, earlier, offline), (after, later, presence.status)):
            plans = [_plan_day(cast, index, agent, day, zone) for day in part if not _day_off(index, day)]
            if not plans:
                continue
            changes = []
            if start_status.pk != offline.pk:
                first_day = datetime.combine(plans[0].day, time.min, tzinfo=zone)
                closing, due = _close_session(cast, agent, presence, first_day)
                changes += closing
                stamps += due
            for plan in plans:
                changes += plan.changes
            histories[agent.pk] = changes
            planned += plans
            agent_days += [plan.day for plan in plans]
        if agent_days:  # they were there from the first of these days, even on a day off
            joined[agent.pk] = datetime.combine(min(before + after), time.min, tzinfo=zone)
            written_days[agent.username] = sorted(agent_days)
    with transaction.atomic():
        changes = status_history_write(earlier, joined_by=joined) + status_history_write(later)
        for model, pk, at in stamps:  # the sweeps' bookkeeping: applied, as the history says
            model.objects.filter(pk=pk).update(
                end_applied_at=at, start_applied_at=Coalesce("start_applied_at", Value(at))
            )
        counts = _write_rows(planned, cast)
    return Written(written_days, changes, *counts)


def _missing_days(cast: _Cast, agent, window: list[date], zone) -> tuple[list[date], list[date]]:
    """The window's days this agent's history can still take: before their first logged change
    (if that was signing in from Offline) and after their last one, and neither a day with a
    shift."""
    offline = cast.statuses[Status.OFFLINE]
    log = StatusChangeLog.objects.filter(agent_id=agent.pk)
    first = log.order_by("at", "id").values("at", "from_status_id").first()
    last = log.order_by("-at", "-id").values_list("at", flat=True).first()
    presence = cast.presences[agent.pk]
    bounds = [last] if last else []
    if presence.status_id != offline.pk:
        bounds.append(presence.since)
    after_day = max(bounds).astimezone(zone).date() if bounds else None
    before_day = first["at"].astimezone(zone).date() if first and first["from_status_id"] == offline.pk else None
    span_start = datetime.combine(window[0], time.min, tzinfo=zone)
    span_end = datetime.combine(window[-1] + timedelta(days=1), time.min, tzinfo=zone)
    busy = set()
    for start, end in Shift.objects.filter(agent_id=agent.pk, start__lt=span_end, end__gt=span_start).values_list(
        "start", "end"
    ):
        busy |= {start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()}
    free = [day for day in window if day not in busy]
    if after_day is None:
        return [], free
    before = [day for day in free if before_day is not None and day < before_day]
    after = [day for day in free if day > after_day]
    return before, after


def _close_session(cast: _Cast, agent, presence: AgentPresence, until: datetime) -> tuple[list[PastChange], list]:
    """The rest of the status an earlier run (or a person) left an agent in, as the sweeps would
    have written it, had they run: the ends of their appointments and shifts that fell due before
    `until` (the first day written now), a timed status's expiry, auto-offline without a
    heartbeat, and, still signed in in the evening, signing out. Returns the changes, and the
    schedule rows to mark applied [(model, pk, when)]."""
    zone = _zone(cast, agent)
    last = StatusChangeLog.objects.filter(agent_id=agent.pk).order_by("-at").values_list("at", flat=True).first()
    since = max(presence.since, last) if last else presence.since
    session = _Day(agent, since.astimezone(zone).date(), presence.status)
    holds_work = (AgentLoad.objects.filter(agent_id=agent.pk).first() or AgentLoad()).total > 0
    due = [
        *Appointment.objects.filter(agent_id=agent.pk, end__lt=until, end_applied_at__isnull=True),
        *Shift.objects.filter(agent_id=agent.pk, end__lt=until, end_applied_at__isnull=True).select_related(
            "shift_type__end_status"
        ),
    ]
    stamps = []
    for row in sorted(due, key=lambda row: row.end):
        since = _sweeps(cast, session, since, row.end)
        at = max(row.end, since + timedelta(seconds=1)) + timedelta(seconds=10)
        stamps.append((type(row), row.pk, at))
        if isinstance(row, Appointment):
            if row.previous_status_id and row.applied_status_id == session.status.pk and row.applied_since == since:
                previous = Status.objects.get(pk=row.previous_status_id)
                since = at if session.go(at, previous, Source.APPOINTMENT, reason=f"{row.subject} ended") else since
            continue
        end_status = row.shift_type.end_status
        finishing = end_status is not None and end_status.drain and session.status.can_receive and holds_work
        if not finishing and session.go(at, end_status, Source.SHIFT, reason=f"{row.shift_type.name} shift ends"):
            since = at
    since = _sweeps(cast, session, since, None)
    evening = datetime.combine(since.astimezone(zone).date(), time(19, 30), tzinfo=zone)
    session.go(max(since + timedelta(minutes=30), evening), cast.statuses[Status.OFFLINE], Source.LOGOUT, agent.pk)
    return session.changes, stamps


def _sweeps(cast: _Cast, session: _Day, since: datetime, before: datetime | None) -> datetime:
    """What the sweeps do to an agent left alone until `before` (None: for good): a timed status
    returns, and a status that receives work without a heartbeat goes auto-offline. Returns when
    the agent's status last began."""
    minutes = cast.config.auto_offline_minutes
    for _ in range(4):  # a return status may be timed too; a loop of them is cut short
        status = session.status
        if status.is_timed:
            at = since + timedelta(minutes=status.max_duration, seconds=20)
            target = Status.objects.get(pk=status.return_status_id)
            source, reason = Source.EXPIRY, f"{status.name} ended after {status.max_duration} min"
        elif status.can_receive and minutes:
            at = since + timedelta(minutes=minutes, seconds=40)
            target = cast.statuses[Status.OFFLINE]
            source, reason = Source.AUTO_OFFLINE, f"no heartbeat for {minutes} min"
        else:
            break
        if (before is not None and at >= before) or not session.go(at, target, source, reason=reason):
            break
        since = at
    return since


def _plan_day(cast: _Cast, index: int, agent, day: date, zone) -> _Day:
    """One working day of one agent, from Offline to Offline, the same for the same agent and
    date every time."""
    rng = random.Random(f"{agent.username}/{day.isoformat()}")
    plan = _Day(agent, day, cast.statuses[Status.OFFLINE])
    me, s = agent.pk, cast.status
    shift_type = cast.shift_types[_shift_name(index, day)]
    start = datetime.combine(day, SHIFT_STARTS[shift_type.name], tzinfo=zone).astimezone(UTC)
    end = start + timedelta(hours=SHIFT_HOURS)

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes, seconds=rng.randint(0, 59))

    def swept(moment: datetime) -> datetime:
        return moment + timedelta(seconds=rng.randint(1, 29))  # the schedule sweeps run every 30 s

    work = s(Status.AVAILABLE) or cast.statuses[Status.AVAILABLE]
    shift = Shift(
        agent=agent,
        shift_type=shift_type,
        start=start,
        end=end,
        start_applied_at=swept(start),
        end_applied_at=swept(end),
    )
    plan.shifts.append(shift)
    plan.go(at(-rng.randint(4, 15)), cast.config.login_status, Source.LOGIN, me)
    plan.go(shift.start_applied_at, shift_type.default_status, Source.SHIFT, reason=f"{shift_type.name} shift starts")

    def pause(slug: str, minute: int, minutes: int) -> None:
        if plan.go(at(minute), s(slug), Source.DROPDOWN, me):
            plan.go(at(minute + minutes), work, Source.DROPDOWN, me)

    def appointment(subject: str, slug: str, minute: int, minutes: int) -> None:
        status, begins, ends = s(slug), start + timedelta(minutes=minute), start + timedelta(minutes=minute + minutes)
        if status is None or status.pk == plan.status.pk:
            return
        before, applied, ended = plan.status, swept(begins), swept(ends)
        plan.appointments.append(
            Appointment(
                agent=agent, subject=subject, start=begins, end=ends, agent_status=status, booked_by=cast.supervisor,
                start_applied_at=applied, end_applied_at=ended, applied_status=status, applied_since=applied,
                previous_status=before,
            )
        )  # fmt: skip
        plan.go(applied, status, Source.APPOINTMENT, reason=subject)
        plan.go(ended, before, Source.APPOINTMENT, reason=f"{subject} ended")

    pause("short-break", rng.randint(55, 95), rng.randint(8, 15))
    appointment(STAND_UP, "meeting", 120, 15)
    if rng.random() < 0.4:
        pause(rng.choice(["busy", "not-ready"]), rng.randint(150, 170), rng.randint(12, 25))
    lunch = s("lunch")
    lunch_at = rng.randint(205, 235)
    if plan.go(at(lunch_at), lunch, Source.DROPDOWN, me):
        if lunch.is_timed and rng.random() < 0.6:
            plan.go(
                start + timedelta(minutes=lunch_at + lunch.max_duration, seconds=59), lunch.return_status,
                Source.EXPIRY, reason=f"{lunch.name} ended after {lunch.max_duration} min",
            )  # fmt: skip
        else:
            plan.go(at(lunch_at + rng.randint(20, 28)), work, Source.DROPDOWN, me)
    if day.toordinal() % 7 == 5:
        appointment(TRAINING, "training", 300, 60)
    elif rng.random() < 0.7:
        pause("short-break", rng.randint(320, 370), rng.randint(8, 12))
    if rng.random() < 0.15:
        pause("technical-break", rng.randint(390, 410), rng.randint(5, 10))
    leaves_early = (
        cast.approval_status is not None
        and cast.supervisor is not None
        and day.toordinal() % 7 == 3
        and index == (day.toordinal() // 7) % 4
    )
    if leaves_early:
        asked, decided = at(425), start + timedelta(minutes=428)
        plan.requests.append(
            StatusRequest(
                agent=agent, status=cast.approval_status, reason=LEAVE_EARLY, state=StatusRequest.State.APPROVED,
                requested_at=asked, decided_by=cast.supervisor, decided_at=decided,
            )
        )  # fmt: skip
        plan.go(decided, cast.approval_status, Source.APPROVAL, cast.supervisor.pk, LEAVE_EARLY)
    _plan_end_of_day(plan, cast, rng, shift, "plain" if leaves_early else None)
    return plan


def _plan_end_of_day(plan: _Day, cast: _Cast, rng, shift: Shift, ending: str | None) -> None:
    """Tickets through the day, the end of the shift and signing out. A day ends one of three
    ways, as the services would write them: nothing open at the end of the shift (its end
    status at once); a ticket still open while receiving (finishing: the end status follows
    when it closes, source drain); or a ticket still open in a status that does not receive
    (Busy), so the end status begins while a dialog is open."""
    me, shift_type, start, end = plan.agent.pk, shift.shift_type, shift.start, shift.end
    ending = ending or rng.choices(["plain", "finishing", "busy"], weights=[2, 1, 1])[0]
    if ending == "busy" and cast.status("busy") is None:
        ending = "finishing"
    receiving = plan.status.can_receive and plan.status.in_load_balance
    if ending != "plain" and not (receiving and _channels(cast, plan.agent)):
        ending = "plain"
    quiet_from = end if ending == "plain" else end - timedelta(minutes=45)
    for span_start, span_end in plan.receiving_spans(start, quiet_from):
        _plan_tickets(plan, cast, rng, span_start, span_end)
    end_status = shift_type.end_status if shift_type.end_status and shift_type.end_status.enabled else None
    last_close = end
    if ending == "finishing":
        ticket = _ticket(plan, cast, rng, end - timedelta(minutes=rng.randint(8, 15)))
        ticket.closed_at = last_close = end + timedelta(minutes=rng.randint(3, 10), seconds=rng.randint(0, 59))
        if end_status is not None and end_status.drain:
            plan.go(last_close, end_status, Source.DRAIN, reason=f"finished open tickets before {end_status.name}")
        else:
            plan.go(shift.end_applied_at, end_status, Source.SHIFT, reason=f"{shift_type.name} shift ends")
    elif ending == "busy":
        ticket = _ticket(plan, cast, rng, end - timedelta(minutes=rng.randint(38, 44)))
        plan.go(end - timedelta(minutes=rng.randint(15, 25)), cast.status("busy"), Source.DROPDOWN, me)
        plan.go(shift.end_applied_at, end_status, Source.SHIFT, reason=f"{shift_type.name} shift ends")
        ticket.closed_at = last_close = end + timedelta(minutes=rng.randint(4, 10), seconds=rng.randint(0, 59))
    else:
        plan.go(shift.end_applied_at, end_status, Source.SHIFT, reason=f"{shift_type.name} shift ends")
    signed_out = max(end + timedelta(minutes=rng.randint(5, 15)), last_close + timedelta(minutes=rng.randint(3, 8)))
    plan.go(signed_out + timedelta(seconds=rng.randint(0, 59)), cast.statuses[Status.OFFLINE], Source.LOGOUT, me)


def _channels(cast: _Cast, agent) -> list[tuple[str, object]]:
    """(channel, team) pairs the agent handles: their capabilities in their teams' channels."""
    profile = cast.profiles[agent.pk]
    pairs = []
    for team in cast.teams.get(agent.pk, []):
        for capability in profile.capabilities:
            for channel in channels_for_capability(capability):
                if channel in TEAM_CHANNELS.get(team.name, {channel}):
                    pairs.append((channel, team))
    return pairs


def _ticket(plan: _Day, cast: _Cast, rng, assigned: datetime) -> Ticket:
    """A ticket routed to the agent at `assigned` and opened soon after; the caller closes it."""
    channel, team = rng.choice(_channels(cast, plan.agent))
    ticket = Ticket(
        subject=rng.choice(SUBJECTS[channel]),
        channel=channel,
        team=team,
        assignee=plan.agent,
        state=TicketState.CLOSED,
        linked_to_chat=channel == "chat",
        created_at=assigned - timedelta(minutes=rng.randint(0, 12), seconds=rng.randint(0, 59)),
        assigned_at=assigned,
        opened_at=assigned + timedelta(minutes=rng.randint(1, 4), seconds=rng.randint(0, 59)),
    )
    plan.tickets.append(ticket)
    return ticket


def _plan_tickets(plan: _Day, cast: _Cast, rng, since: datetime, until: datetime) -> None:
    """One ticket after another while the agent receives work, each closed within the span."""
    if not _channels(cast, plan.agent):
        return
    cursor = since + timedelta(minutes=rng.randint(2, 8), seconds=rng.randint(0, 59))
    while True:
        handling = timedelta(minutes=rng.randint(6, 28), seconds=rng.randint(0, 59))
        if cursor + timedelta(minutes=5) + handling >= until - timedelta(minutes=1):
            return
        ticket = _ticket(plan, cast, rng, cursor)
        ticket.closed_at = ticket.opened_at + handling
        cursor = ticket.closed_at + timedelta(minutes=rng.randint(2, 15), seconds=rng.randint(0, 59))


def _write_rows(plans: list[_Day], cast: _Cast) -> tuple[int, int, int, int]:
    """Shifts and appointments as applied, tickets with their history, approved requests."""
    shifts = [shift for plan in plans for shift in plan.shifts]
    appointments = [a for plan in plans for a in plan.appointments]
    tickets = [ticket for plan in plans for ticket in plan.tickets]
    requests = [request for plan in plans for request in plan.requests]
    Shift.objects.bulk_create(shifts, batch_size=500)
    Appointment.objects.bulk_create(appointments, batch_size=500)
    # Their history as a supervisor planned them, some days ahead: not yet applied.
    for model, rows in ((Shift, shifts), (Appointment, appointments)):
        planned = []
        for row in rows:
            entry = copy(row)
            entry.start_applied_at = entry.end_applied_at = None
            if model is Appointment:
                entry.applied_status_id = entry.applied_since = entry.previous_status_id = None
            entry._history_date = row.start - timedelta(days=3)
            planned.append(entry)
        model.history.bulk_history_create(planned, default_user=cast.supervisor, default_change_reason=None)
    _write_tickets(tickets)
    StatusRequest.objects.bulk_create(requests, batch_size=500)
    return len(shifts), len(appointments), len(tickets), len(requests)


def _write_tickets(tickets: list[Ticket]) -> None:
    """Closed tickets and the history the services would have written: opened (ticket_create),
    routed to the agent (routing's move, reason "routed"), closed by the agent (ticket_close).
    Opening a ticket writes no history of its own (ticket_mark_opened is a plain update)."""
    Ticket.objects.bulk_create(tickets, batch_size=500)
    # bulk_create stamps `updated_at` (auto_now) with the present: each was last changed when closed.
    for start in range(0, len(tickets), 500):
        Ticket.objects.filter(pk__in=[t.pk for t in tickets[start : start + 500]]).update(updated_at=F("closed_at"))
    created, changed = [], []
    for ticket in tickets:
        ticket.updated_at = ticket.closed_at
        created.append(
            _history_entry(
                ticket, ticket.created_at, None, None, state=TicketState.OPEN, assignee_id=None,
                assigned_at=None, opened_at=None, closed_at=None, updated_at=ticket.created_at,
            )
        )  # fmt: skip
        changed.append(
            _history_entry(
                ticket, ticket.assigned_at, None, "routed", state=TicketState.OPEN, opened_at=None, closed_at=None,
                updated_at=ticket.assigned_at,
            )
        )  # fmt: skip
        changed.append(_history_entry(ticket, ticket.closed_at, ticket.assignee, None))
    Ticket.history.bulk_history_create(created, batch_size=500, default_change_reason=None)
    Ticket.history.bulk_history_create(changed, batch_size=500, update=True, default_change_reason=None)


def _history_entry(ticket: Ticket, at: datetime, user, reason: str | None, **fields) -> Ticket:
    entry = copy(ticket)
    for name, value in fields.items():
        setattr(entry, name, value)
    entry._history_date, entry._history_user, entry._change_reason = at, user, reason
    return entry


# --- the present ------------------------------------------------------------------------------------------


def demo_shifts_start(*, actor, now: datetime | None = None) -> list:
    """Today's shift for each demo agent who has none yet, through the services: the shift (from
    this quarter hour on), signing in as the login does, and the shift sweep. Returns the agents
    who started now."""
    now = now or timezone.now()
    cast = _cast()
    started = []
    for index, agent in enumerate(cast.agents):
        zone = _zone(cast, agent)
        midnight = datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)
        if Shift.objects.filter(Q(start__gte=midnight) | Q(end__gt=now), agent_id=agent.pk).exists():
            continue  # today's shift is there: started by an earlier run, or planned by someone
        start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)  # this quarter hour
        shift_type = cast.shift_types[_shift_name(index, now.astimezone(zone).date())]
        schedule_save(
            Shift(agent=agent, shift_type=shift_type, start=start, end=start + timedelta(hours=SHIFT_HOURS)),
            actor=cast.supervisor or actor,
        )
        presence_change_status(
            agent, cast.config.login_status, actor=agent, source=Source.LOGIN, precondition=_only_if_offline
        )
        started.append(agent)
    if started:
        shift_apply_due()
    return started


def _only_if_offline(presence: AgentPresence) -> str | None:
    """As the login receiver: signing in never undoes a status someone already works in."""
    return None if presence.status.category == StatusCategory.OFFLINE else "signed in"


def demo_moments(agents: list, *, actor) -> list[str]:
    """The board's moment for agents who just started their shift, through the services: the
    third demo agent at lunch, the fourth in a meeting an appointment started, the fifth asking
    to leave early (a request waiting for a supervisor). Returns what happened, in words."""
    cast = _cast()
    order = {agent.pk: index for index, agent in enumerate(cast.agents)}
    done = []
    now = timezone.now()
    for agent in agents:
        index = order.get(agent.pk)
        lunch, meeting = cast.status("lunch"), cast.status("meeting")
        if index == 2 and lunch is not None:
            presence_change_status(agent, lunch, actor=agent, source=Source.DROPDOWN)
            done.append(f"{agent.username} is at lunch")
        elif index == 3 and meeting is not None:
            schedule_save(
                Appointment(
                    agent=agent, subject="1:1 with the team lead", agent_status=meeting,
                    start=now - timedelta(minutes=5), end=now + timedelta(minutes=25),
                ),
                actor=cast.supervisor or actor,
            )  # fmt: skip
            appointment_apply_due()
            done.append(f"{agent.username} is in a meeting")
        elif index == 4 and cast.approval_status is not None:
            if not StatusRequest.objects.filter(agent_id=agent.pk, state=StatusRequest.State.PENDING).exists():
                presence_request_status(
                    agent, cast.approval_status, actor=agent, source=Source.DROPDOWN, reason=LEAVE_EARLY
                )
            done.append(f"{agent.username} asks to be {cast.approval_status.name}")
    return done
