"""Liveness and readiness: /healthz answers for the app and its database only (what a load
balancer reads); /healthz/ready reports the broker, the workers and the backlogs, quickly
whatever is down."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from celery import signals
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from kombu import Connection

from assignments import services
from assignments.models import Assignment, Project, Task
from health import services as health_services
from health import worker
from health.models import WorkerHeartbeat
from tests.factories import make_labeler
from tests.qc.factories import make_gold_item, make_gold_set

# Nothing listens here: connecting is refused at once.
CLOSED_BROKER = "redis://127.0.0.1:1/0"
# kombu's in-memory transport: a broker that answers, shared by the whole test process.
MEMORY_BROKER = "memory://"


@pytest.fixture
def with_broker(settings):
    """Settings as in production: a broker, tasks not run in-process."""

    def use(url: str):
        settings.CELERY_BROKER_URL = url
        settings.CELERY_TASK_ALWAYS_EAGER = False

    return use


@pytest.fixture
def down_database():
    """Every statement fails as it does while PostgreSQL is stopped."""
    error = OperationalError("connection to server failed: Connection refused")
    with mock.patch.object(CursorWrapper, "execute", side_effect=error):
        yield


def _purge_memory_queue() -> None:
    with Connection(MEMORY_BROKER) as conn, contextlib.suppress(*conn.channel_errors):
        conn.default_channel.queue_purge("celery")


def beat(seconds_ago: float = 0.0, hostname: str = "celery@app1") -> None:
    health_services.worker_heartbeat_stamp(
        hostname=hostname,
        pid=123,
        started_at=timezone.now() - timedelta(hours=1),
        now=timezone.now() - timedelta(seconds=seconds_ago),
    )


# -- liveness ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_liveness_is_200_when_only_the_broker_is_down(client, with_broker):
    with_broker(CLOSED_BROKER)
    started = time.perf_counter()
    response = client.get("/healthz")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "checks": {"database": {"ok": True, "vendor": body["checks"]["database"]["vendor"]}},
    }
    assert elapsed < 1.0  # sanity only: liveness does not touch the broker at all


@pytest.mark.django_db
def test_liveness_is_one_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_liveness_is_503_with_retry_after_when_the_database_is_down(client, down_database):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": {"ok": False, "error": "OperationalError"}},
    }


# -- readiness ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readiness_names_a_closed_broker_port_and_answers_quickly(client, with_broker):
    with_broker(CLOSED_BROKER)
    beat()
    client.get("/healthz/ready")  # the first call imports the transport; not what is timed
    started = time.perf_counter()
    response = client.get("/healthz/ready")
    elapsed = time.perf_counter() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"] in ("OperationalError", "timeout")
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["workers"]["ok"] is True
    assert elapsed < 1.0  # a generous sanity bound; the probe's deadline is 80 ms


@pytest.mark.django_db
def test_readiness_is_503_when_no_worker_was_ever_seen(client, with_broker):
    with_broker(MEMORY_BROKER)
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["workers"]
    assert body["checks"]["workers"]["alive"] == 0
    assert body["checks"]["workers"]["last_seen_seconds"] is None
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_readiness_counts_only_recent_heartbeats(client, with_broker, settings):
    with_broker(MEMORY_BROKER)
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 30
    beat(seconds_ago=45, hostname="celery@killed")
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    workers = response.json()["checks"]["workers"]
    assert (workers["alive"], workers["stale"]) == (0, 1)
    assert 44 <= workers["last_seen_seconds"] <= 60

    beat(seconds_ago=2, hostname="celery@alive")
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert (body["checks"]["workers"]["alive"], body["checks"]["workers"]["stale"]) == (1, 1)
    assert body["checks"]["broker"] == {
        "ok": True,
        "mode": "broker",
        "transport": "memory",
        "queue": "celery",
        "depth": 0,
        "max_depth": 10_000,
        "ms": body["checks"]["broker"]["ms"],
    }


@pytest.mark.django_db
def test_readiness_reports_queue_depth_and_a_queue_over_its_limit(client, with_broker, settings):
    with_broker(MEMORY_BROKER)
    settings.HEALTH_QUEUE_MAX_DEPTH = 2
    beat()
    _purge_memory_queue()
    try:
        with Connection(MEMORY_BROKER) as conn:
            queue = conn.SimpleQueue("celery")
            for i in range(3):
                queue.put({"n": i})
            queue.close()
        response = client.get("/healthz/ready")
    finally:
        _purge_memory_queue()
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert (broker["ok"], broker["depth"], broker["max_depth"]) == (False, 3, 2)


@pytest.mark.django_db
def test_eager_mode_needs_no_broker_and_no_worker(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["broker"]["mode"].startswith("eager")
    assert checks["workers"]["mode"].startswith("eager")


@pytest.mark.django_db
def test_readiness_is_503_with_the_database_down(client, down_database):
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert set(body["failing"]) == {"database", "workers", "consensus", "control_grading"}


def _project(**extra) -> Project:
    return Project.objects.create(
        slug=extra.pop("slug", "poles"),
        name="Poles",
        status=Project.Status.ACTIVE,
        answer_type="single_choice",
        classes=["ok", "crack", "rust"],
        overlap=2,
        max_overlap=3,
        **extra,
    )


@pytest.mark.django_db
def test_readiness_reports_the_oldest_complete_task_without_consensus(client, settings):
    """Two submits complete the task; its consensus message (on commit) never runs here, as
    when the broker dropped it."""
    settings.HEALTH_CONSENSUS_MAX_AGE_SECONDS = 600
    project = _project()
    task = Task.objects.create(
        project=project, payload={"image_url": "https://x.test/1.jpg"}, target=2
    )
    done = timezone.now() - timedelta(minutes=20)
    for _ in range(2):
        labeler = make_labeler()
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk, now=done)
        services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok", now=done
        )
    task.refresh_from_db()
    assert (task.state, task.decided_by) == (Task.State.COMPLETE, "")

    response = client.get("/healthz/ready")
    assert response.status_code == 503
    consensus = response.json()["checks"]["consensus"]
    assert consensus["ok"] is False
    assert consensus["waiting"] == 1
    assert 1199 <= consensus["oldest_seconds"] <= 1260

    Task.objects.filter(pk=task.pk).update(
        state=Task.State.RESOLVED, decided_by="consensus", final_answer="ok", decided_at=done
    )
    consensus = client.get("/healthz/ready").json()["checks"]["consensus"]
    assert consensus == {"ok": True, "waiting": 0, "oldest_seconds": None, "max_age_seconds": 600}


@pytest.mark.django_db
def test_readiness_reports_control_answers_without_a_gold_check(client, settings):
    settings.HEALTH_GRADING_MAX_AGE_SECONDS = 600
    gold_set = make_gold_set(classes=["ok", "crack", "rust"])
    item = make_gold_item(gold_set)
    project = _project()
    control = Task.objects.create(
        project=project, payload=item.payload, target=1, gold_item=item, is_open=False
    )
    at = timezone.now() - timedelta(minutes=30)
    Assignment.objects.create(
        task=control,
        project=project,
        labeler=make_labeler(),
        is_control=True,
        status=Assignment.Status.SUBMITTED,
        leased_at=at - timedelta(minutes=1),
        expires_at=at + timedelta(minutes=9),
        submitted_at=at,
        answer="ok",
    )
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    grading = response.json()["checks"]["control_grading"]
    assert (grading["ok"], grading["waiting"]) == (False, 1)
    assert 1799 <= grading["oldest_seconds"] <= 1860


# -- the worker's heartbeat -----------------------------------------------------------------------


class _Consumer:
    """What ``worker_ready`` is sent by: the worker's consumer, which names the node."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname


