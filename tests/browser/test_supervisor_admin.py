"""A supervisor who is not a superuser configures the helpdesk in Django admin, in a real browser
(Debian's Chromium through Playwright): statuses, mappings, shift types, shifts, appointments,
bulk status, assign warnings and approvals (S, T4, T5, C1, C2, P6, O4). Screenshots land in
test-artifacts/."""

import pytest

from presence.models import AgentPresence, Status, StatusChangeLog, StatusRequest
from scheduling.models import Appointment, Shift, ShiftType
from tests.browser.support import ARTIFACTS, WAIT_MS
from tests.factories import PASSWORD, AgentFactory, SupervisorFactory, TicketFactory
from tickets.models import ReassignMapping, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def _sign_in(browser, live_server, username: str):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    return page


def _pick_agent(page, field: str, term: str, choice: str) -> None:
    """Use an agent picker: open the autocomplete, type, choose."""
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", term)
    page.click(f".select2-results__option:has-text('{choice}')", timeout=WAIT_MS)


def _save(page) -> None:
    with page.expect_navigation():
        page.click("input[name=_save]")


def _messages(page) -> str:
    return page.text_content("ul.messagelist") or ""


def _run_action(page, action_label: str, usernames_or_rows: list[str]) -> None:
    for row in usernames_or_rows:
        page.check(f"#result_list tr:has-text('{row}') input.action-select")
    page.select_option("select[name=action]", label=action_label)
    with page.expect_navigation():
        page.click("button[name=index]")


def test_a_supervisor_configures_the_helpdesk_in_the_admin(browser, live_server):
    statuses = {s.slug: s for s in Status.objects.all()}
    training = statuses["training"]
    training.requires_approval = True
    training.save()
    ann = AgentFactory(username="ann", status=statuses["available"])
    bob = AgentFactory(username="bob", status=statuses["available"])
    AgentFactory(username="cara", status=statuses["out-of-office"])
    AgentFactory(username="dev")  # Offline
    sam = SupervisorFactory(username="sam", is_staff=True)
    assert not sam.is_superuser
    StatusRequest.objects.create(agent=bob, status=training, reason="course")
    for subject in ("Printer on fire", "Invoice question"):
        TicketFactory(subject=subject)
    page = _sign_in(browser, live_server, "sam")

    # The status list fits a 1366 px screen, menu and filters included.
    page.goto(f"{live_server.url}/admin/presence/status/")
    assert page.evaluate("(() => { const r = document.querySelector('.results'); "
                         "return r.scrollWidth <= r.clientWidth; })()")  # fmt: skip
    _shot(page, "status-list")

    # A status with flags, and a mapping into it, on one page.
    page.goto(f"{live_server.url}/admin/presence/status/add/")
    page.fill("#id_name", "Backoffice")
    page.select_option("#id_category", "online")
    page.check("#id_can_receive")
    page.check("#id_in_load_balance")
    page.check("#id_warn_on_assign")
    page.click("#mappings_to-group .add-row a")
    page.select_option("#id_mappings_to-0-action", "reroute")
    _save(page)
    assert "was added successfully" in _messages(page)
    backoffice = Status.objects.get(name="Backoffice")
    assert (backoffice.slug, backoffice.can_receive, backoffice.in_load_balance) == ("backoffice", True, True)
    assert ReassignMapping.objects.get(to_status=backoffice).action == "reroute"

    # A shift type, a shift and an appointment, agents picked by search.
    page.goto(f"{live_server.url}/admin/scheduling/shifttype/add/")
    page.fill("#id_name", "Early")
    page.select_option("#id_default_status", label="Available")
    page.select_option("#id_end_status", label="After work")
    _save(page)
    page.goto(f"{live_server.url}/admin/scheduling/shift/add/")
    _pick_agent(page, "agent", "an", "ann")
    page.select_option("#id_shift_type", label="Early")
    for field, value in {"start_0": "2030-01-07", "start_1": "08:00:00", "end_0": "2030-01-07",
                         "end_1": "16:00:00"}.items():  # fmt: skip
        page.fill(f"#id_{field}", value)
    _save(page)
    assert Shift.objects.get().agent == ann and Shift.objects.get().shift_type == ShiftType.objects.get()
    page.goto(f"{live_server.url}/admin/scheduling/appointment/add/")
    _pick_agent(page, "agent", "bo", "bob")
    page.fill("#id_subject", "1:1 with Sam")
    page.select_option("#id_agent_status", label="Meeting")
    for field, value in {"start_0": "2030-01-07", "start_1": "10:00:00", "end_0": "2030-01-07",
                         "end_1": "10:30:00"}.items():  # fmt: skip
        page.fill(f"#id_{field}", value)
    _save(page)
    assert Appointment.objects.get().agent == bob
    _shot(page, "appointments")

    # Two agents' status at once; the Offline one is skipped and named.
    page.goto(f"{live_server.url}/admin/presence/agentpresence/")
    _run_action(page, "Set status…", ["ann", "bob", "dev"])
    assert "dev: ⚫ Offline (offline: will be skipped)" in page.text_content("#selected-agents")
    page.select_option("#id_status", label="Busy")
    page.fill("#id_reason", "queue is quiet")
    _shot(page, "set-status")
    with page.expect_navigation():
        page.click("#intermediate-form input[type=submit]")
    assert "Busy set for 2 agent(s): ann, bob." in _messages(page)
    assert "Skipped: dev" in _messages(page)
    changed = StatusChangeLog.objects.filter(to_status=statuses["busy"], source="supervisor", actor=sam)
    assert sorted(changed.values_list("agent__username", flat=True)) == ["ann", "bob"]

    # Assigning to an agent whose status warns asks first: confirm one ...
    first, second = Ticket.objects.order_by("pk")
    page.goto(f"{live_server.url}/admin/tickets/ticket/{first.pk}/change/")
    _pick_agent(page, "assignee", "car", "cara")
    _save(page)
    assert "cara is Out of office. Assign anyway?" in page.text_content("#confirmation")
    _shot(page, "assign-confirmation")
    with page.expect_navigation():
        page.click("#confirmation input[name=confirm]")
    assert Ticket.objects.get(pk=first.pk).assignee.username == "cara"
    # ... and cancel another: nothing changes.
    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    _run_action(page, "Assign to…", [second.subject])
    _pick_agent(page, "agent", "car", "cara")
    with page.expect_navigation():
        page.click("#intermediate-form input[type=submit]")
    assert "cara is Out of office. Assign anyway?" in page.text_content("#confirmation")
    with page.expect_navigation():
        page.click("#cancel")
    assert Ticket.objects.get(pk=second.pk).assignee is None

    # An approval request, decided in the admin.
    page.goto(f"{live_server.url}/admin/presence/statusrequest/")
    _run_action(page, "Approve selected requests (the status applies now)", ["bob"])
    assert "Approved 1 request(s): bob → Training." in _messages(page)
    assert AgentPresence.objects.get(agent=bob).status == training
    _shot(page, "requests")
    page.context.close()
