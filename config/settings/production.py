"""Production: DJANGO_SETTINGS_MODULE=config.settings.production.

Everything a deployment sets comes from the environment; missing essentials stop the start
with a sentence instead of running insecurely. See docs/deploy.md.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F401,F403
from config.settings.env import env_bool, env_list, env_str


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"Set {name} in the environment for production (see docs/deploy.md).")
    return value


DEBUG = False
SECRET_KEY = _required("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "") or _required("ALLOWED_HOSTS").split(",")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)  # turn off before the domain is ready for it
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The API's schema and docs need a signed-in user, unless PUBLIC_API_DOCS=1.
PUBLIC_API_DOCS = env_bool("PUBLIC_API_DOCS", False)
SPECTACULAR_SETTINGS = {  # noqa: F405
    **SPECTACULAR_SETTINGS,  # noqa: F405
    "SERVE_PERMISSIONS": (
        ["rest_framework.permissions.AllowAny"] if PUBLIC_API_DOCS else ["rest_framework.permissions.IsAuthenticated"]
    ),
}

STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))  # noqa: F405
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Several web processes and workers share state through Redis and PostgreSQL only.
_required("DATABASE_URL")
CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": _required("CACHE_URL")}}
CELERY_BROKER_URL = _required("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
