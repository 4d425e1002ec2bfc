"""A real Celery worker, against Redis, changes a status in the database (O3); the periodic tasks
are declared by each app and registered by the project (C3)."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.periodic import periodic_task_apps
from presence.models import AgentPresence, Status
from tests.factories import AgentFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parent.parent


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_worker():
    """`celery -A config worker` on Redis, using this test's database."""
    if not _redis_up():
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: start it (see README) to run the worker test")
    db = connection.settings_dict
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "test-worker@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield worker
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_expires_a_timed_status(redis_worker):
    assert connection.vendor == "postgresql", "the worker test needs a database the worker process can reach"
    lunch = Status.objects.get(slug="lunch")
    agent = AgentFactory(username="worker-ann", status=lunch)
    AgentPresence.objects.filter(agent=agent).update(since=timezone.now() - timedelta(minutes=45))

    producer = Celery("test-producer", broker=REDIS_URL, set_as_current=False)  # not the tasks' app
    producer.send_task("presence.tasks.expire_timed_statuses_task")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if AgentPresence.objects.get(agent=agent).status.slug == "available":
            break
        if redis_worker.poll() is not None:
            pytest.fail(f"the worker died:\n{redis_worker.stdout.read()}")
        time.sleep(0.3)
    assert AgentPresence.objects.get(agent=agent).status.slug == "available"
    assert agent.status_log.get().source == "expiry"


@pytest.mark.django_db
def test_periodic_tasks_are_registered_idempotently():
    call_command("sync_periodic_tasks")
    call_command("sync_periodic_tasks")
    registered = dict(PeriodicTask.objects.values_list("name", "task"))
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert registered[name] == entry["task"]
    assert PeriodicTask.objects.filter(name__in=list(settings.CELERY_BEAT_SCHEDULE)).count() == len(
        settings.CELERY_BEAT_SCHEDULE
    )
    # an admin's pause survives a re-sync; a task no longer in the code is switched off
    PeriodicTask.objects.filter(name="presence-auto-offline").update(enabled=False)
    PeriodicTask.objects.create(
        name="old-sweep", task="presence.tasks.gone_task", interval_id=PeriodicTask.objects.first().interval_id
    )
    call_command("sync_periodic_tasks")
    assert not PeriodicTask.objects.get(name="presence-auto-offline").enabled
    assert not PeriodicTask.objects.get(name="old-sweep").enabled


def test_each_app_declares_its_own_periodic_tasks_and_the_command_names_none():
    from presence.management.commands import sync_periodic_tasks

    declaring = periodic_task_apps()
    assert {config.name for config in declaring} == {"presence", "tickets", "scheduling", "webhooks"}
    for config in declaring:
        for name, (task, _every) in config.periodic_tasks.items():
            assert settings.CELERY_BEAT_SCHEDULE[name]["task"] == task
            assert task.startswith(f"{config.name}.tasks."), f"{name} is declared by {config.name}, not its owner"
    assert len(settings.CELERY_BEAT_SCHEDULE) == sum(len(config.periodic_tasks) for config in declaring)
    # The command serves any app: a new app adds its tasks on its AppConfig, not here.
    source = Path(sync_periodic_tasks.__file__).read_text()
    for config in declaring:
        assert not re.search(rf"\b{config.name}\b", source), f"sync_periodic_tasks names the {config.name} app"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, on another port, that the test may stop and start."""
    import shutil
    import socket

    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed: the fault test needs its own Redis to stop and start")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]  # fmt: skip

    def start():
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return process
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    servers = [start()]
    yield port, servers, start
    for server in servers:
        server.terminate()
        server.wait(5)


@pytest.mark.django_db(transaction=True)
def test_the_worker_resumes_when_redis_comes_back(private_redis):
    port, servers, start = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    db = connection.settings_dict
    env = {
        **os.environ,
        "CELERY_BROKER_URL": url,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "resume-worker@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        servers[0].terminate()  # Redis goes away under a running worker
        servers[0].wait(5)
        time.sleep(3)
        assert worker.poll() is None, "the worker should wait for the broker, not exit"
        servers.append(start())  # and comes back

        agent = AgentFactory(username="resume-ann", status=Status.objects.get(slug="lunch"))
        AgentPresence.objects.filter(agent=agent).update(since=timezone.now() - timedelta(minutes=45))
        Celery("producer", broker=url, set_as_current=False).send_task("presence.tasks.expire_timed_statuses_task")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and AgentPresence.objects.get(agent=agent).status.slug != "available":
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.3)
        assert AgentPresence.objects.get(agent=agent).status.slug == "available"
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
