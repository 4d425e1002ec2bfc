from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Shifts and appointments"
    # The role matrix (presence/roles.py): what supervisors may do with this app's models.
    supervisor_permissions = {
        "shifttype": ("view", "add", "change", "delete"),
        "shift": ("view", "add", "change", "delete"),
        "appointment": ("view", "add", "change", "delete"),
        # A shift type's break statuses (C8): edited on the shift type, with its permissions.
        "shifttypebreakstatus": (),
    }
    role_notes = {"shifttypebreakstatus": "edited on its shift type"}
    # The app's periodic tasks (config/periodic.py): beat name -> (task, every N seconds).
    periodic_tasks = {
        "scheduling-apply-shifts": ("scheduling.tasks.apply_shifts_task", 30),
        "scheduling-apply-appointments": ("scheduling.tasks.apply_appointments_task", 30),
    }

    def ready(self) -> None:
        from presence.adherence import register_adherence_provider
        from presence.shared.reports import register_report
        from scheduling import reports
        from scheduling.adherence import agent_adherence

        register_report(reports.COMPLIANCE)
        register_report(reports.ADHERENCE)
        # The board and the agent panel ask presence whose status fits their shift (C8).
        register_adherence_provider(agent_adherence)
