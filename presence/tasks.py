"""Celery tasks: thin, idempotent wrappers over presence services."""

import logging

from celery import shared_task

from presence import services

logger = logging.getLogger(__name__)


@shared_task
def expire_timed_statuses_task() -> int:
    changed = services.presence_expire_timed_statuses()
    logger.info("Timed status expiry: %d agent(s) returned", changed)
    return changed
