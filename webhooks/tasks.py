"""Celery tasks of the webhooks app: thin, idempotent wrappers over services."""

import logging

from celery import shared_task
from django.conf import settings

from webhooks import services

logger = logging.getLogger(__name__)


# A backstop only: the request itself is cut at WEBHOOK_TIMEOUT_SECONDS (webhooks/services.py).
@shared_task(time_limit=int(3 * settings.WEBHOOK_TIMEOUT_SECONDS) + 30)
def delivery_attempt_task(delivery_id: int) -> str:
    """Send one delivery if it is pending and due; anything else (sent, not due, another
    worker's) is a no-op, so running it twice or at once sends once."""
    delivery = services.delivery_attempt(delivery_id)
    return delivery.state if delivery is not None else "skipped"


@shared_task
def deliveries_requeue_task() -> int:
    """Queue pending deliveries whose own task is late or lost (a receiver down, a broker restart)."""
    queued = services.deliveries_requeue_due()
    if queued:
        logger.info("Webhooks: %d due deliveries queued again", queued)
    return queued


@shared_task
def live_chat_states_task() -> int:
    """Catch live-chat openings and closings no status change announced (finishing, queues left)."""
    return len(services.live_chat_states_update())
