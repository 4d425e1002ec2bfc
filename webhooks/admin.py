"""Webhooks and their delivery log in the admin (admins only: presence/roles.py).

The secret is write-only here as in the API: shown once in a message after the webhook is
created, replaced by typing a new one, never displayed. Deliveries are read-only; the list's
"Resend" action queues chosen ones again.
"""

from django import forms
from django.contrib import admin, messages

from presence.admin import RefusalsAsMessages
from presence.admin_inputs import BoundedInputsAdminMixin
from webhooks import services
from webhooks.models import Delivery, Event, Webhook


class WebhookAdminForm(forms.ModelForm):
    url = forms.URLField(
        label="URL", max_length=500, assume_scheme="https", help_text=Webhook._meta.get_field("url").help_text
    )
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    # Not the model's field: the form never renders the secret it has.
    new_secret = forms.CharField(
        label="Secret",
        required=False,
        max_length=128,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the current secret (a new webhook gets a generated one, shown once).",
    )

    class Meta:
        model = Webhook
        fields = ["url", "events", "active", "description"]

    def _post_clean(self):
        if self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"]
        super()._post_clean()  # the model's validation: URL scheme, events


@admin.register(Webhook)
class WebhookAdmin(BoundedInputsAdminMixin, RefusalsAsMessages, admin.ModelAdmin):
    form = WebhookAdminForm
    fields = ["url", "events", "new_secret", "active", "description"]
    list_display = ["url", "event_list", "active", "description", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "description"]

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ["url", "event_list", "active", "description", "created_at"]  # viewing: no secret field at all
        return super().get_fields(request, obj)

    @admin.display(description="events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(obj.events) if isinstance(obj.events, list) else ""

    def save_model(self, request, obj, form, change) -> None:
        generated = not obj.secret
        services.webhook_save(obj, actor=request.user)
        if generated:
            self.message_user(
                request, f"The webhook's secret is {obj.secret} — copy it now: it is not shown again.", messages.WARNING
            )

    def delete_model(self, request, obj) -> None:
        services.webhook_delete(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for webhook in queryset:
            services.webhook_delete(webhook, actor=request.user)


@admin.register(Delivery)
class DeliveryAdmin(BoundedInputsAdminMixin, admin.ModelAdmin):
    """The delivery log: written by the webhooks services only; change permission means "may resend"."""

    list_display = ["created_at", "webhook", "event", "state", "attempts", "last_status_code", "last_error",
                    "next_attempt_at", "delivered_at"]  # fmt: skip
    list_filter = ["state", "event", "webhook"]
    list_select_related = ["webhook"]
    search_fields = ["event_id", "last_error"]
    date_hierarchy = "created_at"
    fields = ["webhook", "event", "event_id", "state", "attempts", "last_status_code", "last_error",
              "next_attempt_at", "delivered_at", "created_at", "payload"]  # fmt: skip
    readonly_fields = fields
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's Resend needs it; a delivery's own page is read-only.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Resend selected deliveries", permissions=["change"])
    def resend(self, request, queryset) -> None:
        deliveries = list(queryset.order_by("pk"))
        for delivery in deliveries:
            services.delivery_resend(delivery, actor=request.user)
        self.message_user(request, f"Queued {len(deliveries)} delivery(ies) again.", messages.SUCCESS)
