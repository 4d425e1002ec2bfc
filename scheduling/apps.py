from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Shifts and appointments"

    def ready(self) -> None:
        from presence.reports import register_report
        from scheduling import reports

        register_report(reports.COMPLIANCE)
