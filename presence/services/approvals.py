"""Approval requests (P6) and a supervisor's direct status change (U3), one agent or several."""

from dataclasses import dataclass, field

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


def supervisor_change_refusal(presence: AgentPresence | None) -> str | None:
    """Why a supervisor may not set this agent's status now (None: they may). Agents who are
    Offline are not signed in, so there is nobody whose status to change."""
    if presence is None or presence.status.category == StatusCategory.OFFLINE:
        name = presence.agent.get_username() if presence is not None else "The agent"
        return f"{name} is offline: their status can be changed once they sign in."
    return None


def presence_change_status_by_supervisor(agent, status: Status, *, actor, reason: str = "") -> AgentPresence:
    """A supervisor sets an agent's status from the board, the admin or the API (source
    supervisor); refused for an agent who is Offline."""
    current = AgentPresence.objects.select_related("status", "agent").filter(agent_id=agent.pk).first()
    refusal = supervisor_change_refusal(current)
    if refusal:
        raise StatusChangeRefused(refusal.replace("The agent", agent.get_username(), 1))
    return presence_change_status(agent, status, actor=actor, source=Source.SUPERVISOR, reason=reason)


@dataclass
class BulkStatusResult:
    """What a bulk status change did, by username: changed, finishing first (P4), or skipped and why."""

    changed: list[str] = field(default_factory=list)
    finishing: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def presences_change_status_by_supervisor(agents, status: Status, *, actor, reason: str = "") -> BulkStatusResult:
    """A supervisor sets one status for several agents (admin's bulk action). Each agent changes in
    their own transaction, through the same checks as one change: Offline agents are skipped and
    named, a refusal for one agent does not stop the others, and each change writes its log row."""
    result = BulkStatusResult()
    for agent in sorted(agents, key=lambda a: a.pk):
        name = agent.get_username()
        before = AgentPresence.objects.filter(agent_id=agent.pk).values_list("status_id", flat=True).first()
        try:
            presence = presence_change_status_by_supervisor(agent, status, actor=actor, reason=reason)
        except ApplicationError as exc:
            result.skipped[name] = exc.message
            continue
        if presence.pending_status_id == status.pk:
            result.finishing.append(name)
        elif before == status.pk:
            result.unchanged.append(name)
        else:
            result.changed.append(name)
    return result
