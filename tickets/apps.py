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
        "routingdecision": ("view",),
    }
    # The app's periodic tasks (config/periodic.py): beat name -> (task, every N seconds).
    periodic_tasks = {
        "tickets-kick-out": ("tickets.tasks.kick_out_task", 60),
        "tickets-route-queues": ("tickets.tasks.route_queues_task", 30),
        # The load counters are kept by the services; this only catches a write that went around them.
        "tickets-load-self-check": ("tickets.tasks.load_self_check_task", 3600),
        "tickets-purge-routing-decisions": ("tickets.tasks.purge_routing_decisions_task", 86400),
    }

    def ready(self) -> None:
        from presence.shared.reports import register_open_work_provider, register_report
        from presence.signals import agent_deactivated, queues_joined, statuses_changed
        from presence.workload import register_workload_provider
        from tickets import receivers, reports

        statuses_changed.connect(receivers.on_statuses_changed, dispatch_uid="tickets.on_statuses_changed")
        queues_joined.connect(receivers.on_queues_joined, dispatch_uid="tickets.on_queues_joined")
        agent_deactivated.connect(receivers.on_agent_deactivated, dispatch_uid="tickets.on_agent_deactivated")
        register_workload_provider(receivers.ticket_workloads)
        register_open_work_provider(reports.open_work_intervals)
        register_report(reports.WORKLOAD)
