"""The worker follows submissions up in batches (``assignments.assignment_submitted`` is a
batched task; ``services.submissions_follow_up``): a batch does what the same messages one by
one would — controls graded, completed tasks decided, each real label counted once, a refit
sent when the count passes a multiple of ``refit_every`` — and a batch that meets a transient
database error sends each id again as a task that retries."""

from __future__ import annotations

from unittest import mock

import pytest
from celery_batches import SimpleRequest
from django.db import OperationalError

from assignments import services
from assignments import tasks as work_tasks
from assignments.models import Assignment, ProjectRefit, Task
from assignments.services import consensus as consensus_services
from qc.models import GoldCheck
from tests.assignments.factories import AlwaysControl, NeverControl, make_project, with_gold
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def submitted_unfollowed(project, labelers, *, control_for=()):
    """Each labeler claims and submits once, the follow-up messages held back (the broker's
    queue): their assignment ids, in order."""
    ids = []
    for labeler in labelers:
        rng = AlwaysControl() if labeler in control_for else NeverControl()
        with mock.patch.object(work_tasks.assignment_submitted, "delay"):
            claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk, rng=rng)
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
            )
        ids.append(claim.assignment.pk)
    return ids


def batch(ids):
    """The batched task run as the worker runs it: one call with every request."""
    requests = [
        SimpleRequest(
            id=f"r{pk}",
            name="assignments.assignment_submitted",
            args=(pk,),
            kwargs={},
            delivery_info={},
            hostname="test",
            ignore_result=True,
            reply_to=None,
            correlation_id=None,
            request_dict={},
        )
        for pk in ids
    ]
    work_tasks.assignment_submitted.run(requests)


def test_a_batch_decides_grades_and_counts_as_one_by_one_would():
    project = make_project(tasks=3, overlap=2, refit_every=0)
    with_gold(project)
    labelers = [make_labeler() for _ in range(7)]
    ids = submitted_unfollowed(project, labelers, control_for=labelers[6:])
    real = Assignment.objects.filter(pk__in=ids, is_control=False).count()
    assert real == 6
    assert not Task.objects.filter(project=project, state="resolved").exists()

    batch(ids)

    # Six real labels on three tasks of overlap 2, all "rust": each task decided.
    assert Task.objects.filter(project=project, state="resolved", final_answer="rust").count() == 3
    assert GoldCheck.objects.filter(assignment_id__in=ids).count() == 1
    assert ProjectRefit.objects.get(pk=project.pk).labels_since == real
    # The message again (a redelivery): decided and graded once; only the count moves.
    batch(ids[:1])
    assert GoldCheck.objects.count() == 1
    assert ProjectRefit.objects.get(pk=project.pk).labels_since == real + 1


def test_a_batch_that_passes_a_multiple_of_refit_every_sends_one_refit():
    project = make_project(tasks=4, overlap=2, refit_every=3)
    ids = submitted_unfollowed(project, [make_labeler() for _ in range(4)])
    with mock.patch.object(work_tasks.project_refit, "delay") as sent:
        batch(ids)  # 0 → 4 passes 3
    assert sent.call_args_list == [mock.call(project.pk)]
    more = submitted_unfollowed(project, [make_labeler() for _ in range(1)])
    with mock.patch.object(work_tasks.project_refit, "delay") as sent:
        batch(more)  # 4 → 5 passes nothing
    assert not sent.called
    assert ProjectRefit.objects.get(pk=project.pk).labels_since == 5


def test_a_batch_that_meets_a_database_outage_is_followed_up_again_one_by_one():
    project = make_project(tasks=1, overlap=2, refit_every=0)
    ids = submitted_unfollowed(project, [make_labeler(), make_labeler()])
    real = consensus_services.tasks_consensus_run
    calls = []

    def once_down(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with mock.patch.object(consensus_services, "tasks_consensus_run", once_down):
        batch(ids)  # eager: the single-id tasks it sends run at once
    task = Task.objects.get(project=project)
    assert (task.state, task.final_answer) == ("resolved", "rust")
    assert len(calls) == 2
    # Each real label counted once: the failed batch counted nothing.
    assert ProjectRefit.objects.get(pk=project.pk).labels_since == 2


def test_the_submit_sends_the_batched_task_one_message_per_submission():
    project = make_project(tasks=1, overlap=2)
    labeler = make_labeler()
    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    with mock.patch.object(work_tasks.assignment_submitted, "delay") as delay:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
            )
    assert delay.call_args_list == [mock.call(claim.assignment.pk)]


def test_one_consensus_run_decides_each_task_of_a_batch_as_alone():
    """``tasks_consensus_run`` on a batch: an agreeing task decided (its decision and outcomes
    stamped with its own moment), a split one given a slot, a decided one left alone, an
    unknown id nothing — the same as one run per task."""
    from datetime import timedelta

    from django.utils import timezone

    from assignments.models import TaskDecision
    from qc.models import LabelOutcome
    from tests.assignments.factories import submissions

    project = make_project(tasks=0, overlap=2, max_overlap=3, consensus_method="majority")
    a, b = make_labeler(), make_labeler()
    agreed, split, other = submissions(
        project, [[(a, "rust"), (b, "rust")], [(a, "ok"), (b, "crack")], [(a, "ok"), (b, "ok")]]
    )
    consensus_services.task_consensus_run(task_id=other.pk)
    when = timezone.now() - timedelta(minutes=3)
    actions = consensus_services.tasks_consensus_run(
        runs={split.pk: None, agreed.pk: when, other.pk: None, 987654: None}
    )
    assert actions == {
        agreed.pk: "decided",
        split.pk: "slot_added",
        other.pk: "none",
        987654: "none",
    }
    agreed.refresh_from_db()
    split.refresh_from_db()
    assert (agreed.state, agreed.final_answer, agreed.decided_at) == ("resolved", "rust", when)
    assert (split.state, split.target, split.is_open) == ("open", 3, True)
    assert TaskDecision.objects.filter(task=agreed).get().decided_at == when
    outcomes = LabelOutcome.objects.filter(task_id=agreed.pk)
    assert sorted(o.agrees_final for o in outcomes) == [True, True]
    assert {o.decided_at for o in outcomes} == {when}
    assert TaskDecision.objects.count() == 2  # agreed's and other's, once each


def test_a_submission_that_meets_a_bug_fails_alone_and_is_recorded_with_its_id(settings):
    """A bug one submission meets does not hold up its batch: each id is followed up again on
    its own, the others get their consensus, and the failing one is a failed task with its own
    id (retried from the admin)."""
    from health.models import FailedTask

    settings.CELERY_TASK_EAGER_PROPAGATES = False  # errors end in the result, as in a worker
    project = make_project(tasks=2, overlap=2, refit_every=0)
    ids = submitted_unfollowed(project, [make_labeler() for _ in range(4)])
    bad = ids[0]

    def follow_up(ids_in_batch):
        if bad in ids_in_batch:
            raise ValueError("a bug")
        return real_many(ids_in_batch)

    from assignments.services import submit as submit_services

    real_many = submit_services._follow_up
    with mock.patch.object(submit_services, "_follow_up", follow_up):
        batch(ids)
    failed = FailedTask.objects.get()
    assert (failed.task_name, failed.args) == ("assignments.assignment_follow_up", [bad])
    # The task the bad id shares with another is decided through that other's follow-up.
    assert Task.objects.filter(project=project, state="resolved").count() == 2
    assert ProjectRefit.objects.get(pk=project.pk).labels_since == 3
