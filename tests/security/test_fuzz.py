"""A bounded fuzz of every write, as every role: every POST, PUT, PATCH and DELETE operation of the
OpenAPI schema (read from `/api/schema/`, so a new endpoint is fuzzed without a change here) and
every form post of the agent pages, the supervisor board and the sign-in page.

Payloads: the operation's valid body (built from its request schema and the fixture's real ids)
with one property at a time replaced by a wrong type, a huge value, unicode, a null byte or 1,000
nested lists; whole bodies that are not JSON, empty, not UTF-8, not an object or nested 1,000
deep; path parameters that are not ids; a query value with a null byte. The pages get the same
kinds of values as form data (multipart and urlencoded, with and without the script's
`Accept: application/json`).

Two checks per request: no 5xx, and a refusal leaves the database as it was. A refusal is a 4xx;
for the pages also a redirect to the sign-in page, a redirect with an error message, or an HTML
page shown again (the sign-in form, the agent card's form, a note's confirmation).

Bounded and deterministic: a fixed seed per operation and role, and a fixed budget of cases per
operation and role (a small one when the role is refused before its body is read: 401, 403, 404
or 405 for the operation's valid request, or a page's redirect to the sign-in page). Each case
runs inside a savepoint that is rolled back after it, so a request that succeeds does not change
what the next one meets. Failures are collected, grouped (one exception site, or one set of
changed tables, per operation) and reported with the smallest payload of each group.

"State unchanged" compares a fingerprint of every table of the project's apps and of users,
groups, permissions, tokens and the admin log (row counts, largest ids, an md5 of the rows) with
the one taken before the first case; bookkeeping a refused request may write is left out (see
VOLATILE_COLUMNS). PostgreSQL only: the fingerprint and its write counters are PostgreSQL's.
"""

import json
import logging
import random
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from presence.models import (
    AgentPresence,
    Call,
    Notice,
    PresenceSettings,
    Source,
    Status,
    StatusRequest,
    StillWorkingPrompt,
)
from presence.services import presence_change_status, presence_queue_leave
from scheduling.models import Appointment, Shift, ShiftType
from tests.factories import AdminFactory, AgentFactory, SupervisorFactory, TicketFactory, UserFactory
from tickets.models import ReassignMapping
from webhooks.models import Event, Webhook

pytestmark = [
    pytest.mark.django_db,
    # The API's sign-in throttle keys its cache entries by the username tried, null bytes and all:
    # fine for Redis and process memory, which this project uses (memcached would refuse them).
    pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the fingerprint asks PostgreSQL"),
]

SEED = 20261124
ROLES = ["anonymous", "agent", "other_agent", "supervisor", "staff_supervisor", "viewer", "admin"]
# Cases per operation and role. Roles that get past the permission checks: every whole body
# (BODYLESS_CASES of them when the operation reads no body) and PARSER_CASES parser-level ones,
# a null byte in every string property, PROPERTY_CASES property replacements (round robin over
# the properties), the other rows of the kind and PATH_CASES values for each path parameter, and
# two query strings. Roles refused before the body (401, 403, 404 or 405 for the valid request)
# get SMALL_BUDGET of those. The pages: the whole-body cases, a null byte in every field,
# PAGE_FIELD_CASES field values, the other rows and PATH_CASES values for the path; SMALL_BUDGET
# when the valid post goes to the sign-in page.
PROPERTY_CASES = 8
PARSER_CASES = 2
BODYLESS_CASES = 4
PATH_CASES = 2
SMALL_BUDGET = 4
PAGE_FIELD_CASES = 5
MAX_REPORTED = 40

ROOT = Path(__file__).resolve().parents[2]
HUGE = 99999999999999999999  # beyond 64 bits
LONG = "x" * 100_000
NUL = "a\x00b"
DEEP_TEXT = "[" * 1000 + "]" * 1000
DEEP = "\ue000deep\ue000"  # stands for DEEP_TEXT inside a body until it is encoded
UNICODE = [
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd",  # RTL mark, Hebrew
    "😀🙈🦄",
    "👨\u200d👩\u200d👧",  # a joined emoji
    "e\u0301\u0308\u20dd",  # combining characters
    "日本語のテキスト",
    "مرحبا بالعالم",
    "Ελληνικά",
    "\ufeff\u200b",  # byte order mark, zero-width space
]
WRONG_TYPES = ["abc", 1, 1.5, True, False, None, [], [1, 2], {}, {"a": 1}]
HUGE_VALUES = [HUGE, -HUGE, -1, 0, 2**63, 2**31, 1e308, -0.0, LONG]
NULS = [NUL, "\x00", "1\x00"]
COMMON_VALUES = [*WRONG_TYPES, *HUGE_VALUES, *UNICODE, *NULS, DEEP]
EXTRA_BY_KIND = {
    "integer": ["1", " 1", "1e3", "٣", 2**63 - 1],  # plus other rows' ids (see _property_pool)
    "number": ["1", "nan", 1e-320],
    "boolean": ["yes", "true", "on", 2],
    "string": ["", " ", "x" * 256, "x" * 10_001, "<script>alert(1)</script>", "=1+1", "%s%n"],
    "date-time": [
        "2030-13-45T99:99Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2030-03-31T02:30:00",
        "2030-01-08T10:00:00+25:00", "2030-01-08T10:00\x00Z", "2030-01-08T10:00:00.9999999999Z", "tomorrow",
    ],
    "email": ["a@b", "@", "a\x00@example.com", "ü@ü.example", "x" * 300 + "@example.com"],
    "array": [[HUGE], [NUL], [None], [[1]], [{}], ["x"], [-1], [0], "x", {"a": 1}],
    "object": ["x", [], {"a\x00b": 1}, {"email": HUGE}, {"email": -1, "chat": "x"}, {"x": DEEP}],
    "enum": ["nope", "", "EMAIL", "Online", "email\x00"],
}  # fmt: skip

