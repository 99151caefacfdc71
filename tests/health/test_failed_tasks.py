"""Failed work (issue 14): a Celery task that fails after its retries is recorded once — name,
id, arguments, exception, traceback, worker, time — and the admin's Retry action sends the same
task with the same arguments again (health.failures, health.services, health.admin).

Celery runs eagerly in the tests: ``task.apply`` runs each retry at once, as a worker would
after its countdown, and sends ``task_failure`` as a worker does."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from assignments import tasks as work_tasks
from assignments.services import consensus as consensus_services
from config.celery import MAX_RETRIES
from config.errors import Conflict
from health import failures, services
from health.models import FailedTask
from tests.factories import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_a_worker(settings):
    """Errors end in the task's result, as in a worker, instead of propagating to the caller."""
    settings.CELERY_TASK_EAGER_PROPAGATES = False


def test_a_task_that_fails_after_its_retries_is_recorded_once(as_a_worker):
    down = mock.Mock(side_effect=OperationalError("could not connect to server"))
    with mock.patch.object(consensus_services, "task_consensus_run", down):
        result = work_tasks.task_consensus.apply(args=(12345,), task_id="t-1")
    assert result.failed()
    assert down.call_count == MAX_RETRIES + 1  # retried, each retry not a failure
    row = FailedTask.objects.get()
    assert (row.task_name, row.task_id) == ("assignments.task_consensus", "t-1")
    assert (row.args, row.kwargs) == ([12345], {})
    assert row.exception == "OperationalError: could not connect to server"
    assert "OperationalError" in row.traceback and "task_consensus" in row.traceback
    assert row.hostname and row.failed_at is not None and row.retried_at is None


def test_a_bug_is_recorded_with_its_keyword_arguments(as_a_worker):
    broken = mock.Mock(side_effect=ValueError("a bug"))
    with mock.patch.object(consensus_services, "task_consensus_run", broken):
        work_tasks.task_consensus.apply(kwargs={"task_id": 7})
    row = FailedTask.objects.get()
    assert (row.args, row.kwargs, row.exception) == ([], {"task_id": 7}, "ValueError: a bug")


def test_a_success_and_a_retry_that_succeeds_record_nothing(as_a_worker):
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("dropped")
        return 0

    with mock.patch.object(consensus_services, "consensus_sweep", flaky):
        assert work_tasks.consensus_sweep.apply().successful()
    assert len(calls) == 2
    assert not FailedTask.objects.exists()


def test_the_same_failure_reported_twice_is_one_row():
    for _ in range(2):
        failures.failed_task_record(
            task_name="assignments.task_consensus",
            task_id="same",
            args=[1],
            kwargs={},
            exception=ValueError("x"),
        )
    assert FailedTask.objects.count() == 1


def test_arguments_are_stored_json_safe_and_capped():
    assert failures.json_safe_arguments((1, "a"), {"k": [1, 2]}) == ([1, "a"], {"k": [1, 2]})
    args, kwargs = failures.json_safe_arguments((object(),), {"when": {1, 2}})
    assert kwargs[failures.UNSTORED] == "not JSON"
    assert args[0].startswith("[<object object at")
    args, kwargs = failures.json_safe_arguments(("x" * 50_000,), {})
    assert kwargs[failures.UNSTORED].startswith("longer than")
    assert len(args[0]) <= failures.ARGS_LIMIT // 2
    row = failures.failed_task_record(
        task_name="t",
        task_id="big",
        args=("x" * 50_000,),
        kwargs={},
        exception=RuntimeError("y" * 50_000),
        traceback="z" * 50_000,
    )
    assert len(row.exception) <= failures.TEXT_LIMIT and len(row.traceback) <= failures.TEXT_LIMIT


def test_a_failure_to_record_never_masks_the_task(as_a_worker):
    broken = mock.Mock(side_effect=ValueError("a bug"))
    with (
        mock.patch.object(consensus_services, "task_consensus_run", broken),
        mock.patch.object(failures, "failed_task_record", side_effect=OperationalError("db down")),
    ):
        result = work_tasks.task_consensus.apply(args=(1,))
    assert result.failed() and isinstance(result.result, ValueError)


def _failed(**extra) -> FailedTask:
    return failures.failed_task_record(
        task_name="assignments.task_consensus",
        task_id=extra.pop("task_id", "first"),
        args=extra.pop("args", [99]),
        kwargs=extra.pop("kwargs", {}),
        exception=ValueError("a bug"),
    )


def test_retry_sends_the_same_task_with_the_same_arguments(
    ops_user, django_capture_on_commit_callbacks, as_a_worker
):
    row = _failed()
    ran = mock.Mock(return_value="decided")
    with (
        mock.patch.object(consensus_services, "task_consensus_run", ran),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        services.failed_task_retry(failed_task_id=row.pk, actor=ops_user)
    assert len(callbacks) == 1
    ran.assert_called_once_with(task_id=99)
    row.refresh_from_db()
    assert row.retried_at is not None and row.retried_by == ops_user
    assert row.retried_task_id and row.retried_task_id != row.task_id
    assert FailedTask.objects.count() == 1  # it succeeded this time


def test_a_retried_failure_that_fails_again_is_a_new_row(
    ops_user, django_capture_on_commit_callbacks, as_a_worker
):
    row = _failed()
    broken = mock.Mock(side_effect=ValueError("still a bug"))
    with (
        mock.patch.object(consensus_services, "task_consensus_run", broken),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.failed_task_retry(failed_task_id=row.pk, actor=ops_user)
    row.refresh_from_db()
    again = FailedTask.objects.exclude(pk=row.pk).get()
    assert again.task_id == row.retried_task_id
    assert (again.args, again.exception) == ([99], "ValueError: still a bug")
    with pytest.raises(Conflict) as raised:
        services.failed_task_retry(failed_task_id=row.pk, actor=ops_user)
    assert raised.value.code == "already_retried"


def test_arguments_not_stored_faithfully_are_not_retried(
    ops_user, django_capture_on_commit_callbacks
):
    row = _failed(args=[object()])
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Conflict) as raised,
    ):
        services.failed_task_retry(failed_task_id=row.pk, actor=ops_user)
    assert raised.value.code == "not_retryable" and not callbacks
    row.refresh_from_db()
    assert row.retried_at is None


def test_the_admin_lists_shows_and_retries(client, ops_user, django_capture_on_commit_callbacks):
    row = failures.failed_task_record(
        task_name="assignments.task_consensus",
        task_id="adm",
        args=[5],
        kwargs={},
        exception=ValueError("first line\nsecond line"),
        traceback="Traceback (most recent call last):\n  boom",
    )
    client.force_login(ops_user)
    listing = client.get(admin_url(FailedTask, "changelist"), {"retried": "no"})
    assert listing.status_code == 200
    assert "ValueError: first line" in listing.text and "second line" not in listing.text
    detail = client.get(admin_url(FailedTask, "change", row.pk))
    assert detail.status_code == 200 and "Traceback (most recent call last)" in detail.text
    ran = mock.Mock(return_value="decided")
    with (
        mock.patch.object(consensus_services, "task_consensus_run", ran),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            admin_url(FailedTask, "changelist"),
            {"action": "retry", "_selected_action": [row.pk]},
            follow=True,
        )
    assert response.status_code == 200 and "Sent 1 task(s) again" in response.text
    ran.assert_called_once_with(task_id=5)
    row.refresh_from_db()
    assert row.retried_by == ops_user
    assert (
        client.get(admin_url(FailedTask, "changelist"), {"retried": "no"}).text.count("first line")
        == 0
    )
