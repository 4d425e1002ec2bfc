"""The periodic tasks: each app declares its own on its AppConfig, this collects them.

An app lists `periodic_tasks = {"<beat name>": ("<task path>", <every N seconds>)}`. Every task is
state-based, so an interval only sets how late an automatic change may come; it stays well below
the shortest timeout the task serves.
"""

from collections.abc import Iterator, Mapping

from django.core.exceptions import ImproperlyConfigured


def periodic_task_apps() -> list:
    """The installed apps that declare periodic tasks (an empty declaration counts)."""
    from django.apps import apps

    return [config for config in apps.get_app_configs() if hasattr(config, "periodic_tasks")]


def periodic_tasks() -> dict[str, dict]:
    """The beat schedule of all installed apps, in Celery's form: name -> {"task", "schedule"}."""
    schedule: dict[str, dict] = {}
    for config in periodic_task_apps():
        for name, (task, every) in config.periodic_tasks.items():
            if name in schedule:
                raise ImproperlyConfigured(f'Periodic task "{name}" of app "{config.label}" is declared twice.')
            schedule[name] = {"task": task, "schedule": float(every)}
    return schedule


class AppsBeatSchedule(Mapping):
    """CELERY_BEAT_SCHEDULE, read from the apps when it is used: the settings load before the
    apps, so they cannot collect it themselves. Celery reads it when beat starts."""

    def _schedule(self) -> dict[str, dict]:
        return periodic_tasks()

    def __getitem__(self, name: str) -> dict:
        return self._schedule()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._schedule())

    def __len__(self) -> int:
        return len(self._schedule())

    def __repr__(self) -> str:
        return f"AppsBeatSchedule({self._schedule()!r})"
