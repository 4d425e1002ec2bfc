"""The status model and the settings (S1, S2, S3, S5, P9): the built-in statuses of the data
migration (S2), the flags' validation (S1), the settings singleton (P9), and deletion guards that
name what uses a status, system and settings statuses included (S3, S5)."""

import pytest
from django.core.exceptions import ValidationError

from presence.errors import StatusInUse
from presence.models import AgentPresence, PresenceSettings, Status, StatusCategory
from presence.services import presence_change_status
from tests.factories import AgentFactory, StatusFactory, sync_routing

pytestmark = pytest.mark.django_db


def _errors(status: Status) -> dict:
    with pytest.raises(ValidationError) as exc:
        status.full_clean()
    return exc.value.message_dict


# --- S2: built-in statuses ------------------------------------------------------------


@pytest.mark.sqlite
def test_builtin_statuses_match_the_spec(statuses):
    assert set(statuses) == {
        "available", "busy", "not-ready", "lunch", "short-break", "training", "meeting",
        "technical-break", "after-work", "out-of-office", "kicked-out", "offline", "on-a-call", "after-call-work",
    }  # fmt: skip
    available = statuses["available"]
    assert (available.category, available.can_receive, available.online_for_live_chat, available.in_load_balance) == (
        "online",
        True,
        True,
        True,
    )
    assert statuses["busy"].category == "online" and not statuses["busy"].can_receive
    assert statuses["not-ready"].category == "not_ready"
    assert (statuses["lunch"].max_duration, statuses["lunch"].return_status) == (30, available)
    assert statuses["after-work"].count_time_after_dialogs_closed
    assert statuses["out-of-office"].warn_on_assign and statuses["out-of-office"].warn_on_mention
    system = {s.slug for s in statuses.values() if s.is_system}
    assert system == {"kicked-out", "offline", "on-a-call", "after-call-work"}
    assert (statuses["on-a-call"].category, statuses["after-call-work"].category) == ("online", "not_ready")
    assert statuses["offline"].category == "offline"
    assert [s.slug for s in statuses.values() if s.can_receive] == ["available"]


@pytest.mark.sqlite
def test_settings_singleton_exists_with_defaults(statuses):
    config = PresenceSettings.load()
    assert config.pk == 1
    assert config.login_status == statuses["available"]
    assert config.auto_offline_status == statuses["offline"]
    assert config.auto_offline_minutes == 10
    assert config.log_status_changes is True


def test_settings_load_recreates_a_missing_row(statuses):
    PresenceSettings.objects.all()._raw_delete(PresenceSettings.objects.db)
    assert PresenceSettings.load().auto_offline_status == statuses["offline"]


def test_settings_save_always_targets_the_single_row(statuses):
    PresenceSettings(login_status=statuses["busy"], auto_offline_status=statuses["offline"]).save()
    assert PresenceSettings.objects.count() == 1
    assert PresenceSettings.load().login_status == statuses["busy"]


# --- S1: validation rules -------------------------------------------------------------


@pytest.mark.sqlite
def test_in_load_balance_for_chat_only_without_in_load_balance():
    status = StatusFactory.build(can_receive=True, in_load_balance=True, in_load_balance_for_chat=True)
    assert "in_load_balance_for_chat" in _errors(status)
    StatusFactory.build(can_receive=True, in_load_balance=False, in_load_balance_for_chat=True).full_clean()


@pytest.mark.sqlite
@pytest.mark.parametrize("flag", ["in_load_balance", "in_load_balance_for_chat"])
def test_a_load_balance_flag_needs_can_receive(flag):
    status = StatusFactory.build(can_receive=False, **{flag: True})
    assert "needs 'can receive'" in _errors(status)[flag][0]
    StatusFactory.build(can_receive=True, **{flag: True}).full_clean()


@pytest.mark.sqlite
def test_count_time_after_dialogs_closed_never_with_can_receive():
    status = StatusFactory.build(can_receive=True, count_time_after_dialogs_closed=True)
    assert "count_time_after_dialogs_closed" in _errors(status)
    StatusFactory.build(can_receive=False, count_time_after_dialogs_closed=True).full_clean()


def test_return_status_needs_max_duration_and_back(statuses):
    assert "return_status" in _errors(StatusFactory.build(return_status=statuses["available"]))
    assert "max_duration" in _errors(StatusFactory.build(max_duration=15))
    StatusFactory.build(max_duration=15, return_status=statuses["available"]).full_clean()


