"""The health app's tables: when each Celery worker was last seen alive, and the background
work that failed for good."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class WorkerHeartbeat(models.Model):
    """One row per Celery worker (its node name), stamped every few seconds by a thread in the
    worker's main process (``health.worker``) and removed when the worker shuts down cleanly.
    A worker that dies without shutting down leaves its row, which then ages: readiness counts
    only rows stamped recently."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"


class FailedTask(models.Model):
    """A Celery task that failed after its retries (``health.failures`` records it from Celery's
    ``task_failure`` signal, which fires only once retries are spent). Shown on the operations
    landing page; the admin's retry action sends the same task with the same arguments again
    and stamps ``retried_at``."""

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=255, db_index=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    exception = models.TextField()
    traceback = models.TextField(blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    failed_at = models.DateTimeField()
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_task_id = models.CharField(max_length=255, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [
            models.Index(
                fields=["-failed_at"],
                condition=Q(retried_at__isnull=True),
                name="health_failed_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name} failed {self.failed_at:%Y-%m-%d %H:%M}"
