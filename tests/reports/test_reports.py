"""Reports with hand-computed expectations (R1, R2, R3)."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from presence.models import StatusChangeLog
from presence.reports import status_log_rows, time_in_status, time_in_status_summary, time_in_status_svg
from presence.shared.reports import Period, hours_minutes
from scheduling.models import Shift, ShiftType
from scheduling.reports import compliance_summary, schedule_compliance
from tests.factories import AgentFactory, TicketFactory
from tickets.reports import workload
from tickets.services import ticket_assign, ticket_close

pytestmark = pytest.mark.django_db


def utc(day, hour, minute=0):
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


PERIOD = Period(since=utc(10, 12), until=utc(11, 12))


@pytest.fixture
def ann(statuses):
    """A log that starts before the period, crosses midnight and ends after it:
    08:00 Available, 20:00 After work, 02:00 Offline, 11:00 Available, 13:00 Busy."""
    with time_machine.travel(utc(1, 0), tick=False):
        agent = AgentFactory(username="rita", status=statuses["busy"])
    steps = [
        (utc(10, 8), "offline", "available"),
        (utc(10, 20), "available", "after-work"),
        (utc(11, 2), "after-work", "offline"),
        (utc(11, 11), "offline", "available"),
        (utc(11, 13), "available", "busy"),
    ]
    for at, old, new in steps:
        StatusChangeLog.objects.create(
            agent=agent, at=at, source="api", from_status=statuses[old], from_status_name=statuses[old].name,
            to_status=statuses[new], to_status_name=statuses[new].name,
        )  # fmt: skip
    return agent


def _seconds(rows) -> dict:
    return {(r["day"], r["status_name"]): r["seconds"] for r in rows}


def test_time_in_status_split_at_midnight_and_period_edges(ann, statuses):
    statuses["after-work"].count_time_after_dialogs_closed = False
    statuses["after-work"].save()
    assert _seconds(time_in_status(PERIOD)) == {
        ("2026-01-10", "Available"): 8 * 3600,  # 12:00 (period start) - 20:00
        ("2026-01-10", "After work"): 4 * 3600,  # 20:00 - midnight
        ("2026-01-11", "After work"): 2 * 3600,  # midnight - 02:00
        ("2026-01-11", "Offline"): 9 * 3600,  # 02:00 - 11:00
        ("2026-01-11", "Available"): 1 * 3600,  # 11:00 - 12:00 (period end)
    }


def test_time_after_dialogs_closed_counts_only_without_open_work(ann, statuses):
    assert statuses["after-work"].count_time_after_dialogs_closed  # built-in S2 setting
    with time_machine.travel(utc(10, 19), tick=False):
        ticket = TicketFactory(subject="late one", assignee=ann, assigned_at=utc(10, 19))
    with time_machine.travel(utc(10, 21, 30), tick=False):
        ticket_close(ticket, actor=ann)
    seconds = _seconds(time_in_status(PERIOD))
    assert seconds[("2026-01-10", "After work")] == int(2.5 * 3600)  # 21:30 - midnight only
    assert seconds[("2026-01-11", "After work")] == 2 * 3600
    assert seconds[("2026-01-10", "Available")] == 8 * 3600  # other statuses count as before


def test_time_in_status_in_another_time_zone(ann, statuses):
    import zoneinfo

    statuses["after-work"].count_time_after_dialogs_closed = False
    statuses["after-work"].save()
    berlin = Period(PERIOD.since, PERIOD.until, zone=zoneinfo.ZoneInfo("Europe/Berlin"))  # UTC+1 in January
    seconds = _seconds(time_in_status(berlin))
    assert seconds[("2026-01-10", "After work")] == 3 * 3600  # 21:00-24:00 Berlin = 20:00-23:00 UTC
    assert seconds[("2026-01-11", "After work")] == 3 * 3600


def test_agent_without_log_counts_in_current_status_from_when_it_began(statuses):
    with time_machine.travel(utc(10, 6), tick=False):
        AgentFactory(username="bob", status=statuses["training"])
    with time_machine.travel(utc(10, 18), tick=False):
        AgentFactory(username="cid", status=statuses["training"])
    seconds = {(r["username"], r["day"]): r["seconds"] for r in time_in_status(PERIOD)}
    assert seconds == {
        ("bob", "2026-01-10"): 12 * 3600,
        ("bob", "2026-01-11"): 12 * 3600,
        ("cid", "2026-01-10"): 6 * 3600,  # joined at 18:00
        ("cid", "2026-01-11"): 12 * 3600,
    }


def test_nothing_counts_before_the_agent_joined(statuses):
    with time_machine.travel(utc(10, 22), tick=False):
        dee = AgentFactory(username="dee")
    StatusChangeLog.objects.create(
        agent=dee,
        at=utc(11, 1),
        source="login",
        from_status=statuses["offline"],
        from_status_name="Offline",
        to_status=statuses["available"],
        to_status_name="Available",
    )
    assert _seconds(time_in_status(PERIOD)) == {
        ("2026-01-10", "Offline"): 2 * 3600,
        ("2026-01-11", "Offline"): 3600,
        ("2026-01-11", "Available"): 11 * 3600,
    }


def test_status_log_report_filters(ann):
    rows = status_log_rows(PERIOD)
    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        ("Available", "After work"), ("After work", "Offline"), ("Offline", "Available"),
    ]  # fmt: skip
    assert status_log_rows(Period(PERIOD.since, PERIOD.until, source="supervisor")) == []


def test_workload_report(make_agent, statuses):
    with time_machine.travel(utc(10, 13), tick=False):
        cara = make_agent("cara")
        first = TicketFactory(subject="a")
        second = TicketFactory(subject="b")
        ticket_assign(first, cara, actor=None)
        ticket_assign(second, cara, actor=None)
    with time_machine.travel(utc(10, 15), tick=False):
        ticket_close(first, actor=cara)
    with time_machine.travel(utc(12, 0), tick=False):  # after the period
        ticket_assign(TicketFactory(subject="c"), cara, actor=None)
    row = next(r for r in workload(PERIOD) if r["username"] == "cara")
    assert (row["assigned"], row["closed"], row["open_now"]) == (2, 1, 2)


def test_schedule_compliance(ann, statuses):
    day = ShiftType.objects.create(name="Day", default_status=statuses["available"])
    Shift.objects.create(agent=ann, shift_type=day, start=utc(10, 12), end=utc(10, 20))
    Shift.objects.create(agent=ann, shift_type=day, start=utc(11, 8), end=utc(11, 12))
    rows = {r["day"]: r for r in schedule_compliance(PERIOD)}
    assert (rows["2026-01-10"]["scheduled_seconds"], rows["2026-01-10"]["receiving_seconds"]) == (8 * 3600, 8 * 3600)
    assert rows["2026-01-10"]["compliance_percent"] == 100.0
    assert (rows["2026-01-11"]["scheduled_seconds"], rows["2026-01-11"]["receiving_seconds"]) == (4 * 3600, 3600)
    assert rows["2026-01-11"]["compliance_percent"] == 25.0


def test_chart_is_a_stacked_bar_per_agent(ann, statuses):
    svg = time_in_status_svg(time_in_status(PERIOD))
    assert svg.startswith("<svg") and ">rita</text>" in svg
    assert statuses["available"].color in svg and "After work" in svg


# --- API and admin -----------------------------------------------------------------------------


def test_report_api_json_and_csv(supervisor_api, agent_api, ann, statuses):
    params = {"since": "2026-01-10T12:00:00Z", "until": "2026-01-11T12:00:00Z"}
    body = supervisor_api.get("/api/v1/reports/time-in-status/", params).json()
    assert body["columns"] == ["username", "day", "status_name", "seconds", "duration"] and len(body["rows"]) == 5
    csv = supervisor_api.get("/api/v1/reports/time-in-status/", {**params, "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0] == "username,day,status_name,seconds,duration" and "rita,2026-01-10,Available,28800,8:00" in lines
    assert supervisor_api.get("/api/v1/reports/workload/", params).status_code == 200
    assert supervisor_api.get("/api/v1/reports/schedule-compliance/", params).status_code == 200
    assert supervisor_api.get("/api/v1/reports/status-log/", {**params, "source": "api"}).json()["rows"]
    assert agent_api.get("/api/v1/reports/workload/").status_code == 403
    assert supervisor_api.get("/api/v1/reports/nope/").status_code == 404
    bad = supervisor_api.get("/api/v1/reports/workload/", {"since": "2026-01-11T00:00Z", "until": "2026-01-10T00:00Z"})
    assert bad.status_code == 400 and "before" in bad.json()["message"]
    assert supervisor_api.get("/api/v1/reports/workload/", {"since": "yesterday"}).status_code == 400
    assert supervisor_api.get("/api/v1/reports/workload/", {"tz": "Mars/Olympus"}).status_code == 400


def test_admin_reports_page_with_chart(client, admin_user, ann):
    client.force_login(admin_user)
    page = client.get(
        "/admin/reports/", {"report": "time-in-status", "since": "2026-01-10 12:00", "until": "2026-01-11 12:00"}
    )
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<td>8:00</td>" in html and 'id="csv-link"' in html
    assert client.get("/admin/reports/", {"report": "workload"}).status_code == 200
    assert "Reports" in client.get("/admin/").content.decode()


def test_reports_page_needs_a_supervisor(client, agent):
    client.force_login(agent)
    assert client.get("/admin/reports/").status_code == 302


# --- readable reports: h:mm, words, totals, the chart agreeing with the table ---------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00"), (29, "0:00"), (30, "0:01"), (89, "0:01"), (3599, "1:00"), (28800, "8:00"), (95400, "26:30")],
)
def test_durations_read_as_hours_and_minutes(seconds, shown):
    assert hours_minutes(seconds) == shown
    assert hours_minutes(None) == ""


def test_time_in_status_rows_keep_seconds_and_add_hours_minutes(ann, statuses):
    rows = {(r["day"], r["status_name"]): r for r in time_in_status(PERIOD)}
    available = rows[("2026-01-10", "Available")]
    assert (available["seconds"], available["duration"]) == (8 * 3600, "8:00")


@pytest.fixture
def sol(statuses):
    """A second agent whose changes fall on odd seconds, so rounding shows: 12:00 Available,
    12:10:29 Busy, 12:20:59 Available, 12:31:00 Lunch, 13:00:31 Available, until the period ends."""
    with time_machine.travel(utc(1, 0), tick=False):
        agent = AgentFactory(username="sol", status=statuses["available"])
    steps = [
        (utc(10, 11), "offline", "available"),
        (datetime(2026, 1, 10, 12, 10, 29, tzinfo=UTC), "available", "busy"),
        (datetime(2026, 1, 10, 12, 20, 59, tzinfo=UTC), "busy", "available"),
        (datetime(2026, 1, 10, 12, 31, 0, tzinfo=UTC), "available", "lunch"),
        (datetime(2026, 1, 10, 13, 0, 31, tzinfo=UTC), "lunch", "available"),
    ]
    for at, old, new in steps:
        StatusChangeLog.objects.create(
            agent=agent, at=at, source="api", from_status=statuses[old], from_status_name=statuses[old].name,
            to_status=statuses[new], to_status_name=statuses[new].name,
        )  # fmt: skip
    return agent


def test_totals_per_agent_and_per_status(ann, sol, statuses):
    statuses["after-work"].count_time_after_dialogs_closed = False
    statuses["after-work"].save()
    summary = time_in_status_summary(time_in_status(PERIOD))
    # statuses across in the catalogue's order, agents down by name, totals last
    assert summary.header == ["Agent", "Available", "Busy", "Lunch", "After work", "Offline", "Total"]
    table = {row[0]: dict(zip(summary.header[1:], row[1:], strict=True)) for row in summary.rows}
    assert table["rita"] == {
        "Available": "9:00", "Busy": "", "Lunch": "", "After work": "6:00", "Offline": "9:00", "Total": "24:00",
    }  # fmt: skip
    # sol: Available 0:10:29 + 0:10:01 + 22:59:29, Busy 0:10:30, Lunch 0:29:31
    assert table["sol"] == {
        "Available": "23:20", "Busy": "0:11", "Lunch": "0:30", "After work": "", "Offline": "", "Total": "24:00",
    }  # fmt: skip
    assert summary.footer == ["Total", "32:20", "0:11", "0:30", "6:00", "9:00", "48:00"]


def _chart_numbers(svg: str) -> tuple[dict, dict]:
    pieces = {
        (agent, status): shown for agent, status, shown in re.findall(r"<title>(.+?), (.+?): (\d+:\d\d)</title>", svg)
    }
    totals = dict(re.findall(r'class="total" data-agent="(.+?)">(\d+:\d\d)<', svg))
    return pieces, totals


def test_chart_and_totals_table_show_the_same_numbers(ann, sol, statuses):
    rows = time_in_status(PERIOD)
    pieces, totals = _chart_numbers(time_in_status_svg(rows))
    summary = time_in_status_summary(rows)
    statuses_across = summary.header[1:-1]
    for row in summary.rows:
        agent, cells, total = row[0], row[1:-1], row[-1]
        assert totals[agent] == total
        for status, shown in zip(statuses_across, cells, strict=True):
            assert pieces.get((agent, status), "") == shown
    assert len(pieces) == sum(1 for row in summary.rows for cell in row[1:-1] if cell)


def test_admin_report_page_reads_in_words_and_hours(client, admin_user, ann, sol, statuses):
    client.force_login(admin_user)
    page = client.get(
        "/admin/reports/", {"report": "time-in-status", "since": "2026-01-10 12:00", "until": "2026-01-11 12:00"}
    )
    html = page.content.decode()
    detail = html[html.index('id="report-table"') :]
    headers = re.findall(r"<th>(.*?)</th>", detail[: detail.index("</thead>")])
    assert headers == ["Agent", "Day", "Status", "Time in status"]
    assert "status_name" not in html and "<td>28800</td>" not in detail
    totals = html[html.index('id="report-totals"') : html.index('id="report-table"')]
    assert '<th scope="row">sol</th>' in totals and "<td>0:11</td>" in totals and "<td>23:20</td>" in totals
    pieces, chart_totals = _chart_numbers(html[html.index('<figure id="chart">') : html.index("</figure>")])
    assert pieces[("sol", "Busy")] == "0:11" and chart_totals == {"rita": "24:00", "sol": "24:00"}
    workload = client.get("/admin/reports/", {"report": "workload"}).content.decode()
    assert "<th>Agent</th>" in workload and "<th>Open now</th>" in workload


# --- schedule compliance: flagged statuses, off-duty shifts ------------------------------------------------------


@pytest.fixture
def long_shift(ann, statuses):
    """Rita's 10-hour shift 12:00-22:00: Available until 20:00, then After work (flagged)."""
    long = ShiftType.objects.create(name="Long", default_status=statuses["available"])
    return Shift.objects.create(agent=ann, shift_type=long, start=utc(10, 12), end=utc(10, 22))


