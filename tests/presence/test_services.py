"""The one status change service (P2) and the agent services (P1): presence, log rows (P8) and the
signal in one transaction; picks a person may not make (S5); approval requests (P6); heartbeats
(C5); timed statuses (P5); agent_create and agent_update (P1)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from presence.errors import NotAnAgent, StatusNotSelectable
from presence.models import (
    AgentPresence,
    AgentProfile,
    Source,
    Status,
    StatusChangeLog,
    StatusRequest,
    TeamMembership,
)
from presence.services import (
    Outcome,
    agent_create,
    agent_update,
    presence_change_status,
    presence_expire_timed_statuses,
    presence_record_heartbeat,
    presence_request_status,
)
from presence.signals import status_changed
from tests.factories import AgentFactory, StatusFactory, TeamFactory, TicketFactory, UserFactory, sync_routing

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    """Every status_changed signal sent during the test, as its keyword arguments."""
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    status_changed.connect(receiver, dispatch_uid="test-received")
    yield calls
    status_changed.disconnect(dispatch_uid="test-received")


def _presence(agent) -> AgentPresence:
    return AgentPresence.objects.select_related("status").get(agent=agent)


# --- the change itself ------------------------------------------------------------------


@pytest.mark.sqlite
def test_change_writes_presence_log_and_signal(statuses, agent, supervisor, received):
    before = _presence(agent)

    change = presence_change_status(
        agent, statuses["available"], actor=supervisor, source=Source.SUPERVISOR, reason="start of day"
    )

    assert change.applied and change.presence.status == statuses["available"]
    assert change.old_status == statuses["offline"]
    stored = _presence(agent)
    assert stored.status == statuses["available"] and stored.since > before.since
    row = StatusChangeLog.objects.get(agent=agent)
    assert (row.from_status, row.to_status, row.actor, row.source, row.reason) == (
        statuses["offline"],
        statuses["available"],
        supervisor,
        "supervisor",
        "start of day",
    )
    assert row.at == stored.since
    assert len(received) == 1
    sent = received[0]
    assert sent["agent"] == agent and sent["presence"].pk == agent.pk
    assert (sent["old_status"], sent["new_status"]) == (statuses["offline"], statuses["available"])
    assert (sent["actor"], sent["source"], sent["reason"]) == (supervisor, Source.SUPERVISOR, "start of day")


@pytest.mark.sqlite
def test_changing_to_the_current_status_is_a_no_op(statuses, agent, received):
    presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)
    since = _presence(agent).since

    presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)

    assert _presence(agent).since == since
    assert StatusChangeLog.objects.filter(agent=agent).count() == 1
    assert len(received) == 1


# --- the outcome says what happened ---------------------------------------------------------


def test_the_current_status_again_is_unchanged_and_writes_nothing(statuses, agent, received):
    presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)
    before = _presence(agent)

    change = presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)

    assert (change.outcome, change.applied, change.reason, change.old_status) == (Outcome.UNCHANGED, False, "", None)
    assert change.presence.status == statuses["busy"]
    assert _presence(agent).since == before.since
    assert StatusChangeLog.objects.filter(agent=agent).count() == 1 and len(received) == 1


def test_a_drain_status_while_holding_work_is_finishing_until_the_work_is_done(statuses, agent, received):
    # given: ann Available with an open ticket; After work finishes open tickets first
    presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    TicketFactory(subject="open", assignee=agent)
    received.clear()

    change = presence_change_status(agent, statuses["after-work"], actor=agent, source=Source.DROPDOWN)

    # then: finishing, not applied: still Available, After work pending, nothing logged or sent
    assert (change.outcome, change.applied, change.old_status) == (Outcome.FINISHING, False, None)
    presence = AgentPresence.objects.select_related("status", "pending_status").get(agent=agent)
    assert (presence.status, presence.pending_status) == (statuses["available"], statuses["after-work"])
    assert change.presence.pending_status_id == statuses["after-work"].pk
    assert not StatusChangeLog.objects.filter(agent=agent, to_status=statuses["after-work"]).exists()
    assert received == []
    # asking again is still finishing; picking the current status again is unchanged and cancels it
    again = presence_change_status(agent, statuses["after-work"], actor=agent, source=Source.DROPDOWN)
    assert again.outcome == Outcome.FINISHING
    cancel = presence_change_status(agent, statuses["available"], actor=agent, source=Source.DROPDOWN)
    assert cancel.outcome == Outcome.UNCHANGED
    assert AgentPresence.objects.get(agent=agent).pending_status_id is None
    # an automatic path does not wait for the work: applied at once
    forced = presence_change_status(agent, statuses["after-work"], actor=None, source=Source.SYSTEM)
    assert (forced.outcome, forced.old_status) == (Outcome.APPLIED, statuses["available"])


def test_no_log_row_when_logging_is_off(statuses, agent, presence_settings, received):
    presence_settings.log_status_changes = False
    presence_settings.save()

    presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)

    assert _presence(agent).status == statuses["busy"]
    assert not StatusChangeLog.objects.exists()
    assert len(received) == 1  # reactions still happen


def test_a_receiver_that_raises_rolls_everything_back(statuses, agent):
    def broken(sender, **kwargs):
        raise RuntimeError("downstream failure")

    status_changed.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    finally:
        status_changed.disconnect(dispatch_uid="test-broken")

    assert _presence(agent).status == statuses["offline"]
    assert not StatusChangeLog.objects.exists()


def test_the_signal_is_sent_inside_the_transaction(statuses, agent):
    seen = {}

    def receiver(sender, **kwargs):
        seen["in_atomic"] = connection.in_atomic_block
        seen["stored_status"] = AgentPresence.objects.get(agent=kwargs["agent"]).status_id

    status_changed.connect(receiver, dispatch_uid="test-inside")
    try:
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    finally:
        status_changed.disconnect(dispatch_uid="test-inside")
    assert seen == {"in_atomic": True, "stored_status": statuses["available"].pk}


@pytest.mark.parametrize("source", [Source.DROPDOWN, Source.API, Source.ADMIN, Source.SUPERVISOR])
def test_people_cannot_pick_disabled_or_kicked_out(statuses, agent, source):
    statuses["training"].enabled = False
    statuses["training"].save()
    with pytest.raises(StatusNotSelectable, match="disabled"):
        presence_change_status(agent, statuses["training"], actor=agent, source=source)
    with pytest.raises(StatusNotSelectable, match="system"):
        presence_change_status(agent, statuses[Status.KICKED_OUT], actor=agent, source=source)
    assert _presence(agent).status == statuses["offline"]


def test_automatic_sources_may_apply_any_status(statuses, agent):
    statuses["offline"].enabled = False
    statuses["offline"].save()
    presence_change_status(agent, statuses["available"], actor=None, source=Source.LOGIN)
    presence_change_status(agent, statuses[Status.KICKED_OUT], actor=None, source=Source.KICKED_OUT)
    assert _presence(agent).status == statuses[Status.KICKED_OUT]
    presence_change_status(agent, statuses["offline"], actor=None, source=Source.AUTO_OFFLINE)
    assert _presence(agent).status == statuses["offline"]


def test_unknown_source_is_refused(statuses, agent):
    with pytest.raises(ValueError):
        presence_change_status(agent, statuses["busy"], actor=agent, source="telepathy")


def test_a_user_who_is_not_an_agent_is_refused(statuses):
    with pytest.raises(NotAnAgent):
        presence_change_status(UserFactory(), statuses["busy"], actor=None, source=Source.SYSTEM)


def test_an_agent_without_a_presence_row_gets_one(statuses):
    user = UserFactory()
    AgentProfile.objects.create(user=user)
    presence_change_status(user, statuses["busy"], actor=user, source=Source.API)
    assert _presence(user).status == statuses["busy"]


def test_conditional_change_applies_only_to_the_expected_state(statuses, agent):
    presence_change_status(agent, statuses["lunch"], actor=agent, source=Source.API)
    since = _presence(agent).since
    presence_change_status(agent, statuses["available"], actor=None, source=Source.EXPIRY, if_status=statuses["busy"])
    presence_change_status(
        agent, statuses["available"], actor=None, source=Source.EXPIRY,
        if_status=statuses["lunch"], if_since=since - timedelta(seconds=1),
    )  # fmt: skip
    assert _presence(agent).status == statuses["lunch"]
    presence_change_status(
        agent, statuses["available"], actor=None, source=Source.EXPIRY, if_status=statuses["lunch"], if_since=since
    )
    assert _presence(agent).status == statuses["available"]


def test_status_with_teams_makes_them_the_active_teams(statuses, agent):
    support, sales, chat = TeamFactory(name="Support"), TeamFactory(name="Sales"), TeamFactory(name="Chat")
    TeamMembership.objects.create(agent=agent, team=support)
    TeamMembership.objects.create(agent=agent, team=sales)
    sync_routing(agent)
    chat_duty = StatusFactory(name="Chat duty", category="online", can_receive=True)
    chat_duty.teams.set([chat, sales])

    presence_change_status(agent, chat_duty, actor=agent, source=Source.API)

    active = dict(TeamMembership.objects.filter(agent=agent).values_list("team__name", "active"))
    assert active == {"Support": False, "Sales": True, "Chat": True}
    # A status without teams leaves memberships as they are.
    presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    assert dict(TeamMembership.objects.filter(agent=agent).values_list("team__name", "active")) == active


def test_change_status_query_count(statuses, agent, django_assert_max_num_queries):
    # presence: settings, lock + read, update, queue-group lookup, log insert, savepoint pair;
    # tickets' receiver: the agent's routing teams (the settings come with the signal);
    # webhooks' receiver: the subscriptions (nobody listens: nothing more).
    with django_assert_max_num_queries(9):
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)
    with django_assert_max_num_queries(3):  # the no-op: lock and read only
        presence_change_status(agent, statuses["available"], actor=agent, source=Source.API)


# --- the row lock, for real, on PostgreSQL ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_are_serialised_by_the_row_lock(statuses):
    """A second change waits for the first to commit and logs the first's result as its 'from'."""
    agent = AgentFactory(username="locked")
    first_inside, release_first = threading.Event(), threading.Event()
    errors = []

    def hold_the_lock(sender, **kwargs):
        if kwargs["new_status"] == statuses["busy"]:
            first_inside.set()
            release_first.wait(5)

    def run(status):
        try:
            presence_change_status(agent, status, actor=agent, source=Source.API)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    status_changed.connect(hold_the_lock, dispatch_uid="test-hold")
    try:
        first = threading.Thread(target=run, args=(statuses["busy"],))
        first.start()
        assert first_inside.wait(5)
        second = threading.Thread(target=run, args=(statuses["available"],))
        second.start()
        second.join(0.5)
        assert second.is_alive(), "the second change should wait for the first one's row lock"
        release_first.set()
        first.join(5)
        second.join(5)
    finally:
        release_first.set()
        status_changed.disconnect(dispatch_uid="test-hold")

    assert errors == []
    rows = list(
        StatusChangeLog.objects.filter(agent=agent).order_by("at", "id").values_list("from_status", "to_status")
    )
    assert rows == [
        (statuses["offline"].pk, statuses["busy"].pk),
        (statuses["busy"].pk, statuses["available"].pk),
    ]
    assert _presence(agent).status == statuses["available"]


