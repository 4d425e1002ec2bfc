"""The adherence report (C8): per agent and day, shift time in a status that fits the shift, and
break time against the shift type's budget, with hand-computed expectations."""

from datetime import UTC, datetime

import pytest
import time_machine

from presence.models import StatusChangeLog
from presence.shared.reports import REPORTS, Period
from scheduling.models import Shift, ShiftType
from scheduling.reports import adherence, adherence_summary
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def utc(day, hour, minute=0):
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


PERIOD = Period(since=utc(10, 0), until=utc(12, 0))


@pytest.fixture
def day(statuses) -> ShiftType:
    shift_type = ShiftType.objects.create(
        name="Day", default_status=statuses["available"], break_minutes=30, break_count=2
    )
    shift_type.break_statuses.set([statuses["lunch"], statuses["short-break"]])
    return shift_type


def _log(agent, statuses, steps) -> None:
    for at, old, new in steps:
        StatusChangeLog.objects.create(
            agent=agent, at=at, source="api", from_status=statuses[old], from_status_name=statuses[old].name,
            to_status=statuses[new], to_status_name=statuses[new].name,
        )  # fmt: skip


@pytest.fixture
def rita(statuses, day):
    """08:00-16:00: 15 minutes of short break, 40 of lunch (25 past the budget), half an hour in a
    meeting (not a break her shift allows) and the last half hour Offline."""
    with time_machine.travel(utc(1, 0), tick=False):
        agent = AgentFactory(username="rita", status=statuses["offline"])
    Shift.objects.create(agent=agent, shift_type=day, start=utc(10, 8), end=utc(10, 16))
    _log(agent, statuses, [
        (utc(10, 7, 30), "offline", "available"),
        (utc(10, 10), "available", "short-break"),
        (utc(10, 10, 15), "short-break", "available"),
        (utc(10, 12), "available", "lunch"),
        (utc(10, 12, 40), "lunch", "available"),
        (utc(10, 14), "available", "meeting"),
        (utc(10, 14, 30), "meeting", "available"),
        (utc(10, 15, 30), "available", "offline"),
    ])  # fmt: skip
    return agent


def test_adherence_and_break_overage_per_day(rita):
    with time_machine.travel(utc(12, 0), tick=False):
        [row] = adherence(PERIOD)
    assert (row["username"], row["day"]) == ("rita", "2026-01-10")
    # 8 hours, less 25 minutes past the break budget, 30 in the meeting and 30 Offline
    assert (row["shift_seconds"], row["fitting_seconds"]) == (8 * 3600, (480 - 85) * 60)
    assert (row["break_used_seconds"], row["break_allowed_seconds"], row["break_overage_seconds"]) == (
        55 * 60, 30 * 60, 25 * 60,
    )  # fmt: skip
    assert (row["shift"], row["fitting"], row["break_used"], row["break_allowed"], row["break_overage"]) == (
        "8:00", "6:35", "0:55", "0:30", "0:25",
    )  # fmt: skip
    assert (row["breaks_taken"], row["breaks_allowed"], row["adherence_percent"]) == (2, 2, 82.3)
    summary = adherence_summary([row])
    assert summary.rows == [["rita", "8:00", "6:35", "82.3 %", "0:55", "0:25"]] and summary.footer[0] == "Total"


def test_a_night_shift_splits_its_time_at_midnight_and_keeps_its_breaks_on_its_first_day(statuses, day):
    with time_machine.travel(utc(1, 0), tick=False):
        nick = AgentFactory(username="nick", status=statuses["offline"])
    Shift.objects.create(agent=nick, shift_type=day, start=utc(10, 20), end=utc(11, 4))
    _log(nick, statuses, [
        (utc(10, 20), "offline", "available"),
        (utc(11, 1), "available", "lunch"),
        (utc(11, 1, 20), "lunch", "available"),
    ])  # fmt: skip
    off = ShiftType.objects.create(name="Off", default_status=statuses["out-of-office"], off_duty=True)
    Shift.objects.create(agent=nick, shift_type=off, start=utc(11, 8), end=utc(11, 20))  # not a working shift
    with time_machine.travel(utc(12, 0), tick=False):
        rows = {row["day"]: row for row in adherence(PERIOD)}
    assert set(rows) == {"2026-01-10", "2026-01-11"}
    first, second = rows["2026-01-10"], rows["2026-01-11"]
    assert (first["shift_seconds"], first["fitting_seconds"], first["adherence_percent"]) == (14400, 14400, 100.0)
    assert (first["break_used_seconds"], first["break_overage_seconds"], first["breaks_taken"]) == (1200, 0, 1)
    assert (second["shift_seconds"], second["fitting_seconds"]) == (14400, 14400)  # the break is within budget
    assert (second["break_used_seconds"], second["break_allowed_seconds"], second["breaks_allowed"]) == (0, None, None)
    assert (second["break_allowed"], second["break_overage"]) == ("", "")


def test_only_shift_time_so_far_counts(rita):
    with time_machine.travel(utc(10, 12), tick=False):  # four hours in, on lunch since noon
        [row] = adherence(PERIOD)
    assert (row["shift_seconds"], row["fitting_seconds"], row["break_used_seconds"]) == (4 * 3600, 4 * 3600, 15 * 60)


def test_adherence_csv_has_seconds_and_hours(supervisor_api, rita):
    assert "adherence" in REPORTS
    params = {"since": "2026-01-10T00:00:00Z", "until": "2026-01-12T00:00:00Z", "format": "csv"}
    with time_machine.travel(utc(12, 0), tick=False):
        lines = supervisor_api.get("/api/v1/reports/adherence/", params).content.decode().strip().splitlines()
    assert lines == [
        "username,day,shift_seconds,fitting_seconds,break_used_seconds,break_allowed_seconds,break_overage_seconds,"
        "shift,fitting,break_used,break_allowed,break_overage,breaks_taken,breaks_allowed,adherence_percent",
        "rita,2026-01-10,28800,23700,3300,1800,1500,8:00,6:35,0:55,0:30,0:25,2,2,82.3",
    ]


def test_the_admin_reports_page_shows_adherence(client, admin_user, rita):
    with time_machine.travel(utc(12, 0), tick=False):
        client.force_login(admin_user)
        page = client.get("/admin/reports/", {"report": "adherence", "since": "2026-01-10 00:00",
                                              "until": "2026-01-12 00:00"})  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200 and "<td>6:35</td>" in html and "<td>82.3</td>" in html
    assert "Break over budget" in html
