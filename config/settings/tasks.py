from config.periodic import AppsBeatSchedule

from .base import BASE_DIR, TIME_ZONE
from .env import env_str

# Production: CELERY_BROKER_URL=redis://... The embedded default is kombu's filesystem
# transport, which needs no server: the web process and the worker share a folder.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_broker_dir = BASE_DIR / "var" / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchanges' table: without it kombu writes a `control/` folder wherever the worker starts.
        "control_folder": str(_broker_dir / "control"),
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

# The periodic tasks, in code: each app declares its own on its AppConfig (`periodic_tasks`),
# collected from the installed apps when Celery reads this (config/periodic.py).
# `manage.py sync_periodic_tasks` (run by bin/dev) and django-celery-beat's DatabaseScheduler at
# start copy them into its tables, where the admin can see and pause them.
CELERY_BEAT_SCHEDULE = AppsBeatSchedule()
