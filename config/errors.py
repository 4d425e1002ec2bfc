"""Errors outside DRF's views (unmatched URLs, crashes) answer API clients in JSON too."""

from django.http import JsonResponse
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"message": f"No API endpoint at {request.path}.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"message": "Something went wrong on our side; it has been logged.", "code": "error"}, status=500
        )
    return defaults.server_error(request)