def test_compliance_counts_a_flagged_status_while_dialogs_are_still_open(ann, statuses, long_shift):
    assert statuses["after-work"].count_time_after_dialogs_closed
    with time_machine.travel(utc(10, 19), tick=False):
        ticket = TicketFactory(subject="late one", assignee=ann, assigned_at=utc(10, 19))
    with time_machine.travel(utc(10, 21, 30), tick=False):
        ticket_close(ticket, actor=ann)
    [row] = schedule_compliance(PERIOD)
    # Available 12:00-20:00, and After work 20:00-21:30 while the ticket was still open
    assert (row["scheduled_seconds"], row["receiving_seconds"]) == (10 * 3600, int(9.5 * 3600))
    assert (row["scheduled"], row["working"], row["compliance_percent"]) == ("10:00", "9:30", 95.0)


def test_compliance_leaves_out_a_flagged_status_once_dialogs_are_closed(ann, statuses, long_shift):
    [row] = schedule_compliance(PERIOD)
    assert (row["receiving_seconds"], row["compliance_percent"]) == (8 * 3600, 80.0)
    # a flag off: After work is a status like any other that does not receive
    statuses["after-work"].count_time_after_dialogs_closed = False
    statuses["after-work"].save()
    with time_machine.travel(utc(10, 19), tick=False):
        TicketFactory(subject="open all evening", assignee=ann, assigned_at=utc(10, 19))
    assert schedule_compliance(PERIOD)[0]["compliance_percent"] == 80.0


