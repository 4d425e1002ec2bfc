"""The presence admin (S4, U4): lists, forms, validation shown, deletion guard, history, singleton."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from presence.models import AgentPresence, AgentProfile, PresenceSettings, Status, StatusChangeLog
from tests.factories import AgentFactory, StatusFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def _status_form(**overrides) -> dict:
    data = {
        "name": "Coffee", "slug": "coffee", "category": "inactive", "color": "#6D4C41", "emoji": "☕",
        "sort_order": "200", "enabled": "on", "max_duration": "", "return_status": "", "idle_timeout": "",
        "mappings_to-TOTAL_FORMS": "0", "mappings_to-INITIAL_FORMS": "0", "mappings_to-MIN_NUM_FORMS": "0",
        "mappings_to-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- statuses ------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_status_changelist_shows_swatches_emoji_and_flags(admin_client_, statuses, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = admin_client_.get(reverse("admin:presence_status_changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "background:#2E7D32" in html and "🍽️" in html
    assert html.count('<img src="/static/admin/img/icon-yes.svg"') >= 2  # flags as boolean columns
    assert "30 min → Available" in html and "Offline · system" in html


def test_status_changelist_filters_and_search(admin_client_, statuses):
    inactive = admin_client_.get(
        reverse("admin:presence_status_changelist") + "?category__exact=inactive"
    ).content.decode()
    assert "Lunch" in inactive and "🟢 Available" not in inactive
    receiving = admin_client_.get(
        reverse("admin:presence_status_changelist") + "?can_receive__exact=1"
    ).content.decode()
    assert "🟢 Available" in receiving and "🔴 Busy" not in receiving
    found = admin_client_.get(reverse("admin:presence_status_changelist") + "?q=break").content.decode()
    assert "Short break" in found and "👥 Meeting" not in found


def test_add_status_saves_with_history(admin_client_, admin_user):
    response = admin_client_.post(reverse("admin:presence_status_add"), _status_form())
    assert response.status_code == 302
    coffee = Status.objects.get(slug="coffee")
    assert coffee.history.first().history_user == admin_user


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"can_receive": "on", "in_load_balance": "on", "in_load_balance_for_chat": "on"}, "only be set when"),
        ({"in_load_balance": "on"}, "needs 'can receive'"),
        ({"can_receive": "on", "count_time_after_dialogs_closed": "on"}, "cannot be on together"),
        ({"max_duration": "15"}, "needs a return status"),
        ({"color": "brown"}, "#RRGGBB"),
        ({"name": "Lunch", "slug": "lunch2"}, "already exists"),
    ],
)
def test_add_status_shows_validation_errors(admin_client_, statuses, overrides, message):
    response = admin_client_.post(reverse("admin:presence_status_add"), _status_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Status.objects.filter(slug__in=["coffee", "lunch2"]).exists()


def test_system_status_keeps_slug_and_category_but_edits_the_rest(admin_client_, statuses):
    offline = statuses["offline"]
    url = reverse("admin:presence_status_change", args=[offline.pk])
    page = admin_client_.get(url).content.decode()
    assert 'name="category"' not in page and 'name="slug"' not in page
    data = _status_form(name="Signed out", color="#000000", slug=None, category=None)
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    offline.refresh_from_db()
    assert (offline.name, offline.category, offline.slug) == ("Signed out", "offline", "offline")


def test_delete_unused_status(admin_client_):
    status = StatusFactory()
    url = reverse("admin:presence_status_delete", args=[status.pk])
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.post(url, {"post": "yes"}).status_code == 302
    assert not Status.objects.filter(pk=status.pk).exists()


def test_delete_used_status_is_refused_naming_the_agent(admin_client_, statuses):
    AgentFactory(username="quinn", status=statuses["training"])
    url = reverse("admin:presence_status_delete", args=[statuses["training"].pk])
    page = admin_client_.get(url).content.decode()
    assert "quinn" in page and "protected" in page
    admin_client_.post(url, {"post": "yes"})
    assert Status.objects.filter(pk=statuses["training"].pk).exists()


def test_system_status_cannot_be_deleted(admin_client_, statuses):
    url = reverse("admin:presence_status_delete", args=[statuses["offline"].pk])
    assert admin_client_.post(url, {"post": "yes"}).status_code == 403
    assert Status.objects.filter(slug="offline").exists()


def test_bulk_delete_keeps_used_and_system_statuses(admin_client_, statuses):
    AgentFactory(username="quinn", status=statuses["training"])
    unused = StatusFactory()
    selected = [statuses["training"].pk, statuses[Status.KICKED_OUT].pk, unused.pk]
    page = admin_client_.post(
        reverse("admin:presence_status_changelist"), {"action": "delete_selected", "_selected_action": selected}
    ).content.decode()
    assert "quinn" in page and "built-in system status" in page
    admin_client_.post(
        reverse("admin:presence_status_changelist"),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )
    assert Status.objects.filter(pk__in=selected).count() == 3


def test_pending_request_blocks_deletion_with_a_message(admin_client_, agent, statuses):
    status = StatusFactory(requires_approval=True)
    agent.status_requests.create(status=status)
    url = reverse("admin:presence_status_delete", args=[status.pk])
    assert "Pending approval request of ann" in admin_client_.get(url).content.decode()
    admin_client_.post(url, {"post": "yes"})
    assert Status.objects.filter(pk=status.pk).exists()
    agent.status_requests.update(state="rejected")  # decided requests go with the status
    assert admin_client_.post(url, {"post": "yes"}).status_code == 302
    assert not Status.objects.filter(pk=status.pk).exists()


def test_status_history_page(admin_client_, statuses):
    page = admin_client_.get(reverse("admin:presence_status_history", args=[statuses["busy"].pk]))
    assert page.status_code == 200 and "Busy" in page.content.decode()


# --- settings singleton -------------------------------------------------------------------------------


def _settings_form(statuses, **overrides) -> dict:
    data = {
        "log_status_changes": "on", "login_status": statuses["available"].pk, "idle_timeout_minutes": "",
        "idle_timeout_named": "on", "idle_timeout_concurrent": "on", "idle_warning_seconds": "60",
        "auto_offline_minutes": "10", "auto_offline_status": statuses["offline"].pk, "kick_out_minutes": "15",
        "appointment_default_status": "",
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_settings_list_goes_to_the_single_page(admin_client_, presence_settings):
    response = admin_client_.get(reverse("admin:presence_presencesettings_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:presence_presencesettings_change", args=[1])
    assert admin_client_.get(response["Location"]).status_code == 200
    assert admin_client_.get(reverse("admin:presence_presencesettings_add")).status_code == 403


def test_settings_form_validation_and_save(admin_client_, admin_user, statuses, presence_settings):
    url = reverse("admin:presence_presencesettings_change", args=[1])
    bad = admin_client_.post(url, _settings_form(statuses, idle_timeout_minutes="4"))
    assert bad.status_code == 200 and "at least 5 minutes" in bad.content.decode()
    bad = admin_client_.post(url, _settings_form(statuses, auto_offline_status=statuses["available"].pk))
    assert "does not receive work" in bad.content.decode()
    ok = admin_client_.post(url, _settings_form(statuses, log_status_changes=None, idle_timeout_minutes="20"))
    assert ok.status_code == 302
    config = PresenceSettings.load()
    assert (config.log_status_changes, config.idle_timeout_minutes) == (False, 20)
    assert config.history.first().history_user == admin_user


# --- presence, profiles, log ------------------------------------------------------------------------------


def test_presence_changelist_and_status_change_through_the_service(
    admin_client_, admin_user, statuses, django_assert_max_num_queries
):
    agents = [AgentFactory(status=statuses["available"]) for _ in range(10)]
    with django_assert_max_num_queries(10):
        page = admin_client_.get(reverse("admin:presence_agentpresence_changelist"))
    assert page.status_code == 200 and "Available" in page.content.decode()
    url = reverse("admin:presence_agentpresence_change", args=[agents[0].pk])
    response = admin_client_.post(url, {"status": statuses["busy"].pk, "reason": "covering phones"})
    assert response.status_code == 302
    row = StatusChangeLog.objects.get(agent=agents[0])
    assert (row.source, row.actor, row.reason, row.to_status) == (
        "supervisor",
        admin_user,
        "covering phones",
        statuses["busy"],
    )


def test_presence_change_of_an_offline_agent_is_refused_as_a_form_error(admin_client_, statuses):
    agent = AgentFactory(username="olga")
    response = admin_client_.post(
        reverse("admin:presence_agentpresence_change", args=[agent.pk]), {"status": statuses["busy"].pk}
    )
    assert response.status_code == 200
    assert "olga is offline: their status can be changed once they sign in." in response.content.decode()
    assert AgentPresence.objects.get(agent=agent).status == statuses["offline"]
    assert not StatusChangeLog.objects.filter(agent=agent).exists()


def test_presence_change_to_a_disabled_status_is_a_form_error(admin_client_, statuses):
    agent = AgentFactory(status=statuses["available"])
    statuses["meeting"].enabled = False
    statuses["meeting"].save()
    response = admin_client_.post(
        reverse("admin:presence_agentpresence_change", args=[agent.pk]), {"status": statuses["meeting"].pk}
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert AgentPresence.objects.get(agent=agent).status == statuses["available"]


def test_agent_profile_add_for_an_existing_user_creates_presence(admin_client_, statuses):
    user = UserFactory(username="newhire")
    team = TeamFactory()
    data = {
        "user": user.pk, "licence_type": "named", "time_zone": "UTC", "delegate": "", "teams": [team.pk],
        "can_email": "on",
        "capacity_email": "5", "capacity_chat": "3", "capacity_phone": "1", "capacity_video": "1",
    }  # fmt: skip
    response = admin_client_.post(reverse("admin:presence_agentprofile_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert AgentProfile.objects.get(user=user).capacity_email == 5
    assert AgentPresence.objects.get(agent=user).status == statuses["offline"]
    assert list(user.team_memberships.values_list("team", flat=True)) == [team.pk]


def test_agent_profile_change_and_list(admin_client_, agent):
    assert admin_client_.get(reverse("admin:presence_agentprofile_changelist")).status_code == 200
    url = reverse("admin:presence_agentprofile_change", args=[agent.pk])
    assert admin_client_.get(url).status_code == 200
    data = {
        "licence_type": "concurrent", "time_zone": "UTC", "delegate": "", "can_chat": "on",
        "capacity_email": "10", "capacity_chat": "7", "capacity_phone": "1", "capacity_video": "1",
    }  # fmt: skip
    assert admin_client_.post(url, data).status_code == 302
    profile = AgentProfile.objects.get(pk=agent.pk)
    assert (profile.licence_type, profile.capabilities, profile.capacity_chat) == ("concurrent", ["chat"], 7)


def test_status_log_is_read_only_with_filters(admin_client_, agent, statuses):
    from presence.services import presence_change_status

    presence_change_status(agent, statuses["busy"], actor=agent, source="api")
    page = admin_client_.get(reverse("admin:presence_statuschangelog_changelist") + "?source__exact=api")
    assert page.status_code == 200 and "Busy" in page.content.decode()
    assert admin_client_.get(reverse("admin:presence_statuschangelog_add")).status_code == 403
    row = StatusChangeLog.objects.get()
    response = admin_client_.post(reverse("admin:presence_statuschangelog_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 403 and StatusChangeLog.objects.exists()
