from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Liveness and readiness of the service: the health routes, the database-down answers and
    the Celery workers' heartbeat (docs/operations.md); background work that failed for good
    (``health.failures``); the default beat schedule in the database after ``migrate``
    (``health.schedules``)."""

    name = "health"

    def ready(self) -> None:
        # Only a Celery worker sends these signals; connecting them elsewhere is harmless.
        from django.conf import settings
        from django.db.models.signals import post_migrate

        from health import failures, schedules, selectors, worker

        worker.connect_signals()
        failures.connect_signals()
        post_migrate.connect(
            schedules.install_after_migrate, sender=self, dispatch_uid="health.schedules"
        )
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            try:
                selectors._transport_loaded(settings.CELERY_BROKER_URL)
            except Exception as exc:  # a bad broker URL is readiness's to report, not startup's
                selectors.logger.warning("health: broker transport not loaded: %s", exc)
