"""Phone calls move agents between statuses (P12, seed 002): On a call, After call work, Done; going
Offline ends the open calls."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from presence.models import AgentPresence, Call, PresenceSettings, Source, Status, StatusChangeLog
from presence.services import presence_auto_offline, presence_change_status, presence_wrap_up_expire
from tests.concurrency import held_elsewhere
from tests.factories import AgentFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_system(db):
    """The phone system signs in as a user with just the call-events permission."""
    user = UserFactory(username="pbx")
    user.user_permissions.add(Permission.objects.get(codename="report_call_events"))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def ann(statuses):
    return AgentFactory(username="ann", status=statuses["available"], profile={"can_phone": True})


def _event(client, agent, call_id, event):
    return client.post(
        "/api/v1/telephony/events/", {"agent": agent.pk, "call_id": call_id, "event": event}, format="json"
    )


def _slug(agent) -> str:
    return AgentPresence.objects.select_related("status").get(agent=agent).status.slug


def _agent_api(agent) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


def test_a_call_goes_on_a_call_then_after_call_work_then_done_back(phone_system, ann, statuses):
    response = _event(phone_system, ann, "c1", "started")
    assert response.status_code == 200, response.json()
    assert response.json()["call"]["state"] == "active"
    assert response.json()["presence"]["status"] == statuses["on-a-call"].pk
    assert _slug(ann) == "on-a-call"
    assert _event(phone_system, ann, "c1", "ended").json()["call"]["state"] == "wrap_up"
    assert _slug(ann) == "after-call-work"
    done = _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/")
    assert done.status_code == 200 and done.json()["status"] == statuses["available"].pk
    rows = StatusChangeLog.objects.filter(agent=ann, source=Source.TELEPHONY).order_by("at", "id")
    assert [r.to_status.slug for r in rows] == ["on-a-call", "after-call-work", "available"]
    assert Call.objects.get(call_id="c1").state == "done"


def test_events_are_idempotent_per_call_id(phone_system, ann):
    for _ in range(2):
        assert _event(phone_system, ann, "c1", "started").status_code == 200
    for _ in range(2):
        assert _event(phone_system, ann, "c1", "ended").status_code == 200
    assert StatusChangeLog.objects.filter(agent=ann, source=Source.TELEPHONY).count() == 2
    assert Call.objects.count() == 1


def test_an_end_before_its_start_or_for_an_unknown_call_is_409(phone_system, ann):
    response = _event(phone_system, ann, "nope", "ended")
    assert response.status_code == 409 and "No call nope was started" in response.json()["message"]
    assert _slug(ann) == "available"


def test_call_events_for_an_offline_agent_are_409(phone_system, statuses):
    olga = AgentFactory(username="olga", profile={"can_phone": True})
    response = _event(phone_system, olga, "c1", "started")
    assert response.status_code == 409 and "olga is offline" in response.json()["message"]
    assert not Call.objects.exists() and _slug(olga) == "offline"


def _sign_out(ann, statuses) -> None:
    client = Client()
    client.force_login(ann)  # signing in while On a call leaves the status alone
    assert client.post(reverse("logout")).status_code == 302


def _auto_offline(ann, statuses) -> None:
    # a supervisor took ann off the call (its end never came), then her panel went silent
    presence_change_status(ann, statuses["available"], actor=None, source=Source.SUPERVISOR)
    config = PresenceSettings.load()
    config.auto_offline_minutes = 10
    config.save()
    assert presence_auto_offline(now=timezone.now() + timedelta(hours=1)) == 1  # the batched path


def _by_a_supervisor(ann, statuses) -> None:
    presence_change_status(ann, statuses["offline"], actor=None, source=Source.SUPERVISOR)


def _deactivated(ann, statuses) -> None:
    ann.is_active = False
    ann.save()


@pytest.mark.parametrize("go_offline", [_sign_out, _auto_offline, _by_a_supervisor, _deactivated])
def test_going_offline_ends_the_open_calls_and_a_later_end_is_a_repeat(phone_system, ann, statuses, go_offline):
    # given: ann on call c1, and an earlier call c0 still in its after call work
    _event(phone_system, ann, "c0", "started")
    _event(phone_system, ann, "c0", "ended")
    _event(phone_system, ann, "c1", "started")
    Call.objects.filter(call_id="c0").update(state=Call.State.WRAP_UP)  # as a second call leaves an older one
    # when: she goes Offline, by whatever path
    go_offline(ann, statuses)
    # then: no call of hers is open any more, and the phone system's late end changes nothing
    assert _slug(ann) == "offline"
    assert set(Call.objects.values_list("state", flat=True)) == {"done"}
    c1 = Call.objects.get(call_id="c1")
    assert c1.ended_at is not None and c1.done_at is not None
    changes = StatusChangeLog.objects.filter(agent=ann).count()
    response = _event(phone_system, ann, "c1", "ended")
    assert response.status_code == 200 and response.json()["call"]["state"] == "done"
    assert _slug(ann) == "offline" and StatusChangeLog.objects.filter(agent=ann).count() == changes
    assert Call.objects.get(call_id="c1").ended_at == c1.ended_at
    # a call id never seen is still refused
    assert _event(phone_system, ann, "c9", "ended").status_code == 409


@pytest.mark.parametrize("late_end", [True, False], ids=["its end comes late", "its end never comes"])
def test_the_next_call_after_going_offline_mid_call_works_end_to_end(phone_system, ann, statuses, late_end):
    _event(phone_system, ann, "c1", "started")
    _sign_out(ann, statuses)
    if late_end:
        assert _event(phone_system, ann, "c1", "ended").status_code == 200  # a repeat
    # the next day: ann signs in, takes a call, ends it, presses Done
    Client().force_login(ann)
    assert _slug(ann) == "available"
    assert _event(phone_system, ann, "c2", "started").json()["call"]["status_before"] == statuses["available"].pk
    assert _slug(ann) == "on-a-call"
    ended = _event(phone_system, ann, "c2", "ended")
    assert ended.status_code == 200 and ended.json()["call"]["state"] == "wrap_up"
    assert _slug(ann) == "after-call-work"
    assert _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/").status_code == 200
    assert _slug(ann) == "available"
    assert dict(Call.objects.values_list("call_id", "state")) == {"c1": "done", "c2": "done"}


@pytest.mark.django_db(transaction=True)
def test_going_offline_never_waits_for_a_call_an_end_holds_and_that_end_closes_it(phone_system, ann, statuses):
    """Call events lock the call before the agent's presence; going Offline locks them the other
    way round, so it passes over a call another transaction holds, and that event, once it has
    the presence lock, finds the agent Offline and ends the call itself."""
    _event(phone_system, ann, "c1", "started")
    with held_elsewhere(Call.objects.filter(call_id="c1")):
        presence_change_status(ann, statuses["offline"], actor=None, source=Source.SUPERVISOR)
    assert _slug(ann) == "offline" and Call.objects.get().state == "active"  # passed over
    response = _event(phone_system, ann, "c1", "ended")
    assert response.status_code == 200 and response.json()["call"]["state"] == "done"
    assert _slug(ann) == "offline"


@pytest.mark.django_db(transaction=True)
def test_a_start_during_a_done_that_holds_the_last_call_waits_instead_of_deadlocking(phone_system, ann):
    """A Done (or the after-call-work timeout, or an end) locks the call, then the presence; a
    new call's start takes the agent's open calls before the presence too, so it waits for the
    Done rather than holding the presence the Done is waiting for."""
    from presence.services.telephony import call_started, presence_wrap_up_done

    _event(phone_system, ann, "c1", "started")
    _event(phone_system, ann, "c1", "ended")
    held, go, errors = threading.Event(), threading.Event(), []

    def in_thread(work):
        def run():
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '10s'")
                work()
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=run)

    def done():
        with transaction.atomic():
            Call.objects.select_for_update().get(call_id="c1")
            held.set()
            go.wait(10)
            presence_wrap_up_done(ann, actor=ann)

    done_thread = in_thread(done)
    done_thread.start()
    assert held.wait(10)
    start_thread = in_thread(lambda: call_started(ann, "c2", actor=None))
    start_thread.start()
    start_thread.join(0.5)  # let it reach its first lock
    go.set()
    done_thread.join(15)
    start_thread.join(15)
    assert errors == []
    assert _slug(ann) == "on-a-call"
    assert dict(Call.objects.values_list("call_id", "state")) == {"c1": "done", "c2": "active"}
    assert Call.objects.get(call_id="c2").status_before.slug == "available"


def test_a_call_id_of_another_agent_is_refused(phone_system, ann, statuses):
    bob = AgentFactory(username="bob", status=statuses["available"])
    _event(phone_system, ann, "c1", "started")
    assert _event(phone_system, bob, "c1", "started").status_code == 409
    assert _event(phone_system, bob, "c1", "ended").status_code == 409
    assert _slug(bob) == "available"


def test_done_when_not_in_after_call_work_is_409(ann):
    response = _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/")
    assert response.status_code == 409 and response.json()["message"] == "You are not in after call work."


def test_a_status_changed_during_after_call_work_is_left_alone(phone_system, ann, statuses, supervisor):
    _event(phone_system, ann, "c1", "started")
    _event(phone_system, ann, "c1", "ended")
    presence_change_status(ann, statuses["lunch"], actor=supervisor, source=Source.SUPERVISOR)
    _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/")
    assert _slug(ann) == "lunch"


def test_a_status_changed_during_the_call_skips_after_call_work(phone_system, ann, statuses, supervisor):
    _event(phone_system, ann, "c1", "started")
    presence_change_status(ann, statuses["meeting"], actor=supervisor, source=Source.SUPERVISOR)
    assert _event(phone_system, ann, "c1", "ended").json()["call"]["state"] == "done"
    assert _slug(ann) == "meeting"


def test_back_to_back_calls_return_to_the_status_before_the_first(phone_system, ann, statuses):
    presence_change_status(ann, statuses["busy"], actor=ann, source=Source.API)
    _event(phone_system, ann, "c1", "started")
    _event(phone_system, ann, "c1", "ended")
    _event(phone_system, ann, "c2", "started")  # during after call work
    assert Call.objects.get(call_id="c1").state == "done"
    _event(phone_system, ann, "c2", "ended")
    _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/")
    assert _slug(ann) == "busy"


def test_two_calls_at_once_wrap_up_after_the_last_one(phone_system, ann, statuses):
    _event(phone_system, ann, "c1", "started")
    _event(phone_system, ann, "c2", "started")
    _event(phone_system, ann, "c1", "ended")
    assert _slug(ann) == "on-a-call"
    _event(phone_system, ann, "c2", "ended")
    assert _slug(ann) == "after-call-work"
    _agent_api(ann).post("/api/v1/presence/me/wrap-up/done/")
    assert _slug(ann) == "available"


def test_after_call_work_ends_by_itself_after_the_maximum(phone_system, ann, statuses):
    config = PresenceSettings.load()
    config.wrap_up_max_minutes = 5
    config.save()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _event(phone_system, ann, "c1", "started")
        _event(phone_system, ann, "c1", "ended")
    assert Call.objects.get().wrap_up_until == start + timedelta(minutes=5)
    assert presence_wrap_up_expire(now=start + timedelta(minutes=4)) == 0
    assert _slug(ann) == "after-call-work"
    assert presence_wrap_up_expire(now=start + timedelta(minutes=5)) == 1
    assert presence_wrap_up_expire(now=start + timedelta(minutes=6)) == 0  # idempotent
    assert _slug(ann) == "available"
    row = StatusChangeLog.objects.filter(agent=ann).latest("at")
    assert (row.source, row.reason) == ("telephony", "after call work time is up")


def test_without_a_maximum_after_call_work_waits_for_done(phone_system, ann):
    _event(phone_system, ann, "c1", "started")
    _event(phone_system, ann, "c1", "ended")
    assert Call.objects.get().wrap_up_until is None
    assert presence_wrap_up_expire(now=timezone.now() + timedelta(days=1)) == 0
    assert _slug(ann) == "after-call-work"


def test_agents_cannot_pick_the_phone_statuses(ann, statuses, client):
    api = _agent_api(ann)
    for slug in ("on-a-call", "after-call-work"):
        response = api.post("/api/v1/presence/me/status/", {"status": statuses[slug].pk}, format="json")
        assert response.status_code == 400 and "set by the system only" in response.json()["message"]
    client.force_login(ann)
    page = client.get("/").content.decode()
    options = page.split('id="status-select"')[1].split("</select>")[0]
    assert "Available" in options and "On a call" not in options and "After call work" not in options


def test_an_admin_may_report_call_events(admin_api, admin_user, ann, statuses):
    started = _event(admin_api, ann, "c1", "started")
    assert started.status_code == 200 and _slug(ann) == "on-a-call"
    ended = _event(admin_api, ann, "c1", "ended")
    assert ended.status_code == 200 and ended.json()["call"]["state"] == "wrap_up"
    assert _slug(ann) == "after-call-work"
    rows = StatusChangeLog.objects.filter(agent=ann, source=Source.TELEPHONY).order_by("at", "id")
    assert [(r.to_status.slug, r.actor) for r in rows] == [("on-a-call", admin_user), ("after-call-work", admin_user)]


def test_only_a_phone_system_reports_calls(ann, supervisor_api):
    assert _event(_agent_api(ann), ann, "c1", "started").status_code == 403
    assert _event(supervisor_api, ann, "c1", "started").status_code == 403
    assert not Call.objects.exists()


def test_who_can_take_a_call_now(phone_system, supervisor_api, statuses):
    # ann: phone capability, receiving, room for a call; bob: no phone capability;
    # cara: in a status that forwards calls to her phone; dev: at phone capacity; eve: on a call.
    ann = AgentFactory(username="ann", status=statuses["available"], profile={"can_phone": True})
    AgentFactory(username="bob", status=statuses["available"])
    forward = Status.objects.create(name="Mobile", slug="mobile", category="inactive", forward_to_phone=True)
    cara = AgentFactory(username="cara", status=forward, profile={"can_phone": True, "phone_number": "+49 30 1234"})
    dev = AgentFactory(username="dev", status=statuses["available"], profile={"can_phone": True})
    TicketFactory(subject="call", channel="phone", assignee=dev)
    eve = AgentFactory(username="eve", status=statuses["available"], profile={"can_phone": True})
    _event(phone_system, eve, "c1", "started")
    AgentFactory(username="fay", status=forward, profile={"can_phone": True})  # no number to forward to
    expected = [
        {"agent": ann.pk, "status": statuses["available"].pk, "target": "softphone", "phone_number": None},
        {"agent": cara.pk, "status": forward.pk, "target": "forward", "phone_number": "+49 30 1234"},
    ]
    assert phone_system.get("/api/v1/telephony/agents/").json() == expected
    assert supervisor_api.get("/api/v1/telephony/agents/").json() == expected


def test_the_schema_documents_the_telephony_api(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/telephony/events/", "/api/v1/telephony/agents/", "/api/v1/presence/me/wrap-up/done/"):
        assert path in schema["paths"]


def test_the_header_shows_the_call_status_and_done_ends_after_call_work_without_javascript(
    phone_system, ann, statuses, client
):
    client.force_login(ann)
    _event(phone_system, ann, "c1", "started")
    page = client.get("/").content.decode()
    assert '<option id="status-current" value="" selected disabled>📞 On a call</option>' in page
    assert 'id="wrap-up-form" method="post" action="/status/wrap-up/done/" hidden' in page
    _event(phone_system, ann, "c1", "ended")
    page = client.get("/").content.decode()
    assert 'action="/status/wrap-up/done/" >' in page  # shown now
    response = client.post("/status/wrap-up/done/", {"next": "/"}, follow=True)
    assert "After call work done: you are Available." in response.content.decode()
    assert _slug(ann) == "available"
    state = client.get("/status/state/").json()
    assert state["wrap_up"] is False and state["status"] == statuses["available"].pk
