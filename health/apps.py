from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Liveness and readiness of the service: the health routes, the database-down answers and
    the Celery workers' heartbeat (docs/operations.md)."""

    name = "health"

    def ready(self) -> None:
        # Only a Celery worker sends these signals; connecting them elsewhere is harmless.
        from health import worker

        worker.connect_signals()