@pytest.mark.django_db(transaction=True)
def test_a_worker_stamps_its_heartbeat_from_ready_to_shutdown(settings):
    """The thread runs on its own database connection, as in a worker process."""
    settings.HEALTH_WORKER_HEARTBEAT_SECONDS = 0.05
    signals.worker_ready.send(sender=_Consumer("celery@test-node"))
    try:
        deadline = time.monotonic() + 5
        seen = []
        while time.monotonic() < deadline and len(set(seen)) < 2:
            row = WorkerHeartbeat.objects.filter(hostname="celery@test-node").first()
            if row is not None:
                seen.append(row.seen_at)
            time.sleep(0.02)
        assert len(set(seen)) >= 2  # stamped again and again
        assert [t.name for t in threading.enumerate()].count("heartbeat") == 1
    finally:
        signals.worker_shutdown.send(sender=None)
    assert not WorkerHeartbeat.objects.filter(hostname="celery@test-node").exists()
    assert "heartbeat" not in [t.name for t in threading.enumerate()]


@pytest.mark.django_db
def test_a_heartbeat_that_cannot_be_written_is_logged_not_raised(down_database, caplog):
    assert worker.beat_once(hostname="celery@x", pid=1, started_at=timezone.now()) is False
    assert "worker heartbeat not written" in caplog.text


@pytest.mark.django_db
def test_a_database_check_that_times_out_is_reported_and_the_rest_skipped(client, settings):
    from django.db.utils import OperationalError as DbOperationalError

    def timed_out(now):
        raise DbOperationalError("canceling statement due to statement timeout")

    with mock.patch("health.selectors.consensus_backlog", timed_out):
        response = client.get("/healthz/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["workers"]["ok"] is True  # eager mode
    assert checks["consensus"] == {"ok": False, "error": "OperationalError"}
    assert checks["control_grading"] == {"ok": False, "error": "skipped"}


@pytest.mark.django_db
def test_readiness_reads_the_database_in_a_bounded_number_of_queries(
    client, with_broker, django_assert_max_num_queries
):
    with_broker(MEMORY_BROKER)
    beat()
    # SELECT 1, then in one transaction: the statement timeout (PostgreSQL), heartbeats,
    # consensus backlog, grading backlog (and the savepoint's statements under a test).
    with django_assert_max_num_queries(8):
        assert client.get("/healthz/ready").status_code == 200
