"""Copy the beat schedule from settings into django-celery-beat's tables (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

PROJECT_TASK_PREFIXES = ("presence.tasks.", "tickets.tasks.", "scheduling.tasks.")


class Command(BaseCommand):
    help = "Register CELERY_BEAT_SCHEDULE as django-celery-beat periodic tasks; safe to run again."

    def handle(self, *args, **options) -> None:
        schedule = settings.CELERY_BEAT_SCHEDULE
        with transaction.atomic():
            for name, entry in schedule.items():
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=int(entry["schedule"]), period=IntervalSchedule.SECONDS
                )
                # An admin's pause (enabled=False) survives a re-sync; task and interval follow the code.
                _, created = PeriodicTask.objects.update_or_create(
                    name=name, defaults={"task": entry["task"], "interval": interval, "crontab": None}
                )
                self.stdout.write(f"{'added' if created else 'kept '} {name}: {entry['task']} every {interval.every}s")
            stale = (
                PeriodicTask.objects.filter(task__startswith=PROJECT_TASK_PREFIXES[0])
                | PeriodicTask.objects.filter(task__startswith=PROJECT_TASK_PREFIXES[1])
                | PeriodicTask.objects.filter(task__startswith=PROJECT_TASK_PREFIXES[2])
            ).exclude(name__in=list(schedule))
            for task in stale.filter(enabled=True):
                task.enabled = False
                task.save(update_fields=["enabled"])
                self.stdout.write(f"disabled {task.name}: no longer in the schedule")
