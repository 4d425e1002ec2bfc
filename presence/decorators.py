"""Decorators for the agent pages: who may open them."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from presence.errors import NotAnAgent
from presence.selectors import agent_profile_get


def _forbidden(request, exc: NotAnAgent):
    raise PermissionDenied(exc.message)


def agent_required(view=None, *, refuse=_forbidden):
    """Signed in (else the login page), then set up as an agent.

    A signed-in non-agent gets `refuse(request, exc)`: by default a 403, or the page's own answer
    (the panel's "not set up as an agent" page, the script's JSON 404). The profile is kept on the
    request as `request.agent_profile`, so the view does not read it again.
    """

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                request.agent_profile = agent_profile_get(request.user)
            except NotAnAgent as exc:
                return refuse(request, exc)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
