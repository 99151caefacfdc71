"""Writes of the health app: the Celery workers' heartbeat rows, and sending a failed task
again (``health.failures`` records the failures)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, NotFound
from health.models import FailedTask, WorkerHeartbeat


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


def failed_task_retry(*, failed_task_id: int, actor) -> FailedTask:
    """Send a failed task again with the arguments it failed with (``apply_async`` of the task
    registered under its name, with a new task id) and stamp ``retried_at``, ``retried_by`` and
    ``retried_task_id`` on the row. One transaction under a lock of the row; the message goes out
    after commit. If the new run fails too, it is a new row (its own task id).

    Errors: ``NotFound`` (no such row); ``Conflict`` (``already_retried``: the row was retried
    before — retry the newer row; ``not_retryable``: its arguments were not stored faithfully,
    ``health.failures.UNSTORED``, or no task of that name is registered)."""
    from celery import current_app

    from health.failures import UNSTORED

    with transaction.atomic(durable=True):
        row = FailedTask.objects.select_for_update().filter(pk=failed_task_id).first()
        if row is None:
            raise NotFound("No such failed task.")
        if row.retried_at is not None:
            raise Conflict(
                f"Already retried at {row.retried_at:%Y-%m-%d %H:%M} (task {row.retried_task_id}).",
                code="already_retried",
            )
        if isinstance(row.kwargs, dict) and UNSTORED in row.kwargs:
            raise Conflict(
                "Its arguments were not stored faithfully "
                f"({row.kwargs[UNSTORED]}); run it by hand.",
                code="not_retryable",
            )
        task = current_app.tasks.get(row.task_name)
        if task is None:
            raise Conflict(f"No task named {row.task_name} is registered.", code="not_retryable")
        new_id = str(uuid.uuid4())
        row.retried_at = timezone.now()
        row.retried_by = actor
        row.retried_task_id = new_id
        row.save(update_fields=["retried_at", "retried_by", "retried_task_id"])
        args, kwargs = list(row.args or []), dict(row.kwargs or {})
        # robust: with eager tasks (the demo) a new failure is recorded, not raised at the admin.
        transaction.on_commit(
            lambda: task.apply_async(args=args, kwargs=kwargs, task_id=new_id), robust=True
        )
    return row
