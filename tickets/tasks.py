"""Celery tasks of the tickets app: thin, idempotent wrappers over services."""

import logging

from celery import shared_task

from presence.services import presence_kick_out_unanswered
from tickets.services import tickets_ask_still_working, tickets_route_queues
from tickets.services.decisions import decisions_purge
from tickets.services.load import load_recount

logger = logging.getLogger(__name__)


@shared_task
def kick_out_task() -> dict:
    """C6 in two steps: kick out who left the question unanswered, then ask who is newly due."""
    kicked = presence_kick_out_unanswered()
    asked = tickets_ask_still_working()
    logger.info("Kick-out: %d asked 'still working?', %d kicked out", asked, kicked)
    return {"asked": asked, "kicked_out": kicked}


@shared_task
def route_queues_task() -> int:
    """Route every automatic team's Unassigned queue: catches tickets a router skipped while
    all their candidates were locked by other routers, and anything a missed event left."""
    routed = tickets_route_queues()
    logger.info("Queues: %d ticket(s) routed", routed)
    return routed


@shared_task
def load_self_check_task() -> int:
    """Compare the open-load counters with the tickets agents hold; log and repair any drift."""
    drift = load_recount(repair=True)
    if drift:
        logger.warning("Load self-check: repaired the counters of %d agent(s)", len(drift))
    return len(drift)


@shared_task
def purge_routing_decisions_task() -> int:
    """Delete routing decisions older than ROUTING_DECISIONS_KEEP_DAYS (T11)."""
    deleted = decisions_purge()
    logger.info("Routing decisions: %d older one(s) deleted", deleted)
    return deleted
