"""Reports with hand-computed expectations (R1, R2, R3)."""

from datetime import UTC, datetime

import pytest
import time_machine

from presence.models import StatusChangeLog
from presence.reports import Period, status_log_rows, time_in_status, time_in_status_svg
from scheduling.models import Shift, ShiftType
from scheduling.reports import schedule_compliance
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
    assert body["columns"] == ["username", "day", "status_name", "seconds"] and len(body["rows"]) == 5
    csv = supervisor_api.get("/api/v1/reports/time-in-status/", {**params, "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0] == "username,day,status_name,seconds" and "rita,2026-01-10,Available,28800" in lines
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
    assert page.status_code == 200 and "<svg" in html and "28800" in html and 'id="csv-link"' in html
    assert client.get("/admin/reports/", {"report": "workload"}).status_code == 200
    assert "Reports" in client.get("/admin/").content.decode()


def test_reports_page_needs_a_supervisor(client, agent):
    client.force_login(agent)
    assert client.get("/admin/reports/").status_code == 302