BROKEN_MULTIPART = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\x00\r\n--x'
# Whole bodies: (label, bytes, content type). Each operation gets every one of WHOLE_BODIES
# (what a view may trip over: no body, a body that is not an object, form data) and
# PARSER_CASES of PARSER_BODIES (refused by the parsers before any view code runs).
WHOLE_BODIES = [
    ("empty body", b"", "application/json"),
    ("[]", b"[]", "application/json"),
    ('"x"', b'"x"', "application/json"),
    ("3", b"3", "application/json"),
    ("null", b"null", "application/json"),
    ("{}", b"{}", "application/json"),
    ("1,000 nested lists", DEEP_TEXT.encode(), "application/json"),
    ("unicode and null-byte keys", json.dumps({"\u202e😀": NUL, "a\x00b": 1}).encode(), "application/json"),
    ("form body with null bytes", b"a=%00&status=%00&username=%00&agent=%00", "application/x-www-form-urlencoded"),
    ("broken multipart", BROKEN_MULTIPART, "multipart/form-data; boundary=x"),
]
PARSER_BODIES = [
    ("not JSON", b"{not json", "application/json"),
    ("1,000 nested objects", ('{"a":' * 1000 + "1" + "}" * 1000).encode(), "application/json"),
    ("not UTF-8", b'{"a": "\xff\xfe"}', "application/json"),
    ("NaN", b'{"a": NaN}', "application/json"),
    ("a number beyond 64 bits", str(HUGE).encode(), "application/json"),
    ("text/plain", b"hello", "text/plain"),
]

PATH_VALUES = ["a\x00b", "-1", "0", "1.5", str(HUGE), str(2**63), "٣", "😀", "1 ", "\u202e1"]


