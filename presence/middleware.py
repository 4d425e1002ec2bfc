from django.utils import translation

from presence.selectors import agent_language
from presence.services import presence_record_activity

# Requests the agent panel makes by itself: they say the page is open, not that anyone is there.
PASSIVE = {
    ("POST", "/api/v1/presence/me/heartbeat/"),
    ("GET", "/api/v1/presence/me/"),
    ("GET", "/status/state/"),
}


class AgentActivityMiddleware:
    """Every request a signed-in user makes counts as activity for the idle timeout (C4).

    Cheap by design: one cache call per request and a database write at most once a minute
    (for someone who is not an agent, that write matches no row).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and (request.method, request.path) not in PASSIVE
            and not request.path.startswith("/static/")
        ):
            presence_record_activity(user)
        return response


class AgentLanguageMiddleware:
    """An agent who picked a language on their profile gets it, whatever the browser asks for.

    Runs after LocaleMiddleware (which chose from Accept-Language) and AuthenticationMiddleware;
    without a choice LocaleMiddleware's pick stands. The choice is read through the cache, so a
    page costs no extra query once the agent's language is known.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = agent_language(user) if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        # LocaleMiddleware, outside this one, sets Content-Language from the language still active.
        return self.get_response(request)
