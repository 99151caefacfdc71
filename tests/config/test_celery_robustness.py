"""Background work survives faults (issue 9, "Work that must not be lost"): tasks retry on
transient database errors with a bounded backoff; every periodic task the code declares is in
the beat schedule; publishing gives up fast when the broker is down; a message held by a dead
worker comes back well within the hour.

Celery runs eagerly in tests: ``task.apply`` runs a retry at once, as the worker would after
its countdown."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError

from assignments import services
from assignments import tasks as work_tasks
from assignments.models import Task
from assignments.services import consensus as consensus_services
from config.celery import (
    MAX_RETRIES,
    RETRY_BACKOFF_MAX_SECONDS,
    LabelforceTask,
    app,
    periodic_task_names,
)
from tests.assignments.factories import make_project
from tests.factories import make_labeler, token_client

OUR_APPS = ("assignments.", "qc.", "workforce.", "payments.", "health.", "notifications.")


def our_tasks() -> dict[str, object]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


@pytest.fixture
def as_a_worker(settings):
    """Errors end in the task's result, as in a worker, instead of propagating to the caller
    (the test settings propagate them): a retry is then applied at once, as ``apply`` does.
    Celery reads its configuration from the Django settings at each access."""
    settings.CELERY_TASK_EAGER_PROPAGATES = False


def failing_once(real, exc):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    wrapper.calls = calls
    return wrapper


@pytest.mark.django_db
def test_consensus_that_met_a_database_outage_runs_again(
    django_capture_on_commit_callbacks, as_a_worker
):
    """The submit that completes a task commits; its message's consensus meets a dropped
    connection (a real OperationalError raised once): the task is retried and the task is
    decided — not acknowledged and lost."""
    project = make_project(tasks=1, overlap=2)
    a, b = make_labeler(), make_labeler()
    for labeler in (a, b):
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
            )
    assert Task.objects.get().state == "complete"
    outage = failing_once(
        consensus_services.tasks_consensus_run,
        OperationalError("server closed the connection unexpectedly"),
    )
    with mock.patch.object(consensus_services, "tasks_consensus_run", outage):
        result = work_tasks.assignment_submitted.apply(args=(claim.assignment.pk,))
    assert result.successful(), result.traceback
    assert len(outage.calls) == 2
    task = Task.objects.get()
    assert (task.state, task.final_answer) == ("resolved", "rust")
    assert len(callbacks) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_sweep_retries_on_transient_errors(error, as_a_worker):
    outage = failing_once(consensus_services.consensus_sweep, error("connection already closed"))
    with mock.patch.object(consensus_services, "consensus_sweep", outage):
        result = work_tasks.consensus_sweep.apply()
    assert result.successful(), result.traceback
    assert len(outage.calls) == 2


@pytest.mark.django_db
def test_retries_are_bounded(as_a_worker):
    """A database that stays down: the task gives up after MAX_RETRIES retries (the sweep is
    there for what outlasts them) and the error is reported, not swallowed."""
    down = mock.Mock(side_effect=OperationalError("could not connect to server"))
    with mock.patch.object(consensus_services, "consensus_sweep", down):
        result = work_tasks.consensus_sweep.apply()
    assert result.failed()
    assert isinstance(result.result, OperationalError)
    assert down.call_count == MAX_RETRIES + 1


@pytest.mark.django_db
def test_a_bug_is_not_retried(as_a_worker):
    broken = mock.Mock(side_effect=ValueError("a bug"))
    with mock.patch.object(consensus_services, "consensus_sweep", broken):
        result = work_tasks.consensus_sweep.apply()
    assert result.failed()
    assert broken.call_count == 1


def test_every_task_of_the_project_retries_transient_database_errors():
    tasks = our_tasks()
    assert "assignments.assignment_submitted" in tasks
    for name, task in tasks.items():
        assert isinstance(task, LabelforceTask), name
        assert {OperationalError, InterfaceError} <= set(task.autoretry_for), name
        assert task.retry_backoff and task.retry_jitter, name
        assert 0 < task.max_retries <= MAX_RETRIES, name
    # A retry waiting for its countdown must never outlive the broker's visibility timeout
    # (Redis would hand the message to another worker as if its worker had died).
    assert RETRY_BACKOFF_MAX_SECONDS < settings.CELERY_VISIBILITY_TIMEOUT


# -- the beat schedule ---------------------------------------------------------------------


LOOKS_PERIODIC = re.compile(r"periodic|celery beat|beat_schedule|\bschedul(e|ed) (it|by)", re.I)


def scheduled_task_names() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_every_periodic_task_has_a_schedule():
    periodic = periodic_task_names()
    # The safety nets the code relies on, by name (a rename must keep them periodic).
    assert {
        "assignments.consensus_sweep",
        "assignments.control_answers_sweep",
        "assignments.leases_expire",
        "assignments.gold_reviews_open",
        "assignments.audit_sample_weekly",
        "assignments.quality_refit",
        "qc.quiz_attempts_end_overdue",
    } <= periodic
    missing = periodic - scheduled_task_names()
    assert not missing, f"periodic tasks with no entry in CELERY_BEAT_SCHEDULE: {missing}"


def test_a_task_that_looks_periodic_is_declared_periodic():
    """The rule that keeps the registry honest: a task named ``*_sweep``, or whose docstring
    speaks of a schedule, is marked ``periodic=True`` (and so must be scheduled)."""
    for name, task in our_tasks().items():
        looks = name.endswith("_sweep") or bool(LOOKS_PERIODIC.search(task.__doc__ or ""))
        if looks:
            assert task.periodic, f"{name} reads as periodic but is not marked periodic=True"


def test_every_schedule_entry_names_a_registered_periodic_task():
    tasks = our_tasks()
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in tasks, f"{key}: no task {entry['task']}"
        assert tasks[entry["task"]].periodic, f"{key}: {entry['task']} is not marked periodic"


# -- the broker --------------------------------------------------------------------------------


def test_publishing_gives_up_fast_when_the_broker_is_down():
    """The worst case of one publish with the broker refusing or not answering: a connect or a
    read timeout per attempt, the retries and their pauses — 0.25 s by default, where Celery's
    default policy spends 0.6 s on retries alone (and, without a socket timeout, waits forever
    on a broker that accepts but does not answer). Measured: docs/architecture.md."""
    policy = settings.CELERY_TASK_PUBLISH_RETRY_POLICY
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    attempts = 1 + policy["max_retries"]
    pauses = sum(
        min(policy["interval_start"] + i * policy["interval_step"], policy["interval_max"])
        for i in range(policy["max_retries"])
    )
    per_attempt = max(options["socket_connect_timeout"], options["socket_timeout"])
    assert attempts * per_attempt + pauses <= settings.CELERY_PUBLISH_TIMEOUT <= 0.25
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= settings.CELERY_PUBLISH_TIMEOUT


def test_a_dead_workers_message_comes_back_after_the_longest_task_not_an_hour():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_TIME_LIMIT < visibility < 3600
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST


@pytest.mark.django_db(transaction=True)
def test_a_submit_with_the_broker_down_is_stored_and_answered(caplog):
    """The after-commit publish fails (the broker refuses connections): the submit has
    committed, answers 200, and the failure is logged for the sweeps to make up — a real
    commit, so Django's own robust on-commit handling runs."""
    from kombu.exceptions import OperationalError as BrokerDown

    from assignments.models import Assignment

    project = make_project(tasks=1, overlap=2, slug="broker-down")
    labeler = make_labeler()
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    refused = BrokerDown("Error 111 connecting to redis:6379. Connection refused.")
    with mock.patch.object(work_tasks.assignment_submitted, "delay", side_effect=refused) as sent:
        response = token_client(labeler).post(
            f"/api/v1/assignments/{claim.assignment.pk}/submit/", {"answer": "ok"}, format="json"
        )
    assert response.status_code == 200, response.content
    sent.assert_called_once_with(claim.assignment.pk)
    assert Assignment.objects.get().status == "submitted"
    assert "Connection refused" in caplog.text


def test_a_worker_reads_the_broker_with_its_own_socket_timeout(settings):
    """The web processes keep the short publish bound; a worker, once started, its own longer
    timeout (a consumer that timed out on a slow read would drop the messages it held until
    the visibility timeout)."""
    from types import SimpleNamespace

    from celery import signals

    from config.celery import _worker_socket_timeout

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] < 1
    conf = SimpleNamespace(broker_transport_options={"socket_timeout": 0.125, "other": 5})
    signals.celeryd_init.send(sender="worker@test", instance=None, conf=conf, options={})
    assert conf.broker_transport_options == {
        "socket_timeout": settings.CELERY_WORKER_SOCKET_TIMEOUT,
        "other": 5,
    }
    assert settings.CELERY_WORKER_SOCKET_TIMEOUT >= 5
    assert callable(_worker_socket_timeout)
