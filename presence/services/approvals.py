"""Approval requests (P6) and a supervisor's direct status change (U3), one agent or several."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from presence.errors import ApplicationError, StatusChangeRefused
from presence.limits import reason_too_long
from presence.models import AgentPresence, Notice, Source, Status, StatusCategory, StatusRequest
from presence.services.status_change import Outcome, StatusChange, presence_change_status
from presence.signals import status_request_decided


class RequestAlreadyDecided(ApplicationError):
    code = "request_decided"
    http_status = 409


class OwnRequest(ApplicationError):
    """A supervisor who is also an agent asks like any agent: somebody else decides."""

    code = "own_request"
    http_status = 403


def _decide(request: StatusRequest, state: str, *, actor, reason: str) -> StatusRequest:
    """Lock a pending request and record the decision; a decided one is refused (409), one's own
    request (403) and a reason over 255 characters (400) too, whichever path decides (API, board,
    admin)."""
    problem = reason_too_long(reason)
    if problem:
        raise ApplicationError(problem, code="reason_too_long")
    if getattr(actor, "pk", None) == request.agent_id:
        raise OwnRequest(_("You cannot decide your own request: another supervisor approves or rejects it."))
    request = StatusRequest.objects.select_for_update().select_related("agent", "status").get(pk=request.pk)
    if request.state != StatusRequest.State.PENDING:
        raise RequestAlreadyDecided(
            _("This request was already %(state)s.") % {"state": request.get_state_display().lower()}
        )
    request.state, request.decided_by, request.decided_at = state, actor, timezone.now()
    request.save(update_fields=["state", "decided_by", "decided_at"])
    status_request_decided.send(sender=StatusRequest, request=request, decision=state, actor=actor, reason=reason)
    return request


def status_request_approve(request: StatusRequest, *, actor, reason: str = "") -> StatusRequest:
    """Approve: the status applies now (source approval), with the agent's reason; the agent
    gets a notice with the supervisor's reason (P11)."""
    with transaction.atomic():
        request = _decide(request, StatusRequest.State.APPROVED, actor=actor, reason=reason)
        presence_change_status(
            request.agent, request.status, actor=actor, source=Source.APPROVAL,
            reason=request.reason or f"approved by {actor.get_username()}",
        )  # fmt: skip
        _notice_decision(request, Notice.Kind.REQUEST_APPROVED, "approved", actor=actor, reason=reason)
    return request


def status_request_reject(request: StatusRequest, *, actor, reason: str = "") -> StatusRequest:
    with transaction.atomic():
        request = _decide(request, StatusRequest.State.REJECTED, actor=actor, reason=reason)
        _notice_decision(request, Notice.Kind.REQUEST_REJECTED, "rejected", actor=actor, reason=reason)
    return request


def _notice_decision(request: StatusRequest, kind: str, verb: str, *, actor, reason: str) -> None:
    text = f"{actor.get_username()} {verb} your request for {request.status.name}"
    Notice.objects.create(agent_id=request.agent_id, kind=kind, text=f"{text}{f': {reason}' if reason else ''}."[:400])


def supervisor_change_refusal(presence: AgentPresence | None) -> str | None:
    """For forms that show the refusal before posting: a supervisor may not set the status of an
    agent who is Offline (not signed in). The change itself checks again under the lock."""
    if presence is None or presence.status.category == StatusCategory.OFFLINE:
        if presence is None:
            return _("The agent is offline: their status can be changed once they sign in.")
        return _("%(agent)s is offline: their status can be changed once they sign in.") % {
            "agent": presence.agent.get_username()
        }
    return None


def presence_change_status_by_supervisor(agent, status: Status, *, actor, reason: str = "") -> StatusChange:
    """A supervisor sets an agent's status from the board, the admin or the API (source
    supervisor); refused (StatusChangeRefused) for an agent who is Offline."""
    problem = reason_too_long(reason)
    if problem:
        raise ApplicationError(problem, code="reason_too_long")
    change = presence_change_status(
        agent, status, actor=actor, source=Source.SUPERVISOR, reason=reason, unless_offline=True
    )
    if change.outcome == Outcome.SKIPPED:
        raise StatusChangeRefused(change.reason)
    return change


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
        try:
            change = presence_change_status_by_supervisor(agent, status, actor=actor, reason=reason)
        except ApplicationError as exc:
            result.skipped[name] = exc.message
            continue
        {
            Outcome.APPLIED: result.changed,
            Outcome.FINISHING: result.finishing,
            Outcome.UNCHANGED: result.unchanged,
        }[change.outcome].append(name)
    return result
