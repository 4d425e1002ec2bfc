"""The coverage alarm (C7): opening hours across midnight and the changes of the clocks, the sweep's
state and what it announces (signal, supervisors' mail), the board's banner, the API, the
dropdown's "Switch anyway?", the admin, and a sweep whose cost does not grow with the teams."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from presence.models import (
    AgentPresence,
    AgentProfile,
    Source,
    Team,
    TeamCoverage,
    TeamMembership,
    TeamOpeningHours,
)
from presence.services import coverage_check, presence_change_status
from presence.services.routing_columns import memberships_sync
from presence.signals import coverage_changed
from tests.factories import AdminFactory, StatusFactory, SupervisorFactory
from webhooks.selectors import subscriptions_clear

pytestmark = pytest.mark.django_db

MON = datetime(2030, 1, 7, tzinfo=UTC)  # a Monday
NINE = MON + timedelta(hours=9)
# Open all week: 00:00 to 00:00 is a whole day.
ALWAYS = [(day, time(0), time(0)) for day in range(7)]


def _team(make_team, name="Support", *, minimum=2, zone="", hours=ALWAYS):
    team = make_team(name)
    team.coverage_minimum, team.coverage_time_zone = minimum, zone
    team.save()
    TeamOpeningHours.objects.bulk_create(
        [TeamOpeningHours(team=team, weekday=day, opens=opens, closes=closes) for day, opens, closes in hours]
    )
    return team


def _sweep(at: datetime):
    with time_machine.travel(at, tick=False):
        return coverage_check()


def _state(team) -> TeamCoverage:
    return TeamCoverage.objects.get(team=team)


def _switch(agent, status):
    presence_change_status(agent, status, actor=agent, source=Source.API)


# --- opening hours -------------------------------------------------------------------------------


def _open_at(team, moment: datetime) -> bool:
    _sweep(moment)
    return _state(team).open


@pytest.mark.sqlite
def test_opening_hours_that_close_at_or_before_they_open_run_past_midnight(make_team):
    late = _team(make_team, "Late", minimum=1, hours=[(0, time(22), time(6))])  # Monday 22:00 to Tuesday 06:00
    weekend = _team(make_team, "Weekend", minimum=1, hours=[(6, time(20), time(2))])  # Sunday into Monday
    expected = {
        MON + timedelta(hours=21, minutes=59): (False, False),  # Monday 21:59
        MON + timedelta(hours=1, minutes=59): (False, True),  # Monday 01:59, in Sunday's range
        MON + timedelta(hours=2): (False, False),
        MON + timedelta(hours=22): (True, False),
        MON + timedelta(days=1, hours=5, minutes=59): (True, False),  # Tuesday 05:59
        MON + timedelta(days=1, hours=6): (False, False),
        MON + timedelta(days=1, hours=22): (False, False),  # Tuesday evening: only Monday opens late
    }
    for moment, (late_open, weekend_open) in expected.items():
        assert (_open_at(late, moment), _state(weekend).open) == (late_open, weekend_open), moment


# Europe/Berlin: clocks go forward on the last Sunday of March (02:00 CET -> 03:00 CEST) and back on
# the last Sunday of October (03:00 CEST -> 02:00 CET). In 2030: 31 March and 27 October.
BERLIN_HOURS = [(5, time(22), time(6)), (6, time(8), time(17))]  # Saturday night, Sunday day


@pytest.mark.parametrize(
    "moment, expected",
    [
        # Spring: Saturday 22:00 CET is 21:00 UTC; Sunday 06:00 CEST is 04:00 UTC (7 hours, not 8).
        ("2030-03-30T20:59Z", False),
        ("2030-03-30T21:00Z", True),
        ("2030-03-31T03:59Z", True),
        ("2030-03-31T04:00Z", False),
        # Sunday 08:00-17:00 CEST is 06:00-15:00 UTC.
        ("2030-03-31T05:59Z", False),
        ("2030-03-31T06:00Z", True),
        ("2030-03-31T14:59Z", True),
        ("2030-03-31T15:00Z", False),
        # Autumn: Saturday 22:00 CEST is 20:00 UTC; Sunday 06:00 CET is 05:00 UTC (9 hours).
        ("2030-10-26T19:59Z", False),
        ("2030-10-26T20:00Z", True),
        ("2030-10-27T04:59Z", True),
        ("2030-10-27T05:00Z", False),
        # Sunday 08:00-17:00 CET is 07:00-16:00 UTC.
        ("2030-10-27T06:59Z", False),
        ("2030-10-27T07:00Z", True),
        ("2030-10-27T15:59Z", True),
        ("2030-10-27T16:00Z", False),
    ],
)
def test_opening_hours_follow_the_teams_clock_across_daylight_saving_changes(make_team, moment, expected):
    team = _team(make_team, minimum=1, zone="Europe/Berlin", hours=BERLIN_HOURS)
    assert _open_at(team, parse_datetime(moment)) is expected


def test_a_team_without_opening_hours_or_minimum_never_raises_the_alarm(make_team, make_agent):
    never_open = _team(make_team, "Never open", minimum=3, hours=[])
    no_alarm = _team(make_team, "No alarm", minimum=0)
    assert _sweep(NINE) == []
    for team in (never_open, no_alarm):
        state = _state(team)
        assert (state.open, state.required, state.deficit, state.since) == (False, 0, 0, None)


# --- the sweep: state, signal, mail --------------------------------------------------------------


@pytest.fixture
def announced():
    """What `coverage_changed` carried, sweep by sweep."""
    sent = []

    def receive(sender, *, changes, **kwargs):
        sent.append(changes)

    coverage_changed.connect(receive, dispatch_uid="test_coverage.announced")
    yield sent
    coverage_changed.disconnect(dispatch_uid="test_coverage.announced")


def test_a_deficit_starts_grows_and_clears_with_when_it_began(make_team, make_agent, statuses, announced):
    team = _team(make_team, minimum=2)
    ann, bob = make_agent("ann", teams=[team]), make_agent("bob", teams=[team])
    make_agent("cara", teams=[team], status="busy")  # a member who cannot receive does not count
    assert _sweep(NINE) == [] and announced == []
    state = _state(team)
    assert (state.open, state.required, state.routable, state.deficit, state.since) == (True, 2, 2, 0, None)

    _switch(ann, statuses["busy"])
    (started,) = _sweep(NINE + timedelta(minutes=1))
    assert (started.team_name, started.previous_deficit, started.deficit, started.routable) == ("Support", 0, 1, 1)
    assert started.started and started.since == NINE + timedelta(minutes=1)

    _switch(bob, statuses["lunch"])
    (grew,) = _sweep(NINE + timedelta(minutes=5))
    assert (grew.previous_deficit, grew.deficit, grew.started) == (1, 2, False)
    assert grew.since == NINE + timedelta(minutes=1)  # the deficit began then, and has not cleared
    assert _sweep(NINE + timedelta(minutes=6)) == []  # nothing new: nothing announced
    assert _state(team).checked_at == NINE + timedelta(minutes=6)

    _switch(ann, statuses["available"])
    _switch(bob, statuses["available"])
    (cleared,) = _sweep(NINE + timedelta(minutes=9))
    assert (cleared.previous_deficit, cleared.deficit, cleared.since, cleared.cleared) == (2, 0, None, True)
    assert [[c.deficit for c in changes] for changes in announced] == [[1], [2], [0]]
    assert (_state(team).deficit, _state(team).since) == (0, None)


def test_closing_time_clears_the_alarm(make_team, announced):
    team = _team(make_team, minimum=1, hours=[(0, time(9), time(17))])  # nobody in the team
    (started,) = _sweep(NINE)
    assert started.started and started.open
    (cleared,) = _sweep(MON + timedelta(hours=17))
    assert cleared.cleared and not cleared.open
    assert (_state(team).open, _state(team).required, _state(team).deficit) == (False, 0, 0)


def test_supervisors_get_a_mail_when_a_deficit_starts_and_when_it_clears(
    make_team, make_agent, statuses, django_capture_on_commit_callbacks
):
    SupervisorFactory(username="sam", is_staff=True)
    SupervisorFactory(username="sue")  # in the group, but not staff: no mail
    AdminFactory(username="root")  # an admin outside the group: no mail
    team = _team(make_team, minimum=2)
    ann, bob = make_agent("ann", teams=[team]), make_agent("bob", teams=[team])

    def sweep(at):
        with django_capture_on_commit_callbacks(execute=True):
            _sweep(at)

    sweep(NINE)
    assert mail.outbox == []
    _switch(ann, statuses["busy"])
    sweep(NINE + timedelta(minutes=1))
    (alarm,) = mail.outbox
    assert alarm.to == ["sam@example.com"]
    assert alarm.subject == "Coverage alarm: Support is 1 agent short"
    assert "Support is open and has 1 of the 2 agents it needs who can receive work." in alarm.body

    _switch(bob, statuses["busy"])
    sweep(NINE + timedelta(minutes=2))  # it grew: announced, but no new mail
    sweep(NINE + timedelta(minutes=3))
    assert len(mail.outbox) == 1

    _switch(ann, statuses["available"])
    _switch(bob, statuses["available"])
    sweep(NINE + timedelta(minutes=4))
    subjects = [message.subject for message in mail.outbox]
    assert subjects == ["Coverage alarm: Support is 1 agent short", "Coverage restored: Support"]
    assert "Support has enough agents who can receive work again." in mail.outbox[1].body


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_announce_a_change_once(statuses):
    """The sweep locks the coverage rows: a second one at the same moment waits, then finds the
    first one's state and has nothing to announce."""
    import threading

    from django.db import connections

    from tests.factories import TeamFactory

    team = TeamFactory(name="Support", coverage_minimum=1)
    TeamOpeningHours.objects.bulk_create([TeamOpeningHours(team=team, weekday=d, opens=time(0), closes=time(0))
                                          for d in range(7)])  # fmt: skip
    coverage_check()  # the rows exist; nobody is in the team, so the deficit has started
    Team.objects.filter(pk=team.pk).update(coverage_minimum=2)  # the deficit grows: one change to announce
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(len(coverage_check()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]
    assert _state(team).deficit == 2


# --- the board -----------------------------------------------------------------------------------


def test_the_board_shows_a_red_banner_per_short_team_until_it_clears(client, supervisor, make_team, make_agent):
    support = _team(make_team, minimum=3)
    _team(make_team, "Billing", minimum=1)
    make_agent("ann", teams=[support])
    make_agent("bob", teams=[Team.objects.get(name="Billing")])
    _sweep(NINE)
    with time_machine.travel(NINE + timedelta(minutes=12), tick=False):
        client.force_login(supervisor)  # a session of that day
        page = client.get(reverse("presence:board")).content.decode().replace("\xa0", " ")
        rows = client.get(reverse("presence:board-rows")).content.decode()
    assert page.count('class="banner coverage-alarm"') == 1  # Billing has its one agent
    assert f'data-team="{support.pk}" data-deficit="2"' in page
    assert "Support is 2 agents short" in page
    assert "1 of the 3 agents it needs can receive work, for 12 minutes." in page
    # The refresh brings the banners along with the rows.
    assert '<template id="coverage-alarms-next">' in rows and "Support is 2 agents short" in rows

    Team.objects.filter(pk=support.pk).update(coverage_minimum=1)
    _sweep(NINE + timedelta(minutes=13))
    with time_machine.travel(NINE + timedelta(minutes=14), tick=False):
        rows = client.get(reverse("presence:board-rows")).content.decode()
        page = client.get(reverse("presence:board")).content.decode()
    assert '<template id="coverage-alarms-next">' in rows and 'class="banner coverage-alarm"' not in rows
    assert 'id="coverage-alarms"' in page and 'class="banner coverage-alarm"' not in page


# --- the API -------------------------------------------------------------------------------------


def test_the_coverage_api_lists_every_team_for_supervisors(supervisor_api, make_team, make_agent):
    support = _team(make_team, minimum=2)
    billing = _team(make_team, "Billing", minimum=0)
    make_agent("ann", teams=[support])
    make_agent("bob", teams=[support, billing], status="busy")
    make_team("Sales")  # no minimum, nobody in it
    _sweep(NINE)
    response = supervisor_api.get("/api/v1/coverage/")
    assert response.status_code == 200
    by_name = {row["name"]: row for row in response.json()}
    assert list(by_name) == ["Billing", "Sales", "Support"]
    assert by_name["Support"] == {
        "team": support.pk, "name": "Support", "minimum": 2, "open": True, "required": 2, "routable": 1,
        "deficit": 1, "since": by_name["Support"]["since"], "checked_at": by_name["Support"]["checked_at"],
    }  # fmt: skip
    assert parse_datetime(by_name["Support"]["since"]) == NINE
    assert parse_datetime(by_name["Support"]["checked_at"]) == NINE
    assert (by_name["Billing"]["required"], by_name["Billing"]["deficit"], by_name["Billing"]["since"]) == (0, 0, None)


def test_the_coverage_api_is_for_supervisors_and_described_as_teams_coverage_list(make_agent, client):
    agent = make_agent("ann")
    api = APIClient()
    api.force_authenticate(agent)
    assert api.get("/api/v1/coverage/").status_code == 403
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/coverage/"]["get"]
    assert (operation["operationId"], operation["tags"]) == ("coverage_list", ["teams"])


# --- the dropdown's warning ----------------------------------------------------------------------


def _presence_status(agent) -> str:
    return AgentPresence.objects.select_related("status").get(agent=agent).status.slug


def _api(agent) -> APIClient:
    api = APIClient()
    api.force_authenticate(agent)
    return api


def test_the_api_asks_before_the_last_agent_switches_away_and_proceeds_with_confirm(make_team, make_agent, statuses):
    team = _team(make_team, minimum=1)
    ann = make_agent("ann", teams=[team])
    api = _api(ann)
    response = api.post("/api/v1/presence/me/status/", {"status": statuses["lunch"].pk}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["confirm"] == "You are the last agent in Support. Switch anyway?"
    assert (body["message"], body["code"]) == (body["confirm"], "confirmation_required")
    assert body["teams"] == [{"team": team.pk, "name": "Support", "minimum": 1, "routable": 1}]
    assert _presence_status(ann) == "available"  # nothing changed

    response = api.post("/api/v1/presence/me/status/", {"status": statuses["lunch"].pk, "confirm": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == statuses["lunch"].pk
    assert _presence_status(ann) == "lunch"


def test_the_question_names_the_minimum_when_others_remain(make_team, make_agent, statuses):
    team = _team(make_team, minimum=3)
    ann, *_ = [make_agent(name, teams=[team]) for name in ("ann", "bob", "cara")]
    other = _team(make_team, "Billing", minimum=2)
    TeamMembership.objects.create(team=other, agent=ann)
    memberships_sync([ann.pk])  # ann alone in Billing, below its minimum already
    response = _api(ann).post("/api/v1/presence/me/status/", {"status": statuses["busy"].pk}, format="json")
    assert response.status_code == 409
    assert response.json()["confirm"] == (
        "You are the last agent in Billing. Support would drop below its minimum of 3 agents. Switch anyway?"
    )


@pytest.mark.parametrize("case", ["closed", "enough", "still_receives", "already_away", "needs_approval"])
def test_no_question_when_the_switch_leaves_no_open_team_short(make_team, make_agent, statuses, case):
    team = _team(make_team, minimum=1, hours=[(0, time(9), time(17))])  # Mondays 09:00-17:00
    ann = make_agent("ann", teams=[team], status="busy" if case == "already_away" else "available")
    if case == "enough":
        make_agent("bob", teams=[team])
    target = statuses["lunch"]
    if case == "still_receives":
        target = StatusFactory(name="Chat desk", category="online", can_receive=True, in_load_balance=True)
    if case == "needs_approval":
        target = statuses["training"]
        target.requires_approval = True
        target.save()
    moment = MON + timedelta(hours=20) if case == "closed" else NINE + timedelta(hours=1)
    with time_machine.travel(moment, tick=False):
        response = _api(ann).post("/api/v1/presence/me/status/", {"status": target.pk}, format="json")
    assert response.status_code in (200, 202), response.json()


def test_the_dropdown_asks_on_a_page_without_javascript_and_as_json_with_it(client, make_team, make_agent, statuses):
    team = _team(make_team, minimum=1)
    ann = make_agent("ann", teams=[team])
    client.force_login(ann)
    lunch = statuses["lunch"].pk

    page = client.post(reverse("presence:status-change"), {"status": lunch, "reason": "hungry", "next": "/tickets/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<p class="question">You are the last agent in Support. Switch anyway?</p>' in html
    for field in (f'name="status" value="{lunch}"', 'name="reason" value="hungry"', 'name="next" value="/tickets/"',
                  'name="confirm" value="yes"'):  # fmt: skip
        assert field in html
    assert '<a href="/tickets/" id="cancel">' in html
    assert _presence_status(ann) == "available"

    scripted = client.post(reverse("presence:status-change"), {"status": lunch}, headers={"Accept": "application/json"})
    assert scripted.status_code == 409
    assert scripted.json()["confirm"] == "You are the last agent in Support. Switch anyway?"
    assert _presence_status(ann) == "available"

    done = client.post(reverse("presence:status-change"), {"status": lunch, "confirm": "yes", "next": "/tickets/"})
    assert done.status_code == 302 and done.url == "/tickets/"
    assert _presence_status(ann) == "lunch"


# --- the admin -----------------------------------------------------------------------------------


def test_a_supervisor_sets_the_minimum_and_opening_hours_on_the_team(client, make_team):
    sam = SupervisorFactory(username="sam", is_staff=True)
    client.force_login(sam)
    team = make_team("Support")
    page = client.get(reverse("admin:presence_team_change", args=[team.pk])).content.decode()
    assert "opening_hours-TOTAL_FORMS" in page and "coverage_minimum" in page
    data = {
        "name": "Support", "coverage_minimum": "2", "coverage_time_zone": "Europe/Berlin",
        "opening_hours-TOTAL_FORMS": "2", "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-0-weekday": "0", "opening_hours-0-opens": "08:00", "opening_hours-0-closes": "17:00",
        "opening_hours-1-weekday": "4", "opening_hours-1-opens": "22:00", "opening_hours-1-closes": "02:00",
        "routing-TOTAL_FORMS": "1", "routing-INITIAL_FORMS": "1", "routing-MIN_NUM_FORMS": "1",
        "routing-MAX_NUM_FORMS": "1", "routing-0-team": team.pk, "routing-0-method": "round_robin",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(reverse("admin:presence_team_change", args=[team.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    team.refresh_from_db()
    assert (team.coverage_minimum, team.coverage_time_zone) == (2, "Europe/Berlin")
    assert [str(hours) for hours in team.opening_hours.all()] == ["Monday 08:00-17:00", "Friday 22:00-02:00"]

    data["coverage_time_zone"] = "Mars/Olympus"
    refused = client.post(reverse("admin:presence_team_change", args=[team.pk]), data)
    assert refused.status_code == 200 and "is not a time zone name" in refused.content.decode()


# --- cost ----------------------------------------------------------------------------------------


def _many_teams(n: int, status) -> list:
    """n teams with a minimum of 2, open all week, each with one agent in `status`."""
    User = get_user_model()
    teams = Team.objects.bulk_create([Team(name=f"Team {n}-{i}", coverage_minimum=2) for i in range(n)])
    TeamOpeningHours.objects.bulk_create(
        [TeamOpeningHours(team=team, weekday=day, opens=time(0), closes=time(0)) for team in teams for day in range(7)]
    )
    users = User.objects.bulk_create([User(username=f"cover{n}-{i}") for i in range(n)])
    AgentProfile.objects.bulk_create([AgentProfile(user=user) for user in users])
    AgentPresence.objects.bulk_create([AgentPresence(agent=user, status=status) for user in users])
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=team, agent=user) for team, user in zip(teams, users, strict=True)]
    )
    memberships_sync([user.pk for user in users])
    return users


def _statements_per_sweep(n: int, statuses) -> list[int]:
    """Statements of four sweeps over n teams: every deficit starts (rows made, mail), grows,
    stays, and clears."""
    users = _many_teams(n, statuses["available"])
    counts = []

    def sweep(at, expected_changes):
        subscriptions_clear()  # each sweep reads the webhooks' subscriptions (the next would remember them)
        with CaptureQueriesContext(connection) as queries:
            assert len(_sweep(at)) == expected_changes
        counts.append(len(queries))

    sweep(NINE, n)  # one routable of two: short by one
    AgentPresence.objects.filter(agent__in=users).update(status=statuses["busy"])
    memberships_sync([user.pk for user in users])
    sweep(NINE + timedelta(minutes=1), n)  # short by two
    sweep(NINE + timedelta(minutes=2), 0)
    Team.objects.filter(name__startswith=f"Team {n}-").update(coverage_minimum=0)
    sweep(NINE + timedelta(minutes=3), n)  # cleared
    Team.objects.filter(name__startswith=f"Team {n}-").delete()
    return counts


def test_the_sweep_costs_the_same_statements_for_10_and_1000_teams(statuses, announced):
    SupervisorFactory(username="sam", is_staff=True)  # the mail's recipients are read
    small = _statements_per_sweep(10, statuses)
    large = _statements_per_sweep(1000, statuses)
    assert small == large, (small, large)
    # Lock, teams, counts, stamp, state, savepoint and release; new rows (first sweep); the
    # signal's subscriptions and the mail's recipients (when deficits start or clear).
    assert max(large) <= 12, large
