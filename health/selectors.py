"""Reads of the health app: liveness (does the database answer) and readiness (the broker, the
Celery workers, the queue and the backlogs of work that runs after a submit commits).

Every check is bounded: the database checks run under a statement timeout and the broker probe
under socket timeouts and a deadline, so a readiness answer takes well under 100 ms whatever is
down. See docs/operations.md for what each check means and what to do when it fails.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Subquery
from django.utils import timezone

from assignments.models import Assignment, Task
from assignments.services.submit import CONTROL_SWEEP_HOURS
from health.models import WorkerHeartbeat
from health.worker import heartbeat_seconds
from qc.models import GoldCheck

logger = logging.getLogger(__name__)

# The broker probe's socket timeouts and the deadline the answer waits for it.
BROKER_TIMEOUT_SECONDS = 0.05
BROKER_DEADLINE_SECONDS = 0.08
# The database checks of readiness, each (PostgreSQL's statement_timeout, milliseconds).
STATEMENT_TIMEOUT_MS = 50
# At most this many waiting tasks are counted per project (the count is then a lower bound).
BACKLOG_COUNT_CAP = 1000

# One thread for the broker probe: a probe that hangs past its deadline finishes in the
# background (its socket timeouts end it) while the answer goes out.
_probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health-broker")


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _seconds(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else round(max((now - since).total_seconds(), 0.0), 1)


# -- liveness ----------------------------------------------------------------------------------


def database_check() -> dict[str, Any]:
    """``{"ok": True, "vendor"}`` when ``SELECT 1`` answers, else ``{"ok": False, "error"}``
    (the exception's class; logged). Never raises."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except DatabaseError as exc:
        logger.warning("health: database unreachable: %s", exc)
        return {"ok": False, "error": exc.__class__.__name__}


# -- the broker --------------------------------------------------------------------------------


@cache
def _transport_loaded(url: str) -> str:
    """Import the broker's transport once (the first import of the Redis client alone takes a
    few hundred milliseconds; it must not count against a probe's deadline). Called when the
    app starts (``health.apps``) and again, for nothing, before each probe."""
    from kombu import Connection

    return Connection(url).transport.driver_name


def _probe_broker(url: str, queue: str, timeout: float) -> dict[str, Any]:
    from kombu import Connection

    started = time.perf_counter()
    with Connection(
        url,
        connect_timeout=timeout,
        transport_options={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "max_retries": 0,
        },
    ) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout
        )
        try:
            _, depth, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
        except conn.channel_errors:
            depth = 0  # the queue does not exist yet: nothing was ever sent to it
        return {
            "ok": True,
            "mode": "broker",
            "transport": conn.transport.driver_name,
            "queue": queue,
            "depth": int(depth),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }


def broker_probe_start():
    """Start the broker probe in the background; ``broker_check`` collects it. None in eager
    mode (no broker: tasks run in-process)."""
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER or not url:
        return None
    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    try:
        _transport_loaded(url)
    except Exception as exc:  # an unknown transport: reported as the broker's failure
        return exc
    return _probe_pool.submit(_probe_broker, url, queue, BROKER_TIMEOUT_SECONDS)


def broker_check(probe) -> dict[str, Any]:
    """The broker's answer: reachable, and how many messages wait in the default queue
    (``depth``; too many is not ready). Never raises; waits at most the probe's deadline."""
    if probe is None:
        return {"ok": True, "mode": "eager (tasks run in-process)"}
    try:
        if isinstance(probe, Exception):
            raise probe
        result = probe.result(timeout=BROKER_DEADLINE_SECONDS)
    except FutureTimeout:
        logger.warning("health: broker did not answer within %s s", BROKER_DEADLINE_SECONDS)
        return {"ok": False, "mode": "broker", "error": "timeout"}
    except Exception as exc:  # any failure to reach the broker is reported, not raised
        logger.warning("health: broker unreachable: %s", exc)
        return {"ok": False, "mode": "broker", "error": exc.__class__.__name__}
    max_depth = int(_setting("HEALTH_QUEUE_MAX_DEPTH", 10_000))
    result["max_depth"] = max_depth
    result["ok"] = result["depth"] <= max_depth
    return result


# -- workers and backlogs (database) ------------------------------------------------------------