# --- the world -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _quiet_logs():
    """Thousands of refusals: Django's request log, its security log and django-axes would print a
    traceback or a warning for each. The failures' report says what matters."""
    loggers = [logging.getLogger(name) for name in ("django.request", "django.security", "axes")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def world(statuses, make_team):
    """The roles of tests/test_permissions.py, with rows for every path parameter: "agent" (ann)
    holds a ticket, a shift, an appointment, a pending request, a notice and a call, and is an
    active member of one team and an inactive member of another, with "still working?" open;
    "other_agent" (bob) holds a ticket and a notice of his own, and is finishing before After work."""
    # Rows go through the factories and services, which keep what routing derives from them.
    team, other_team = make_team("Support"), make_team("Sales")
    ann = AgentFactory(username="ann", teams=[team, other_team])
    bob = AgentFactory(username="bob", teams=[team])
    for person in (ann, bob):
        presence_change_status(person, statuses["available"], actor=person, source=Source.LOGIN)
    presence_queue_leave(ann, other_team, actor=ann)
    statuses["training"].requires_approval = True
    statuses["training"].save()
    early = ShiftType.objects.create(name="Early", default_status=statuses["available"])
    staff_supervisor = SupervisorFactory(username="sam", is_staff=True)
    viewer = UserFactory(username="vic", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    PresenceSettings.load().save()
    users = {
        "anonymous": None,
        "agent": ann,
        "other_agent": bob,
        "supervisor": SupervisorFactory(username="sue"),
        "staff_supervisor": staff_supervisor,
        "viewer": viewer,
        "admin": AdminFactory(username="root"),
    }
    decided = StatusRequest.objects.create(agent=bob, status=statuses["training"], state="rejected")
    ids = {
        "agent": ann.pk,
        "other_agent": bob.pk,
        "not_agent": users["supervisor"].pk,
        "available": statuses["available"].pk,
        "busy": statuses["busy"].pk,
        "meeting": statuses["meeting"].pk,
        "offline": statuses["offline"].pk,
        "training": statuses["training"].pk,
        "unused": Status.objects.create(name="Unused", slug="unused", category="inactive").pk,
        "request": StatusRequest.objects.create(agent=ann, status=statuses["training"]).pk,
        "decided_request": decided.pk,
        "ticket": TicketFactory(subject="ann's", team=team, assignee=ann).pk,
        "bob_ticket": TicketFactory(subject="bob's", team=team, assignee=bob).pk,
        "queue_ticket": TicketFactory(subject="waiting", team=team).pk,
        "closed_ticket": TicketFactory(subject="done", team=team, assignee=ann, state="closed").pk,
        "team": team.pk,
        "other_team": other_team.pk,
        "mapping": ReassignMapping.objects.create(to_status=statuses["lunch"]).pk,
        "shift_type": early.pk,
        "shift": Shift.objects.create(agent=ann, shift_type=early, start="2030-01-07T08:00Z",
                                      end="2030-01-07T16:00Z").pk,
        "appointment": Appointment.objects.create(agent=ann, subject="1:1", start="2030-01-07T08:00Z",
                                                  end="2030-01-07T09:00Z").pk,
        "call": Call.objects.create(agent=ann, call_id="c-1", status_before=statuses["available"]).pk,
        "notice": Notice.objects.create(agent=ann, kind="changed_by_supervisor", text="Sam set you Busy.").pk,
        "bob_notice": Notice.objects.create(agent=bob, kind="changed_by_supervisor", text="Sam set you Busy.").pk,
        # Subscribed to every event: every write that sends one builds and stores its payload.
        "webhook": Webhook.objects.create(url="https://chat.example/hooks", events=Event.values, secret="s").pk,
    }  # fmt: skip
    # Work for the banners' posts: bob finishing his ticket before After work, ann asked "still working?".
    finishing = presence_change_status(bob, statuses["after-work"], actor=bob, source=Source.DROPDOWN)
    assert finishing.presence.pending_status_id == statuses["after-work"].pk
    StillWorkingPrompt.objects.create(agent=ann)
    return ids, users


# --- the fingerprint -----------------------------------------------------------------------------

# Bookkeeping a refused request may write, left out of the fingerprint: the heartbeat and activity
# times every authenticated request records (AgentActivityMiddleware, at most once a minute), the
# last sign-in, a token's last use (presence_apitokenuse: each token-authenticated request, refused
# or not), sessions (django_session) and failed sign-ins (django-axes' axes_* tables for the form;
# the API counts its failures in the cache).
VOLATILE_COLUMNS = {
    ("presence.agentpresence", "last_heartbeat"),
    ("presence.agentpresence", "last_activity"),
    ("auth.user", "last_login"),
}
VOLATILE_MODELS = {"presence.apitokenuse"}


def _fingerprinted_models() -> list:
    from django.contrib.auth import get_user_model

    user = get_user_model()
    models = [m for label in ("presence", "tickets", "scheduling", "webhooks")
              for m in apps.get_app_config(label).get_models(include_auto_created=True)]  # fmt: skip
    models += [user, user.groups.through, user.user_permissions.through, Group, Group.permissions.through]
    models += [Token, LogEntry]
    return [m for m in models if m._meta.label_lower not in VOLATILE_MODELS]


class Fingerprint:
    """Per table: the row count, the largest primary key and an md5 of every row (volatile columns
    left out), all in one statement. Taking it costs milliseconds, so a cheaper question comes
    first: PostgreSQL's per-transaction write counters (pg_stat_get_xact_tuples_*, which count
    every row inserted, updated or deleted in this transaction, rolled back or not). Only tables
    whose counters moved during a request are fingerprinted after it."""

    def __init__(self):
        q = connection.ops.quote_name
        self.table_sql = {}
        for model in _fingerprinted_models():
            meta = model._meta
            columns = [q(f.column) for f in meta.concrete_fields
                       if (meta.label_lower, f.name) not in VOLATILE_COLUMNS]  # fmt: skip
            pk = q(meta.pk.column)
            self.table_sql[meta.db_table] = (
                f"SELECT '{meta.db_table}', count(*), max({pk})::text, md5(coalesce(string_agg(ROW("
                f"{', '.join(columns)})::text, '|' ORDER BY {pk}), '')) FROM {q(meta.db_table)}"
            )
        self.tables = sorted(self.table_sql)
        oids = ", ".join(str(oid) for oid in self._oids())
        self.counters_sql = (
            "SELECT array_agg(pg_stat_get_xact_tuples_inserted(o) + pg_stat_get_xact_tuples_updated(o) + "
            f"pg_stat_get_xact_tuples_deleted(o) ORDER BY n) FROM unnest(ARRAY[{oids}]::oid[]) WITH ORDINALITY t(o, n)"
        )

    def _oids(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"'{connection.ops.quote_name(t)}'::regclass::oid" for t in self.tables)
            )
            return list(cursor.fetchone())

    def writes(self) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(self.counters_sql)
            return dict(zip(self.tables, cursor.fetchone()[0], strict=True))

    def take(self, tables=None) -> dict[str, tuple]:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(self.table_sql[t] for t in (tables or self.tables)))
            return {table: tuple(rest) for table, *rest in cursor.fetchall()}

    @staticmethod
    def rows(table: str) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")
            return {row[0] for row in cursor.fetchall()}


# --- cases and the runner ------------------------------------------------------------------------


@dataclass
class Case:
    method: str
    path: str
    label: str  # the payload, short, for the report
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    form: bool = False  # a page's form post: refusals also show as redirects and re-shown forms


