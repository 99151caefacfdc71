"""Progress of projects and batches: open, leased, done and in-review counts derived by aggregate
queries at read time (no counters), control tasks left out, one query for a whole list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assignments import selectors, services
from assignments.models import Assignment, Batch, Project, Task
from tests.assignments.factories import do_import, jsonl, make_project, task_row, with_controls
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def claim(labeler, project, **kwargs):
    return services.assignment_claim_next(labeler=labeler, project_id=project.pk, **kwargs)


def test_counts_follow_the_work(ops_user):
    project = make_project(tasks=6, overlap=2)
    with_controls(project, n=3)  # control tasks and their leases are never counted
    project.control_ratio = 0
    project.save(update_fields=["control_ratio"])
    a, b, c = make_labeler(), make_labeler(), make_labeler()

    # One task completed by a and b.
    first = claim(a, project).assignment
    services.assignment_submit(labeler=a, assignment_id=first.pk, answer="ok")
    second = claim(b, project).assignment
    assert second.task_id == first.task_id
    services.assignment_submit(labeler=b, assignment_id=second.pk, answer="ok")
    # c holds a live lease; a lease of b's that ran out is not counted.
    claim(c, project)
    stale = claim(b, project, now=timezone.now() - timedelta(hours=1))
    assert stale.assignment.expires_at < timezone.now()
    # A task in review; a control lease (made directly: no real slot).
    Task.objects.filter(project=project, gold_item__isnull=True, submitted=0).filter(
        pk__in=Task.objects.filter(project=project, gold_item__isnull=True)
        .exclude(assignments__isnull=False)
        .values("pk")[:1]
    ).update(state=Task.State.REVIEW, is_open=False)
    control = Task.objects.filter(project=project, gold_item__isnull=False).first()
    now = timezone.now()
    Assignment.objects.create(
        task=control,
        project=project,
        labeler=a,
        is_control=True,
        leased_at=now,
        expires_at=now + timedelta(minutes=5),
    )

    progress = selectors.project_progress(actor=ops_user, pk=project.pk)
    assert progress == selectors.Progress(total=6, open=4, leased=1, done=1, review=1)


def test_batches_count_their_own_tasks():
    project = make_project(tasks=0)
    do_import(project, jsonl(task_row(i) for i in range(3)))
    do_import(project, jsonl(task_row(i) for i in range(3, 8)))
    old, new = Batch.objects.order_by("id")
    labeler = make_labeler()
    Task.objects.filter(batch=new).update(priority=100)
    claim(labeler, project)
    rows = {
        b.pk: selectors.Progress.of(b) for b in selectors.batch_list_with_progress(project=project)
    }
    assert rows[old.pk] == selectors.Progress(total=3, open=3, leased=0, done=0, review=0)
    assert rows[new.pk] == selectors.Progress(total=5, open=5, leased=1, done=0, review=0)


def test_a_list_of_projects_is_one_query(django_assert_num_queries):
    for i in range(5):
        make_project(tasks=3, slug=f"p{i}")
    with django_assert_num_queries(1):
        projects = list(selectors.project_progress_annotate(Project.objects.all()))
    assert [p.progress_total for p in projects] == [3] * 5
    with django_assert_num_queries(1):
        batches = list(selectors.batch_progress_annotate(Batch.objects.all()))
    assert batches == []


def test_progress_is_ops_only_and_scoped(ops_user, vendor_labeler):
    draft = make_project(tasks=2, status=Project.Status.DRAFT)
    assert selectors.project_progress(actor=ops_user, pk=draft.pk).total == 2
    from config.errors import NotFound

    with pytest.raises(NotFound):
        selectors.project_progress(actor=vendor_labeler.user, pk=draft.pk)
