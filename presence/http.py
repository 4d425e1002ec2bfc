"""Small pieces the page views share: reading a form post safely, and where to go back to."""

from functools import wraps

from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


def post_view(view):
    """A view that answers POST only and reads the form before doing anything: a body Django
    refuses (too many fields, too large) is a 400 before any change, never after one."""

    @require_POST
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.POST  # noqa: B018 - parse now: Django's limits raise here, before the view writes
        return view(request, *args, **kwargs)

    return wrapper


def safe_next(request, default: str = "/") -> str:
    """The form's `next`: a path on this site (so `redirect()` takes it as a URL, never a view
    name to look up), else `default`."""
    target = request.POST.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return target
    return default