def workers_check(now: datetime) -> dict[str, Any]:
    """Workers whose heartbeat is at most ``HEALTH_WORKER_MAX_AGE_SECONDS`` old (three beats by
    default); ready when there is at least one. In eager mode no worker is needed."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager (no worker needed)"}
    max_age = _setting("HEALTH_WORKER_MAX_AGE_SECONDS", 3 * heartbeat_seconds())
    rows = list(WorkerHeartbeat.objects.values_list("hostname", "seen_at")[:100])
    alive = [seen for _, seen in rows if seen >= now - timedelta(seconds=max_age)]
    return {
        "ok": bool(alive),
        "alive": len(alive),
        "stale": len(rows) - len(alive),
        "last_seen_seconds": _seconds(max((seen for _, seen in rows), default=None), now),
        "max_age_seconds": max_age,
    }


def _consensus_backlog_sql() -> str:
    t, a = Task._meta.db_table, Assignment._meta.db_table
    p = Task._meta.get_field("project").related_model._meta.db_table
    # Per project through the (project, state) index; a task's completion time is its last
    # submission's.
    return f"""
        SELECT COUNT(*), MIN(w.done) FROM {p} p CROSS JOIN LATERAL (
            SELECT (SELECT MAX(a.submitted_at) FROM {a} a
                     WHERE a.task_id = t.id AND a.status = 'submitted') AS done
              FROM {t} t
             WHERE t.project_id = p.id AND t.state = 'complete' AND t.decided_by = ''
               AND t.gold_item_id IS NULL
             ORDER BY t.id LIMIT {BACKLOG_COUNT_CAP}) w
    """  # noqa: S608 (identifiers from model metadata, no values)


def consensus_backlog(now: datetime) -> dict[str, Any]:
    """Complete tasks still without a consensus decision (their after-commit message is queued,
    running or lost), and how long the oldest has waited since its last submission. Not ready
    when the oldest waited over ``HEALTH_CONSENSUS_MAX_AGE_SECONDS`` (15 minutes by default:
    longer than the consensus sweep's period)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_consensus_backlog_sql())
            waiting, oldest = cursor.fetchone()
    else:  # SQLite (the demo): small tables
        last_submit = (
            Assignment.objects.filter(task_id=OuterRef("pk"), status=Assignment.Status.SUBMITTED)
            .order_by("-submitted_at")
            .values("submitted_at")[:1]
        )
        found = (
            Task.objects.filter(state=Task.State.COMPLETE, decided_by="", gold_item__isnull=True)
            .annotate(done=Subquery(last_submit))
            .aggregate(n=Count("id"), oldest=Min("done"))
        )
        waiting, oldest = found["n"], found["oldest"]
    return _backlog(waiting, oldest, now, "HEALTH_CONSENSUS_MAX_AGE_SECONDS")


def control_grading_backlog(now: datetime) -> dict[str, Any]:
    """Submitted answers on control tasks without a gold check, and the age of the oldest (for
    when grading runs after the submit commits), within the grading sweep's window
    (``CONTROL_SWEEP_HOURS``: a range scan of the partial index
    ``assignments_control_submitted``, so the check does not grow with history). Not ready
    when the oldest waited over ``HEALTH_GRADING_MAX_AGE_SECONDS`` (15 minutes by default)."""
    since = now - timedelta(hours=CONTROL_SWEEP_HOURS)
    found = (
        Assignment.objects.filter(
            is_control=True, status=Assignment.Status.SUBMITTED, submitted_at__gte=since
        )
        .exclude(Exists(GoldCheck.objects.filter(assignment_id=OuterRef("pk"))))
        .aggregate(n=Count("id"), oldest=Min("submitted_at"))
    )
    return _backlog(found["n"], found["oldest"], now, "HEALTH_GRADING_MAX_AGE_SECONDS")


def _backlog(waiting: int, oldest: datetime | None, now: datetime, setting: str) -> dict:
    max_age = _setting(setting, 900.0)
    age = _seconds(oldest, now)
    return {
        "ok": age is None or age <= max_age,
        "waiting": waiting,
        "oldest_seconds": age,
        "max_age_seconds": max_age,
    }


def _database_checks(now: datetime) -> dict[str, dict[str, Any]]:
    """The checks that read the database, in one transaction under the statement timeout (one
    round trip each, plus two). A check that fails is reported with its error; the ones after
    it, in an aborted transaction, as skipped."""
    checks: dict[str, dict[str, Any]] = {}
    todo = [
        ("workers", workers_check),
        ("consensus", consensus_backlog),
        ("control_grading", control_grading_backlog),
    ]
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            for name, check in todo:
                try:
                    checks[name] = check(now)
                except DatabaseError as exc:
                    logger.warning("health: %s failed: %s", name, exc)
                    checks[name] = {"ok": False, "error": exc.__class__.__name__}
                    raise
    except DatabaseError:
        pass
    for name, _ in todo:
        checks.setdefault(name, {"ok": False, "error": "skipped"})
    return checks


def readiness(now: datetime | None = None) -> tuple[bool, dict[str, dict[str, Any]]]:
    """(ready, checks): the database, the broker and its queue depth, the workers seen
    recently, the consensus backlog and the control-grading backlog. Ready when every check
    is. Never raises; the broker is probed while the database checks run."""
    now = now or timezone.now()
    probe = broker_probe_start()
    checks: dict[str, dict[str, Any]] = {"database": database_check()}
    if checks["database"]["ok"]:
        checks.update(_database_checks(now))
    else:
        skipped = {"ok": False, "error": "skipped"}
        checks.update(workers=skipped, consensus=skipped, control_grading=skipped)
    checks["broker"] = broker_check(probe)
    return all(c["ok"] for c in checks.values()), checks
