"""Sign-in throttling, API tokens, headers and what the site shows to strangers (issue: harden every door)."""

from datetime import timedelta

from csp.constants import NONE, SELF, UNSAFE_INLINE

from .env import env_bool, env_str

# --- sign-in throttling ---------------------------------------------------------------------------
# The same rule at every door: this many failed sign-ins for one username from one address within
# the window lock that pair out for the lock time. The form and the admin use django-axes (its
# attempts live in the database, so the embedded default needs no cache server); the API's token
# endpoint uses a DRF throttle kept in the cache (Redis in production).
SIGN_IN_FAILURE_LIMIT = int(env_str("SIGN_IN_FAILURE_LIMIT", "10"))
SIGN_IN_WINDOW_MINUTES = int(env_str("SIGN_IN_WINDOW_MINUTES", "15"))
SIGN_IN_LOCK_MINUTES = int(env_str("SIGN_IN_LOCK_MINUTES", "15"))

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = SIGN_IN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=SIGN_IN_LOCK_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The API counts its own failures (presence.api.throttling); axes keeps to the pages.
AXES_WHITELIST_CALLABLE = "config.security.axes_leaves_the_api_alone"
AXES_USERNAME_CALLABLE = "config.security.axes_username"
AXES_VERBOSE = False

# --- API tokens -----------------------------------------------------------------------------------
# Hours a token lives after it is made (empty: until rotated, revoked or its user's password changes).
API_TOKEN_TTL_HOURS = int(env_str("API_TOKEN_TTL_HOURS", "0")) or None

# --- headers --------------------------------------------------------------------------------------
# The pages run no inline script; inline style attributes (colour swatches, Django admin) stay.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

# --- what strangers see ---------------------------------------------------------------------------
# Password reset mails need a mail server: the reset pages exist only when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = int(env_str("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
# Without a mail server, mails the system sends (the coverage alarm's to supervisors) are written
# to the console (the worker's log) instead of failing against a server that is not there.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
PASSWORD_RESET_ENABLED = bool(EMAIL_HOST)
# The API schema and docs are public in development; production serves them to signed-in
# users only, unless PUBLIC_API_DOCS=1.
PUBLIC_API_DOCS = env_bool("PUBLIC_API_DOCS", True)
