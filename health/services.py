"""Writes of the health app: the Celery workers' heartbeat rows."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from health.models import WorkerHeartbeat


def worker_heartbeat_stamp(
    *, hostname: str, pid: int, started_at: datetime, now: datetime | None = None
) -> None:
    """Record that the worker ``hostname`` is alive at ``now``: one upsert of its row (a
    restarted worker with the same name takes the row over). Raises the database's errors (the
    caller, a loop in the worker, logs them and tries again at the next beat)."""
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"pid": pid, "started_at": started_at, "seen_at": now}
    )


def worker_heartbeat_clear(*, hostname: str) -> None:
    """Remove the worker's row when it shuts down cleanly: a stopped worker is not a worker
    that could still be busy."""
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()
