"""Break budgets and live adherence (C8): break use from the status log in the running shift, the
break left on the agent panel, and the board's flags at a constant number of statements."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from presence import adherence
from presence.models import Source
from presence.services import presence_change_status
from scheduling.adherence import agent_adherence, break_usage
from scheduling.models import Shift, ShiftType
from tests.factories import SupervisorFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday, 08:00: the shifts below start here


def at(minutes: float):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def early(statuses) -> ShiftType:
    """08:00-16:00 shifts with 30 minutes of break in two breaks, in Lunch or Short break."""
    shift_type = ShiftType.objects.create(
        name="Early", default_status=statuses["available"], break_minutes=30, break_count=2
    )
    shift_type.break_statuses.set([statuses["lunch"], statuses["short-break"]])
    return shift_type


def _shift(agent, shift_type, start=0, hours=8) -> Shift:
    begin = T0 + timedelta(minutes=start)
    return Shift.objects.create(agent=agent, shift_type=shift_type, start=begin, end=begin + timedelta(hours=hours))


def _go(agent, status, minutes: float) -> None:
    with at(minutes):
        presence_change_status(agent, status, actor=agent, source=Source.DROPDOWN)


def _usage(agent, minutes: float):
    with at(minutes):
        return break_usage([agent.pk], timezone.now()).get(agent.pk)


# --- the selector ---------------------------------------------------------------------------------


def test_break_time_and_breaks_count_in_the_running_shift_only(make_agent, statuses, early):
    ann = make_agent("ann")
    _shift(ann, early)
    _go(ann, statuses["lunch"], -40)  # before the shift: not its break
    _go(ann, statuses["available"], -10)
    _go(ann, statuses["short-break"], 120)  # 10:00
    _go(ann, statuses["available"], 130)  # 10:10: 10 minutes, the first break
    first = _usage(ann, 180)
    assert (first.used_minutes, first.breaks_taken, first.minutes_left, first.over_budget) == (10, 1, 20, False)
    assert not first.on_break
    _go(ann, statuses["lunch"], 240)  # 12:00
    _go(ann, statuses["short-break"], 255)  # 12:15: from one break status to another is the same break
    used_up = _usage(ann, 260)
    assert (used_up.used_minutes, used_up.breaks_taken, used_up.minutes_left, used_up.over_budget) == (30, 2, 0, False)
    assert used_up.on_break
    over = _usage(ann, 265)
    assert (over.used_minutes, over.minutes_left, over.minutes_over, over.over_budget) == (35, 0, 5, True)


def test_one_break_too_many_is_over_budget(make_agent, statuses, early):
    ann = make_agent("ann")
    _shift(ann, early)
    for start in (60, 120, 180):  # three breaks of 5 minutes: time left, one break too many
        _go(ann, statuses["short-break"], start)
        _go(ann, statuses["available"], start + 5)
    usage = _usage(ann, 200)
    assert (usage.used_minutes, usage.breaks_taken, usage.minutes_left, usage.over_budget) == (15, 3, 15, True)


def test_a_break_begun_before_the_shift_counts_from_its_start(make_agent, statuses, early):
    bob = make_agent("bob")
    _shift(bob, early)
    _go(bob, statuses["lunch"], -20)
    _go(bob, statuses["available"], 10)
    usage = _usage(bob, 60)
    assert (usage.used_seconds, usage.breaks_taken) == (600, 1)


def test_without_a_log_the_current_status_counts_from_when_it_began(make_agent, statuses, early, presence_settings):
    presence_settings.log_status_changes = False
    presence_settings.save()
    ann = make_agent("ann")
    _shift(ann, early)
    _go(ann, statuses["lunch"], 60)
    usage = _usage(ann, 75)
    assert (usage.used_minutes, usage.breaks_taken, usage.on_break) == (15, 1, True)


def test_only_running_working_shifts_that_allow_breaks_are_answered(make_agent, statuses, early):
    ann, bob, cid, dan = (make_agent(name) for name in ("ann", "bob", "cid", "dan"))
    _shift(ann, early, start=-600)  # over before now
    day_off = ShiftType.objects.create(name="Day off", default_status=statuses["out-of-office"], off_duty=True)
    _shift(bob, day_off)
    free = ShiftType.objects.create(name="Free breaks", default_status=statuses["available"])
    free.break_statuses.set([statuses["lunch"]])
    _shift(cid, free)
    _go(cid, statuses["lunch"], 30)
    with at(60):
        usage = break_usage([ann.pk, bob.pk, cid.pk, dan.pk], timezone.now())
    assert set(usage) == {cid.pk}
    assert usage[cid.pk].used_minutes == 30 and not usage[cid.pk].has_budget and not usage[cid.pk].over_budget


@pytest.mark.parametrize("n", [5, 30])
def test_break_usage_is_two_queries_for_any_number_of_agents(make_agent, statuses, early, n, django_assert_num_queries):
    agents = [make_agent(f"agent{i:02d}") for i in range(n)]
    for agent in agents:
        _shift(agent, early)
        _go(agent, statuses["short-break"], 30)
        _go(agent, statuses["available"], 40)
    with at(60), django_assert_num_queries(2):  # the agents with their shifts; the log rows
        usage = break_usage([a.pk for a in agents], timezone.now())
    assert len(usage) == n and {u.used_minutes for u in usage.values()} == {10}


# --- the agent panel --------------------------------------------------------------------------------


def _page(user, url: str, minutes: float, **params) -> str:
    client = Client()
    with at(minutes):  # signed in at the travelled time, or the session would have expired
        client.force_login(user)
        response = client.get(url, params)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _words(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_the_panel_shows_the_break_left_without_javascript(make_agent, statuses, early):
    ann = make_agent("ann")
    _shift(ann, early)
    _go(ann, statuses["short-break"], 120)
    _go(ann, statuses["available"], 130)
    page = _page(ann, "/", 180)
    assert "Break left: 20 min (1 of 2 breaks)" in page
    assert "over the break budget" not in page
    _go(ann, statuses["lunch"], 200)
    assert "Break left: 0 min (2 of 2 breaks) over the break budget by 5 min" in _words(_page(ann, "/", 225))


def test_the_panel_says_nothing_of_breaks_without_a_budget(make_agent, statuses, early):
    ann = make_agent("ann")
    assert 'id="break-left"' not in _page(ann, "/", 60)  # no shift
    plain = ShiftType.objects.create(name="Plain", default_status=statuses["available"])
    _shift(ann, plain)
    assert 'id="break-left"' not in _page(ann, "/", 60)


def test_minutes_only_or_breaks_only(make_agent, statuses, early):
    ann = make_agent("ann")
    _shift(ann, early)
    _go(ann, statuses["lunch"], 60)
    early.break_count = None
    early.save()
    assert "Break left: 20 min" in _page(ann, "/", 70)
    early.break_count, early.break_minutes = 1, None
    early.save()
    assert "Breaks: 1 of 1 taken" in _page(ann, "/", 70)


# --- the supervisor board ---------------------------------------------------------------------------


def _row(page: str, agent) -> str:
    return page[page.index(f'data-agent="{agent.pk}"') :].split("</tr>")[0]


def test_the_board_flags_who_does_not_fit_their_shift(make_agent, statuses, early):
    ann = make_agent("ann")  # past her break budget
    bob = make_agent("bob", status="offline")  # Offline during his shift
    cid = make_agent("cid")  # online, no shift now, but one tomorrow
    dan = make_agent("dan")  # online and never scheduled: nothing to say
    eve = make_agent("eve")  # in a meeting: not a break her shift allows
    fay = make_agent("fay")  # online on her day off
    gus = make_agent("gus", status="offline")  # off, no shift now, one yesterday: fits
    hal = make_agent("hal")  # working in his shift, a break taken
    for agent in (ann, bob, eve, hal):
        _shift(agent, early)
    _shift(cid, early, start=24 * 60)
    _shift(gus, early, start=-24 * 60)
    day_off = ShiftType.objects.create(name="Day off", default_status=statuses["out-of-office"], off_duty=True)
    _shift(fay, day_off, start=-60, hours=24)
    _go(ann, statuses["lunch"], 60)
    _go(ann, statuses["available"], 100)  # 40 minutes
    _go(eve, statuses["meeting"], 90)
    _go(hal, statuses["short-break"], 60)
    _go(hal, statuses["available"], 70)
    page = _page(SupervisorFactory(username="sam"), reverse("presence:board"), 120)
    rows = {agent.username: _row(page, agent) for agent in (ann, bob, cid, dan, eve, fay, gus, hal)}
    assert "data-over-budget" in rows["ann"] and "over the break budget by 10 min" in rows["ann"]
    assert 'data-misfit=""' in rows["ann"]
    assert 'data-misfit="offline_in_shift"' in rows["bob"] and "Offline during a shift" in rows["bob"]
    assert 'data-misfit="online_outside_shift"' in rows["cid"] and "Online outside a shift" in rows["cid"]
    assert 'data-misfit="break_not_allowed"' in rows["eve"] and "On a break the shift does not allow" in rows["eve"]
    assert 'data-misfit="online_outside_shift"' in rows["fay"]
    for fits in ("dan", "gus", "hal"):
        assert 'data-misfit=""' in rows[fits] and "data-over-budget" not in rows[fits]
    assert "Break left: 20 min (1 of 2 breaks)" in rows["hal"]


def _add_agents(first: int, last: int, statuses, early, make_agent) -> None:
    """Agents in a shift with a budget, a third of them over it, a third Offline in it, and a
    third online with a shift only tomorrow."""
    for i in range(first, last):
        agent = make_agent(f"agent{i:02d}", status="offline" if i % 3 == 1 else "available")
        if i % 3 == 2:
            _shift(agent, early, start=24 * 60)
            continue
        _shift(agent, early)
        if i % 3 == 0:
            _go(agent, statuses["lunch"], 30)
            _go(agent, statuses["available"], 70)  # 40 minutes: over budget


def _board(supervisor) -> tuple[list[str], str]:
    client = Client()
    with at(120):
        client.force_login(supervisor)
        client.get(reverse("presence:board"))  # the first request of the minute records activity
        with CaptureQueriesContext(connection) as captured:
            page = client.get(reverse("presence:board"))
    return [query["sql"] for query in captured.captured_queries], page.content.decode()


def test_the_board_flags_cost_the_same_statements_for_5_or_30_agents(make_agent, statuses, early):
    supervisor = SupervisorFactory(username="sam")
    _add_agents(0, 5, statuses, early, make_agent)
    few, page = _board(supervisor)
    assert page.count("data-over-budget") == 2 and page.count('data-misfit="offline_in_shift"') == 2
    _add_agents(5, 30, statuses, early, make_agent)
    many, page = _board(supervisor)
    assert page.count("data-over-budget") == 10
    assert page.count('data-misfit="offline_in_shift"') == 10
    assert page.count('data-misfit="online_outside_shift"') == 10
    assert len(many) == len(few) <= 17  # test_board_is_a_constant_number_of_queries's pin
    # The page's adherence is two of them: the agents with their shifts, and the log rows.
    assert len([sql for sql in many if "scheduling_shift" in sql or "presence_statuschangelog" in sql]) == 2


def test_without_a_provider_nobody_has_a_shift(make_agent, statuses, early, monkeypatch):
    ann = make_agent("ann", status="offline")
    _shift(ann, early)
    with at(60):
        assert agent_adherence([ann.pk], timezone.now())[ann.pk].misfit == "offline_in_shift"
        monkeypatch.setattr(adherence, "_provider", None)
        assert adherence.adherence_of(ann.pk) == adherence.NOTHING
