"""Races that 500 (item 6): simultaneous creates of one name give one 201 and 400s naming the field,
never a 500; names of statuses, teams and shift types are unique without regard to case."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from presence.models import Status
from tests.factories import AdminFactory, TeamFactory

TEN = 10


def _at_once(user, path: str, body: dict) -> list:
    """Ten clients post the same body at the same moment; their responses."""
    barrier, responses, errors = threading.Barrier(TEN), [], []

    def post():
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            responses.append(client.post(path, body, format="json"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(TEN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return responses


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/agents/", {"username": "newbie", "password": "a-long-enough-pass"}, "username"),
        ("/api/v1/statuses/", {"name": "Coffee", "category": "inactive"}, "name"),
        ("/api/v1/teams/", {"name": "Night shift"}, "name"),
        ("/api/v1/shift-types/", {"name": "Late", "default_status": "{busy}"}, "name"),
        ("/api/v1/reassign-mappings/", {"to_status": "{meeting}", "action": "unassign"}, None),
    ],
)
def test_simultaneous_creates_give_one_201_and_400s_naming_the_field(path, body, field):
    admin = AdminFactory(username="root")
    ids = {s.slug: s.pk for s in Status.objects.all()}
    body = {k: ids[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v for k, v in body.items()}
    responses = _at_once(admin, path, body)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [400] * (TEN - 1), [r.content[:200] for r in responses]
    for response in responses:
        if response.status_code == 400:
            errors = response.json()["errors"]
            assert (field in errors) if field else errors, errors


@pytest.mark.django_db
@pytest.mark.sqlite
@pytest.mark.parametrize(
    "path, existing, body",
    [
        ("/api/v1/statuses/", "Lunch", {"name": "lunch", "category": "inactive"}),
        ("/api/v1/teams/", "Support", {"name": "SUPPORT"}),
        ("/api/v1/shift-types/", "Early", {"name": "early"}),
    ],
)
def test_names_are_unique_without_regard_to_case(admin_api, statuses, path, existing, body):
    if "teams" in path:
        TeamFactory(name=existing)
    if "shift-types" in path:
        from scheduling.models import ShiftType

        ShiftType.objects.create(name=existing, default_status=statuses["available"])
        body = {**body, "default_status": statuses["available"].pk}
    response = admin_api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert "name" in response.json()["errors"] and "already exists" in response.json()["message"]
