"""Production settings from the environment (O2), the health endpoint and the single-beat lease (O3)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache.backends.locmem import LocMemCache

from config.beat import BeatLock

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 64 + "-a-long-random-production-key",
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    test_only = {"DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k not in test_only}
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CACHE_URL", "CELERY_BROKER_URL"])
def test_production_refuses_to_start_without_essentials(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert f"Set {missing} in the environment for production" in result.stderr


@pytest.mark.sqlite
@pytest.mark.django_db
def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_healthz_names_what_is_down(client, monkeypatch):
    def broken():
        raise ConnectionError("cache unreachable")

    monkeypatch.setitem(__import__("config.health").health.CHECKS, "cache", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"].startswith("error: ConnectionError")


def test_only_one_beat_leads_and_another_takes_over_when_it_stops():
    shared = LocMemCache("beat-test", {})
    first, second = BeatLock(ttl=60, backend=shared), BeatLock(ttl=60, backend=shared)
    assert first.acquire() and not second.acquire()
    assert first.acquire()  # renewing
    first.release()
    assert second.acquire() and not first.acquire()
