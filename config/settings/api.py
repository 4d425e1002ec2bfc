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
    "DEFAULT_SCHEMA_CLASS": "presence.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "presence.shared.errors.exception_handler",
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
    # Tags and operation ids come from the path after this (presence.api.schema.AutoSchema).
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+/",
    # Clients send JSON: the form parsers serve people in the browsable API and stay out of the
    # schema, or a generated client would send every body as form, multipart and JSON at once.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Fixed names for every choice set, so a generated client's enums keep their names when a new
    # field with the same name but other choices appears elsewhere.
    "ENUM_NAME_OVERRIDES": {
        "AvailabilityEnum": "presence.availability.Availability",
        "CallEventEnum": "presence.api.telephony.CALL_EVENTS",
        "CallStateEnum": "presence.models.Call.State",
        "CallTargetEnum": "presence.api.telephony.CALL_TARGETS",
        "CapabilityEnum": "presence.models.Channel",
        "LicenceTypeEnum": "presence.models.LicenceType",
        "MappingActionEnum": "tickets.models.MappingAction",
        "NoticeKindEnum": "presence.models.Notice.Kind",
        "RoutingMethodEnum": "tickets.models.RoutingMethod",
        "StatusCategoryEnum": "presence.models.StatusCategory",
        "StatusChangeSourceEnum": "presence.models.Source",
        "StatusRequestStateEnum": "presence.models.StatusRequest.State",
        "TicketChannelEnum": "tickets.models.TicketChannel",
        "TicketStateEnum": "tickets.models.TicketState",
        "WebhookEventEnum": "webhooks.models.Event",
        "DeliveryStateEnum": "webhooks.models.Delivery.State",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "presence.api.schema.add_error_responses",
        "presence.api.schema.describe_tags",
    ],
}
