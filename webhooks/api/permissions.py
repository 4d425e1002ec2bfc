from presence.shared.permissions import IsConfigAdmin


class CanViewDeliveries(IsConfigAdmin):
    """A webhook's delivery log: view permission on webhooks and on deliveries."""

    perms_map = {**IsConfigAdmin.perms_map, "GET": ["%(app_label)s.view_%(model_name)s", "webhooks.view_delivery"]}