@dataclass
class Failure:
    kind: str
    role: str
    op: str  # "METHOD path template": failures are grouped per operation
    case: Case
    status: int
    detail: str
    site: str  # the exception's place, or the changed tables

    def line(self) -> str:
        return (f"[{self.kind}] {self.case.method} {_short(self.case.path, 120)} as {self.role} -> {self.status}; "
                f"payload: {self.case.label}; {self.detail}")  # fmt: skip


def _short(value, limit: int = 160) -> str:
    """A payload as the report shows it: long strings and deep nesting abbreviated."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = value if isinstance(value, str) else repr(value)
    for long, name in ((LONG, f"x*{len(LONG)}"), ("x" * 10_001, "x*10001"), ("x" * 300, "x*300"),
                       ("x" * 256, "x*256"), (DEEP_TEXT, "<1,000 nested lists>"),
                       (json.dumps(DEEP), "<1,000 nested lists>"), (DEEP, "<1,000 nested lists>")):  # fmt: skip
        text = text.replace(long, name)
    text = text.encode("unicode_escape").decode("ascii") if "\x00" in text else text
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# Frames that only carry an error up (the database driver and Django's plumbing): the report names
# the innermost frame of the project's code, or else of the library that made the call.
PLUMBING = ("/psycopg/", "/django/db/", "/django/utils/", "/django/dispatch/", "/django/core/handlers/")


def _exception_site(exc_info) -> tuple[str, str]:
    """Where the request failed, and the exception, for the report."""
    if not exc_info:
        return "", ""
    _, exc, tb = exc_info
    frames = traceback.extract_tb(tb)
    own = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename]
    libraries = [f for f in frames if not any(part in f.filename for part in PLUMBING)]
    frame, last = (own or libraries or frames)[-1], frames[-1]
    name = frame.filename.split("/site-packages/")[-1] if "/site-packages/" in frame.filename else frame.filename
    name = name[len(str(ROOT)) + 1 :] if name.startswith(str(ROOT)) else name
    site = f"{name}:{frame.lineno} in {frame.name}"
    if last is not frame:
        site += f" (raised in {Path(last.filename).name}:{last.lineno} {last.name})"
    return site, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _page_refused(response) -> bool:
    """A page's form post that did nothing: a 4xx, off to the sign-in page, a redirect back with
    an error message, or an HTML page shown again (the script's successes are JSON 200s)."""
    if response.status_code >= 400:
        return True
    if response.status_code in (301, 302, 303):
        if response["Location"].startswith(settings.LOGIN_URL):
            return True
        queued = getattr(getattr(response.wsgi_request, "_messages", None), "_queued_messages", [])
        return any(message.level >= messages.ERROR for message in queued)
    return response.get("Content-Type", "").startswith("text/html")


def _row_diff(before: set[str], after: set[str]) -> str:
    gone, new = sorted(before - after), sorted(after - before)
    return f"before {[_short(r, 200) for r in gone[:2]]} after {[_short(r, 200) for r in new[:2]]}"


class Runner:
    """Sends cases, each in a savepoint rolled back after it, so every case meets the state the
    test started from (`baseline`) and a refusal's fingerprint is compared with it. The write
    counters only grow (a rollback does not take them back), so those read after a refused case
    are the ones before the next."""

    def __init__(self):
        self.fingerprint = Fingerprint()
        self.baseline = self.fingerprint.take()
        self.writes_before: dict[str, int] | None = None  # the write counters before the next case
        self.failures: list[Failure] = []
        self.sent = 0

    def send(self, client, role: str, op: str, case: Case) -> HttpResponse:
        if self.writes_before is None:  # the last case wrote, or broke: read the counters afresh
            self.writes_before = self.fingerprint.writes()
        changed = None
        with transaction.atomic():
            response = client.generic(case.method, case.path, case.body, content_type=case.content_type,
                                      headers=case.headers)  # fmt: skip
            self.sent += 1
            status = response.status_code
            if status >= 500:
                site, error = _exception_site(getattr(response, "exc_info", None))
                detail = f"{error or _short(response.content, 200)} at {site or '?'}"
                self.failures.append(Failure("5xx", role, op, case, status, detail, site or str(status)))
                self.writes_before = None
            elif status >= 400 or (case.form and _page_refused(response)):
                changed = self._changed(role, op, case, status)
            else:
                self.writes_before = None
            transaction.set_rollback(True)
        if changed:  # back at the state before the request: say what changed
            diffs = [f"{table}: {_row_diff(self.fingerprint.rows(table), rows)}" for table, rows in changed.items()]
            self.failures[-1].detail += " | " + " | ".join(diffs)
        if status == 429:
            cache.clear()  # a sign-in lockout: the next cases get past it again
        return response

    def _changed(self, role, op, case, status) -> dict | None:
        """The tables a refused request changed (compared with the baseline), with their rows."""
        try:
            writes = self.fingerprint.writes()
            written = [table for table, count in writes.items() if count != self.writes_before[table]]
            after = self.fingerprint.take(written) if written else {}
        except DatabaseError as exc:  # the request broke the transaction and still answered 4xx
            self.writes_before = None
            detail = f"a database error inside the request, answered {status}: {str(exc).splitlines()[0]}"
            self.failures.append(Failure("database error answered as 4xx", role, op, case, status, detail, op))
            return None
        self.writes_before = writes
        changed = sorted(table for table in after if after[table] != self.baseline[table])
        if not changed:
            return None
        detail = "changed (count, max id): " + "; ".join(f"{t} {self.baseline[t][:2]}->{after[t][:2]}" for t in changed)
        self.failures.append(
            Failure("state changed after a refusal", role, op, case, status, detail, ",".join(changed))
        )
        return {table: self.fingerprint.rows(table) for table in changed}

    def check(self) -> None:
        assert self.fingerprint.take() == self.baseline, "a case's changes outlived its savepoint"
        if not self.failures:
            return
        groups: dict[tuple, list[Failure]] = {}
        for failure in self.failures:
            groups.setdefault((failure.kind, failure.op, failure.site), []).append(failure)
        lines = [f"{len(groups)} distinct problems in {len(self.failures)} failing requests of {self.sent}:"]
        for key in sorted(groups)[:MAX_REPORTED]:
            smallest = min(groups[key], key=lambda f: (len(f.case.label), len(f.case.path), f.case.label))
            lines.append(f"- {smallest.line()} ({len(groups[key])} like it)")
        pytest.fail("\n".join(lines), pytrace=False)


def _fill(template: str, ids: dict, key_for) -> str:
    """A path template with its `{name}` parameters replaced by the fixture's ids."""
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[key_for(template, m.group(1))]), template)


