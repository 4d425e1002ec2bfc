"""A real HTTP receiver on the loopback, and Celery run eagerly: a queued task runs at once, in
the test's process and transaction (no worker, no broker)."""

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config.celery import app as celery_app
from webhooks.models import Event
from webhooks.services import webhook_save

SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def eager_celery():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def free_port() -> int:
    """A port nothing listens on (a receiver that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    """An HTTP server in a thread on 127.0.0.1 that records every request and answers with the
    next status of `answers` (then `status`), after `delay` seconds."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.answers: deque[int] = deque()
        self.status = 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.popleft() if receiver.answers else receiver.status
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up waiting (the timeout test) is expected

        self.server = Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def start_receiver():
    started = []

    def start(port: int = 0) -> Receiver:
        receiver = Receiver(port)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(start_receiver) -> Receiver:
    return start_receiver()


@pytest.fixture
def make_webhook(db):
    def make(url: str, events=(Event.STATUS_CHANGED,), **fields):
        from webhooks.models import Webhook

        return webhook_save(Webhook(url=url, events=list(events), secret=fields.pop("secret", SECRET), **fields),
                            actor=None)  # fmt: skip

    return make
