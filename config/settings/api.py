from .security import SIGN_IN_FAILURE_LIMIT, SIGN_IN_WINDOW_MINUTES

REST_FRAMEWORK = {
    # Token first: an API client without valid credentials gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "presence.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON with bounded size and nesting; forms for people using the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "presence.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Failed sign-ins at the token endpoint, per username and address (presence.api.throttling).
    "DEFAULT_THROTTLE_RATES": {"sign-in": f"{SIGN_IN_FAILURE_LIMIT}/{SIGN_IN_WINDOW_MINUTES}m"},
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "presence.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agent presence and routing API",
    "DESCRIPTION": "Statuses, presence, routing, scheduling and reports for helpdesk agents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "presence.api.schema.add_error_responses",
    ],
}
