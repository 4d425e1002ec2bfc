"""JSON that cannot take the server down: bounded size and bounded nesting."""

import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# Deeper JSON than this is refused before it is parsed: no request of ours nests more than 3.
MAX_JSON_DEPTH = 32


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit: int):
        super().__init__(f"The request body is over {limit:,} bytes.")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets nest deeper than `limit` anywhere outside strings (one pass, no recursion)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with limits checked before parsing: the body may be at most Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413 beyond; DRF reads the stream itself, past Django's
    own check) and nest at most MAX_JSON_DEPTH levels (400 beyond: Python's parser would hit
    its recursion limit and fail with a server error)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(limit)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding} text.") from exc
        if json_depth_exceeds(text, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is refused.")
        try:
            return json.loads(text, parse_constant=self._refuse_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc

    @staticmethod
    def _refuse_constant(name: str):
        raise ValueError(f"{name} is not valid JSON")
