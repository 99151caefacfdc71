"""The heartbeat of a Celery worker: a daemon thread of the worker's main process stamps the
worker's ``WorkerHeartbeat`` row every ``HEALTH_WORKER_HEARTBEAT_SECONDS`` (10 by default), from
``worker_ready`` until ``worker_shutdown``.

Why a thread and not a periodic task: a task would measure the queue (a long backlog would make
a live worker look dead) and would need beat; asking the workers over the broker (``celery
inspect ping``) takes a broker round trip and a reply timeout on every readiness probe. The
thread only proves that the worker's process is alive and can reach the database; queue depth
and the consensus backlog, which readiness also reports, say whether it keeps up.
"""

from __future__ import annotations

import logging
import os
import threading

from celery import signals
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from health import services

logger = logging.getLogger(__name__)

_state: dict[str, object] = {}


def heartbeat_seconds() -> float:
    return float(getattr(settings, "HEALTH_WORKER_HEARTBEAT_SECONDS", 10.0))


def beat_once(*, hostname: str, pid: int, started_at) -> bool:
    """One stamp; False (logged) when the database did not take it. A broken connection is
    closed so that the next beat opens a fresh one (the database may have restarted)."""
    try:
        services.worker_heartbeat_stamp(hostname=hostname, pid=pid, started_at=started_at)
        return True
    except DatabaseError as exc:
        logger.warning("worker heartbeat not written: %s", exc)
        connection.close()
        return False


def _loop(hostname: str, stop: threading.Event, interval: float) -> None:
    pid, started_at = os.getpid(), timezone.now()
    try:
        while True:
            beat_once(hostname=hostname, pid=pid, started_at=started_at)
            if stop.wait(interval):
                return
    finally:
        connection.close()


def start(hostname: str) -> threading.Thread:
    """Start the heartbeat thread (once per process)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=_loop, args=(hostname, stop, heartbeat_seconds()), name="heartbeat", daemon=True
    )
    _state.update(hostname=hostname, stop=stop, thread=thread)
    thread.start()
    return thread


def stop() -> None:
    """Stop the thread and remove the worker's row (a clean shutdown)."""
    event, thread, hostname = _state.get("stop"), _state.get("thread"), _state.get("hostname")
    if event is None:
        return
    event.set()
    thread.join(timeout=5)
    try:
        services.worker_heartbeat_clear(hostname=hostname)
    except DatabaseError as exc:
        logger.warning("worker heartbeat not cleared: %s", exc)
    finally:
        connection.close()
    _state.clear()


def _on_ready(sender=None, **kwargs) -> None:
    if "thread" not in _state:
        start(getattr(sender, "hostname", None) or f"celery@{os.uname().nodename}")


def _on_shutdown(sender=None, **kwargs) -> None:
    stop()


def connect_signals() -> None:
    signals.worker_ready.connect(_on_ready, weak=False, dispatch_uid="health.heartbeat.start")
    signals.worker_shutdown.connect(_on_shutdown, weak=False, dispatch_uid="health.heartbeat.stop")
