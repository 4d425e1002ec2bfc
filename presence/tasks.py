"""Celery tasks: thin, idempotent wrappers over presence services, run by beat."""

import logging

from celery import shared_task

from presence import services

logger = logging.getLogger(__name__)


@shared_task
def expire_timed_statuses_task() -> int:
    changed = services.presence_expire_timed_statuses()
    logger.info("Timed status expiry: %d agent(s) returned", changed)
    return changed


@shared_task
def auto_offline_task() -> int:
    changed = services.presence_auto_offline()
    logger.info("Auto-offline: %d agent(s) without heartbeat", changed)
    return changed


@shared_task
def idle_timeout_task() -> int:
    changed = services.presence_idle_timeout()
    logger.info("Idle timeout: %d agent(s) logged out", changed)
    return changed


@shared_task
def wrap_up_expire_task() -> int:
    ended = services.presence_wrap_up_expire()
    logger.info("After call work: %d agent(s) past the maximum returned", ended)
    return ended


@shared_task
def coverage_check_task() -> int:
    changed = len(services.coverage_check())
    logger.info("Coverage check: %d team(s) whose deficit changed", changed)
    return changed
