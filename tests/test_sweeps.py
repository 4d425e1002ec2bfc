"""Every sweep (C3; P5, C1, C2, C4, C5, C6, P12): idempotent, safe to run twice at once, and flat in
queries when nothing is due."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from presence.models import AgentPresence, AgentProfile, PresenceSettings, Status, StatusChangeLog
from presence.services import (
    presence_auto_offline,
    presence_expire_timed_statuses,
    presence_idle_timeout,
    presence_kick_out_unanswered,
)
from scheduling.models import Appointment, Shift, ShiftType
from scheduling.services import appointment_apply_due, shift_apply_due
from tickets.services import tickets_ask_still_working

T0 = timezone.now().replace(microsecond=0)
AGENTS = 30


def _agents(status: Status, n: int, *, since, prefix="sweep") -> list:
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"{prefix}{i}") for i in range(n)])
    AgentProfile.objects.bulk_create([AgentProfile(user=u) for u in users])
    AgentPresence.objects.bulk_create([AgentPresence(agent=u, status=status, since=since) for u in users])
    return users


def _setup_all_due(statuses):
    """Agents due for each sweep at T0 + 2h."""
    config = PresenceSettings.load()
    config.idle_timeout_minutes = 30
    config.save()
    old = T0 - timedelta(hours=1)
    _agents(statuses["lunch"], AGENTS, since=old, prefix="lunch")  # expiry
    _agents(statuses["available"], AGENTS, since=old, prefix="silent")  # auto-offline, idle
    shift_type = ShiftType.objects.create(name="Late", default_status=statuses["busy"])
    workers = _agents(statuses["not-ready"], AGENTS, since=old, prefix="shift")
    Shift.objects.bulk_create(
        [
            Shift(agent=u, shift_type=shift_type, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=9))
            for u in workers
        ]
    )
    Appointment.objects.bulk_create(
        [Appointment(agent=u, subject="1:1", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3),
                     agent_status=statuses["meeting"]) for u in workers]
    )  # fmt: skip


SWEEPS = [
    presence_expire_timed_statuses,
    presence_auto_offline,
    presence_idle_timeout,
    shift_apply_due,
    appointment_apply_due,
    tickets_ask_still_working,
    presence_kick_out_unanswered,
]


@pytest.mark.sqlite
@pytest.mark.django_db
def test_every_sweep_run_twice_gives_the_same_state(statuses):
    _setup_all_due(statuses)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        first = [sweep() for sweep in SWEEPS]
        log_rows = StatusChangeLog.objects.count()
        state = list(AgentPresence.objects.order_by("agent_id").values_list("agent_id", "status_id", "since"))
        second = [sweep() for sweep in SWEEPS]
    assert sum(first) > 0 and second == [0] * len(SWEEPS)
    assert StatusChangeLog.objects.count() == log_rows
    assert list(AgentPresence.objects.order_by("agent_id").values_list("agent_id", "status_id", "since")) == state


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_change_each_agent_once():
    statuses = {s.slug: s for s in Status.objects.all()}
    _setup_all_due(statuses)
    errors = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with time_machine.travel(T0 + timedelta(hours=2), tick=False):
                barrier.wait()
                for sweep in SWEEPS:
                    sweep()
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    # expiry, then (now Available) nothing more for the lunch group: one row each ...
    per_agent = StatusChangeLog.objects.filter(agent__username__startswith="lunch").values_list("agent_id", "source")
    assert sorted({src for _, src in per_agent}) == ["expiry"]
    assert len(per_agent) == AGENTS
    # ... one auto-offline for each silent agent, never two ...
    silent = StatusChangeLog.objects.filter(agent__username__startswith="silent")
    assert silent.count() == AGENTS and set(silent.values_list("source", flat=True)) == {"auto_offline"}
    # ... and each shift and appointment start applied once.
    shift_rows = StatusChangeLog.objects.filter(agent__username__startswith="shift")
    assert shift_rows.filter(source="shift").count() == AGENTS
    assert shift_rows.filter(source="appointment").count() == AGENTS


@pytest.mark.django_db
def test_sweeps_over_20000_agents_none_due_use_constant_queries(statuses, django_assert_max_num_queries):
    _agents(statuses["available"], 20_000, since=T0)
    config = PresenceSettings.load()
    config.idle_timeout_minutes = 30
    config.save()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        # settings, plus one query per timed status / per status with a timeout, none per agent
        with django_assert_max_num_queries(3):
            assert presence_expire_timed_statuses() == 0
        with django_assert_max_num_queries(3):
            assert presence_auto_offline() == 0
        with django_assert_max_num_queries(16):
            assert presence_idle_timeout() == 0
        with django_assert_max_num_queries(3):
            assert shift_apply_due() == 0
        with django_assert_max_num_queries(4):
            assert appointment_apply_due() == 0
        with django_assert_max_num_queries(3):
            assert tickets_ask_still_working() == 0
        with django_assert_max_num_queries(4):
            assert presence_kick_out_unanswered() == 0
