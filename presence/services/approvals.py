"""Approval requests (P6) and a supervisor's direct status change (U3)."""

from django.db import transaction
from django.utils import timezone

from presence.errors import ApplicationError, StatusChangeRefused
from presence.models import AgentPresence, Source, Status, StatusCategory, StatusRequest
from presence.services.status_change import presence_change_status


class RequestAlreadyDecided(ApplicationError):
    code = "request_decided"
    http_status = 409


def _decide(request: StatusRequest, state: str, *, actor) -> StatusRequest:
    """Lock a pending request and record the decision; a decided one is refused (409)."""
    request = StatusRequest.objects.select_for_update().select_related("agent", "status").get(pk=request.pk)
    if request.state != StatusRequest.State.PENDING:
        raise RequestAlreadyDecided(f"This request was already {request.get_state_display().lower()}.")
    request.state, request.decided_by, request.decided_at = state, actor, timezone.now()
    request.save(update_fields=["state", "decided_by", "decided_at"])
    return request


def status_request_approve(request: StatusRequest, *, actor) -> StatusRequest:
    """Approve: the status applies now (source approval), with the agent's reason."""
    with transaction.atomic():
        request = _decide(request, StatusRequest.State.APPROVED, actor=actor)
        presence_change_status(
            request.agent, request.status, actor=actor, source=Source.APPROVAL,
            reason=request.reason or f"approved by {actor.get_username()}",
        )  # fmt: skip
    return request


def status_request_reject(request: StatusRequest, *, actor) -> StatusRequest:
    with transaction.atomic():
        return _decide(request, StatusRequest.State.REJECTED, actor=actor)


def presence_change_status_by_supervisor(agent, status: Status, *, actor, reason: str = "") -> AgentPresence:
    """A supervisor sets an agent's status from the board or API; not for agents who are Offline
    (they are not signed in, so there is nobody to change)."""
    current = AgentPresence.objects.select_related("status").filter(agent_id=agent.pk).first()
    if current is None or current.status.category == StatusCategory.OFFLINE:
        raise StatusChangeRefused(f"{agent.get_username()} is offline: their status can be changed once they sign in.")
    return presence_change_status(agent, status, actor=actor, source=Source.SUPERVISOR, reason=reason)
