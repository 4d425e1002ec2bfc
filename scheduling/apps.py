from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Shifts and appointments"
    # The role matrix (presence/roles.py): what supervisors may do with this app's models.
    supervisor_permissions = {
        "shifttype": ("view", "add", "change", "delete"),
        "shift": ("view", "add", "change", "delete"),
        "appointment": ("view", "add", "change", "delete"),
    }

    def ready(self) -> None:
        from presence.reports import register_report
        from scheduling import reports

        register_report(reports.COMPLIANCE)