# --- approval requests -------------------------------------------------------------------


def test_own_pick_of_an_approval_status_files_a_request(statuses, agent, received):
    training = statuses["training"]
    training.requires_approval = True
    training.save()

    choice = presence_request_status(agent, training, actor=agent, source=Source.API, reason="course")

    assert choice.request is not None and choice.request.state == StatusRequest.State.PENDING
    assert (choice.request.status, choice.request.reason) == (training, "course")
    assert _presence(agent).status == statuses["offline"] and received == []

    again = presence_request_status(agent, statuses["meeting"], actor=agent, source=Source.API)
    assert again.request is None and _presence(agent).status == statuses["meeting"]

    newer = presence_request_status(agent, training, actor=agent, source=Source.API)
    choice.request.refresh_from_db()
    assert choice.request.state == StatusRequest.State.CANCELLED
    assert StatusRequest.objects.get(state=StatusRequest.State.PENDING) == newer.request


def test_supervisor_pick_of_an_approval_status_applies_at_once(statuses, agent, supervisor):
    statuses["training"].requires_approval = True
    statuses["training"].save()
    choice = presence_request_status(agent, statuses["training"], actor=supervisor, source=Source.SUPERVISOR)
    assert choice.request is None and _presence(agent).status == statuses["training"]


# --- heartbeat ----------------------------------------------------------------------------


