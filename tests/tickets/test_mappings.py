"""Re-assign mappings on a status change (T4): unassign, reroute through the team, give to the
delegate (only what the routing rule and their capacity let them take); the most specific mapping
wins; Kicked out always unassigns (C6); a constant number of queries for N tickets."""

import pytest

from presence.models import AgentLoad, AgentPresence, AgentProfile, PresenceSettings, Source, Status
from presence.services import presence_change_status
from tests.concurrency import held_elsewhere
from tests.factories import StatusFactory, TicketFactory, recount_load
from tests.tickets.conftest import status_of
from tickets.models import MappingAction, ReassignMapping, RoutingDecision, RoutingMethod, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def reassign_on(presence_settings):
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    return presence_settings


def _hold(agent, team, n, **kwargs) -> list[Ticket]:
    tickets = Ticket.objects.bulk_create(
        [Ticket(subject=f"held {i}", team=team, assignee=agent, **kwargs) for i in range(n)]
    )
    recount_load()
    return tickets


def _mapping(statuses, to, action, from_=None):
    return ReassignMapping.objects.create(
        from_status=statuses[from_] if from_ else None, to_status=statuses[to], action=action
    )


@pytest.mark.sqlite
def test_unassign_mapping_moves_tickets_to_the_unassigned_queue(make_team, make_agent, statuses, reassign_on):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    held = _hold(ann, team, 3)
    closed = TicketFactory(subject="done", team=team, assignee=ann, state="closed")
    _mapping(statuses, "out-of-office", MappingAction.UNASSIGN, from_="available")

    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    assert list(Ticket.objects.unassigned().order_by("pk")) == held
    assert Ticket.objects.get(pk=closed.pk).assignee == ann  # closed tickets stay
    history = Ticket.history.filter(id=held[0].pk).first()
    assert (history.assignee_id, history.history_user, history.history_type) == (None, ann, "~")


@pytest.mark.sqlite
def test_deleting_the_user_who_moved_tickets_keeps_the_history(
    make_team, make_agent, statuses, reassign_on, supervisor
):
    # The history's link to the acting user has no database constraint (bulk moves would check it
    # row by row); Django still honours SET_NULL when that user goes.
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    held = _hold(ann, team, 2)
    _mapping(statuses, "out-of-office", MappingAction.UNASSIGN)
    presence_change_status(ann, statuses["out-of-office"], actor=supervisor, source=Source.SUPERVISOR)
    assert Ticket.history.filter(history_user=supervisor).count() == 2

    supervisor.delete()

    rows = Ticket.history.filter(id__in=[t.pk for t in held], history_type="~")
    assert [(row.assignee_id, row.history_user_id) for row in rows] == [(None, None), (None, None)]


def test_reroute_mapping_routes_through_the_team(make_team, make_agent, statuses, reassign_on):
    team = make_team(method=RoutingMethod.ROUND_ROBIN)
    ann, bob, cara = (make_agent(n, teams=[team]) for n in ("ann", "bob", "cara"))
    AgentProfile.objects.filter(user=cara).update(capacity_email=1)
    held = _hold(ann, team, 4)
    _mapping(statuses, "lunch", MappingAction.REROUTE)  # from any status

    presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)

    owners = list(Ticket.objects.filter(pk__in=[t.pk for t in held]).order_by("pk").values_list("assignee", flat=True))
    assert owners == [bob.pk, cara.pk, bob.pk, bob.pk]  # cara is full after one; ann is never picked


def test_reroute_with_nobody_eligible_leaves_tickets_in_the_queue(make_team, make_agent, statuses, reassign_on):
    team = make_team()
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 2)
    _mapping(statuses, "meeting", MappingAction.REROUTE)
    presence_change_status(ann, statuses["meeting"], actor=ann, source=Source.API)
    assert Ticket.objects.unassigned().count() == 2


def test_delegate_mapping_gives_tickets_to_the_delegate_who_can_handle_them(
    make_team, make_agent, statuses, reassign_on
):
    team = make_team(method=RoutingMethod.MANUAL)
    dora = make_agent("dora", teams=[team], can_phone=False)
    ann = make_agent("ann", teams=[team], can_phone=True)
    AgentProfile.objects.filter(user=ann).update(delegate=dora)
    email = _hold(ann, team, 2)
    phone = _hold(ann, team, 1, channel="phone")
    _mapping(statuses, "out-of-office", MappingAction.DELEGATE)

    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    assert set(Ticket.objects.filter(pk__in=[t.pk for t in email]).values_list("assignee", flat=True)) == {dora.pk}
    assert Ticket.objects.get(pk=phone[0].pk).assignee is None


