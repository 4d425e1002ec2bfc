from .base import BASE_DIR, TIME_ZONE
from .env import env_str

# Production: CELERY_BROKER_URL=redis://... The embedded default is kombu's filesystem
# transport, which needs no server: the web process and the worker share a folder.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = BASE_DIR / "var" / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The periodic tasks, in code: django-celery-beat's DatabaseScheduler copies this into its
# tables when beat starts (code is the source of truth; admins can see and pause them there).
CELERY_BEAT_SCHEDULE = {
    "presence-expire-timed-statuses": {
        "task": "presence.tasks.expire_timed_statuses_task",
        "schedule": 30.0,
    },
}
