"""Copy the installed apps' periodic tasks into django-celery-beat's tables (idempotent)."""

from functools import reduce
from operator import or_

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.periodic import periodic_task_apps, periodic_tasks


class Command(BaseCommand):
    help = "Register the apps' periodic tasks (AppConfig.periodic_tasks) with django-celery-beat; safe to run again."

    def handle(self, *args, **options) -> None:
        schedule = periodic_tasks()
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
            # A task of one of these apps that the code no longer declares is switched off; tasks
            # of other apps (Celery's own, a library's) are not ours to touch.
            ours = [Q(task__startswith=f"{config.name}.tasks.") for config in periodic_task_apps()]
            stale = PeriodicTask.objects.filter(reduce(or_, ours, Q(pk__in=[]))).exclude(name__in=list(schedule))
            for task in stale.filter(enabled=True):
                task.enabled = False
                task.save(update_fields=["enabled"])
                self.stdout.write(f"disabled {task.name}: no longer in the schedule")
