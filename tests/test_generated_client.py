"""What an integrator does with the API (A): generate a Python client from /api/schema/ with openapi-python-client
and drive the API with it as it comes out, no patches. A schema that a generator cannot turn into a
working client (a body offered as form, multipart and JSON at once, an operation id that clashes)
fails here."""

import importlib
import json
import pkgutil
import re
import subprocess
import sys
import urllib.request

import pytest

from presence.api.schema import TAGS
from presence.models import AgentPresence, Status, StatusChangeLog
from tests.factories import PASSWORD, AgentFactory, SupervisorFactory, TeamFactory
from tickets.models import RoutingMethod, TeamRouting, Ticket

PACKAGE = "helpdesk_client"
# No post hooks: the generator would run `ruff` from PATH over the client, which is not needed
# to import it and makes the test depend on the shell's PATH.
GENERATOR_CONFIG = {"package_name_override": PACKAGE, "post_hooks": []}


@pytest.fixture
def client_package(live_server, tmp_path):
    """The client generated from the live server's schema, importable for this test only."""
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json", timeout=30) as response:
        (tmp_path / "schema.json").write_bytes(response.read())
    (tmp_path / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none",
         "--path", "schema.json", "--config", "config.json", "--output-path", PACKAGE],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "Warning" not in output, output  # the generator skips what it cannot express
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.mark.django_db
def test_operations_have_a_resource_tag_a_readable_id_and_json_bodies(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [operation for item in schema["paths"].values() for operation in item.values()]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)+", name) and not name.startswith("v1") for name in ids), ids
    assert all(len(operation["tags"]) == 1 and operation["tags"][0] in TAGS for operation in operations)
    bodies = [operation["requestBody"]["content"] for operation in operations if "requestBody" in operation]
    assert bodies and all(content.keys() == {"application/json"} for content in bodies)


@pytest.mark.django_db(transaction=True)  # the live server reads what the test writes
def test_a_generated_client_works_without_patches(client_package, live_server):
    # given an agent in a team, and a supervisor (say, the CRM's integration user)
    support = TeamFactory(name="Support")
    TeamRouting.objects.create(team=support, method=RoutingMethod.MANUAL)
    ann = AgentFactory(username="ann", teams=[support])
    SupervisorFactory(username="sam")
    # every module of the client imports (a schema can make generated code that does not)
    for found in pkgutil.walk_packages(client_package.__path__, f"{PACKAGE}."):
        importlib.import_module(found.name)
    models = _module("models")

    def sign_in(username: str):
        body = models.CredentialsRequest(username=username, password=PASSWORD)
        token = _module("api.auth.auth_token_create").sync(client=client_package.Client(live_server.url), body=body)
        assert isinstance(token, models.TokenResponse), token
        return client_package.AuthenticatedClient(live_server.url, token=token.token, prefix="Token")

    # when the agent signs in, picks Available from the statuses and keeps the panel alive
    agent = sign_in("ann")
    statuses = _module("api.statuses.statuses_list").sync(client=agent)
    available = next(status for status in statuses if status.slug == "available")
    assert available.category == models.StatusCategoryEnum.ONLINE
    me = _module("api.presence.presence_me_set_status").sync(
        client=agent, body=models.StatusChangeInputRequest(status=available.id, reason="Start of shift")
    )
    assert isinstance(me, models.PresenceMe), me
    assert me.status == available.id and me.availability == models.AvailabilityEnum.FREE
    assert _module("api.presence.presence_me_heartbeat").sync_detailed(client=agent).status_code == 204

    # and the integration opens a ticket, assigns it to her and asks who is online for chat
    crm = sign_in("sam")
    ticket = _module("api.tickets.tickets_create").sync(
        client=crm,
        body=models.TicketRequest(subject="Cannot sign in", channel=models.TicketChannelEnum.EMAIL, team=support.pk),
    )
    assert isinstance(ticket, models.Ticket), ticket
    assigned = _module("api.tickets.tickets_assign").sync(
        id=ticket.id, client=crm, body=models.TicketAssignInputRequest(agent=ann.pk)
    )
    assert isinstance(assigned, models.TicketAssignOutput), assigned
    assert assigned.ticket.assignee == ann.pk and assigned.warnings == []
    chat = _module("api.presence.live_chat_availability").sync(client=crm)
    assert chat.online == 1
    assert [(team.name, team.online) for team in chat.teams] == [("Support", 1)]

    # then the server holds what the client sent, and the status log shows the change
    assert Ticket.objects.get(pk=ticket.id).assignee_id == ann.pk
    assert AgentPresence.objects.get(agent=ann).status == Status.objects.get(slug="available")
    log = _module("api.status_log.status_log_list").sync(client=agent)
    assert [(row.to_status_name, row.source, row.reason) for row in log.results] == [
        ("Available", models.StatusChangeSourceEnum.API, "Start of shift")
    ]
    assert log.count == StatusChangeLog.objects.filter(agent=ann).count() == 1
