"""`<id:name>` in URL patterns: a database id, digits up to 2^63 - 1 (presence.limits). Anything
else does not match, so it is 404 before a view runs, instead of an OverflowError on SQLite.
Importing this module registers the converter; every urls module that uses it imports it."""

from django.urls import register_converter

from presence.limits import ID_PATTERN


class IdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")


class DecisionConverter:
    """`<decision:name>`: a decision on a status request, approve or reject; anything else is 404."""

    regex = "approve|reject"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DecisionConverter, "decision")
