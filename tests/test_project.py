"""The project as a whole: schema (A), docs, demo data, Celery wiring (C3)."""

import os
import subprocess
import sys
import zoneinfo
from collections import defaultdict
from datetime import datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from presence.models import AgentPresence, AgentProfile, Status, StatusChangeLog, StatusRequest, Team
from presence.reports import time_in_status, time_in_status_svg
from presence.shared.reports import Period
from scheduling.models import Appointment, Shift
from scheduling.reports import schedule_compliance
from tickets.models import HELD_STATES, TeamRouting, Ticket
from tickets.reports import workload
from tickets.services.load import load_recount

pytestmark = pytest.mark.django_db

DEMO_AGENTS = {"ann", "bob", "cara", "dev", "eve"}


@pytest.mark.sqlite
def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in [
        "/api/v1/statuses/",
        "/api/v1/presence/me/status/",
        "/api/v1/presence-settings/",
        "/api/v1/status-log/",
    ]:
        assert path in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")


def _demo(*args) -> str:
    out = StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


def _demo_rows() -> dict[str, int]:
    return {
        "log": StatusChangeLog.objects.count(),
        "shifts": Shift.objects.count(),
        "appointments": Appointment.objects.count(),
        "tickets": Ticket.objects.count(),
        "ticket history": Ticket.history.count(),
        "requests": StatusRequest.objects.count(),
        "pending": StatusRequest.objects.filter(state=StatusRequest.State.PENDING).count(),
    }


def _assert_one_chain_per_agent() -> None:
    """Each agent's log starts Offline and runs without a gap or a repeat to their presence now:
    the last row is their current status, since then."""
    offline = Status.objects.get(slug=Status.OFFLINE).pk
    chains = defaultdict(list)
    for agent_id, from_id, to_id, at in StatusChangeLog.objects.order_by("at", "id").values_list(
        "agent_id", "from_status_id", "to_status_id", "at"
    ):
        chains[agent_id].append((from_id, to_id, at))
    presences = {p.agent_id: p for p in AgentPresence.objects.all()}
    assert set(chains) == set(presences)
    for agent_id, chain in chains.items():
        assert chain[0][0] == offline
        for before, after in zip(chain, chain[1:], strict=False):
            assert before[1] == after[0] and before[0] != before[1], (before, after)
        assert (chain[-1][1], chain[-1][2]) == (presences[agent_id].status_id, presences[agent_id].since)


@pytest.mark.sqlite
def test_demo_data_is_idempotent(statuses):
    _demo()
    rows = _demo_rows()
    assert "are there already" in _demo()
    assert _demo_rows() == rows  # nothing twice: no history, no shift, no ticket, no request
    assert Ticket.objects.filter(state__in=HELD_STATES).count() == 6
    assert TeamRouting.objects.filter(method="round_robin").count() == 2
    assert AgentProfile.objects.count() == 5
    assert AgentPresence.objects.count() == 5
    assert Team.objects.count() == 3
    _assert_one_chain_per_agent()
    assert load_recount(repair=False) == []  # the counters are the tickets held


def test_demo_data_has_a_week_to_report(statuses, client):
    _demo()
    now = timezone.now()
    week = Period(now - timedelta(days=7), now)
    seconds = defaultdict(int)
    days = defaultdict(set)
    for row in time_in_status(week):
        if row["status_name"] == "Available":
            seconds[row["username"]] += row["seconds"]
            days[row["username"]].add(row["day"])
    assert set(seconds) == DEMO_AGENTS and min(seconds.values()) > 20 * 3600  # six days of about 7 hours
    assert all(len(agent_days) >= 5 for agent_days in days.values())  # a day off, and the edge of the week
    work = {r["username"]: r for r in workload(week)}
    assert all(work[name]["assigned"] > 20 and work[name]["closed"] > 20 for name in DEMO_AGENTS)
    compliance = defaultdict(list)
    for row in schedule_compliance(week):
        compliance[row["username"]].append(row["compliance_percent"])
    assert set(compliance) == DEMO_AGENTS and all(max(p) > 70 for p in compliance.values())
    assert all(f">{name}</text>" in time_in_status_svg(time_in_status(week)) for name in DEMO_AGENTS)
    # the present, through the services: a lunch, a meeting, a request waiting for a supervisor
    now_in = dict(AgentPresence.objects.values_list("agent__username", "status__slug"))
    assert sorted(now_in.values()) == ["available", "available", "available", "lunch", "meeting"]
    assert StatusRequest.objects.filter(state=StatusRequest.State.PENDING, agent__username="eve").count() == 1
    assert StatusRequest.objects.filter(state=StatusRequest.State.APPROVED).exists()
    client.force_login(get_user_model().objects.get(username="sam"))
    board = client.get("/board/").content.decode()
    assert "Lunch" in board and "Meeting" in board


