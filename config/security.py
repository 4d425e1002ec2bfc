"""Small pieces of the site's defences that belong to no app."""

from django.conf import settings


def axes_leaves_the_api_alone(request, credentials=None) -> bool:
    """django-axes guards the sign-in form and the admin login. The API's token endpoint counts
    its failures with a DRF throttle (presence.api.throttling), so axes neither counts nor
    locks there: one failure is never counted twice."""
    return bool(request is not None and getattr(request, "path", "").startswith("/api/"))


class PermissionsPolicyMiddleware:
    """Browsers get no camera, microphone, location or payment access from our pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


def axes_username(request, credentials=None) -> str:
    """The username django-axes counts failures under: as typed, cut to the longest a username
    can be (its table holds 255 characters; a longer one would fail the sign-in with an error)."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username", "")
    return str(value or "")[:150]
