"""A control submit does what a real submit does, in the same statements, and a late submit is
refused alike for both (issue 9, points 5 and 6).

The submit stores the answer and publishes one after-commit message,
``assignments.assignment_submitted``, whatever the task; grading a control answer, its control
rate and consensus run in the worker (docs/next-task.md, "Submit")."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assignments import services
from assignments import tasks as work_tasks
from assignments.models import Assignment, Task
from config.errors import Conflict
from qc.models import ControlRate, GoldCheck, GoldItem
from tests.assignments.factories import AlwaysControl, NeverControl, make_project, with_gold
from tests.conftest import requires_postgres
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db


def claim(labeler, project, *, control: bool, now=None):
    got = services.assignment_claim_next(
        labeler=labeler,
        project_id=project.pk,
        rng=AlwaysControl() if control else NeverControl(),
        now=now,
    )
    assert got.assignment.is_control is control
    return got


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _shapes(statements: list[str]) -> list[str]:
    return [_shape(s) for s in statements if not s.startswith(TRANSACTION_CONTROL)]


def _shape(sql: str) -> str:
    """A statement with its literal values blanked: what is left is its shape."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    return re.sub(r"\b(true|false)\b", "?", sql, flags=re.IGNORECASE)


def submit_statements(labeler, assignment_id, answer):
    published = []
    with (
        mock.patch.object(
            work_tasks.assignment_submitted,
            "delay",
            side_effect=lambda *args: published.append(args),
        ),
        CaptureQueriesContext(connection) as ctx,
    ):
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            result = services.assignment_submit(
                labeler=labeler, assignment_id=assignment_id, answer=answer
            )
    # What runs inside the request: the captured statements up to the commit.
    return result, [q["sql"] for q in ctx.captured_queries], len(callbacks), published


@requires_postgres
def test_real_control_and_completing_submits_send_the_same_statements(
    django_assert_num_queries,
):
    """PostgreSQL: the lock and one store statement for a real task, a completing real task
    and a control task alike — same number, same statement shapes; each publishes exactly one
    ``assignment_submitted`` message after commit, and nothing else."""
    project = make_project(tasks=3, overlap=2)
    with_gold(project)
    a, b = make_labeler(), make_labeler()

    real = claim(a, project, control=False)
    with django_assert_num_queries(4):  # savepoint, lock, store, release (the test's atomic)
        _, real_sql, real_callbacks, real_published = submit_statements(a, real.assignment.pk, "ok")

    # b takes the same task's last slot: this submit completes it.
    completing = claim(b, project, control=False)
    assert completing.assignment.task_id == real.assignment.task_id
    with django_assert_num_queries(4):
        result, completing_sql, completing_callbacks, completing_published = submit_statements(
            b, completing.assignment.pk, "ok"
        )
    assert result.task_completed

    control = claim(a, project, control=True)
    with django_assert_num_queries(4):
        _, control_sql, control_callbacks, control_published = submit_statements(
            a, control.assignment.pk, "ok"
        )

    assert len(_shapes(real_sql)) == 2
    assert _shapes(real_sql) == _shapes(control_sql) == _shapes(completing_sql)
    assert real_callbacks == completing_callbacks == control_callbacks == 1
    assert real_published == [(real.assignment.pk,)]
    assert completing_published == [(completing.assignment.pk,)]
    assert control_published == [(control.assignment.pk,)]


def test_a_control_submit_grades_nothing_in_the_request(django_capture_on_commit_callbacks):
    """No gold check, no control-rate write and no rules evaluation before commit: the one
    message does it all after commit."""
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    got = claim(labeler, project, control=True)
    with (
        mock.patch.object(work_tasks.labeler_rules_evaluate, "delay") as rules,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="ok")
        assert not GoldCheck.objects.exists()
        assert not ControlRate.objects.exists()
    assert len(callbacks) == 1
    # After commit (Celery eager in tests): graded once, its rate counted once.
    with mock.patch.object(work_tasks.labeler_rules_evaluate, "delay") as rules:
        callbacks[0]()
    check = GoldCheck.objects.get()
    assert (check.assignment_id, check.correct, check.counted) == (got.assignment.pk, True, True)
    assert ControlRate.objects.get().checks == 1
    # Quality rules are evaluated on their schedule, never after one submission.
    rules.assert_not_called()


def test_the_worker_is_idempotent_per_assignment(django_capture_on_commit_callbacks):
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    got = claim(labeler, project, control=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="crack")
    # The message delivered again, and the sweep passing by: nothing more is counted.
    work_tasks.assignment_submitted.apply(args=(got.assignment.pk,))
    assert services.control_answers_grade_sweep() == 0
    check = GoldCheck.objects.get()
    assert not check.correct
    rate = ControlRate.objects.get()
    assert (rate.checks, rate.correct) == (1, 0)


def test_the_worker_runs_consensus_on_the_submit_that_completes_a_task(
    django_capture_on_commit_callbacks,
):
    project = make_project(tasks=1, overlap=2)
    a, b = make_labeler(), make_labeler()
    for labeler in (a, b):
        got = claim(labeler, project, control=False)
        with django_capture_on_commit_callbacks(execute=True):
            services.assignment_submit(
                labeler=labeler, assignment_id=got.assignment.pk, answer="rust"
            )
    task = Task.objects.get()
    assert (task.state, task.final_answer, task.decided_by) == ("resolved", "rust", "consensus")


