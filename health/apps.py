from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Liveness and readiness of the service: the health routes, the database-down answers and
    the Celery workers' heartbeat (docs/operations.md)."""

    name = "health"

    def ready(self) -> None:
        # Only a Celery worker sends these signals; connecting them elsewhere is harmless.
        from django.conf import settings

        from health import selectors, worker

        worker.connect_signals()
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            try:
                selectors._transport_loaded(settings.CELERY_BROKER_URL)
            except Exception as exc:  # a bad broker URL is readiness's to report, not startup's
                selectors.logger.warning("health: broker transport not loaded: %s", exc)