def test_compliance_ignores_off_duty_shift_types(ann, statuses, long_shift):
    day_off = ShiftType.objects.create(name="Day off", default_status=statuses["out-of-office"], off_duty=True)
    Shift.objects.create(agent=ann, shift_type=day_off, start=utc(11, 0), end=utc(11, 12))
    rows = schedule_compliance(PERIOD)
    assert [r["day"] for r in rows] == ["2026-01-10"]  # nothing due on the day off
    assert schedule_compliance(Period(utc(11, 0), utc(11, 12))) == []
    summary = compliance_summary(rows)
    assert summary.header == ["Agent", "Scheduled", "Working", "Compliance"]
    assert summary.rows == [["rita", "10:00", "8:00", "80.0 %"]] and summary.footer[0] == "Total"


def test_compliance_csv_has_seconds_and_hours(supervisor_api, ann, statuses, long_shift):
    params = {"since": "2026-01-10T12:00:00Z", "until": "2026-01-11T12:00:00Z", "format": "csv"}
    lines = supervisor_api.get("/api/v1/reports/schedule-compliance/", params).content.decode().strip().splitlines()
    assert lines == [
        "username,day,scheduled_seconds,receiving_seconds,scheduled,working,compliance_percent",
        "rita,2026-01-10,36000,28800,10:00,8:00,80.0",
    ]


def test_csv_keeps_formula_protection_next_to_readable_columns(supervisor_api, ann, statuses):
    statuses["available"].name = "=HYPERLINK(1)"
    statuses["available"].save()
    params = {"since": "2026-01-10T12:00:00Z", "until": "2026-01-11T12:00:00Z", "format": "csv"}
    lines = supervisor_api.get("/api/v1/reports/time-in-status/", params).content.decode().strip().splitlines()
    assert "rita,2026-01-10,'=HYPERLINK(1),28800,8:00" in lines