# --- payloads ------------------------------------------------------------------------------------


def _json_body(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).replace(json.dumps(DEEP, ensure_ascii=False), DEEP_TEXT).encode()


def _form_value(value):
    """A value as form data, or None when forms cannot say it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return DEEP_TEXT if value == DEEP else str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    return None


def _path_values(rng: random.Random) -> list[str]:
    return rng.sample(PATH_VALUES, min(PATH_CASES, len(PATH_VALUES)))


def _replacements(pools: dict[str, list], budget: int, rng: random.Random) -> list[tuple[str, object]]:
    """(name, value) pairs: the names in turn, in an order of the seed's, each with the next of
    its values in an order of the seed's, until `budget` pairs."""
    order = rng.sample(list(pools), k=len(pools))
    pools = {name: rng.sample(values, k=len(values)) for name, values in pools.items()}
    picked: list[tuple[str, object]] = []
    while order and len(picked) < budget:
        for name in list(order):
            if len(picked) >= budget:
                break
            if not pools[name]:
                order.remove(name)
                continue
            picked.append((name, pools[name].pop()))
    return picked


def _form_body(data: dict, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.5:
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    return encode_multipart(BOUNDARY, data), MULTIPART_CONTENT


# --- the API: every write operation of the schema ----------------------------------------------------

_SCHEMA: dict = {}

# Which fixture row a path parameter names, by the path before it; the first is the one the
# operation's valid request uses, the others are tried as path cases too.
API_PATH_IDS = {
    "/api/v1/agents/": ["agent", "other_agent", "not_agent"],
    "/api/v1/appointments/": ["appointment"],
    "/api/v1/reassign-mappings/": ["mapping"],
    "/api/v1/shift-types/": ["shift_type"],
    "/api/v1/shifts/": ["shift"],
    "/api/v1/status-requests/": ["request", "decided_request"],
    "/api/v1/statuses/": ["busy", "unused", "available", "offline"],
    "/api/v1/teams/": ["team", "other_team"],
    "/api/v1/tickets/": ["ticket", "queue_ticket", "bob_ticket", "closed_ticket"],
    "/api/v1/presence/me/queues/": ["other_team", "team"],
    "/api/v1/presence/me/notices/": ["notice", "bob_notice"],
    "/api/v1/webhooks/": ["webhook"],
}
# A valid value for a property, by its name: a fixture row's id, a list of them, or text.
ID_PROPERTIES = {
    "agent": "agent", "delegate": "other_agent", "status": "busy", "to_status": "meeting", "from_status": "busy",
    "default_status": "busy", "end_status": "offline", "login_status": "available", "auto_offline_status": "offline",
    "appointment_default_status": "meeting", "return_status": "available", "agent_status": "meeting",
    "team": "team", "shift_type": "shift_type",
}  # fmt: skip
ID_LIST_PROPERTIES = {"teams": "team", "members": "agent"}
TEXT_PROPERTIES = {
    "username": "fuzz-user", "password": "a-long-enough-pass-1", "email": "fuzz@example.com", "name": "Fuzz",
    "slug": "fuzz-slug", "color": "#123456", "subject": "Fuzz", "body": "a fuzz note", "reason": "fuzz",
    "call_id": "c-fuzz", "start": "2030-01-08T10:00:00Z", "end": "2030-01-08T11:00:00Z", "phone_number": "+4930123",
    "url": "https://chat.example/hooks", "events": ["status.changed"],
}  # fmt: skip
# Other rows' ids, tried in every id property: not an agent, an unused status, a closed ticket...
OTHER_IDS = ["not_agent", "other_agent", "unused", "offline", "closed_ticket", "decided_request", "other_team"]


def _schema() -> dict:
    if not _SCHEMA:
        response = Client().get("/api/schema/?format=json")
        assert response.status_code == 200
        _SCHEMA.update(json.loads(response.content))
    return _SCHEMA


def _write_operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, operation) for path, item in schema["paths"].items()
            for method, operation in item.items() if method in ("post", "put", "patch", "delete")]  # fmt: skip


