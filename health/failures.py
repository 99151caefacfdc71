"""Background work that failed for good: every Celery task that ends in failure once its retries
are spent is recorded as a ``FailedTask`` row (task name and id, arguments, exception,
traceback, worker, time), listed in the admin and on the operations landing page, and can be
sent again from the admin (``health.services.failed_task_retry``).

Celery's ``task_failure`` signal is the hook: it fires when a task raises and is not retried —
an automatic retry (``autoretry_for``, ``self.retry``) sends ``task_retry`` instead — so a task
that fails eight times on a dropped database and then gives up is one row, not nine. It fires in
the worker's process (and in the caller's with eager tasks: the demo, the tests), and is
connected in ``HealthConfig.ready``.

Arguments are stored as JSON: the task messages are JSON already (``CELERY_TASK_SERIALIZER``),
so in a worker they always are; an eager call may carry something else, which is stored as its
``repr``. Arguments that are not stored faithfully (not JSON, or more than ``ARGS_LIMIT``
characters, kept as a truncated repr) mark the row with ``UNSTORED`` in ``kwargs``, and such a
row is not retried by the admin: it would run the task with different arguments.
"""

from __future__ import annotations

import json
import logging
import traceback as traceback_module
from typing import Any

from celery import signals
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from health.models import FailedTask

logger = logging.getLogger(__name__)

ARGS_LIMIT = 10_000  # characters of JSON for args and kwargs together
TEXT_LIMIT = 20_000  # characters of exception and traceback each
UNSTORED = "__unstored__"  # the kwargs key of a row whose arguments are not stored faithfully


def json_safe_arguments(args: Any, kwargs: Any) -> tuple[list, dict]:
    """``(args, kwargs)`` as stored: JSON round-tripped when they are JSON and fit in
    ``ARGS_LIMIT``; otherwise ``([repr of args, truncated], {UNSTORED: reason, "kwargs": repr
    of kwargs, truncated})``."""
    args = list(args or ())
    kwargs = dict(kwargs or {})
    try:
        text = json.dumps([args, kwargs])
    except (TypeError, ValueError):
        reason = "not JSON"
    else:
        if len(text) <= ARGS_LIMIT:
            stored_args, stored_kwargs = json.loads(text)
            return stored_args, stored_kwargs
        reason = f"longer than {ARGS_LIMIT} characters"
    half = ARGS_LIMIT // 2
    return [_cap(repr(args), half)], {UNSTORED: reason, "kwargs": _cap(repr(kwargs), half)}


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_task_record(
    *,
    task_name: str,
    task_id: str,
    args: Any,
    kwargs: Any,
    exception: BaseException | str,
    traceback: str = "",
    hostname: str = "",
) -> FailedTask:
    """Write the ``FailedTask`` row of a task that failed for good (once per task id: a second
    report of the same id — a redelivered message failing again — returns the first row). One
    transaction (a savepoint when called inside one)."""
    stored_args, stored_kwargs = json_safe_arguments(args, kwargs)
    text = exception if isinstance(exception, str) else f"{type(exception).__name__}: {exception}"
    with transaction.atomic():
        row, _ = FailedTask.objects.get_or_create(
            task_id=task_id,
            defaults={
                "task_name": task_name[:255],
                "args": stored_args,
                "kwargs": stored_kwargs,
                "exception": _cap(text, TEXT_LIMIT),
                "traceback": _cap(traceback or "", TEXT_LIMIT),
                "hostname": (hostname or "")[:255],
                "failed_at": timezone.now(),
            },
        )
    return row


def _on_task_failure(
    sender=None,
    task_id=None,
    exception=None,
    args=None,
    kwargs=None,
    traceback=None,
    einfo=None,
    **rest,
) -> None:
    """``task_failure`` receiver. Never raises: a failure to record (the database being what
    failed, typically) is logged, and the task's own failure is what Celery reports."""
    name = getattr(sender, "name", None) or str(sender)
    request = getattr(sender, "request", None)
    hostname = getattr(request, "hostname", None) or ""
    if einfo is not None and getattr(einfo, "traceback", None):
        trace = str(einfo.traceback)
    elif traceback is not None:
        trace = "".join(traceback_module.format_tb(traceback))
    else:
        trace = ""
    try:
        if (
            isinstance(exception, DatabaseError)
            and not connection.in_atomic_block
            and connection.connection is not None
            and not connection.is_usable()
        ):
            # A task that failed on a dropped connection leaves it unusable: reconnect.
            connection.close()
        failed_task_record(
            task_name=name,
            task_id=str(task_id),
            args=args,
            kwargs=kwargs,
            exception=exception if exception is not None else "unknown error",
            traceback=trace,
            hostname=hostname,
        )
    except Exception as exc:  # recording must never mask the task's own failure
        logger.error("failed task %s[%s] not recorded: %s", name, task_id, exc)


def connect_signals() -> None:
    signals.task_failure.connect(_on_task_failure, weak=False, dispatch_uid="health.failed_task")
