from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Email and signed webhooks for what labelers, vendor managers and ops must hear about."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
