"""The domain error family (STYLE "Writing state"): the API and admin turn these into 4xx/form errors."""

from collections import defaultdict


class ApplicationError(Exception):
    """A refused operation, with a sentence a person can read and a stable code for clients."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


class NotAnAgent(ApplicationError):
    code = "not_an_agent"
    http_status = 404


class StatusNotSelectable(ApplicationError):
    code = "status_not_selectable"


class StatusChangeRefused(ApplicationError):
    code = "status_change_refused"
    http_status = 409


class ConfirmationRequired(ApplicationError):
    """A warning that needs a yes before the change goes ahead (the coverage alarm's "Switch
    anyway?"): the same request again with confirm=true proceeds."""

    code = "confirmation_required"
    http_status = 409


class StatusInUse(ApplicationError):
    code = "status_in_use"
    http_status = 409

    @classmethod
    def from_protected(cls, exc, status=None) -> "StatusInUse":
        """Name what uses the status, grouped by kind: 'agents: ann, bob; shift types: Early'."""
        objects = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
        users: dict[str, list[str]] = defaultdict(list)
        for obj in objects:
            users[_describe_kind(obj)].append(_describe_object(obj))
        parts = []
        for kind, names in sorted(users.items()):
            shown = ", ".join(sorted(set(names))[:10])
            more = len(set(names)) - 10
            parts.append(f"{kind}: {shown}" + (f" and {more} more" if more > 0 else ""))
        subject = f'Status "{status.name}"' if status is not None else "The status"
        return cls(f"{subject} is in use and cannot be deleted. Used by {'; '.join(parts)}.")


class StatusProtected(StatusInUse):
    """A status the system or a setting needs (S5): it cannot be disabled or deleted."""

    code = "status_protected"
    http_status = 400


def _describe_kind(obj) -> str:
    describe = getattr(obj, "usage_kind", None)
    if describe:
        return describe
    return str(obj._meta.verbose_name_plural)


def _describe_object(obj) -> str:
    describe = getattr(obj, "usage_label", None)
    return describe() if callable(describe) else str(obj)
