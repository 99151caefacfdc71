"""The operations admin for notifications: vendors' webhook endpoints (added and changed through
the services; the secret is shown once, in a message, on creation and on the "Rotate secret"
action), the webhook delivery log with its attempts (read-only; "Redeliver" sends again), the
e-mail log (read-only) and people's e-mail preferences."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from config.admin import ReadOnlyAdmin, ReadOnlyInline, ServiceFormAdminMixin, ServiceModelForm
from notifications import services
from notifications.models import (
    WEBHOOK_EVENTS,
    Event,
    Notification,
    NotificationPreference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class EndpointForm(ServiceModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, Event(e).label) for e in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["vendor", "url", "description", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    form = EndpointForm
    create_service = staticmethod(services.webhook_endpoint_create)
    update_service = staticmethod(services.webhook_endpoint_update)
    update_target = "endpoint"
    editable_fields = ("url", "description", "events", "is_active")
    list_display = ("url", "vendor", "is_active", "created_at", "secret_rotated_at")
    list_filter = ("is_active", "vendor")
    search_fields = ("url", "description", "vendor__name", "vendor__slug")
    list_select_related = ("vendor",)
    autocomplete_fields = ("vendor",)
    readonly_fields = ("created_at", "secret_rotated_at", "created_by")
    actions = ("rotate_secret",)

    def get_readonly_fields(self, request, obj=None):
        # The vendor of an endpoint never changes (its deliveries are that vendor's).
        return (*self.readonly_fields, "vendor") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"The endpoint's signing secret (shown only now): {obj.secret}",
                messages.WARNING,
            )

    @admin.action(description="Rotate the signing secret of selected endpoints")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint = services.webhook_endpoint_rotate_secret(
                actor=request.user, endpoint=endpoint
            )
            self.message_user(
                request,
                f"New secret of {endpoint.url} (shown only now): {endpoint.secret}",
                messages.WARNING,
            )


class AttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "next_attempt_at")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "event_id",
        "event",
        "vendor",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event", "vendor")
    search_fields = ("event_id", "endpoint__url", "vendor__name")
    list_select_related = ("vendor", "endpoint")
    date_hierarchy = "created_at"
    inlines = (AttemptInline,)
    actions = ("redeliver",)

    def has_redeliver_permission(self, request):
        return request.user.has_perm("notifications.change_webhookdelivery")

    @admin.action(description="Redeliver selected deliveries", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        from notifications import tasks

        count = 0
        for delivery in queryset:
            services.webhook_redeliver(actor=request.user, delivery=delivery)
            tasks.webhook_deliver.delay(delivery.pk)
            count += 1
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("subject", "email", "event", "status", "created_at", "sent_at")
    list_filter = ("status", "event")
    search_fields = ("email", "subject", "recipient__username", "dedupe_key")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "muted", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