def test_heartbeat_writes_at_most_once_a_minute(agent):
    """C5: one UPDATE a minute (written through: no Redis here, tests/presence/test_bookkeeping.py)."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with CaptureQueriesContext(connection) as first:
            presence_record_heartbeat(agent)
        with CaptureQueriesContext(connection) as second:
            presence_record_heartbeat(agent)
    updates = [q["sql"] for q in first if q["sql"].startswith("UPDATE")]
    assert len(first) == len(updates) == 1 and "last_heartbeat" in updates[0]
    assert len(second) == 0
    assert _presence(agent).last_heartbeat == start


# --- timed statuses (P5) --------------------------------------------------------------------


def test_timed_status_expires_to_its_return_status(statuses):
    ann, bob = AgentFactory(username="t-ann"), AgentFactory(username="t-bob")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        presence_change_status(bob, statuses["lunch"], actor=bob, source=Source.API)
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert presence_expire_timed_statuses() == 0
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        assert presence_expire_timed_statuses() == 1
        assert presence_expire_timed_statuses() == 0  # idempotent
    assert _presence(ann).status == statuses["available"]
    assert _presence(bob).status == statuses["lunch"]
    row = StatusChangeLog.objects.get(agent=ann, source=Source.EXPIRY)
    assert (row.from_status, row.to_status, row.actor) == (statuses["lunch"], statuses["available"], None)


# --- agent provisioning --------------------------------------------------------------------


def test_agent_create_provisions_everything(statuses, admin_user):
    support = TeamFactory(name="Support")
    profile = agent_create(
        actor=admin_user, username="nia", password="a-long-enough-pass", email="nia@example.com",
        teams=[support], capabilities=["chat", "phone"], capacity={"chat": 5}, licence_type="concurrent",
    )  # fmt: skip
    assert profile.user.check_password("a-long-enough-pass")
    assert profile.capabilities == ["chat", "phone"]
    assert profile.capacity == {"email": 10, "chat": 5, "phone": 1, "video": 1}
    assert profile.licence_type == "concurrent"
    assert _presence(profile.user).status == statuses["offline"]
    assert list(TeamMembership.objects.filter(agent=profile.user).values_list("team__name", flat=True)) == ["Support"]
    assert profile.history.first().history_user == admin_user


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"password": "short"}, None),
        ({"capabilities": ["fax"]}, "capabilities"),
        ({"capacity": {"fax": 1}}, "capacity"),
        ({"capacity": {"chat": -1}}, "capacity"),
    ],
)
def test_agent_create_refuses_bad_input_and_writes_nothing(statuses, admin_user, kwargs, field):
    args = {"actor": admin_user, "username": "oli", "password": "a-long-enough-pass", **kwargs}
    with pytest.raises(ValidationError) as exc:
        agent_create(**args)
    if field:
        assert field in exc.value.message_dict
    assert not AgentProfile.objects.filter(user__username="oli").exists()
    assert not type(admin_user).objects.filter(username="oli").exists()


def test_agent_update_changes_only_what_is_given(statuses, admin_user, agent):
    profile = agent.agent_profile
    team = TeamFactory()
    agent_update(profile, actor=admin_user, capacity={"email": 3}, teams=[team], email="new@example.com")
    profile.refresh_from_db()
    agent.refresh_from_db()
    assert profile.capacity["email"] == 3 and profile.capacity["chat"] == 3
    assert profile.capabilities == ["email", "chat"]
    assert agent.email == "new@example.com"
    assert list(TeamMembership.objects.filter(agent=agent).values_list("team", flat=True)) == [team.pk]


def test_an_agent_cannot_be_their_own_delegate(admin_user, agent):
    with pytest.raises(ValidationError, match="own delegate"):
        agent_update(agent.agent_profile, actor=admin_user, delegate=agent)


def test_status_changes_keep_history_of_configuration(statuses, admin_user):
    from presence.services import status_save

    busy = statuses["busy"]
    busy.color = "#FF0000"
    status_save(busy, actor=admin_user)
    assert busy.history.first().history_user == admin_user
    assert busy.history.first().color == "#FF0000"


def test_transaction_rollback_of_caller_undoes_the_change(statuses, agent):
    with pytest.raises(RuntimeError), transaction.atomic():
        presence_change_status(agent, statuses["busy"], actor=agent, source=Source.API)
        raise RuntimeError
    assert _presence(agent).status == statuses["offline"]
