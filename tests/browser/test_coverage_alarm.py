"""The coverage alarm in a real browser (C7, U1, U3): the last agent of a team is asked before
switching away, and the supervisor board's red banner appears and clears without a reload."""

from datetime import time

import pytest
from playwright.sync_api import expect

from presence.models import AgentPresence, Status, TeamOpeningHours
from presence.services import coverage_check
from tests.browser.support import WAIT_MS, shot, sign_in
from tests.factories import AgentFactory, SupervisorFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_banner_appears_when_the_last_agent_leaves_and_clears_when_they_return(browser, live_server):
    team = TeamFactory(name="Support", coverage_minimum=1)
    TeamOpeningHours.objects.bulk_create(
        [TeamOpeningHours(team=team, weekday=day, opens=time(0), closes=time(0)) for day in range(7)]
    )  # open all week
    AgentFactory(username="ann", teams=[team])
    SupervisorFactory(username="sam", is_staff=True)
    agent = sign_in(browser, live_server, "ann")  # signing in makes ann Available: Support is covered
    coverage_check()
    board = sign_in(browser, live_server, "sam", "/board/")
    board.evaluate("window.__not_reloaded = true")
    banner = board.locator("#coverage-alarms .coverage-alarm")
    assert banner.count() == 0

    # ann switches to Busy: the dropdown asks first; she confirms.
    asked = []
    agent.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    agent.select_option("#status-select", label="🔴 Busy")
    expect(agent.locator("#status-name")).to_contain_text("Busy", timeout=WAIT_MS)
    assert asked == ["You are the last agent in Support. Switch anyway?"]

    coverage_check()  # the periodic sweep
    expect(banner).to_have_count(1, timeout=WAIT_MS)
    expect(banner).to_contain_text("Support is 1 agent short", timeout=WAIT_MS)
    expect(banner).to_contain_text("0 of the 1 agent it needs can receive work")
    shot(board, "coverage-alarm.png")

    # Back to Available (the status can receive: no question), and the banner clears.
    agent.select_option("#status-select", label="🟢 Available")
    expect(agent.locator("#status-name")).to_contain_text("Available", timeout=WAIT_MS)
    assert AgentPresence.objects.get(agent__username="ann").status == Status.objects.get(slug="available")
    coverage_check()
    expect(banner).to_have_count(0, timeout=WAIT_MS)
    assert board.evaluate("window.__not_reloaded === true")
    agent.context.close()
    board.context.close()
