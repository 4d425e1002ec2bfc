from django.conf import settings

from presence import selectors
from presence.models import AgentProfile, StatusRequest


def header_status(request) -> dict:
    """The header dropdown's data (U1) on every page rendered for a signed-in agent, the admin's
    pages included (supervisors who are agents too keep their status in view)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    context = {
        "is_supervisor": selectors.is_supervisor(user),
        "poll_ms": int(settings.PRESENCE_PAGE_POLL_SECONDS * 1000),
    }
    if not AgentProfile.objects.filter(user_id=user.pk).exists():
        return context
    context.update(
        header_presence=selectors.presence_get(user),
        header_statuses=list(selectors.status_choices_for_agents()),
        header_request=StatusRequest.objects.filter(agent_id=user.pk, state=StatusRequest.State.PENDING)
        .select_related("status")
        .first(),
    )
    return context
