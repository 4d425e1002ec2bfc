"""How the API describes itself (drf-spectacular): one tag per resource, operation ids a generated
client reads well, and a hook so every operation may answer with the project's JSON error body and
ids in paths are integers."""

import itertools
import re

from drf_spectacular import openapi

from presence.limits import ID_PATTERN, MAX_ID

# The first path segment after /api/v1/ names the resource; its tag groups the operations in the
# docs and becomes the module of a generated client (client.api.status_requests...). Views may
# still say tags=[...] themselves (the webhooks views do), which wins over this table.
TAGS = {
    "auth": "Sign in to the API: a token for `Authorization: Token <key>`.",
    "statuses": "The status catalogue.",
    "presence": "My presence: status, heartbeat, activity, queues and notices; the presence settings; who is "
    "online for live chat.",
    "agents": "Agents: provisioning, their presence, supervisors changing their status.",
    "status requests": "Requests for statuses that need a supervisor's approval.",
    "status log": "Every status change, newest first.",
    "tickets": "Tickets: create, assign, take, note, close.",
    "teams": "Teams, their routing method and members; their coverage (the coverage alarm).",
    "mappings": "Re-assign mappings: what happens to an agent's tickets when their status changes.",
    "scheduling": "Shift types, shifts and appointments.",
    "reports": "Reports over a period, as JSON or CSV.",
    "telephony": "For the phone system: call events and who can take a call.",
    "webhooks": "Webhooks.",
}
TAG_BY_PREFIX = {
    "auth": "auth",
    "statuses": "statuses",
    "presence": "presence",
    "presence-settings": "presence",
    "live-chat": "presence",
    "agents": "agents",
    "status-requests": "status requests",
    "status-log": "status log",
    "tickets": "tickets",
    "teams": "teams",
    "coverage": "teams",
    "reassign-mappings": "mappings",
    "shift-types": "scheduling",
    "shifts": "scheduling",
    "appointments": "scheduling",
    "reports": "reports",
    "telephony": "telephony",
    "webhooks": "webhooks",
}

# Operation ids are `<resource>_<verb>` (statuses_list, tickets_get, tickets_assign); an APIView
# whose path already says what it does names its operation itself (presence_me_set_status).
VIEWSET_VERBS = {
    "list": "list",
    "create": "create",
    "retrieve": "get",
    "update": "replace",
    "partial_update": "update",
    "destroy": "delete",
}
METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}


class AutoSchema(openapi.AutoSchema):
    def get_tags(self) -> list[str]:
        tokens = self._tokenize_path()
        prefix = tokens[0] if tokens else "root"
        return [TAG_BY_PREFIX.get(prefix, prefix.replace("-", " "))]

    def get_operation_id(self) -> str:
        action = getattr(self.view, "action", None)
        if action is not None:  # a viewset: its router prefix, then the standard verb or the extra action
            resource = "_".join(self._router_prefix(action))
            if action in VIEWSET_VERBS:
                return f"{resource}_{VIEWSET_VERBS[action]}"
            # An extra action on several methods would otherwise give them all one id.
            several = len(getattr(self.view, "action_map", None) or {}) > 1
            return f"{resource}_{action}" + (f"_{METHOD_VERBS[self.method]}" if several else "")
        tokens = [token.replace("-", "_") for token in self._tokenize_path()] or ["root"]
        verb = "list" if self.method == "GET" and self._is_list_view() else METHOD_VERBS[self.method]
        return "_".join([*tokens, verb])

    def _router_prefix(self, action: str) -> list[str]:
        """The segments a viewset was registered under: the path up to the id, less the url_path
        of an extra list action (agents/{user}/status/ -> agents)."""
        segments = [s.replace("-", "_") for s in re.sub(self.path_prefix, "", self.path).split("/") if s]
        prefix = list(itertools.takewhile(lambda segment: not segment.startswith("{"), segments))
        method = getattr(self.view, action, None)
        if action not in VIEWSET_VERBS and not getattr(method, "detail", True):
            prefix = prefix[: -len(method.url_path.strip("/").split("/"))]
        return prefix or ["root"]


ERROR_RESPONSES = {
    "400": "Invalid input: the message names the field.",
    "401": "No valid credentials.",
    "403": "Not allowed for this user.",
    "404": "No such object (or not visible to this user).",
    "405": "Method not allowed here.",
    "406": "The requested format is not available.",
    "409": "Refused in the current state (in use, offline, already decided).",
    "413": "The request body is too large.",
    "415": "Unsupported request body type.",
    "429": "Too many failed sign-ins: try again after Retry-After seconds.",
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {}},
    },
    "required": ["message", "code"],
}


# Detail routes take ids through ID_PATTERN (lookup_value_regex, the <id:...> converter), which
# drf-spectacular can only describe as a string with that pattern: say what it is, an integer.
ID_PATH_PATTERN = f"^{ID_PATTERN}$"
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _ids_as_integers(result) -> None:
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path" and parameter.get("schema", {}).get("pattern") == ID_PATH_PATTERN:
                    parameter["schema"] = dict(ID_SCHEMA)


def add_error_responses(result, generator, request, public):
    _ids_as_integers(result)
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": content})
    return result


def describe_tags(result, generator, request, public):
    """The tags in use, in TAGS order with their descriptions (docs list them in this order)."""
    used = {
        tag
        for operations in result.get("paths", {}).values()
        for operation in operations.values()
        for tag in (operation.get("tags", []) if isinstance(operation, dict) else [])
    }
    tags = [{"name": name, "description": text} for name, text in TAGS.items() if name in used]
    result["tags"] = tags + [{"name": name} for name in sorted(used - TAGS.keys())]
    return result