def _resolve(schema: dict, node: dict) -> dict:
    node = dict(node)
    while True:
        if "$ref" in node:
            ref = node.pop("$ref").rsplit("/", 1)[-1]
            node = {**schema["components"]["schemas"][ref], **node}
        elif node.get("allOf"):
            parts = node.pop("allOf")
            for part in parts:
                node = {**_resolve(schema, part), **node}
        elif node.get("anyOf") or node.get("oneOf"):
            first = (node.pop("anyOf", None) or node.pop("oneOf"))[0]
            node = {**_resolve(schema, first), **node}
        else:
            return node


def _kind(node: dict) -> str:
    if "enum" in node:
        return "enum"
    if node.get("type", "string") == "string" and node.get("format") in ("date-time", "email"):
        return node["format"]
    return node.get("type", "string")


def _api_path_key(template: str, param: str) -> str:
    prefix = template.split("{", 1)[0]
    assert prefix in API_PATH_IDS, f"{template}: which fixture row is {{{param}}}? Add {prefix} to API_PATH_IDS."
    return API_PATH_IDS[prefix][0]


def _valid_value(template: str, name: str, node: dict, ids: dict):
    if name in ID_PROPERTIES:
        return ids[ID_PROPERTIES[name]]
    if name in ID_LIST_PROPERTIES:
        return [ids[ID_LIST_PROPERTIES[name]]]
    if template.endswith("/auth/token/") and name in ("username", "password"):
        return {"username": "ann", "password": "wrong-password"}[name]
    if name in TEXT_PROPERTIES:
        return TEXT_PROPERTIES[name]
    kind = _kind(node)
    return {
        "enum": next((v for v in node.get("enum", []) if v not in (None, "")), "x"),
        "integer": max(node.get("minimum", 1), 1),
        "number": 1.5,
        "boolean": False,
        "date-time": "2030-01-08T10:00:00Z",
        "email": "fuzz@example.com",
        "array": [],
        "object": {},
    }.get(kind, "fuzz")


def _property_pool(kind: str, ids: dict) -> list:
    pool = [*COMMON_VALUES, *EXTRA_BY_KIND.get(kind, [])]
    if kind == "integer":
        pool += [ids[key] for key in OTHER_IDS]
    if kind == "array":
        pool += [[ids[key] for key in OTHER_IDS], [ids["team"]] * 1000, list(range(1, 1001))]
    return pool


def _api_cases(schema: dict, method: str, template: str, operation: dict, ids: dict, role: str):
    """The operation's valid request, and its fuzz cases."""
    rng = random.Random(f"{SEED}:{method} {template}:{role}")
    path = _fill(template, ids, _api_path_key)
    content = operation.get("requestBody", {}).get("content", {})
    body_schema = _resolve(schema, content["application/json"]["schema"]) if "application/json" in content else {}
    properties = {name: _resolve(schema, node) for name, node in body_schema.get("properties", {}).items()}
    base = {name: _valid_value(template, name, properties[name], ids) for name in body_schema.get("required", [])}
    valid = Case(method, path, _short(base), _json_body(base))

    def body_case(name, value) -> Case:
        body = {**base, name: value}
        label = f"{name}={_short(value, 80)}"
        form = {k: _form_value(v) for k, v in body.items()}
        if rng.random() < 0.25 and None not in form.values():
            data, content_type = _form_body(form, rng)
            return Case(method, path, f"form {label}", data, content_type)
        return Case(method, path, label, _json_body(body))

    bodies = WHOLE_BODIES + rng.sample(PARSER_BODIES, min(PARSER_CASES, len(PARSER_BODIES)))
    if not body_schema:  # the operation reads no body: a few of them show that it does not
        bodies = rng.sample(bodies, min(BODYLESS_CASES, len(bodies)))
    cases = [Case(method, path, label, body, content_type) for label, body, content_type in bodies]
    # A null byte in every string property.
    textual = ("string", "date-time", "email", "enum")
    cases += [body_case(name, NUL) for name, node in properties.items() if _kind(node) in textual]
    # Each property in turn replaced, round robin over the properties until the budget is spent.
    pools = {name: _property_pool(_kind(node), ids) for name, node in properties.items()}
    cases += [body_case(name, value) for name, value in _replacements(pools, PROPERTY_CASES, rng)]
    # Path parameters: the other rows of the kind, and values that are no ids.
    for param in re.findall(r"\{(\w+)\}", template):
        prefix = template.split("{", 1)[0]
        values = [str(ids[key]) for key in API_PATH_IDS[prefix][1:]] + _path_values(rng)
        for value in values:
            other = template.replace(f"{{{param}}}", quote(value, safe=""))
            cases.append(Case(method, _fill(other, ids, _api_path_key), f"{{{param}}}={_short(value)} " + valid.label,
                              valid.body))  # fmt: skip
    # Query values: unknown parameters, and DRF's own `format`, with a null byte.
    cases.append(Case(method, f"{path}?q=a%00b&page={HUGE}", f"query q=a\\x00b page={HUGE}", valid.body))
    cases.append(Case(method, f"{path}?format=a%00b", "query format=a\\x00b", valid.body))
    return valid, cases, rng