def test_a_status_cannot_return_to_itself(statuses):
    lunch = statuses["lunch"]
    lunch.return_status = lunch
    assert "return_status" in _errors(lunch)


@pytest.mark.parametrize("color", ["red", "#12345", "#GGGGGG", "123456", "#1234567"])
def test_colour_must_be_hex(color):
    assert "color" in _errors(StatusFactory.build(color=color))


def test_idle_timeout_override_has_the_global_minimum():
    assert "idle_timeout" in _errors(StatusFactory.build(idle_timeout=4))
    StatusFactory.build(idle_timeout=5).full_clean()


def test_system_status_category_and_slug_are_fixed(statuses):
    offline = statuses["offline"]
    offline.category = StatusCategory.INACTIVE
    assert "category" in _errors(offline)
    offline.category = StatusCategory.OFFLINE
    offline.slug = "gone"
    assert "slug" in _errors(offline)
    offline.slug = "offline"
    offline.name = "Signed out"
    offline.color = "#000000"
    offline.full_clean()  # everything else stays editable


def test_settings_validation(statuses, presence_settings):
    presence_settings.idle_timeout_minutes = 4
    presence_settings.auto_offline_status = statuses["available"]
    presence_settings.login_status = statuses["offline"]
    with pytest.raises(ValidationError) as exc:
        presence_settings.full_clean()
    assert set(exc.value.message_dict) == {"idle_timeout_minutes", "auto_offline_status", "login_status"}


# --- S3: deletion guard in the model layer ----------------------------------------------


@pytest.mark.sqlite
def test_unused_status_can_be_deleted():
    status = StatusFactory()
    status.delete()
    assert not Status.objects.filter(pk=status.pk).exists()


def test_status_used_by_an_agent_cannot_be_deleted_and_the_message_names_them(statuses):
    training = statuses["training"]
    AgentFactory(username="zoe", status=training)
    with pytest.raises(StatusInUse) as exc:
        training.delete()
    assert 'Status "Training" is in use' in exc.value.message
    assert "agents: zoe" in exc.value.message
    assert Status.objects.filter(pk=training.pk).exists()


def test_status_pending_for_a_finishing_agent_cannot_be_deleted(statuses):
    meeting = statuses["meeting"]
    agent = AgentFactory(username="yan", status=statuses["available"])
    AgentPresence.objects.filter(agent=agent).update(pending_status=meeting)
    sync_routing(agent)
    with pytest.raises(StatusInUse, match="yan"):
        meeting.delete()


def test_status_used_by_the_settings_cannot_be_deleted(statuses, presence_settings):
    presence_settings.appointment_default_status = statuses["meeting"]
    presence_settings.save()
    with pytest.raises(StatusInUse, match="presence settings"):
        statuses["meeting"].delete()


def test_status_used_as_return_status_cannot_be_deleted(statuses):
    back = StatusFactory(name="Back")
    StatusFactory(name="Coffee", max_duration=5, return_status=back)
    with pytest.raises(StatusInUse, match="Coffee"):
        back.delete()


def test_system_statuses_cannot_be_deleted_one_by_one_or_in_bulk(statuses):
    with pytest.raises(StatusInUse, match="built-in system status"):
        statuses[Status.KICKED_OUT].delete()
    with pytest.raises(StatusInUse, match="Offline"):
        Status.objects.filter(slug__in=["offline", "meeting"]).delete()
    assert Status.objects.filter(slug__in=["offline", "meeting"]).count() == 2


def test_bulk_delete_of_a_used_status_names_the_user(statuses):
    AgentFactory(username="xia", status=statuses["meeting"])
    with pytest.raises(StatusInUse, match="xia"):
        Status.objects.filter(slug="meeting").delete()


def test_log_rows_do_not_block_deletion_and_keep_the_names(statuses, agent):
    coffee = StatusFactory(name="Coffee")
    presence_change_status(agent, coffee, actor=agent, source="api")
    presence_change_status(agent, statuses["available"], actor=agent, source="api")
    coffee.delete()
    row = agent.status_log.order_by("at", "id").first()
    assert row.to_status is None and row.to_status_name == "Coffee"


def test_disabling_a_status_moves_nobody(statuses):
    busy = statuses["busy"]
    agent = AgentFactory(status=busy)
    busy.enabled = False
    busy.save()
    assert AgentPresence.objects.get(agent=agent).status == busy
