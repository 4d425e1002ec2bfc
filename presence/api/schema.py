"""drf-spectacular hook: every operation may answer with the project's JSON error body."""

ERROR_RESPONSES = {
    "400": "Invalid input: the message names the field.",
    "401": "No valid credentials.",
    "403": "Not allowed for this user.",
    "404": "No such object (or not visible to this user).",
    "405": "Method not allowed here.",
    "406": "The requested format is not available.",
    "409": "Refused in the current state (in use, offline, already decided).",
    "415": "Unsupported request body type.",
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


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": content})
    return result