@pytest.mark.parametrize("role", ROLES)
def test_api_writes_survive_fuzzing(world, role):
    ids, users = world
    client = APIClient()
    client.raise_request_exception = False
    if users[role] is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=users[role]).key}")
    schema = _schema()
    operations = _write_operations(schema)
    assert len(operations) >= 40, [f"{m} {p}" for m, p, _ in operations]
    runner = Runner()
    for method, template, operation in operations:
        op = f"{method} {template}"
        valid, cases, rng = _api_cases(schema, method, template, operation, ids, role)
        cache.clear()  # each operation starts afresh: sign-in counts, the once-a-minute write gates
        if runner.send(client, role, op, valid).status_code in (401, 403, 404, 405):  # refused before the body
            cases = rng.sample(cases, min(SMALL_BUDGET, len(cases)))
        for case in cases:
            runner.send(client, role, op, case)
    runner.check()


# --- the pages' form posts -----------------------------------------------------------------------

# (path, the form's valid fields): the agent panel's and header's posts, the ticket page's forms,
# the board's agent card and decisions, and the sign-in form. `{name}` is a fixture row.
PAGE_POSTS = [
    ("/status/", {"status": "{busy}", "reason": "fuzz"}),
    ("/status/finishing/cancel/", {}),
    ("/status/still-working/", {}),
    ("/status/wrap-up/done/", {}),
    ("/queues/{other_team}/join/", {}),
    ("/queues/{team}/leave/", {}),
    ("/notices/{notice}/dismiss/", {}),
    ("/tickets/{ticket}/notes/", {"body": "a fuzz note", "confirmed": "on"}),
    ("/tickets/{ticket}/close/", {}),
    ("/tickets/{ticket}/pin/", {"pinned": "yes"}),
    ("/tickets/{ticket}/hand-over/", {"agent": "{other_agent}", "confirmed": "on"}),
    ("/tickets/{queue_ticket}/take/", {}),
    ("/board/agents/{agent}/", {"status": "{busy}", "reason": "fuzz"}),
    ("/board/requests/{request}/approve/", {"reason": "fuzz"}),
    ("/board/requests/{request}/reject/", {"reason": "fuzz"}),
    ("/accounts/login/", {"username": "ann", "password": "wrong-password"}),
]
# Views that only show a page (GET): nothing to fuzz here. Sign-out is left out as well: it
# signs the role's client out for the cases after it (tests/test_permissions.py posts to it).
GET_ONLY = {"panel", "ticket", "status-state", "board", "board-rows"}
PAGE_PATH_OTHERS = {
    "ticket": ["bob_ticket", "closed_ticket", "queue_ticket"],
    "queue_ticket": ["ticket", "bob_ticket", "closed_ticket"],
    "notice": ["bob_notice"],
    "team": ["other_team"],
    "other_team": ["team"],
    "request": ["decided_request"],
    "agent": ["other_agent", "not_agent"],
}
FORM_VALUES = [
    "abc", "1.5", "-1", "0", str(HUGE), str(2**63), "", " ", LONG, *UNICODE, NUL, "\x00", "1\x00", ["1", "2"],
    [NUL, LONG], DEEP_TEXT, "true", "null", "{}", "٣", "//evil.example/", "javascript:alert(1)", "/\x00/x",
    "/a\r\nSet-Cookie: x=1", "yes\x00",
]  # fmt: skip


def _page_key(template: str, param: str) -> str:
    return param