def _days_logged_before(midnight: datetime, zone) -> set:
    logged = StatusChangeLog.objects.filter(at__lt=midnight).values_list("at", flat=True)
    return {at.astimezone(zone).date() for at in logged}


@pytest.mark.sqlite
def test_demo_days_sets_the_length_of_the_history(statuses):
    _demo("--days", "3")
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(zone).date()
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    logged = _days_logged_before(midnight, zone)
    assert logged == {today - timedelta(days=n) for n in (1, 2, 3)}
    shifts = Shift.objects.filter(end__lte=midnight).values_list("start", flat=True)
    assert {start.astimezone(zone).date() for start in shifts} == logged
    # a longer history later adds the days before, and only those
    rows = _demo_rows()
    _demo("--days", "5")
    assert _days_logged_before(midnight, zone) == {today - timedelta(days=n) for n in range(1, 6)}
    earliest = Period(midnight - timedelta(days=5), midnight - timedelta(days=3))
    assert {r["username"] for r in time_in_status(earliest) if r["status_name"] == "Available"} == DEMO_AGENTS
    assert _demo_rows()["pending"] == rows["pending"] == 1
    _assert_one_chain_per_agent()


@pytest.mark.parametrize("hour", [10, 20], ids=["first run in the morning", "first run in the evening"])
def test_demo_data_on_a_later_day_adds_the_days_in_between(hour, statuses):
    # Run at 20:00, the first run's shifts (8 hours from now) end after midnight: the next day has
    # a shift on it already, so it is not planned again; every other day gets a shift of its own.
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    first_day = timezone.now().astimezone(zone).date() - timedelta(days=1)
    with time_machine.travel(datetime.combine(first_day, time(hour), tzinfo=zone), tick=True):
        _demo()
        first = _demo_rows()
    with time_machine.travel(datetime.combine(first_day + timedelta(days=3), time(hour), tzinfo=zone), tick=True):
        _demo()
        today = timezone.now().astimezone(zone).date()
        shifts = Shift.objects.order_by("agent_id", "start").values_list("agent_id", "start", "end", "start_applied_at")
        started = {applied.astimezone(zone).date() for _, _, _, applied in shifts if applied}
        ends = {(end - timedelta(microseconds=1)).astimezone(zone).date() for _, _, end, _ in shifts}
        ten_days = {today - timedelta(days=n) for n in range(10)}
        crossed = {first_day + timedelta(days=1)} if hour == 20 else set()
        assert ten_days - crossed <= started  # every day, the first run's too
        assert crossed <= ends and not crossed & started
        for (agent, _, end, _), (next_agent, next_start, _, _) in zip(shifts, shifts[1:], strict=False):
            assert agent != next_agent or end <= next_start  # no shift planned over another
        _assert_one_chain_per_agent()
        assert load_recount(repair=False) == []
        # what the first run left running (shifts, the meeting) is settled, not left for the sweeps
        assert not Shift.objects.filter(end__lte=timezone.now(), end_applied_at__isnull=True).exists()
        assert not Appointment.objects.filter(end__lte=timezone.now(), end_applied_at__isnull=True).exists()
    assert _demo_rows()["log"] > first["log"]


@pytest.mark.parametrize("value", ["0", "91", "-3", "seven", "2.5", ""])
def test_demo_days_must_be_a_sensible_number(value, statuses):
    with pytest.raises(CommandError, match="whole number of days from 1 to 90"):
        call_command("demo_data", "--days", value)
    with pytest.raises(CommandError, match="whole number of days from 1 to 90"):
        call_command("demo_data", days=value)
    assert not StatusChangeLog.objects.exists() and not get_user_model().objects.exists()


@pytest.mark.sqlite
def test_demo_days_out_of_range_exits_non_zero_with_a_sentence():
    result = subprocess.run(
        [sys.executable, "manage.py", "demo_data", "--days", "0"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "argument --days: a whole number of days from 1 to 90 is needed, not '0'." in result.stderr


def test_beat_schedule_names_real_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:SingleBeatScheduler"


@pytest.mark.sqlite
def test_unknown_api_urls_answer_json_and_pages_html(client):
    response = client.get("/api/v1/tickets/0.5/close/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
