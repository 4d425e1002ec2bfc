"""`coverage.changed` (C7, A2): the coverage sweep's signal becomes one event per team whose deficit
started, changed or cleared, delivered to the webhooks that subscribe to it."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from presence.models import Source, TeamOpeningHours
from presence.services import coverage_check, presence_change_status
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db

NINE = datetime(2030, 1, 7, 9, tzinfo=UTC)  # a Monday


def _sweep(at, django_capture_on_commit_callbacks):
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        return coverage_check()


@pytest.fixture
def support(make_team):
    team = make_team("Support")
    team.coverage_minimum = 2
    team.save()
    TeamOpeningHours.objects.bulk_create(
        [TeamOpeningHours(team=team, weekday=day, opens=time(8), closes=time(18)) for day in range(5)]
    )
    return team


def test_a_deficit_starting_changing_and_clearing_is_sent_to_subscribers(
    support, make_agent, statuses, make_webhook, receiver, django_capture_on_commit_callbacks
):
    make_webhook(receiver.url, events=[Event.COVERAGE_CHANGED])
    make_webhook(receiver.url + "/status-only", events=[Event.STATUS_CHANGED])  # not subscribed: nothing
    ann, bob = make_agent("ann", teams=[support]), make_agent("bob", teams=[support])
    _sweep(NINE, django_capture_on_commit_callbacks)
    assert not Delivery.objects.filter(event="coverage.changed").exists()  # covered: nothing to say

    presence_change_status(ann, statuses["busy"], actor=ann, source=Source.API)
    _sweep(NINE + timedelta(minutes=1), django_capture_on_commit_callbacks)
    presence_change_status(bob, statuses["lunch"], actor=bob, source=Source.API)
    _sweep(NINE + timedelta(minutes=2), django_capture_on_commit_callbacks)
    _sweep(NINE + timedelta(minutes=3), django_capture_on_commit_callbacks)  # no change: no event
    _sweep(NINE + timedelta(hours=9), django_capture_on_commit_callbacks)  # 18:00, closed: cleared

    deliveries = list(Delivery.objects.filter(event="coverage.changed").order_by("pk"))
    assert [d.state for d in deliveries] == ["delivered"] * 3  # sent after commit, to the one subscriber
    sent = [r for r in receiver.requests if r["headers"]["X-Helpdesk-Event"] == "coverage.changed"]
    assert len(sent) == 3 and all(r["path"] == "/hooks" for r in sent)
    started, grew, cleared = (receiver.json(receiver.requests.index(r))["data"] for r in sent)
    assert started == {
        "team": {"id": support.pk, "name": "Support"}, "open": True, "required": 2, "routable": 1, "deficit": 1,
        "previous_deficit": 0, "since": "2030-01-07T09:01:00+00:00", "changed_at": "2030-01-07T09:01:00+00:00",
    }  # fmt: skip
    assert (grew["deficit"], grew["previous_deficit"], grew["since"]) == (2, 1, "2030-01-07T09:01:00+00:00")
    assert (cleared["open"], cleared["required"], cleared["deficit"], cleared["since"]) == (False, 0, 0, None)


def test_without_subscribers_a_sweep_writes_no_delivery(support, make_webhook, django_capture_on_commit_callbacks):
    make_webhook("http://127.0.0.1:9/hooks", events=[Event.STATUS_CHANGED])
    (change,) = _sweep(NINE, django_capture_on_commit_callbacks)  # nobody in the team: short by two
    assert change.deficit == 2 and not Delivery.objects.exists()
