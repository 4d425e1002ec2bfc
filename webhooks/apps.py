from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    # The role matrix (presence/roles.py): webhooks hold secrets and reach outside, so they stay
    # with admins.
    supervisor_permissions = {
        "webhook": (),
        "delivery": (),
        "livechatstate": (),
    }
    role_notes = {
        "webhook": "the URLs that receive events, and their signing secrets",
        "delivery": "written when an event is sent; admins resend from the list",
        "livechatstate": "kept by the webhooks app: the last live-chat state sent per team",
    }
    # The app's periodic tasks (config/periodic.py): beat name -> (task, every N seconds).
    periodic_tasks = {
        # Each delivery queues its own retries; this catches the ones a lost task or broker left.
        "webhooks-requeue-due": ("webhooks.tasks.deliveries_requeue_task", 30),
        "webhooks-live-chat": ("webhooks.tasks.live_chat_states_task", 30),
    }

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from presence.signals import coverage_changed, status_request_decided, statuses_changed
        from tickets.signals import tickets_assigned
        from webhooks import receivers
        from webhooks.models import Webhook
        from webhooks.selectors import subscriptions_forget

        statuses_changed.connect(receivers.on_statuses_changed, dispatch_uid="webhooks.on_statuses_changed")
        status_request_decided.connect(
            receivers.on_status_request_decided, dispatch_uid="webhooks.on_status_request_decided"
        )
        tickets_assigned.connect(receivers.on_tickets_assigned, dispatch_uid="webhooks.on_tickets_assigned")
        coverage_changed.connect(receivers.on_coverage_changed, dispatch_uid="webhooks.on_coverage_changed")
        # What this process remembers of the subscriptions (selectors._Unwanted) goes with any change.
        post_save.connect(subscriptions_forget, sender=Webhook, dispatch_uid="webhooks.subscriptions_forget_saved")
        post_delete.connect(subscriptions_forget, sender=Webhook, dispatch_uid="webhooks.subscriptions_forget_deleted")