def _owners(tickets) -> list[int | None]:
    return list(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).order_by("pk").values_list("assignee", flat=True))


@pytest.mark.parametrize("situation", ["busy", "out-of-office", "finishing", "offline"])
def test_a_delegate_who_cannot_receive_gets_nothing(make_team, make_agent, statuses, reassign_on, situation):
    # given: ann's delegate dora in a status that gets no work automatically (or finishing)
    team = make_team(method=RoutingMethod.MANUAL)
    dora = make_agent("dora", teams=[team], status="available" if situation == "finishing" else situation)
    if situation == "finishing":
        AgentPresence.objects.filter(agent=dora).update(pending_status=statuses["after-work"])
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=dora)
    held = _hold(ann, team, 2)
    _mapping(statuses, "out-of-office", MappingAction.DELEGATE)
    # when
    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)
    # then: the Unassigned queue, as without a delegate
    assert _owners(held) == [None, None]
    assert AgentLoad.objects.get(agent=dora).total == 0
    assert not RoutingDecision.objects.exists()


def test_a_delegate_gets_tickets_only_up_to_their_capacity(make_team, make_agent, statuses, reassign_on):
    team = make_team(method=RoutingMethod.MANUAL)
    dora = make_agent("dora", teams=[team], capacity_email=3)
    TicketFactory(subject="dora's own", team=team, assignee=dora)
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=dora)
    email = _hold(ann, team, 4)
    chat = _hold(ann, team, 1, channel="chat")
    _mapping(statuses, "out-of-office", MappingAction.DELEGATE)

    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    # two emails fill dora's email capacity (the oldest first); her chat capacity is separate
    assert _owners(email) == [dora.pk, dora.pk, None, None]
    assert _owners(chat) == [dora.pk]
    load = AgentLoad.objects.get(agent=dora)
    assert (load.email, load.chat) == (3, 1)


def test_a_delegate_in_a_chat_only_status_gets_only_chat_linked_tickets(make_team, make_agent, statuses, reassign_on):
    chats_only = StatusFactory(name="Chats only", category="online", can_receive=True, in_load_balance_for_chat=True)
    team = make_team(method=RoutingMethod.MANUAL)
    dora = make_agent("dora", teams=[team])
    presence_change_status(dora, chats_only, actor=dora, source=Source.API)
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=dora)
    plain = _hold(ann, team, 1, channel="chat")
    linked = _hold(ann, team, 1, channel="chat", linked_to_chat=True)
    _mapping(statuses, "out-of-office", MappingAction.DELEGATE)

    presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)

    assert (_owners(plain), _owners(linked)) == ([None], [dora.pk])


@pytest.mark.django_db(transaction=True)
def test_a_delegate_whose_presence_is_locked_counts_as_unavailable(make_team, make_agent, statuses):
    """Routing or a status change of dora's holds her presence row: ann's change does not wait for
    it (two agents delegating to each other could otherwise deadlock) and queues the tickets."""
    config = PresenceSettings.load()
    config.reassign_on_status_change = True
    config.save()
    team = make_team(method=RoutingMethod.MANUAL)
    dora = make_agent("dora", teams=[team])
    ann = make_agent("ann", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=dora)
    held = _hold(ann, team, 2)
    _mapping(statuses, "out-of-office", MappingAction.DELEGATE)
    with held_elsewhere(AgentPresence.objects.filter(agent=dora)):
        change = presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)
    assert change.applied
    assert _owners(held) == [None, None]


def test_exact_mapping_wins_over_any(make_team, make_agent, statuses, reassign_on):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 1)
    _mapping(statuses, "meeting", MappingAction.UNASSIGN)
    _mapping(statuses, "meeting", MappingAction.DELEGATE, from_="available")  # no delegate: unassign too
    bob = make_agent("bob", teams=[team])
    AgentProfile.objects.filter(user=ann).update(delegate=bob)
    presence_change_status(ann, statuses["meeting"], actor=ann, source=Source.API)
    assert Ticket.objects.get().assignee == bob


