"""The coverage alarm in a real browser (C7, U1, U3): the last agent of a team is asked before
switching away, and the supervisor board's red banner appears and clears without a reload."""

import os
from datetime import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from presence.models import AgentPresence, Status, TeamOpeningHours
from presence.services import coverage_check
from tests.factories import PASSWORD, AgentFactory, SupervisorFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: bin/test installs Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # ordinary blocking calls all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(autouse=True)
def fast_polling(settings):
    settings.PRESENCE_PAGE_POLL_SECONDS = 0.5


def _sign_in(browser, live_server, username: str, next_path: str = "/"):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return page


def test_the_board_banner_appears_when_the_last_agent_leaves_and_clears_when_they_return(browser, live_server):
    team = TeamFactory(name="Support", coverage_minimum=1)
    TeamOpeningHours.objects.bulk_create(
        [TeamOpeningHours(team=team, weekday=day, opens=time(0), closes=time(0)) for day in range(7)]
    )  # open all week
    AgentFactory(username="ann", teams=[team])
    SupervisorFactory(username="sam", is_staff=True)
    agent = _sign_in(browser, live_server, "ann")  # signing in makes ann Available: Support is covered
    coverage_check()
    board = _sign_in(browser, live_server, "sam", "/board/")
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
    ARTIFACTS.mkdir(exist_ok=True)
    board.screenshot(path=str(ARTIFACTS / "coverage-alarm.png"), full_page=True)

    # Back to Available (the status can receive: no question), and the banner clears.
    agent.select_option("#status-select", label="🟢 Available")
    expect(agent.locator("#status-name")).to_contain_text("Available", timeout=WAIT_MS)
    assert AgentPresence.objects.get(agent__username="ann").status == Status.objects.get(slug="available")
    coverage_check()
    expect(banner).to_have_count(0, timeout=WAIT_MS)
    assert board.evaluate("window.__not_reloaded === true")
    agent.context.close()
    board.context.close()
