from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The operations landing page: what needs attention today, each number linked to its list."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "operations"
