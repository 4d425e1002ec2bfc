"""Property-based API tests (A) from the OpenAPI schema (issue 6): every operation, as an agent and
as a supervisor and as an admin (who reaches the configuration writes), gives no 5xx and
answers as the schema says."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from presence.models import Source, Status
from presence.services import presence_change_status
from tests.factories import AdminFactory, AgentFactory, SupervisorFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6  # per operation and role: bounded so CI stays fast; derandomized so it is repeatable


@pytest.fixture
def api_schema(db):
    # Requests go straight to the WSGI app inside the test's transaction: like Django's test
    # client, keep the end of each request from closing the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db):
    agent = AgentFactory(username="fuzz-agent")
    presence_change_status(agent, Status.objects.get(slug="available"), actor=agent, source=Source.LOGIN)
    supervisor = SupervisorFactory(username="fuzz-supervisor")
    admin = AdminFactory(username="fuzz-admin")
    return [Token.objects.create(user=user).key for user in (agent, supervisor, admin)]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
def test_api_conforms_to_its_schema(case, tokens):
    for key in tokens:
        case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=CHECKS)
