"""Headers and surface (item 9): a Content-Security-Policy our pages keep (no inline script),
Referrer-Policy and Permissions-Policy; password reset only with a mail server; the API's schema
and docs behind sign-in in production unless PUBLIC_API_DOCS=1."""

import importlib
import re
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import clear_url_caches, reverse

from tests.factories import AgentFactory, SupervisorFactory, TicketFactory
from tests.test_deploy import PRODUCTION_ENV, ROOT

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.fixture
def pages(statuses):
    ann = AgentFactory(username="ann", status=statuses["available"], is_staff=True)
    sam = SupervisorFactory(username="sam", is_staff=True)
    ticket = TicketFactory(subject="t", assignee=ann)
    as_ann, as_sam = Client(), Client()
    as_ann.force_login(ann)
    as_sam.force_login(sam)
    return [
        (Client(), "/accounts/login/"),
        (as_ann, "/"),
        (as_ann, f"/tickets/{ticket.pk}/"),
        (as_ann, reverse("admin:index")),
        (as_sam, "/board/"),
        (as_sam, f"/board/agents/{ann.pk}/"),
        (as_sam, reverse("admin:presence_status_changelist")),
        (as_sam, reverse("admin:scheduling_shift_add")),
        (as_sam, "/admin/reports/"),
        (Client(), "/api/docs/"),
    ]


def test_every_page_has_the_policy_and_runs_no_inline_script(pages):
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html).group(0))
        assert not INLINE_HANDLER.search(html), (path, INLINE_HANDLER.search(html).group(0))
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]


def test_the_api_docs_load_their_script_from_a_file(client):
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', page).group(1).replace("&amp;", "&")
    response = client.get(script)
    assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()


@pytest.fixture
def reset_pages(settings):
    def build(enabled: bool):
        settings.PASSWORD_RESET_ENABLED = enabled
        importlib.reload(importlib.import_module("config.urls"))
        clear_url_caches()

    yield build
    build(False)


def test_password_reset_only_with_a_mail_server(client, reset_pages):
    reset_pages(False)
    assert client.get("/accounts/password_reset/").status_code == 404
    reset_pages(True)
    assert client.get("/accounts/password_reset/").status_code == 200


def _production_get(path: str, **env) -> int:
    code = (
        "import django; django.setup(); from django.test import Client; "
        f"print(Client().get({path!r}, HTTP_HOST='helpdesk.example.com', secure=True).status_code)"
    )
    clean = {k: v for k, v in __import__("os").environ.items() if k not in PRODUCTION_ENV}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **PRODUCTION_ENV, **env},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_production_serves_the_api_docs_to_signed_in_users_unless_public():
    assert _production_get("/api/schema/") in (401, 403)
    assert _production_get("/api/docs/") in (401, 403)
    # (the docs page itself needs collectstatic's manifest in production: the schema shows it)
    assert _production_get("/api/schema/", PUBLIC_API_DOCS="1") == 200
