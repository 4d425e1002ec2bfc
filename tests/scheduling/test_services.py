"""Time-travel tests of shifts and appointments (C1, C2)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from presence.models import AgentPresence, Source, StatusChangeLog
from presence.services import presence_change_status
from scheduling.models import Appointment, Shift, ShiftType
from scheduling.services import appointment_apply_due, shift_apply_due
from tests.factories import AgentFactory, recount_load, sync_routing
from tickets.models import MappingAction, ReassignMapping, Ticket

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)


def at(minutes: float):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def slug(agent) -> str:
    return AgentPresence.objects.select_related("status").get(agent=agent).status.slug


@pytest.fixture
def ann(statuses):
    agent = AgentFactory(username="ann", status=statuses["available"])
    return agent


@pytest.fixture
def early(statuses):
    return ShiftType.objects.create(
        name="Early", default_status=statuses["available"], end_status=statuses["after-work"]
    )


def _shift(agent, shift_type, start_min, end_min) -> Shift:
    return Shift.objects.create(
        agent=agent, shift_type=shift_type, start=T0 + timedelta(minutes=start_min), end=T0 + timedelta(minutes=end_min)
    )


# --- shifts ---------------------------------------------------------------------------------------


def test_shift_start_and_end_change_status(ann, early, statuses):
    AgentPresence.objects.filter(agent=ann).update(status=statuses["not-ready"])
    sync_routing(ann)
    _shift(ann, early, 0, 480)
    with at(-1):
        assert shift_apply_due() == 0
    with at(0):
        assert shift_apply_due() == 1
        assert shift_apply_due() == 0  # idempotent
    assert slug(ann) == "available"
    with at(480):
        assert shift_apply_due() == 1
    assert slug(ann) == "after-work"
    assert list(StatusChangeLog.objects.filter(agent=ann).values_list("source", flat=True)) == ["shift", "shift"]


def test_shift_without_end_status_leaves_the_status(ann, statuses):
    plain = ShiftType.objects.create(name="Plain", default_status=statuses["busy"])
    _shift(ann, plain, 0, 60)
    with at(0):
        shift_apply_due()
    with at(61):
        shift_apply_due()
    assert slug(ann) == "busy"


def test_a_missed_shift_applies_only_its_end(ann, early):
    _shift(ann, early, 0, 60)
    with at(90):  # beat was down through the whole shift
        assert shift_apply_due() == 1
    assert slug(ann) == "after-work"
    assert StatusChangeLog.objects.filter(agent=ann).count() == 1
    assert Shift.objects.get().start_applied_at is not None


def test_receiving_shift_status_is_not_given_to_an_offline_agent(statuses, early):
    off = AgentFactory(username="off")
    _shift(off, early, 0, 60)
    with at(0):
        assert shift_apply_due() == 1  # applied (stamped), no change
    assert slug(off) == "offline"


def test_sweep_pages_through_equal_start_times_and_passes_a_row_it_cannot_claim(statuses, early, monkeypatch):
    # given five shifts starting at the same minute, read two at a time, and one of them held by
    # another sweep (its claim comes back empty, as skip_locked makes it)
    agents = [AgentFactory(username=f"agent{i}", status=statuses["not-ready"]) for i in range(5)]
    shifts = [_shift(agent, early, 0, 60) for agent in agents]
    held = shifts[2].pk
    from scheduling import services

    claim = services._claim_many
    monkeypatch.setattr(
        services, "_claim_many", lambda model, pks, field, *related: claim(model, [pk for pk in pks if pk != held],
                                                                           field, *related)
    )  # fmt: skip
    # when
    with at(1):
        applied = shift_apply_due(batch_size=2)
    # then every other start is applied once, the held one waits for the next run, and the sweep ends
    assert applied == 4
    assert [slug(agent) for agent in agents] == ["available", "available", "not-ready", "available", "available"]
    monkeypatch.setattr(services, "_claim_many", claim)
    with at(2):
        assert shift_apply_due(batch_size=2) == 1
    assert slug(agents[2]) == "available"


# --- appointments ------------------------------------------------------------------------------------


def _appointment(agent, start_min, end_min, status=None) -> Appointment:
    return Appointment.objects.create(
        agent=agent, subject="1:1", start=T0 + timedelta(minutes=start_min), end=T0 + timedelta(minutes=end_min),
        agent_status=status,
    )  # fmt: skip


def test_appointment_sets_status_and_gives_the_previous_back(ann, statuses):
    _appointment(ann, 0, 30, statuses["meeting"])
    with at(0):
        assert appointment_apply_due() == 1
    assert slug(ann) == "meeting"
    with at(30):
        assert appointment_apply_due() == 1
        assert appointment_apply_due() == 0
    assert slug(ann) == "available"
    assert StatusChangeLog.objects.filter(agent=ann, source=Source.APPOINTMENT).count() == 2


def test_appointment_end_keeps_a_status_somebody_chose_meanwhile(ann, statuses):
    _appointment(ann, 0, 30, statuses["meeting"])
    with at(0):
        appointment_apply_due()
    with at(10):
        presence_change_status(ann, statuses["busy"], actor=ann, source=Source.DROPDOWN)
    with at(30):
        appointment_apply_due()
    assert slug(ann) == "busy"


def test_appointment_end_respects_a_change_back_and_forth(ann, statuses):
    _appointment(ann, 0, 30, statuses["meeting"])
    with at(0):
        appointment_apply_due()
    with at(10):  # left the meeting status and came back: that is a person's choice now
        presence_change_status(ann, statuses["busy"], actor=ann, source=Source.API)
        presence_change_status(ann, statuses["meeting"], actor=ann, source=Source.API)
    with at(30):
        appointment_apply_due()
    assert slug(ann) == "meeting"


def test_appointment_default_status_from_settings(ann, statuses, presence_settings):
    _appointment(ann, 0, 30)
    with at(0):
        appointment_apply_due()
    assert slug(ann) == "available"  # no default: appointments without a status change nothing
    presence_settings.appointment_default_status = statuses["training"]
    presence_settings.save()
    _appointment(ann, 40, 50)
    with at(40):
        appointment_apply_due()
    assert slug(ann) == "training"


# --- mappings per setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("apply_to_schedules, left", [(False, 2), (True, 0)])
def test_shift_changes_apply_mappings_only_when_the_setting_says_so(
    ann, statuses, presence_settings, apply_to_schedules, left
):
    presence_settings.reassign_on_status_change = True
    presence_settings.apply_mappings_to_schedules = apply_to_schedules
    presence_settings.save()
    ReassignMapping.objects.create(to_status=statuses["out-of-office"], action=MappingAction.UNASSIGN)
    Ticket.objects.bulk_create([Ticket(subject=f"t{i}", assignee=ann) for i in range(2)])
    recount_load()
    away = ShiftType.objects.create(name="Away", default_status=statuses["out-of-office"])
    _shift(ann, away, 0, 60)
    with at(0):
        shift_apply_due()
    assert slug(ann) == "out-of-office"
    assert Ticket.objects.filter(assignee=ann).count() == left


# --- DST -----------------------------------------------------------------------------------------------------


def test_shifts_in_the_agents_time_zone_across_daylight_saving(statuses, admin_api, early):
    berlin = ZoneInfo("Europe/Berlin")
    agent = AgentFactory(username="lena", status=statuses["not-ready"], profile={"time_zone": "Europe/Berlin"})
    # 09:00 local on the Saturday before and the Monday after clocks went forward (2026-03-29).
    for day in ("2026-03-28", "2026-03-30"):
        response = admin_api.post(
            "/api/v1/shifts/",
            {"agent": agent.pk, "shift_type": early.pk, "start": f"{day}T09:00:00", "end": f"{day}T17:00:00"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    starts = [shift.start for shift in Shift.objects.order_by("start")]
    assert [s.astimezone(berlin).hour for s in starts] == [9, 9]
    assert [s.astimezone(ZoneInfo("UTC")).hour for s in starts] == [8, 7]  # UTC+1, then UTC+2
    with time_machine.travel(datetime(2026, 3, 30, 6, 59, tzinfo=ZoneInfo("UTC")), tick=False):
        shift_apply_due()
        assert slug(agent) != "available"
    with time_machine.travel(datetime(2026, 3, 30, 7, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        shift_apply_due()
        assert slug(agent) == "available"


def test_a_local_time_skipped_by_dst_is_refused(statuses, admin_api, early):
    agent = AgentFactory(username="lena", profile={"time_zone": "Europe/Berlin"})
    response = admin_api.post(
        "/api/v1/shifts/",
        {"agent": agent.pk, "shift_type": early.pk, "start": "2026-03-29T02:30:00", "end": "2026-03-29T10:00:00"},
        format="json",
    )
    assert response.status_code == 400 and "does not exist in Europe/Berlin" in response.json()["message"]
