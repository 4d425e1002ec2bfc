"""Every API error is JSON: {"message": "<a sentence>", "code": "<stable code>", "errors": {...}}."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from presence.errors import ApplicationError

logger = logging.getLogger(__name__)


def _first_message(errors, prefix: str = "") -> str:
    if isinstance(errors, dict):
        for key, value in errors.items():
            label = "" if key in ("non_field_errors", "__all__") else f"{key}"
            found = _first_message(value, f"{prefix}.{label}" if prefix and label else (label or prefix))
            if found:
                return found
        return ""
    if isinstance(errors, list):
        for item in errors:
            found = _first_message(item, prefix)
            if found:
                return found
        return ""
    return f"{prefix}: {errors}" if prefix else str(errors)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "code": exc.code, **exc.extra}, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"message": f"The request body is over {limit:,} bytes.", "code": "too_large"}, status=413)
    if isinstance(exc, IntegrityError):
        # Services turn the conflicts they know into 400s naming the field (presence.saving);
        # this is the net under them: a conflict is the client's to retry, not a server error.
        logger.warning("Integrity error answered as 409", exc_info=True)
        return Response(
            {"message": "That conflicts with a change saved at the same moment: reload and try again.",
             "code": "conflict"},
            status=409,
        )  # fmt: skip
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"message": _first_message(errors) or "Invalid input.", "code": "invalid", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"message": str(detail), "code": getattr(detail, "code", "error")}
    if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        response.data.setdefault("code", "method_not_allowed")
    return response
