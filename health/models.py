"""The one table of the health app: when each Celery worker was last seen alive."""

from django.db import models


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
