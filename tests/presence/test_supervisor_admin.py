"""Supervisors run the helpdesk from Django admin (O4, S, T4, C1, C2, P6, P9), signed in as a staff
user in the supervisors group who is not a superuser; and a view-only staff user changes nothing."""

import logging
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from presence.models import AgentPresence, PresenceSettings, Status, StatusChangeLog, StatusRequest, TeamMembership
from presence.roles import permission_codenames, roles_setup, supervisor_permissions
from presence.services import presence_change_status
from scheduling.models import Appointment, Shift, ShiftType
from scheduling.services import appointment_apply_due, shift_apply_due
from tests.factories import AgentFactory, SupervisorFactory, TeamFactory, TicketFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import ReassignMapping, Ticket, TicketNote

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def sam(db):
    user = SupervisorFactory(username="sam", first_name="Sam")
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def sam_client(client, sam):
    client.force_login(sam)
    return client


@pytest.fixture
def online(statuses):
    """Agents signed in (Available), by name."""

    def make(*names, **profile):
        return [AgentFactory(username=n, status=statuses["available"], profile=profile or None) for n in names]

    return make


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _group_codenames() -> set[tuple[str, str]]:
    group = Group.objects.get(name=settings.PRESENCE_SUPERVISORS_GROUP)
    return {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}


# --- 1. roles in code ------------------------------------------------------------------------------


def test_migrations_give_the_supervisors_group_exactly_the_role_matrix():
    assert _group_codenames() == permission_codenames(supervisor_permissions())
    assert ("presence", "change_presencesettings") in _group_codenames()
    assert not {app for app, _ in _group_codenames()} - {"presence", "tickets", "scheduling"}  # no users, tokens


def test_setup_roles_is_idempotent_and_repairs_drift():
    group = Group.objects.get(name="supervisors")
    group.permissions.remove(Permission.objects.get(codename="add_shift"))
    group.permissions.add(Permission.objects.get(codename="change_user"))
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "+ scheduling.add_shift" in out.getvalue() and "- auth.change_user" in out.getvalue()
    assert _group_codenames() == permission_codenames(supervisor_permissions())
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "(0 added, 0 removed)" in out.getvalue()


def test_setup_roles_uses_the_configured_group_name(settings):
    settings.PRESENCE_SUPERVISORS_GROUP = "team-leads"
    group, added, _ = roles_setup()
    assert group.name == "team-leads" and len(added) == len(permission_codenames(supervisor_permissions()))


def test_readme_role_matrix_is_the_one_in_code():
    out = StringIO()
    call_command("setup_roles", "--print-matrix", stdout=out)
    assert out.getvalue().strip() in README.read_text()


def test_staff_in_the_group_is_a_supervisor_but_staff_alone_is_not(client, statuses):
    viewer = UserFactory(username="vic", is_staff=True)
    client.force_login(viewer)
    assert client.get("/board/").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


# --- configuring in the admin as a supervisor ------------------------------------------------------