def test_no_mapping_and_setting_off_leave_tickets(make_team, make_agent, statuses, presence_settings):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 2)
    _mapping(statuses, "meeting", MappingAction.UNASSIGN)
    presence_change_status(ann, statuses["meeting"], actor=ann, source=Source.API)  # setting is off
    assert Ticket.objects.filter(assignee=ann).count() == 2
    presence_settings.reassign_on_status_change = True
    presence_settings.save()
    presence_change_status(ann, statuses["training"], actor=ann, source=Source.API)  # no mapping
    assert Ticket.objects.filter(assignee=ann).count() == 2


@pytest.mark.parametrize("source", [Source.SHIFT, Source.APPOINTMENT])
def test_schedule_sources_obey_their_own_setting(make_team, make_agent, statuses, reassign_on, source):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 1)
    _mapping(statuses, "meeting", MappingAction.UNASSIGN)
    presence_change_status(ann, statuses["meeting"], actor=None, source=source)
    assert Ticket.objects.filter(assignee=ann).count() == 1
    presence_change_status(ann, statuses["available"], actor=None, source=source)
    reassign_on.apply_mappings_to_schedules = True
    reassign_on.save()
    presence_change_status(ann, statuses["meeting"], actor=None, source=source)
    assert Ticket.objects.filter(assignee=ann).count() == 0


def test_kicked_out_always_unassigns(make_team, make_agent, statuses, presence_settings):
    assert presence_settings.reassign_on_status_change is False
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 2)
    presence_change_status(ann, statuses[Status.KICKED_OUT], actor=None, source=Source.KICKED_OUT)
    assert Ticket.objects.unassigned().count() == 2


def test_a_failing_move_rolls_back_the_status_change(make_team, make_agent, statuses, reassign_on, monkeypatch):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, 2)
    _mapping(statuses, "meeting", MappingAction.UNASSIGN)

    def broken(*args, **kwargs):
        raise RuntimeError("history table unavailable")

    monkeypatch.setattr("tickets.services.mappings.move_tickets", broken)
    with pytest.raises(RuntimeError):
        presence_change_status(ann, statuses["meeting"], actor=ann, source=Source.API)
    assert status_of(ann).status == statuses["available"]
    assert Ticket.objects.filter(assignee=ann).count() == 2


@pytest.mark.parametrize("n", [10, 2000])
def test_moving_n_tickets_costs_the_same_number_of_queries(
    make_team, make_agent, statuses, reassign_on, django_assert_num_queries, n
):
    team = make_team(method=RoutingMethod.MANUAL)
    ann = make_agent("ann", teams=[team])
    _hold(ann, team, n)
    _mapping(statuses, "out-of-office", MappingAction.UNASSIGN)
    # status change (lock, update, queue group, the memberships' routing columns, settings,
    # log, savepoints) + the mapping lookup (the settings travel with the signal) + one
    # statement that moves the tickets, writes their history and moves the load counters
    # + the webhooks' subscriptions (nobody listens: nothing more)
    with django_assert_num_queries(11):
        presence_change_status(ann, statuses["out-of-office"], actor=ann, source=Source.API)
    assert Ticket.objects.unassigned().count() == n
    assert Ticket.history.filter(assignee_id__isnull=True, history_type="~").count() == n


@pytest.mark.parametrize("n", [10, 2000])
def test_rerouting_n_tickets_costs_the_same_number_of_queries(
    make_team, make_agent, statuses, reassign_on, django_assert_num_queries, n
):
    team = make_team(method=RoutingMethod.LOAD_BALANCE)
    ann = make_agent("ann", teams=[team])
    others = [make_agent(f"agent{i}", teams=[team], capacity_email=10_000) for i in range(3)]
    _hold(ann, team, n)
    _mapping(statuses, "lunch", MappingAction.REROUTE)
    # the status change, lock-and-read the tickets, the teams' methods, one page of candidates
    # read and locked through the index, one statement per target (3) moving tickets, history
    # and load counters; the webhooks' subscriptions, read once for the status change (nobody
    # listens, and the process remembers that: not read again for each target's
    # ticket.assigned); the routing decisions, one statement before the moves
    with django_assert_num_queries(17):
        presence_change_status(ann, statuses["lunch"], actor=ann, source=Source.API)
    per_agent = [Ticket.objects.filter(assignee=agent).count() for agent in others]
    assert sum(per_agent) == n and max(per_agent) - min(per_agent) <= 1  # load balanced