def test_the_sweep_grades_control_answers_whose_message_was_lost(
    django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    project = make_project()
    with_gold(project)
    labelers = [make_labeler() for _ in range(3)]
    submitted = []
    for labeler in labelers:
        got = claim(labeler, project, control=True)
        # The broker was down: the after-commit message never went out.
        with django_capture_on_commit_callbacks(execute=False):
            services.assignment_submit(
                labeler=labeler, assignment_id=got.assignment.pk, answer="ok"
            )
        submitted.append(got.assignment.pk)
    # One of them was submitted before the sweep's window: left to the window's owner (ops).
    Assignment.objects.filter(pk=submitted[0]).update(
        submitted_at=timezone.now() - timedelta(days=3)
    )
    assert not GoldCheck.objects.exists()
    # One query finds them; each is then graded in its own short transaction: the lock, the
    # check for an earlier grading, the gold check, the control rate (and, in a test, the
    # savepoint pair of the atomic block).
    with django_assert_max_num_queries(1 + 2 * (4 + 2)):
        assert services.control_answers_grade_sweep(hours=24) == 2
    assert set(GoldCheck.objects.values_list("assignment_id", flat=True)) == set(submitted[1:])
    assert ControlRate.objects.count() == 2
    assert services.control_answers_grade_sweep(hours=24) == 0
    assert services.control_answers_grade_sweep(hours=24 * 7) == 1


def test_a_quarantined_items_answer_is_graded_but_not_counted_in_the_rate(
    django_capture_on_commit_callbacks,
):
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    got = claim(labeler, project, control=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.assignment_submit(labeler=labeler, assignment_id=got.assignment.pk, answer="ok")
    item_id = Task.objects.get(pk=got.assignment.task_id).gold_item_id
    GoldItem.objects.filter(pk=item_id).update(status=GoldItem.Status.QUARANTINED)
    callbacks[0]()
    assert not GoldCheck.objects.get().counted
    assert not ControlRate.objects.exists()


# -- point 6: late submissions, one rule ----------------------------------------------------


@pytest.mark.parametrize("control", [False, True], ids=["real", "control"])
def test_a_late_submit_is_refused_alike_and_writes_nothing(
    control, django_capture_on_commit_callbacks
):
    project = make_project(tasks=3, overlap=2, lease_seconds=60)
    with_gold(project)
    labeler = make_labeler()
    now = timezone.now()
    got = claim(labeler, project, control=control, now=now)
    # The slot is still free (nobody else claimed): a late submit is refused all the same.
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Conflict) as refused,
    ):
        services.assignment_submit(
            labeler=labeler,
            assignment_id=got.assignment.pk,
            answer="ok",
            now=now + timedelta(seconds=61),
        )
    assert refused.value.code == "lease_expired"
    assert "expired" in refused.value.detail
    assert not callbacks
    stored = Assignment.objects.get(pk=got.assignment.pk)
    assert (stored.status, stored.answer, stored.submitted_at) == ("leased", None, None)
    assert Task.objects.get(pk=got.assignment.task_id).submitted == 0
    assert not GoldCheck.objects.exists()


@pytest.mark.parametrize("control", [False, True], ids=["real", "control"])
def test_a_late_submit_over_http_is_a_409_lease_expired(control):
    project = make_project(tasks=3, overlap=2, lease_seconds=60)
    with_gold(project)
    labeler = make_labeler()
    got = claim(labeler, project, control=control, now=timezone.now() - timedelta(seconds=120))
    response = token_client(labeler).post(
        f"/api/v1/assignments/{got.assignment.pk}/submit/", {"answer": "ok"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "lease_expired"
    assert body["detail"] and body["fields"] == {}


def test_a_tidied_expired_lease_is_refused_the_same_way():
    project = make_project(tasks=1, overlap=1, lease_seconds=60)
    labeler = make_labeler()
    now = timezone.now()
    got = claim(labeler, project, control=False, now=now)
    later = now + timedelta(seconds=61)
    assert services.leases_expire(now=later) == 1
    with pytest.raises(Conflict) as refused:
        services.assignment_submit(
            labeler=labeler, assignment_id=got.assignment.pk, answer="ok", now=later
        )
    assert refused.value.code == "lease_expired"


# -- draft projects: what a labeler cannot read does not exist for next-task either -----------


@pytest.mark.parametrize("status", ["draft", "done"])
def test_next_task_on_a_project_the_labeler_cannot_read_is_a_404(status):
    project = make_project(status=status)
    labeler = make_labeler()
    client = token_client(labeler)
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert str(status) not in response.json()["detail"]


def test_next_task_on_a_paused_project_stays_a_409_the_labeler_can_read_it():
    project = make_project(status="paused")
    labeler = make_labeler()
    client = token_client(labeler)
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    response = client.post(f"/api/v1/projects/{project.pk}/next-task/")
    assert (response.status_code, response.json()["code"]) == (409, "project_not_active")