def test_supervisor_adds_a_status_with_flags_and_a_mapping_inline(sam_client, sam, statuses):
    data = {
        "name": "Backoffice", "slug": "backoffice", "category": "online", "color": "#336699", "emoji": "🗂",
        "sort_order": "55", "enabled": "on", "can_receive": "on", "in_load_balance": "on", "warn_on_assign": "on",
        "max_duration": "", "return_status": "", "idle_timeout": "",
        "mappings_to-TOTAL_FORMS": "1", "mappings_to-INITIAL_FORMS": "0", "mappings_to-MIN_NUM_FORMS": "0",
        "mappings_to-MAX_NUM_FORMS": "1000", "mappings_to-0-from_status": "", "mappings_to-0-action": "reroute",
    }  # fmt: skip
    response = sam_client.post(reverse("admin:presence_status_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    status = Status.objects.get(slug="backoffice")
    assert (status.can_receive, status.in_load_balance, status.warn_on_assign) == (True, True, True)
    assert status.history.first().history_user == sam
    mapping = ReassignMapping.objects.get(to_status=status)
    assert (mapping.from_status, mapping.action) == (None, "reroute")
    assert mapping.history.first().history_user == sam


def test_supervisor_adds_a_shift_type_a_shift_and_an_appointment(sam_client, sam, statuses, online):
    (ann,) = online("ann")
    response = sam_client.post(
        reverse("admin:scheduling_shifttype_add"),
        {"name": "Early", "default_status": statuses["available"].pk, "end_status": statuses["after-work"].pk},
    )
    assert response.status_code == 302
    early = ShiftType.objects.get(name="Early")
    shift = {"agent": ann.pk, "shift_type": early.pk, "start_0": "2030-01-07", "start_1": "08:00:00",
             "end_0": "2030-01-07", "end_1": "16:00:00"}  # fmt: skip
    assert sam_client.post(reverse("admin:scheduling_shift_add"), shift).status_code == 302
    appointment = {"agent": ann.pk, "subject": "1:1", "agent_status": statuses["meeting"].pk, "start_0": "2030-01-07",
                   "start_1": "10:00:00", "end_0": "2030-01-07", "end_1": "10:30:00"}  # fmt: skip
    assert sam_client.post(reverse("admin:scheduling_appointment_add"), appointment).status_code == 302
    assert Shift.objects.get().history.first().history_user == sam
    assert Appointment.objects.get().agent == ann


def test_supervisor_adds_a_ticket_and_a_team_with_members(sam_client, sam, online):
    ann, bob = online("ann", "bob")
    data = {
        "name": "Billing", "coverage_minimum": "0",
        "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
        "routing-TOTAL_FORMS": "1", "routing-INITIAL_FORMS": "0", "routing-MIN_NUM_FORMS": "1",
        "routing-MAX_NUM_FORMS": "1", "routing-0-method": "load_balance",
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "0", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000", "memberships-0-agent": ann.pk, "memberships-0-active": "on",
        "memberships-1-agent": bob.pk,
    }  # fmt: skip
    response = sam_client.post(reverse("admin:presence_team_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    team = ann.team_memberships.get().team
    assert team.routing.method == "load_balance"
    assert dict(TeamMembership.objects.filter(team=team).values_list("agent__username", "active")) == {
        "ann": True, "bob": False,
    }  # fmt: skip
    ticket = {
        "subject": "Refund", "channel": "email", "team": team.pk, "assignee": "", "state": "open",
        "notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0", "notes-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    assert sam_client.post(reverse("admin:tickets_ticket_add"), ticket).status_code == 302
    assert Ticket.objects.get(subject="Refund").assignee == ann  # load balance: the active member


def test_supervisor_changes_the_presence_settings(sam_client, sam, statuses):
    url = reverse("admin:presence_presencesettings_change", args=[1])
    data = {
        "reassign_on_status_change": "on", "login_status": statuses["available"].pk, "idle_timeout_minutes": "30",
        "idle_timeout_named": "on", "idle_warning_seconds": "60", "auto_offline_minutes": "10",
        "auto_offline_status": statuses["offline"].pk, "kick_out_minutes": "15", "appointment_default_status": "",
    }  # fmt: skip
    assert sam_client.post(url, data).status_code == 302
    config = PresenceSettings.load()
    assert (config.log_status_changes, config.reassign_on_status_change, config.idle_timeout_minutes) == (
        False, True, 30,
    )  # fmt: skip
    assert config.history.first().history_user == sam


def test_supervisor_cannot_touch_user_accounts_groups_tokens_or_periodic_tasks(sam_client):
    for name in ("auth_user", "auth_group", "authtoken_tokenproxy", "django_celery_beat_periodictask"):
        assert sam_client.get(reverse(f"admin:{name}_changelist")).status_code == 403, name
    assert sam_client.get(reverse("admin:index")).status_code == 200


def test_the_status_log_is_append_only_even_for_superusers(admin_client, statuses, online):
    (ann,) = online("ann")
    presence_change_status(ann, statuses["busy"], actor=ann, source="api")
    row = StatusChangeLog.objects.filter(agent=ann).latest("at")
    assert admin_client.get(reverse("admin:presence_statuschangelog_add")).status_code == 403
    assert admin_client.post(reverse("admin:presence_statuschangelog_change", args=[row.pk]), {}).status_code == 403
    assert admin_client.post(reverse("admin:presence_statuschangelog_delete", args=[row.pk]), {}).status_code == 403


# --- 2. history pages ------------------------------------------------------------------------------


def test_a_revert_runs_the_change_forms_validation(sam_client, statuses, presence_settings):
    statuses["meeting"].enabled = False
    statuses["meeting"].save()
    presence_settings.save()  # a version to revert to, pointing at Available
    version = presence_settings.history.latest("history_date")
    url = reverse("admin:presence_presencesettings_simple_history", args=[1, version.pk])
    data = {
        "log_status_changes": "on", "login_status": statuses["meeting"].pk, "idle_warning_seconds": 60,
        "auto_offline_minutes": 10, "auto_offline_status": statuses["offline"].pk, "kick_out_minutes": 15,
    }  # fmt: skip
    response = sam_client.post(url, data)
    assert response.status_code == 200 and "is disabled" in response.content.decode()
    assert PresenceSettings.load().login_status == statuses["available"]


# --- 3. only agents can be picked ---------------------------------------------------------------------


def _pick(client, model: str, field: str, term: str = ""):
    app = {"shift": "scheduling", "appointment": "scheduling", "ticket": "tickets"}.get(model, "presence")
    return client.get(
        reverse("admin:presence_agent_autocomplete"),
        {"app_label": app, "model_name": model, "field_name": field, "term": term},
    )


def test_agent_pickers_list_only_agents_with_search(sam_client, online):
    online("ann", "anton", "bob")
    UserFactory(username="andrea")  # a user account, not an agent
    for model, field in [("shift", "agent"), ("appointment", "agent"), ("ticket", "assignee"),
                         ("agentprofile", "delegate"), ("teammembership", "agent")]:  # fmt: skip
        response = _pick(sam_client, model, field, "an")
        assert response.status_code == 200, (model, field)
        assert [r["text"] for r in response.json()["results"]] == ["ann", "anton"], (model, field)
    # making someone an agent picks among users who are not agents yet
    assert [r["text"] for r in _pick(sam_client, "agentprofile", "user", "an").json()["results"]] == ["andrea"]


def test_agent_pickers_render_as_autocomplete_on_the_forms(sam_client):
    for name in ("scheduling_shift_add", "scheduling_appointment_add", "tickets_ticket_add", "presence_team_add"):
        page = sam_client.get(reverse(f"admin:{name}")).content.decode()
        assert "admin-autocomplete" in page and "/admin/presence/agentprofile/pick/" in page, name


def test_the_delegate_picker_is_an_autocomplete_on_the_profile_change_form(sam_client, online):
    (ann,) = online("ann")
    page = sam_client.get(reverse("admin:presence_agentprofile_change", args=[ann.agent_profile.pk]))
    assert page.status_code == 200
    select = page.content.decode().split('<select name="delegate"', 1)[1].split(">", 1)[0]
    assert 'class="admin-autocomplete"' in select and 'data-field-name="delegate"' in select
    assert 'data-ajax--url="/admin/presence/agentprofile/pick/"' in select


def test_a_shift_or_appointment_for_a_non_agent_is_refused_everywhere(sam_client, sam, statuses, online):
    outsider = UserFactory(username="olive")
    early = ShiftType.objects.create(name="Early", default_status=statuses["available"])
    # model validation
    with pytest.raises(Exception, match="not an agent") as exc:
        Shift(
            agent=outsider, shift_type=early, start=timezone.now(), end=timezone.now() + timedelta(hours=1)
        ).full_clean()
    assert "agent" in exc.value.message_dict
    # admin
    shift = {"agent": outsider.pk, "shift_type": early.pk, "start_0": "2030-01-07", "start_1": "08:00:00",
             "end_0": "2030-01-07", "end_1": "16:00:00"}  # fmt: skip
    page = sam_client.post(reverse("admin:scheduling_shift_add"), shift)
    assert page.status_code == 200 and "only users with an agent profile can be picked" in page.content.decode()
    # API: 400 naming the field
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(sam)
    body = {"agent": outsider.pk, "subject": "x", "start": "2030-01-07T10:00Z", "end": "2030-01-07T11:00Z"}
    response = api.post("/api/v1/appointments/", body, format="json")
    assert response.status_code == 400 and "agent" in response.json()["errors"]
    assert (
        response.json()["message"] == f"agent: User {outsider.pk} is not an agent: only users with an agent "
        "profile can be picked."
    )
    assert not Shift.objects.exists() and not Appointment.objects.exists()


def test_ticket_assignee_delegate_and_member_must_be_agents(statuses, online):
    from django.core.exceptions import ValidationError

    (ann,) = online("ann")
    outsider = UserFactory(username="olive")
    team = TeamFactory()
    with pytest.raises(ValidationError, match="olive"):
        Ticket(subject="x", assignee=outsider).full_clean()
    profile = ann.agent_profile
    profile.delegate = outsider
    with pytest.raises(ValidationError, match="olive"):
        profile.full_clean()
    with pytest.raises(ValidationError, match="olive"):
        TeamMembership(team=team, agent=outsider).full_clean()


def test_a_sweep_skips_a_bad_row_and_goes_on_with_the_rest(statuses, online, caplog):
    (ann,) = online("ann")
    outsider = UserFactory(username="olive")
    now = timezone.now()
    early = ShiftType.objects.create(name="Early", default_status=statuses["busy"])
    # rows written around validation, as an old database or a script might hold them
    bad = Appointment.objects.create(agent=outsider, subject="x", agent_status=statuses["meeting"],
                                     start=now - timedelta(minutes=5), end=now + timedelta(hours=1))  # fmt: skip
    good = Appointment.objects.create(agent=ann, subject="1:1", agent_status=statuses["meeting"],
                                      start=now - timedelta(minutes=1), end=now + timedelta(hours=1))  # fmt: skip
    bad_shift = Shift.objects.create(agent=outsider, shift_type=early, start=now - timedelta(minutes=5),
                                     end=now + timedelta(hours=1))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="scheduling.services"):
        assert appointment_apply_due() == 1
        assert shift_apply_due() == 0
    assert AgentPresence.objects.get(agent=ann).status == statuses["meeting"]
    bad.refresh_from_db()
    bad_shift.refresh_from_db()
    assert "not an agent" in bad.skipped_reason and bad.start_applied_at and bad.end_applied_at
    assert "not an agent" in bad_shift.skipped_reason
    assert "Skipped appointment" in caplog.text
    good.refresh_from_db()
    assert good.start_applied_at and not good.skipped_reason
    assert appointment_apply_due() == 0  # the bad row does not come back every run


# --- 4. status changes in the admin go through the service ---------------------------------------------


def _set_status(client, presences, status, reason="", **extra):
    data = {"action": "set_status", "_selected_action": [p.pk for p in presences], "apply": "yes",
            "status": status.pk, "reason": reason, **extra}  # fmt: skip
    return client.post(reverse("admin:presence_agentpresence_changelist"), data, follow=True)


def test_bulk_set_status_asks_then_changes_each_agent_and_names_the_offline_ones(sam_client, sam, statuses, online):
    ann, bob = online("ann", "bob")
    cara = AgentFactory(username="cara")  # Offline
    presences = AgentPresence.objects.filter(agent__in=[ann, bob, cara])
    page = sam_client.post(
        reverse("admin:presence_agentpresence_changelist"),
        {"action": "set_status", "_selected_action": [p.pk for p in presences]},
    )
    html = page.content.decode()
    assert page.status_code == 200 and "Set the status of 3 agents" in html
    assert "cara: ⚫ Offline <strong>(offline: will be skipped)</strong>" in html
    response = _set_status(sam_client, presences, statuses["meeting"], reason="team meeting")
    messages = _messages(response)
    assert "Meeting set for 2 agent(s): ann, bob." in messages
    assert any(m.startswith("Skipped: cara (cara is offline") for m in messages)
    rows = StatusChangeLog.objects.filter(to_status=statuses["meeting"]).order_by("agent__username")
    assert [(r.agent.username, r.source, r.actor, r.reason) for r in rows] == [
        ("ann", "supervisor", sam, "team meeting"), ("bob", "supervisor", sam, "team meeting"),
    ]  # fmt: skip
    assert AgentPresence.objects.get(agent=cara).status == statuses["offline"]


def test_bulk_set_status_refuses_a_status_agents_cannot_pick(sam_client, statuses, online):
    (ann,) = online("ann")
    response = _set_status(sam_client, AgentPresence.objects.filter(agent=ann), statuses[Status.KICKED_OUT])
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert AgentPresence.objects.get(agent=ann).status == statuses["available"]


def test_bulk_enable_and_disable_statuses(sam_client, statuses):
    url = reverse("admin:presence_status_changelist")
    selected = [statuses["meeting"].pk, statuses["training"].pk, statuses["available"].pk, statuses["offline"].pk]
    response = sam_client.post(url, {"action": "disable_statuses", "_selected_action": selected}, follow=True)
    messages = _messages(response)
    assert "Disabled 2 status(es): Training, Meeting." in messages
    assert any("login status in the presence settings" in m for m in messages)
    assert any("built-in system status" in m for m in messages)
    assert set(Status.objects.filter(enabled=False).values_list("slug", flat=True)) == {"meeting", "training"}
    response = sam_client.post(url, {"action": "enable_statuses", "_selected_action": selected}, follow=True)
    assert not Status.objects.filter(enabled=False).exists()


# --- 5. protected statuses ----------------------------------------------------------------------------


def test_the_login_and_auto_offline_statuses_cannot_be_disabled_in_admin_or_api(sam_client, sam, statuses):
    from rest_framework.test import APIClient

    url = reverse("admin:presence_status_change", args=[statuses["available"].pk])
    data = {
        "name": "Available",
        "slug": "available",
        "category": "online",
        "color": "#2E7D32",
        "emoji": "🟢",
        "sort_order": "10",
        "can_receive": "on",
        "in_load_balance": "on",
        "max_duration": "",
        "return_status": "",
        "idle_timeout": "",
        "mappings_to-TOTAL_FORMS": "0",
        "mappings_to-INITIAL_FORMS": "0",
        "mappings_to-MIN_NUM_FORMS": "0",
        "mappings_to-MAX_NUM_FORMS": "1000",
    }  # fmt: skip  (enabled unticked)
    page = sam_client.post(url, data)
    assert page.status_code == 200
    assert "is the login status in the presence settings, so it cannot be disabled" in page.content.decode()
    api = APIClient()
    api.force_authenticate(sam)
    response = api.patch(f"/api/v1/statuses/{statuses['offline'].pk}/", {"enabled": False}, format="json")
    assert response.status_code == 400 and "system status" in response.json()["message"]
    assert response.json()["errors"]["enabled"]
    assert Status.objects.filter(slug__in=["available", "offline"], enabled=True).count() == 2


@pytest.mark.parametrize(
    "setting, slug, named",
    [
        ("login_status", "available", "the login status"),
        ("auto_offline_status", "out-of-office", "the auto-offline status"),
    ],
)
def test_the_api_refuses_to_disable_a_non_system_status_a_setting_uses(
    sam, statuses, presence_settings, setting, slug, named
):
    from rest_framework.test import APIClient

    status = statuses[slug]
    assert not status.is_system  # protected by the setting alone
    setattr(presence_settings, setting, status)
    presence_settings.save()
    api = APIClient()
    api.force_authenticate(sam)
    response = api.patch(f"/api/v1/statuses/{status.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 400
    assert f"{named} in the presence settings, so it cannot be disabled" in response.json()["message"]
    assert response.json()["errors"]["enabled"]
    assert Status.objects.get(pk=status.pk).enabled


def test_settings_refuse_a_disabled_login_status(sam_client, statuses):
    statuses["busy"].enabled = False
    statuses["busy"].save()
    data = {
        "login_status": statuses["busy"].pk, "idle_warning_seconds": "60", "auto_offline_minutes": "10",
        "auto_offline_status": statuses["offline"].pk, "kick_out_minutes": "15",
    }  # fmt: skip
    page = sam_client.post(reverse("admin:presence_presencesettings_change", args=[1]), data)
    assert page.status_code == 200 and "the login status must be an enabled status" in page.content.decode()


def test_deleting_the_login_status_names_the_setting_on_the_confirmation_page(sam_client, statuses):
    page = sam_client.get(reverse("admin:presence_status_delete", args=[statuses["available"].pk])).content.decode()
    assert "is the login status in the presence settings" in page
    sam_client.post(reverse("admin:presence_status_delete", args=[statuses["available"].pk]), {"post": "yes"})
    assert Status.objects.filter(slug="available").exists()


# --- 6. confirm before assigning to a warned agent ----------------------------------------------------


def _ticket_form(ticket, **overrides) -> dict:
    data = {
        "subject": ticket.subject, "channel": ticket.channel, "team": "", "assignee": "", "state": ticket.state,
        "notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0",
        "notes-MAX_NUM_FORMS": "1000", "_save": "Save",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_assigning_to_a_warned_agent_asks_first_and_cancel_changes_nothing(sam_client, statuses):
    ann = AgentFactory(username="ann", status=statuses["out-of-office"])
    ticket = TicketFactory(subject="Printer")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    page = sam_client.post(url, _ticket_form(ticket, assignee=ann.pk))
    html = page.content.decode()
    assert page.status_code == 200 and "ann is Out of office. Assign anyway?" in html
    assert f'href="{url}"' in html and 'id="cancel"' in html  # Cancel: back to the unchanged ticket
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert sam_client.get(url).status_code == 200  # what Cancel does
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    response = sam_client.post(url, _ticket_form(ticket, assignee=ann.pk, _confirmed="yes"))
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).assignee == ann


def test_a_revert_to_a_warned_assignee_asks_first_and_cancel_changes_nothing(sam_client, sam, statuses, online):
    # given: the ticket was ann's, then bob's; ann is Out of office now
    (bob,) = online("bob")
    ann = AgentFactory(username="ann", status=statuses["out-of-office"])
    ticket = TicketFactory(subject="Printer", assignee=ann)
    version = ticket.history.latest("history_date")  # assigned to ann
    ticket_services.ticket_assign(ticket, bob, actor=sam)
    url = reverse("admin:tickets_ticket_simple_history", args=[ticket.pk, version.pk])
    revert = {"subject": "Printer", "channel": "email", "team": "", "assignee": ann.pk, "state": "open", "_save": "1"}
    # when: reverting without confirming
    page = sam_client.post(url, revert)
    # then: the change form's question, and nothing changed
    html = page.content.decode()
    assert page.status_code == 200 and "ann is Out of office. Assign anyway?" in html
    assert f'href="{url}"' in html and 'id="cancel"' in html  # Cancel: back to the version, unreverted
    assert Ticket.objects.get(pk=ticket.pk).assignee == bob
    assert sam_client.get(url).status_code == 200  # what Cancel does
    assert Ticket.objects.get(pk=ticket.pk).assignee == bob
    # when confirmed: the revert assigns through the service
    response = sam_client.post(url, {**revert, "_confirmed": "yes"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == ann and ticket.history.first().history_user == sam


def test_a_revert_to_an_assignee_the_service_refuses_is_a_form_error(sam_client, sam, statuses, online):
    (bob,) = online("bob")
    dora = AgentFactory(username="dora", status=statuses["available"])
    ticket = TicketFactory(subject="Printer", assignee=dora)
    version = ticket.history.latest("history_date")
    ticket_services.ticket_assign(ticket, bob, actor=sam)
    presence_change_status(dora, statuses["offline"], actor=dora, source="logout")
    url = reverse("admin:tickets_ticket_simple_history", args=[ticket.pk, version.pk])
    revert = {"subject": "Printer", "channel": "email", "team": "", "assignee": dora.pk, "state": "open"}
    page = sam_client.post(url, revert)
    assert page.status_code == 200 and "dora is offline" in page.content.decode()
    assert 'class="errorlist' in page.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee == bob


def test_assigning_to_an_agent_who_does_not_warn_saves_at_once(sam_client, online):
    (bob,) = online("bob")
    ticket = TicketFactory(subject="Printer")
    response = sam_client.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), _ticket_form(ticket, assignee=bob.pk)
    )
    assert response.status_code == 302 and Ticket.objects.get(pk=ticket.pk).assignee == bob


def test_bulk_assign_asks_for_the_agent_then_confirms_a_warned_one(sam_client, statuses):
    ann = AgentFactory(username="ann", status=statuses["out-of-office"])
    tickets = [TicketFactory(subject=f"t{i}") for i in range(2)]
    url = reverse("admin:tickets_ticket_changelist")
    base = {"action": "assign_to", "_selected_action": [t.pk for t in tickets]}
    page = sam_client.post(url, base)
    assert page.status_code == 200 and "Assign 2 tickets" in page.content.decode()
    page = sam_client.post(url, {**base, "apply": "yes", "agent": ann.pk})
    assert "ann is Out of office. Assign anyway?" in page.content.decode()
    assert not Ticket.objects.filter(assignee=ann).exists()
    response = sam_client.post(url, {**base, "apply": "yes", "agent": ann.pk, "confirmed": "yes"}, follow=True)
    assert "Assigned 2 ticket(s) to ann." in _messages(response)
    assert Ticket.objects.filter(assignee=ann).count() == 2


def test_cancel_on_the_bulk_assign_confirmation_changes_nothing(sam_client, statuses, online):
    (bob,) = online("bob")
    ann = AgentFactory(username="ann", status=statuses["out-of-office"])
    tickets = [TicketFactory(subject="t0"), TicketFactory(subject="t1", assignee=bob)]
    url = reverse("admin:tickets_ticket_changelist")
    data = {"action": "assign_to", "_selected_action": [t.pk for t in tickets], "apply": "yes", "agent": ann.pk}
    page = sam_client.post(url, data)
    confirmation = page.content.decode().split('id="confirmation"', 1)[1]
    assert "ann is Out of office. Assign anyway?" in confirmation
    cancel = confirmation.split('id="cancel"', 1)[0].rsplit("<a ", 1)[1]
    assert f'href="{url}"' in cancel  # a link back to the list: it posts nothing
    assert sam_client.get(url).status_code == 200  # what Cancel does
    assert [Ticket.objects.get(pk=t.pk).assignee for t in tickets] == [None, bob]
    assert not Ticket.objects.filter(assignee=ann).exists()


def test_bulk_assign_refuses_a_non_agent(sam_client):
    outsider = UserFactory(username="olive")
    ticket = TicketFactory(subject="t")
    page = sam_client.post(
        reverse("admin:tickets_ticket_changelist"),
        {"action": "assign_to", "_selected_action": [ticket.pk], "apply": "yes", "agent": outsider.pk},
    )
    assert "only users with an agent profile can be picked" in page.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_notes_are_added_in_admin_and_a_warned_mention_asks_first(sam_client, sam, statuses, online):
    AgentFactory(username="ann", status=statuses["out-of-office"])
    online("bob")
    ticket = TicketFactory(subject="Printer")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    form = _ticket_form(ticket, **{"notes-TOTAL_FORMS": "1", "notes-0-body": "@ann and @bob please look"})
    page = sam_client.post(url, form)
    assert "ann is Out of office. Mention them anyway?" in page.content.decode()
    assert "bob" not in page.content.decode().split("errornote")[1].split("</p>")[0]
    assert not TicketNote.objects.exists()
    assert sam_client.post(url, {**form, "_confirmed": "yes"}).status_code == 302
    note = TicketNote.objects.get()
    assert (note.author, sorted(note.mentions.values_list("username", flat=True))) == (sam, ["ann", "bob"])
    # a note without warned mentions needs no confirmation, and old notes stay as written
    form = _ticket_form(ticket, **{"notes-TOTAL_FORMS": "2", "notes-INITIAL_FORMS": "1", "notes-0-id": note.pk,
                                   "notes-0-ticket": ticket.pk, "notes-1-body": "done"})  # fmt: skip
    assert sam_client.post(url, form).status_code == 302
    assert list(TicketNote.objects.values_list("body", flat=True)) == ["@ann and @bob please look", "done"]


# --- 7. mappings off ------------------------------------------------------------------------------------


def test_mapping_pages_say_when_mappings_are_off(sam_client, statuses, presence_settings):
    settings_url = reverse("admin:presence_presencesettings_change", args=[1])
    lst = sam_client.get(reverse("admin:tickets_reassignmapping_changelist")).content.decode()
    assert "Mappings are off" in lst and settings_url in lst
    inline = sam_client.get(reverse("admin:presence_status_change", args=[statuses["lunch"].pk])).content.decode()
    assert "Mappings are off" in inline
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    lst = sam_client.get(reverse("admin:tickets_reassignmapping_changelist")).content.decode()
    assert "Mappings are off" not in lst and "do not apply to shift and appointment changes" in lst
    presence_settings.apply_mappings_to_schedules = True
    presence_settings.save()
    assert "mappings-off" not in sam_client.get(reverse("admin:tickets_reassignmapping_changelist")).content.decode()


def test_the_status_pages_mapping_inline_says_when_mappings_skip_schedules(sam_client, statuses, presence_settings):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    url = reverse("admin:presence_status_change", args=[statuses["lunch"].pk])
    inline = sam_client.get(url).content.decode()
    banner = inline.split('class="errornote mappings-off">', 1)[1].split("</p>", 1)[0]
    assert "Mappings do not apply to shift and appointment changes." in banner
    assert reverse("admin:presence_presencesettings_change", args=[1]) in banner
    assert "Mappings are off" not in inline
    presence_settings.apply_mappings_to_schedules = True
    presence_settings.save()
    assert "mappings-off" not in sam_client.get(url).content.decode()


# --- 8. help and fit ----------------------------------------------------------------------------------


def test_every_status_flag_and_setting_says_what_it_does():
    for model in (Status, PresenceSettings):
        for field in model._meta.get_fields():
            # Flags the code sets (is_system) show in the list's filters and the API, so they too.
            shown = getattr(field, "editable", False) or isinstance(field, models.BooleanField)
            if shown and field.concrete and not field.primary_key:
                assert field.help_text, f"{model.__name__}.{field.name} has no help text"
                assert str(field.help_text).count(". ") == 0, f"{model.__name__}.{field.name}: one sentence"


def test_admin_pages_show_the_status_dropdown_to_agents_only(sam_client, statuses):
    agent_supervisor = AgentFactory(username="ada", status=statuses["available"])
    agent_supervisor.is_staff = True
    agent_supervisor.save()
    agent_supervisor.groups.add(Group.objects.get(name="supervisors"))
    client = Client()
    client.force_login(agent_supervisor)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="status-select"' in page and "presence/agent.js" in page
    assert 'id="status-select"' not in sam_client.get(reverse("admin:index")).content.decode()
    response = client.post(
        reverse("presence:status-change"), {"status": statuses["busy"].pk, "next": reverse("admin:index")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert AgentPresence.objects.get(agent=agent_supervisor).status == statuses["busy"]


# --- P6 in the admin -----------------------------------------------------------------------------------


def test_supervisor_approves_and_rejects_requests_in_the_admin(sam_client, sam, statuses, online):
    ann, bob = online("ann", "bob")
    first = StatusRequest.objects.create(agent=ann, status=statuses["training"])
    second = StatusRequest.objects.create(agent=bob, status=statuses["training"])
    url = reverse("admin:presence_statusrequest_changelist")
    response = sam_client.post(url, {"action": "approve", "_selected_action": [first.pk]}, follow=True)
    assert "Approved 1 request(s): ann → Training." in _messages(response)
    assert AgentPresence.objects.get(agent=ann).status == statuses["training"]
    sam_client.post(url, {"action": "reject", "_selected_action": [second.pk]})
    assert StatusRequest.objects.get(pk=second.pk).state == "rejected"
    response = sam_client.post(url, {"action": "reject", "_selected_action": [first.pk]}, follow=True)
    assert any("already approved" in m for m in _messages(response))
    # a request's own page is read-only
    page = sam_client.get(reverse("admin:presence_statusrequest_change", args=[first.pk])).content.decode()
    assert 'name="_save"' not in page


# --- a view-only staff user changes nothing -----------------------------------------------------------


@pytest.fixture
def viewer_client(client):
    viewer = UserFactory(username="vic", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    return client


def test_a_view_only_staff_user_can_run_no_action(viewer_client, statuses, online):
    (ann,) = online("ann")
    ticket = TicketFactory(subject="t")
    request = StatusRequest.objects.create(agent=ann, status=statuses["training"])
    posts = [
        ("admin:presence_agentpresence_changelist",
         {"action": "set_status", "apply": "yes", "status": statuses["busy"].pk,
          "_selected_action": [AgentPresence.objects.get(agent=ann).pk]}),
        ("admin:presence_status_changelist", {"action": "disable_statuses", "_selected_action": [statuses["busy"].pk]}),
        ("admin:presence_statusrequest_changelist", {"action": "approve", "_selected_action": [request.pk]}),
        ("admin:tickets_ticket_changelist",
         {"action": "assign_to", "apply": "yes", "agent": ann.pk, "_selected_action": [ticket.pk]}),
        ("admin:tickets_ticket_changelist", {"action": "close_tickets", "_selected_action": [ticket.pk]}),
    ]  # fmt: skip
    for name, data in posts:
        viewer_client.post(reverse(name), data)
    assert AgentPresence.objects.get(agent=ann).status == statuses["available"]
    assert Status.objects.get(pk=statuses["busy"].pk).enabled
    assert StatusRequest.objects.get(pk=request.pk).state == "pending"
    assert Ticket.objects.get(pk=ticket.pk).assignee is None and Ticket.objects.get(pk=ticket.pk).state == "open"


def test_a_view_only_staff_user_gets_403_on_every_change_form_post(viewer_client, statuses, online):
    (ann,) = online("ann")
    ticket = TicketFactory(subject="t")
    for name, pk in [("presence_status", statuses["busy"].pk), ("presence_presencesettings", 1),
                     ("presence_agentpresence", ann.pk), ("tickets_ticket", ticket.pk)]:  # fmt: skip
        assert viewer_client.post(reverse(f"admin:{name}_change", args=[pk]), {}).status_code == 403, name


# --- bad input: a form error naming the field, nothing half-saved ------------------------------------


def test_an_assignment_the_service_would_refuse_is_a_form_error_and_nothing_is_saved(sam_client, statuses):
    AgentFactory(username="dora")  # Offline
    AgentFactory(username="phil", status=statuses["available"], profile={"can_phone": False})
    ticket = TicketFactory(subject="Printer")
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    for username, message, extra in [("dora", "dora is offline", {}),
                                     ("phil", "phil cannot handle phone tickets", {"channel": "phone"})]:  # fmt: skip
        agent = AgentFactory._meta.model.objects.get(username=username)
        page = sam_client.post(url, _ticket_form(ticket, subject="Renamed", assignee=agent.pk, **extra))
        assert page.status_code == 200 and message in page.content.decode()
        assert 'class="errorlist' in page.content.decode()
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.channel, ticket.assignee) == ("Printer", "email", None)


def test_a_refusal_while_saving_undoes_the_whole_save(sam_client, statuses, monkeypatch):
    from tickets import services as ticket_services
    from tickets.services import AssignmentRefused

    (ann,) = [AgentFactory(username="ann", status=statuses["available"])]
    ticket = TicketFactory(subject="Printer")

    def refuse(*args, **kwargs):  # as if ann went offline between the form's check and the save
        raise AssignmentRefused("ann is offline and cannot be assigned tickets.")

    monkeypatch.setattr(ticket_services, "ticket_assign", refuse)
    response = sam_client.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        _ticket_form(ticket, subject="Renamed", assignee=ann.pk),
        follow=True,
    )
    assert "Nothing was saved: ann is offline and cannot be assigned tickets." in _messages(response)
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.assignee) == ("Printer", None)


def test_a_duplicate_status_name_is_a_form_error(sam_client, statuses):
    data = {"name": "Lunch", "slug": "lunch-2", "category": "inactive", "color": "#000000", "sort_order": "1",
            "mappings_to-TOTAL_FORMS": "0", "mappings_to-INITIAL_FORMS": "0"}  # fmt: skip
    page = sam_client.post(reverse("admin:presence_status_add"), data)
    assert page.status_code == 200 and "A status with this name already exists." in page.content.decode()
    assert not Status.objects.filter(slug="lunch-2").exists()
