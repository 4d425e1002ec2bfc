"""The coverage alarm's writes (C7): the sweep that keeps every team's `TeamCoverage`, and the
opening hours supervisors edit on the team.

`coverage_check` runs every 30 seconds (the `presence-coverage-check` periodic task). For each
team it compares the routable headcount with the minimum in force (the team's
`coverage_minimum` while it is open, else 0; presence.coverage says what both mean), writes the
state, and when a team's deficit starts, changes or clears it sends `coverage_changed` (the
webhooks app turns it into `coverage.changed`) and, when one starts or clears, mails the
supervisors once the sweep has committed.

It costs the same number of statements whatever the number of teams:

1. lock every coverage row, in team order (`SELECT ... FOR UPDATE`): two sweeps at once take
   turns, and the second sees what the first wrote, so each change is announced once;
2. the teams with their opening hours, one LEFT JOIN;
3. only when there are teams without a row yet: insert their rows, and lock them;
4. the routable members per team, one grouped count;
5. one UPDATE stamping `checked_at` on every row, and one bulk UPDATE of the rows whose state
   changed (none when nothing did);
6. when a deficit started, changed or cleared: the signal's receivers (webhooks: one read of the
   subscriptions, one INSERT of the deliveries); when one started or cleared, one read of the
   supervisors' addresses.

On SQLite there are no row locks; its single writer serialises two sweeps all the same.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from presence.coverage import routable_counts, team_hours_by_id
from presence.models import TeamCoverage, TeamOpeningHours
from presence.signals import coverage_changed

logger = logging.getLogger(__name__)

STATE_FIELDS = ["open", "required", "routable", "deficit", "since", "checked_at"]


@dataclass(frozen=True)
class CoverageChange:
    """A team whose deficit started, changed or cleared in one sweep (the signal's `changes`)."""

    team_id: int
    team_name: str
    open: bool
    required: int
    routable: int
    deficit: int
    previous_deficit: int
    since: datetime | None  # when the deficit began; None once it cleared
    changed_at: datetime

    @property
    def started(self) -> bool:
        return not self.previous_deficit and bool(self.deficit)

    @property
    def cleared(self) -> bool:
        return bool(self.previous_deficit) and not self.deficit


def coverage_check(now: datetime | None = None) -> list[CoverageChange]:
    """Bring every team's coverage state up to date; returns the teams whose deficit changed."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = {row.team_id: row for row in TeamCoverage.objects.select_for_update().order_by("team_id")}
        teams = team_hours_by_id()
        missing = [team_id for team_id in teams if team_id not in rows]
        if missing:
            # Another sweep may insert the same rows meanwhile: theirs stand, and are read locked.
            new = [TeamCoverage(team_id=team_id) for team_id in missing]
            TeamCoverage.objects.bulk_create(new, ignore_conflicts=True)
            rows.update(
                (row.team_id, row)
                for row in TeamCoverage.objects.select_for_update().filter(team_id__in=missing).order_by("team_id")
            )
        counts = routable_counts()
        changed_rows, changes = [], []
        for team_id, team in teams.items():
            row = rows.get(team_id)
            if row is None:  # the team was deleted while we read
                continue
            is_open = team.open_at(now)
            required = team.minimum if is_open else 0
            routable = counts.get(team_id, 0)
            deficit = max(0, required - routable)
            previous = row.deficit
            since = (row.since or now) if deficit and previous else (now if deficit else None)
            state = (is_open, required, routable, deficit, since)
            if state != (row.open, row.required, row.routable, row.deficit, row.since):
                row.open, row.required, row.routable, row.deficit, row.since = state
                row.checked_at = now
                changed_rows.append(row)
            if deficit != previous:
                changes.append(
                    CoverageChange(team_id, team.name, is_open, required, routable, deficit, previous, since, now)
                )
        TeamCoverage.objects.update(checked_at=now)
        if changed_rows:
            TeamCoverage.objects.bulk_update(changed_rows, STATE_FIELDS)
        if changes:
            coverage_changed.send(sender=TeamCoverage, changes=changes)
            _mail_supervisors(changes)
    if changes:
        logger.info("Coverage: %s", ", ".join(f"{c.team_name} {c.previous_deficit}->{c.deficit}" for c in changes))
    return changes


# --- mail ----------------------------------------------------------------------------------------


def _supervisor_addresses() -> list[str]:
    """Active staff members of the supervisors group with an address (presence/roles.py)."""
    users = get_user_model().objects.filter(
        is_active=True, is_staff=True, groups__name=settings.PRESENCE_SUPERVISORS_GROUP
    )
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))


def _subject(started: list[CoverageChange], cleared: list[CoverageChange]) -> str:
    if len(started) == 1:
        names = {"team": started[0].team_name, "deficit": started[0].deficit}
        return ngettext(
            "Coverage alarm: %(team)s is %(deficit)s agent short",
            "Coverage alarm: %(team)s is %(deficit)s agents short",
            started[0].deficit,
        ) % names  # fmt: skip
    if started:
        return _("Coverage alarm: %(count)s teams short of agents") % {"count": len(started)}
    if len(cleared) == 1:
        return _("Coverage restored: %(team)s") % {"team": cleared[0].team_name}
    return _("Coverage restored: %(count)s teams") % {"count": len(cleared)}


def _line(change: CoverageChange) -> str:
    names = {"team": change.team_name, "deficit": change.deficit, "routable": change.routable,
             "required": change.required}  # fmt: skip
    if change.started:
        return ngettext(
            "%(team)s is open and has %(routable)s of the %(required)s agent it needs who can receive work.",
            "%(team)s is open and has %(routable)s of the %(required)s agents it needs who can receive work.",
            change.required,
        ) % names  # fmt: skip
    if change.open:
        return _("%(team)s has enough agents who can receive work again.") % names
    return _("%(team)s has closed: its coverage alarm is over.") % names


def _mail_supervisors(changes: list[CoverageChange]) -> None:
    """One mail to the supervisors for a sweep in which deficits started or cleared (not when one
    only grew or shrank), sent once the sweep has committed."""
    started = [change for change in changes if change.started]
    cleared = [change for change in changes if change.cleared]
    if not (started or cleared):
        return
    to = _supervisor_addresses()
    if not to:
        return
    lines = [_line(change) for change in started + cleared]
    if started:
        lines.append(_("The supervisor board shows each alarm until the team has enough agents again."))
    message = EmailMessage(_subject(started, cleared), "\n\n".join(lines), to=to)

    def send() -> None:
        try:
            get_connection().send_messages([message])
        except Exception:  # noqa: BLE001 - a mail server down must not fail the sweep
            logger.exception("Coverage: the mail to the supervisors could not be sent")

    transaction.on_commit(send)


# --- opening hours (admin) -----------------------------------------------------------------------


def team_opening_hours_save(hours: TeamOpeningHours, *, actor) -> TeamOpeningHours:
    """Add or change one of a team's opening-hours rows (the team admin's inline)."""
    hours.full_clean()
    hours.save()
    return hours


def team_opening_hours_delete(hours: TeamOpeningHours, *, actor) -> None:
    hours.delete()
