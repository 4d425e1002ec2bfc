from .base import BASE_DIR, TIME_ZONE
from .env import env_str

# Production: CELERY_BROKER_URL=redis://... The embedded default is kombu's filesystem
# transport, which needs no server: the web process and the worker share a folder.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = BASE_DIR / "var" / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
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
# DatabaseScheduler with a lease: a second beat by mistake stands by (config/beat.py).
CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The periodic tasks, in code: `manage.py sync_periodic_tasks` (run by bin/dev) and
# django-celery-beat's DatabaseScheduler at start copy this into its tables, where the admin
# can see and pause them. Every task is state-based, so the intervals only set how late an
# automatic change may come; they are well below the shortest timeout they serve.
CELERY_BEAT_SCHEDULE = {
    "presence-expire-timed-statuses": {"task": "presence.tasks.expire_timed_statuses_task", "schedule": 30.0},
    "presence-auto-offline": {"task": "presence.tasks.auto_offline_task", "schedule": 30.0},
    "presence-idle-timeout": {"task": "presence.tasks.idle_timeout_task", "schedule": 30.0},
    "presence-wrap-up-expire": {"task": "presence.tasks.wrap_up_expire_task", "schedule": 30.0},
    "scheduling-apply-shifts": {"task": "scheduling.tasks.apply_shifts_task", "schedule": 30.0},
    "scheduling-apply-appointments": {"task": "scheduling.tasks.apply_appointments_task", "schedule": 30.0},
    "tickets-kick-out": {"task": "tickets.tasks.kick_out_task", "schedule": 60.0},
    "tickets-route-queues": {"task": "tickets.tasks.route_queues_task", "schedule": 30.0},
    # The load counters are kept by the services; this only catches a write that went around them.
    "tickets-load-self-check": {"task": "tickets.tasks.load_self_check_task", "schedule": 3600.0},
}
