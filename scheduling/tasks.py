"""Celery tasks of the scheduling app: thin, idempotent wrappers over services."""

import logging

from celery import shared_task

from scheduling import services

logger = logging.getLogger(__name__)


@shared_task
def apply_shifts_task() -> int:
    applied = services.shift_apply_due()
    logger.info("Shifts: %d start(s)/end(s) applied", applied)
    return applied


@shared_task
def apply_appointments_task() -> int:
    applied = services.appointment_apply_due()
    logger.info("Appointments: %d start(s)/end(s) applied", applied)
    return applied