def _page_cases(template: str, fields: dict, ids: dict, role: str):
    rng = random.Random(f"{SEED}:POST {template}:{role}")
    path = _fill(template, ids, _page_key)
    base = {name: _fill(value, ids, _page_key) for name, value in fields.items()}
    script = {"Accept": "application/json"}

    def form_case(data: dict, label: str, path: str = path) -> Case:
        body, content_type = _form_body(data, rng)
        headers = script if rng.random() < 0.5 else {}
        return Case("POST", path, label + (" (as the script)" if headers else ""), body, content_type, headers, True)

    valid = Case("POST", path, _short(base), urlencode(base).encode(), "application/x-www-form-urlencoded", {}, True)
    cases = [
        Case("POST", path, "JSON body", _json_body({**base, "status": NUL}), "application/json", script, True),
        Case("POST", path, "empty body", b"", "application/x-www-form-urlencoded", {}, True),
        Case("POST", path, "not form data", b"%%%&&&==\xff%zz", "application/x-www-form-urlencoded", {}, True),
        Case("POST", path, "not UTF-8", b"status=\xff\xfe&reason=\xff&username=\xff",
             "application/x-www-form-urlencoded", script, True),
        Case("POST", path, "broken multipart", BROKEN_MULTIPART, "multipart/form-data; boundary=x", {}, True),
        Case("POST", path, "1,001 fields", urlencode([(f"f{i}", "1") for i in range(1001)]).encode(),
             "application/x-www-form-urlencoded", {}, True),
        Case("POST", path, "1,000 nested lists as the body", DEEP_TEXT.encode(), "application/json", script, True),
    ]  # fmt: skip
    names = [*base, "next"] + (["username", "password"] if "login" in template else [])
    for name in dict.fromkeys(names):
        cases.append(form_case({**base, name: NUL}, f"{name}={_short(NUL)}"))
    pools = {name: FORM_VALUES for name in dict.fromkeys(names)}
    for name, value in _replacements(pools, PAGE_FIELD_CASES, rng):
        cases.append(form_case({**base, name: value}, f"{name}={_short(value, 80)}"))
    for param in re.findall(r"\{(\w+)\}", template):
        values = [str(ids[key]) for key in PAGE_PATH_OTHERS.get(param, [])] + _path_values(rng)
        for value in values:
            other = _fill(template.replace(f"{{{param}}}", quote(value, safe="")), ids, _page_key)
            cases.append(form_case(base, f"{{{param}}}={_short(value)} {valid.label}", other))
    return valid, cases, rng


@pytest.mark.parametrize("role", ROLES)
def test_page_posts_survive_fuzzing(world, role):
    ids, users = world
    client = Client(raise_request_exception=False)
    if users[role] is not None:
        client.force_login(users[role])
    runner = Runner()
    for template, fields in PAGE_POSTS:
        op = f"POST {template}"
        valid, cases, rng = _page_cases(template, fields, ids, role)
        cache.clear()
        response = runner.send(client, role, op, valid)
        if response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL):
            cases = rng.sample(cases, min(SMALL_BUDGET, len(cases)))  # off to the sign-in page before the form is read
        for case in cases:
            runner.send(client, role, op, case)
    runner.check()


def _page_url_names(patterns) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "":  # the agent pages and the board (tickets.urls, presence.urls)
                names |= {f"{pattern.namespace}:{p.name}" if pattern.namespace else p.name
                          for p in pattern.url_patterns if isinstance(p, URLPattern)}  # fmt: skip
    return names


def test_every_page_form_post_is_fuzzed(world):
    ids, _ = world
    covered = {resolve(_fill(path, ids, _page_key)).view_name for path, _ in PAGE_POSTS}
    pages = {name for name in _page_url_names(get_resolver().url_patterns) if name.split(":")[-1] not in GET_ONLY}
    assert pages - covered == set(), "form posts without a row in PAGE_POSTS"
    assert "login" in covered


# --- the checks themselves -------------------------------------------------------------------------


class _FakeClient:
    """Answers with `status` after running `write`: a stand-in for a view, to test the runner."""

    def __init__(self, status: int, write):
        self.status, self.write = status, write

    def generic(self, *args, **kwargs):
        self.write()
        response = HttpResponse(status=self.status)
        response.exc_info = None
        return response


def test_the_runner_sees_writes_behind_refusals_and_ignores_bookkeeping(world):
    ids, users = world
    runner = Runner()
    case = Case("POST", "/x/", "{}")
    dismiss = Notice.objects.filter(pk=ids["notice"]).update
    runner.send(_FakeClient(400, lambda: dismiss(dismissed_at=timezone.now())), "agent", "POST /x/", case)
    runner.send(_FakeClient(200, lambda: dismiss(dismissed_at=timezone.now())), "agent", "POST /x/", case)  # done
    touch = AgentPresence.objects.filter(agent_id=ids["agent"]).update
    runner.send(_FakeClient(403, lambda: touch(last_activity=timezone.now())), "agent", "POST /x/", case)
    runner.send(_FakeClient(409, lambda: Notice.objects.create(agent=users["agent"], kind="x", text="y")), "agent",
                "POST /x/", case)  # fmt: skip

    def broken():  # a database error swallowed inside the request: the transaction is unusable
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        except DatabaseError:
            pass

    runner.send(_FakeClient(409, broken), "agent", "POST /y/", case)
    runner.send(_FakeClient(400, lambda: None), "agent", "POST /x/", case)  # and the next case runs as usual
    assert [(f.kind, f.status, f.site) for f in runner.failures] == [
        ("state changed after a refusal", 400, "presence_notice"),
        ("state changed after a refusal", 409, "presence_notice"),
        ("database error answered as 4xx", 409, "POST /y/"),
    ]
    assert Notice.objects.get(pk=ids["notice"]).dismissed_at is None  # every case was rolled back
