"""An agent's day with tickets in a real browser (T8, C6, P4): take from the queue, a note that
mentions someone out of office, a hand-over to a teammate, finishing before After work, closing
the last ticket."""

import re

import pytest
from playwright.sync_api import expect

from presence.models import AgentPresence, Status
from tests.browser.support import WAIT_MS, shot, sign_in
from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.models import RoutingMethod, TeamRouting, Ticket, TicketNote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agents_day_with_tickets(browser, live_server):
    # given ann (who signs in as Available) in Support with a ticket of her own, a teammate out
    # of office, another at work, and a ticket waiting in the team's queue
    statuses = {status.slug: status for status in Status.objects.all()}
    support = TeamFactory(name="Support")
    TeamRouting.objects.create(team=support, method=RoutingMethod.MANUAL)
    ann = AgentFactory(username="ann", teams=[support])
    AgentFactory(username="bob", teams=[support], status=statuses["available"])
    AgentFactory(username="cara", teams=[support], status=statuses["out-of-office"])
    mine = TicketFactory(subject="VPN keeps dropping", team=support, assignee=ann)
    queued = TicketFactory(subject="Printer jam on floor 2", team=support)

    page = sign_in(browser, live_server, "ann")
    assert page.text_content("#status-name").strip().endswith("Available")

    # takes the queued ticket from the panel: its page opens
    with page.expect_navigation():
        page.click("#team-queue tr:has-text('Printer jam') button.take")
    assert page.url.endswith(f"/tickets/{queued.pk}/")
    assert f"You took ticket #{queued.pk}." in page.text_content("#flash")
    assert page.text_content("#ticket-assignee").strip() == "ann"
    # the timer ticks in the page, from the server's "0 minutes"
    expect(page.locator("#since-opened")).to_have_text(re.compile(r"^\s*\d+s\s*$"), timeout=WAIT_MS)

    # writes a note, completing "@ca" from the teammates list: only cara is left to pick
    page.click("#note-body")
    page.keyboard.type("Toner replaced. Ask @ca")
    assert page.is_visible("button.mention[data-username=cara]")
    assert page.is_hidden("button.mention[data-username=bob]")
    page.click("button.mention[data-username=cara]")
    page.keyboard.type("about the spare drum.")
    assert page.input_value("#note-body") == "Toner replaced. Ask @cara about the spare drum."
    with page.expect_navigation():
        page.click("#add-note")
    # cara is Out of office: asked first, nothing saved yet
    assert "cara is Out of office. Mention them anyway?" in page.text_content("#confirmation")
    assert not TicketNote.objects.exists()
    shot(page, "agent-mention-confirmation.png")
    with page.expect_navigation():
        page.click("#confirm")
    assert "Note added." in page.text_content("#flash")
    assert "Toner replaced. Ask @cara about the spare drum." in page.text_content("#note-list")
    shot(page, "agent-ticket.png")

    # hands her own ticket over to bob on its page: only teammates who can take it are offered
    with page.expect_navigation():
        page.click("text=Back to my tickets")
    with page.expect_navigation():
        page.click(f"#my-tickets a[href='/tickets/{mine.pk}/']")
    assert page.locator("#hand-over-agent option").all_text_contents() == ["bob (Available)"]
    page.select_option("#hand-over-agent", label="bob (Available)")
    with page.expect_navigation():
        page.click("#hand-over")
    assert f"Ticket #{mine.pk} handed over to bob." in page.text_content("#flash")
    assert page.locator(f"#my-tickets a[href='/tickets/{mine.pk}/']").count() == 0  # back on the panel
    assert Ticket.objects.get(pk=mine.pk).assignee.username == "bob"

    # picks After work while holding the taken ticket: finishing, still Available
    with page.expect_navigation():
        page.click(f"#my-tickets a[href='/tickets/{queued.pk}/']")
    page.select_option("#status-select", label="🏠 After work")
    expect(page.locator("#status-note")).to_contain_text("Finishing before After work", timeout=WAIT_MS)
    assert page.text_content("#status-name").strip().endswith("Available")
    with page.expect_navigation():
        page.click("text=Back to my tickets")
    assert page.is_visible("#finishing-banner")
    assert page.text_content("#finishing-target").strip() == "After work"
    shot(page, "agent-finishing.png")

    # closes her last ticket on its page, which applies After work
    with page.expect_navigation():
        page.click(f"#my-tickets a[href='/tickets/{queued.pk}/']")
    with page.expect_navigation():
        page.click("#close")
    assert f"Ticket #{queued.pk} closed." in page.text_content("#flash")
    assert re.search(r"After work$", page.text_content("#status-name").strip())
    assert page.text_content("#status-note").strip() == ""
    assert page.is_hidden("#finishing-banner")
    shot(page, "agent-after-work.png")
    presence = AgentPresence.objects.select_related("status").get(agent=ann)
    assert (presence.status.slug, presence.pending_status_id) == ("after-work", None)
    page.context.close()
