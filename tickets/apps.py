from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Tickets and routing"
    # The role matrix (presence/roles.py): what supervisors may do with this app's models.
    supervisor_permissions = {
        "ticket": ("view", "add", "change", "delete"),
        "ticketnote": ("view", "add", "change", "delete"),
        "reassignmapping": ("view", "add", "change", "delete"),
        "teamrouting": ("view", "add", "change"),
    }

    def ready(self) -> None:
        from presence.reports import register_open_work_provider, register_report
        from presence.signals import agent_deactivated, queues_joined, statuses_changed
        from presence.workload import register_workload_provider
        from tickets import receivers, reports

        statuses_changed.connect(receivers.on_statuses_changed, dispatch_uid="tickets.on_statuses_changed")
        queues_joined.connect(receivers.on_queues_joined, dispatch_uid="tickets.on_queues_joined")
        agent_deactivated.connect(receivers.on_agent_deactivated, dispatch_uid="tickets.on_agent_deactivated")
        register_workload_provider(receivers.ticket_workloads)
        register_open_work_provider(reports.open_work_intervals)
        register_report(reports.WORKLOAD)
