"""drf-spectacular hook: every operation may answer with the project's JSON error body, and ids
in paths are integers."""

from presence.limits import ID_PATTERN, MAX_ID

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
