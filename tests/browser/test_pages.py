"""The pages in a real browser: Debian's Chromium driven by Playwright (U1, U2, U3, R3, P6)."""

import re

import pytest
from playwright.sync_api import expect

from presence.models import Source, Status
from presence.services import presence_change_status
from tests.browser.support import ARTIFACTS, WAIT_MS, shot, sign_in
from tests.factories import AgentFactory, SupervisorFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mark(page) -> None:
    """A flag that only survives while the page is not reloaded."""
    page.evaluate("window.__not_reloaded = true")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.__not_reloaded === true")


def test_agent_changes_status_from_the_dropdown_and_the_timer_resets(browser, live_server):
    AgentFactory(username="ann")
    page = sign_in(browser, live_server, "ann")
    assert page.text_content("#status-name").strip().endswith("Available")  # the login status
    _mark(page)
    expect(page.locator("#status-timer")).to_have_text("3s", timeout=WAIT_MS)
    page.select_option("#status-select", label="🔴 Busy")
    expect(page.locator("#status-name")).to_contain_text("Busy", timeout=WAIT_MS)
    assert re.fullmatch(r"[0-2]s", page.text_content("#status-timer").strip())
    assert "Your status is now Busy." in page.text_content("#flash")
    assert _not_reloaded(page)
    page.context.close()


def test_approval_on_the_board_changes_the_agents_header_without_a_reload(browser, live_server):
    training = Status.objects.get(slug="training")
    training.requires_approval = True
    training.save()
    AgentFactory(username="ann")
    SupervisorFactory(username="sam")
    agent_page = sign_in(browser, live_server, "ann")
    _mark(agent_page)
    agent_page.select_option("#status-select", label="🎓 Training (needs approval)")
    expect(agent_page.locator("#status-note")).to_contain_text("Waiting for approval: Training", timeout=WAIT_MS)
    assert "Available" in agent_page.text_content("#status-name")

    board = sign_in(browser, live_server, "sam", "/board/")
    assert board.is_visible("#bell")
    with board.expect_navigation():
        board.click("tr:has-text('ann') button.approve")
    assert "ann's request for Training approved." in board.text_content("#flash")

    expect(agent_page.locator("#status-name")).to_contain_text("Training", timeout=WAIT_MS)
    assert agent_page.text_content("#status-note").strip() == ""
    assert _not_reloaded(agent_page)
    agent_page.context.close()
    board.context.close()


def test_the_board_updates_itself_when_an_agent_changes_status(browser, live_server):
    ann = AgentFactory(username="ann")
    for name in ("bob", "cara", "dev"):
        AgentFactory(username=name)
    SupervisorFactory(username="sam", is_staff=True)
    board = sign_in(browser, live_server, "sam", "/board/")
    _mark(board)
    row = "tr:has-text('ann') .status-name"
    assert board.text_content(row) == "Offline"
    presence_change_status(ann, Status.objects.get(slug="available"), actor=ann, source=Source.LOGIN)
    presence_change_status(ann, Status.objects.get(slug="meeting"), actor=ann, source=Source.API)
    expect(board.locator("#board-rows .status-name", has_text="Meeting")).to_have_count(1, timeout=WAIT_MS)
    assert _not_reloaded(board)
    shot(board, "board.png")

    board.goto(f"{live_server.url}/admin/reports/?report=time-in-status")
    assert board.is_visible("#chart svg")
    ARTIFACTS.mkdir(exist_ok=True)
    board.locator("#chart").screenshot(path=str(ARTIFACTS / "report-chart.png"))
    board.context.close()
