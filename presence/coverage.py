"""The coverage alarm (C7): when a team is open, what it counts, and the reads built on them.

A team with a minimum (`Team.coverage_minimum` > 0) is **open** while one of its opening-hours
rows covers the moment, read on the wall clock of the team's `coverage_time_zone`: from `opens`
on `weekday` to `closes` the same day, or the next day when `closes` is at or before `opens`
(22:00-06:00 runs overnight; 08:00-08:00 is a whole day). Opening and closing times are turned
into instants on their own day, so a range across a change of the clocks lasts what the clocks
say (Saturday 22:00 to Sunday 06:00 is 7 hours on the night the clocks go forward, 9 on the night
they go back). A time the clocks skip (02:30 when they jump from 02:00 to 03:00) is read with the
offset before the jump, an hour later on the clock (03:30); a time that happens twice is the
first one.

The **routable headcount** of a team is its members whose membership is `routable` (the one
routing rule for any ticket, on an active membership of an active account: kept by
presence.services.routing_columns). Members in a tentative status count (they do take the
team's work, as overflow); members routable only for chat-linked tickets do not.

The state itself is kept by the sweep (presence.services.coverage) in `TeamCoverage`; the board
and the API read it from there, and only the dropdown's warning counts live.
"""

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from presence.eligibility import is_eligible
from presence.models import AgentPresence, Status, Team, TeamCoverage, TeamMembership

# (weekday, opens, closes) of one opening-hours row.
Hours = tuple[int, time, time]

# What the sweep and the warning read of a team and its hours, in one LEFT JOIN.
TEAM_HOURS_FIELDS = ("name", "coverage_minimum", "coverage_time_zone", "opening_hours__weekday",
                     "opening_hours__opens", "opening_hours__closes")  # fmt: skip


def team_zone(name: str) -> zoneinfo.ZoneInfo:
    """The team's zone: empty, or a name the model refuses (one written around its validation),
    is the site's TIME_ZONE."""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _instant(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    # fold=0: a skipped time takes the offset before the jump, a repeated time its first pass.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def is_open(hours: Iterable[Hours], zone: zoneinfo.ZoneInfo, now: datetime) -> bool:
    """Whether one of these ranges covers `now` (an aware datetime)."""
    today = now.astimezone(zone).date()
    # A range is at most a day long, so only one that began today or yesterday can cover now.
    for weekday, opens, closes in hours:
        for day in (today, today - timedelta(days=1)):
            if day.weekday() != weekday:
                continue
            start = _instant(day, opens, zone)
            end = _instant(day + timedelta(days=1) if closes <= opens else day, closes, zone)
            if start <= now < end:
                return True
    return False


@dataclass
class TeamHours:
    team_id: int
    name: str
    minimum: int
    zone: zoneinfo.ZoneInfo
    hours: list[Hours]

    def open_at(self, now: datetime) -> bool:
        return self.minimum > 0 and is_open(self.hours, self.zone, now)


def team_hours(rows: Iterable[dict], *, team_key: str = "id", prefix: str = "") -> dict[int, TeamHours]:
    """Teams and their opening hours from `values(...)` rows of a LEFT JOIN (a team without hours
    comes as one row with empty hours), by team id."""
    teams: dict[int, TeamHours] = {}
    for row in rows:
        team_id = row[team_key]
        team = teams.get(team_id)
        if team is None:
            team = teams[team_id] = TeamHours(team_id, row[f"{prefix}name"], row[f"{prefix}coverage_minimum"],
                                              team_zone(row[f"{prefix}coverage_time_zone"]), [])  # fmt: skip
        if row[f"{prefix}opening_hours__weekday"] is not None:
            team.hours.append((row[f"{prefix}opening_hours__weekday"], row[f"{prefix}opening_hours__opens"],
                               row[f"{prefix}opening_hours__closes"]))  # fmt: skip
    return teams


def routable_counts(team_ids: Iterable[int] | None = None) -> dict[int, int]:
    """The routable headcount per team: one grouped count (teams with nobody routable are absent)."""
    members = TeamMembership.objects.filter(routable=True)
    if team_ids is not None:
        members = members.filter(team_id__in=list(team_ids))
    return dict(members.values("team_id").annotate(n=Count("pk")).order_by().values_list("team_id", "n"))


# --- reads ---------------------------------------------------------------------------------------


def coverage_alarms() -> QuerySet[TeamCoverage]:
    """The teams short of agents now, as the last sweep saw them: the board's red banners."""
    return TeamCoverage.objects.filter(deficit__gt=0).select_related("team").order_by("team__name", "team_id")


def coverage_list() -> QuerySet[Team]:
    """Every team with its coverage state (`team.coverage`, missing until the first sweep)."""
    return Team.objects.select_related("coverage").order_by("name", "pk")


@dataclass(frozen=True)
class SwitchWarning:
    team_id: int
    name: str
    minimum: int
    routable: int

    def sentence(self) -> str:
        if self.routable <= 1:
            return _("You are the last agent in %(team)s.") % {"team": self.name}
        names = {"team": self.name, "minimum": self.minimum}
        if self.routable >= self.minimum:
            return (
                ngettext(
                    "%(team)s would drop below its minimum of %(minimum)s agent.",
                    "%(team)s would drop below its minimum of %(minimum)s agents.",
                    self.minimum,
                )
                % names
            )
        return (
            ngettext(
                "%(team)s is already below its minimum of %(minimum)s agent.",
                "%(team)s is already below its minimum of %(minimum)s agents.",
                self.minimum,
            )
            % names
        )


def coverage_switch_warnings(agent, status: Status, *, now: datetime | None = None) -> list[SwitchWarning]:
    """The agent's teams that their own switch to `status` would leave short (C7): teams that are
    open now, with a minimum, in which the agent counts as routable, when `status` would not
    let them get work automatically. A status that needs approval changes nothing yet: no
    warning. Counted live (two queries), not from the sweep's state, which may be 30 s old; it
    is a warning, read before the change and not under its lock."""
    if status.requires_approval or is_eligible(AgentPresence(status=status), chat=False):
        return []
    now = now or timezone.now()
    rows = (
        TeamMembership.objects.filter(agent_id=agent.pk, routable=True, team__coverage_minimum__gt=0)
        .values("team_id", *(f"team__{field}" for field in TEAM_HOURS_FIELDS))
        .order_by("team__name", "team_id")
    )
    teams = [team for team in team_hours(rows, team_key="team_id", prefix="team__").values() if team.open_at(now)]
    if not teams:
        return []
    counts = routable_counts(team.team_id for team in teams)
    return [
        SwitchWarning(team.team_id, team.name, team.minimum, counts.get(team.team_id, 0))
        for team in teams
        if counts.get(team.team_id, 0) - 1 < team.minimum
    ]


def coverage_switch_question(warnings: list[SwitchWarning]) -> str:
    """What the dropdown asks before such a switch: one sentence per team, then "Switch anyway?"."""
    return " ".join([*(warning.sentence() for warning in warnings), _("Switch anyway?")])


def team_hours_by_id(team_ids: Iterable[int] | None = None) -> dict[int, TeamHours]:
    """Every team (or these) with its minimum, zone and hours: one query."""
    teams = Team.objects.all() if team_ids is None else Team.objects.filter(pk__in=list(team_ids))
    return team_hours(teams.values("id", *TEAM_HOURS_FIELDS).order_by("id"), team_key="id")
