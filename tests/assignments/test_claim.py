"""The next-task engine: claims, leases, submissions and releases, through the services.

The thread races run only on PostgreSQL: SQLite serializes writers, so a race there proves
nothing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from assignments import services
from assignments.models import Assignment, Task
from config.errors import Conflict, Forbidden
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race
from workforce import services as workforce_services
from workforce.models import QualificationType


def live_or_submitted(task_id, now):
    return Assignment.objects.filter(
        Q(status="submitted") | Q(status="leased", expires_at__gt=now), task_id=task_id
    ).count()


@pytest.mark.django_db
class TestClaim:
    def test_highest_priority_first_then_the_same_lease_back(self):
        project = make_project()
        labeler = make_labeler()
        first = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assert first.created
        top = Task.objects.filter(project=project).order_by("-priority", "id").first()
        assert first.assignment.task_id == top.pk
        again = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assert not again.created
        assert again.assignment.pk == first.assignment.pk
        assert Assignment.objects.filter(labeler=labeler).count() == 1

    def test_overlap_two_labelers_share_a_task_third_does_not(self):
        project = make_project(tasks=1, overlap=2)
        a, b, c = (make_labeler() for _ in range(3))
        task = Task.objects.get(project=project)
        for labeler in (a, b):
            claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
            assert claim.assignment.task_id == task.pk
        assert services.assignment_claim_next(labeler=c, project_id=project.pk) is None

    def test_submit_then_next_never_the_same_task_twice(self):
        project = make_project(tasks=3, overlap=2)
        labeler = make_labeler()
        seen = []
        while claim := services.assignment_claim_next(labeler=labeler, project_id=project.pk):
            seen.append(claim.assignment.task_id)
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
            )
        assert sorted(seen) == sorted(Task.objects.values_list("pk", flat=True))

    def test_a_task_is_decided_as_of_its_last_labels_submission_not_when_the_worker_runs(self):
        from qc.models import LabelOutcome

        project = make_project(tasks=1, overlap=2)
        start = timezone.now() - timedelta(hours=3)
        submitted = []
        for i, labeler in enumerate((make_labeler(), make_labeler())):
            at = start + timedelta(minutes=10 * i)
            claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk, now=at)
            services.assignment_submit(
                labeler=labeler,
                assignment_id=claim.assignment.pk,
                answer="ok",
                now=at + timedelta(minutes=1),
            )
            submitted.append(claim.assignment.pk)
        # The worker runs hours later, for the first label's message and then the second's.
        for pk in submitted:
            services.submission_follow_up(assignment_id=pk)
        task = Task.objects.get(project=project)
        last = start + timedelta(minutes=11)
        assert task.state == Task.State.RESOLVED
        assert task.decided_at == last
        assert set(LabelOutcome.objects.values_list("decided_at", flat=True)) == {last}

    def test_expired_lease_frees_its_slot_without_any_job(self):
        project = make_project(tasks=1, overlap=1, lease_seconds=60)
        a, b = make_labeler(), make_labeler()
        now = timezone.now()
        first = services.assignment_claim_next(labeler=a, project_id=project.pk, now=now)
        assert services.assignment_claim_next(labeler=b, project_id=project.pk, now=now) is None
        later = now + timedelta(seconds=61)
        second = services.assignment_claim_next(labeler=b, project_id=project.pk, now=later)
        assert second is not None and second.assignment.task_id == first.assignment.task_id
        # The slot went to b: a's late submission is refused, and nothing changed.
        with pytest.raises(Conflict) as exc:
            services.assignment_submit(
                labeler=a, assignment_id=first.assignment.pk, answer="ok", now=later
            )
        assert exc.value.code == "lease_expired"
        assert Task.objects.get().submitted == 0

    def test_a_submit_in_time_records_its_active_seconds(self):
        project = make_project(tasks=1, overlap=1, lease_seconds=60)
        a = make_labeler()
        now = timezone.now()
        claim = services.assignment_claim_next(labeler=a, project_id=project.pk, now=now)
        result = services.assignment_submit(
            labeler=a,
            assignment_id=claim.assignment.pk,
            answer="crack",
            now=now + timedelta(seconds=59),
        )
        assert result.created and result.task_completed
        assert Assignment.objects.get().active_seconds == 59
        task = Task.objects.get()
        assert (task.submitted, task.is_open, task.state) == (1, False, "complete")

    def test_submit_is_idempotent_and_a_different_answer_conflicts(self):
        project = make_project(tasks=1, overlap=2)
        labeler = make_labeler()
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        first = services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
        )
        retry = services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
        )
        assert first.created and not retry.created
        assert Task.objects.get().submitted == 1
        with pytest.raises(Conflict) as exc:
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
            )
        assert exc.value.code == "already_submitted"

    def test_release_gives_the_slot_back(self):
        project = make_project(tasks=1, overlap=1)
        a, b = make_labeler(), make_labeler()
        claim = services.assignment_claim_next(labeler=a, project_id=project.pk)
        services.assignment_release(labeler=a, assignment_id=claim.assignment.pk)
        other = services.assignment_claim_next(labeler=b, project_id=project.pk)
        assert other is not None and other.assignment.task_id == claim.assignment.task_id
        # a released it and never gets the same task again.
        assert services.assignment_claim_next(labeler=a, project_id=project.pk) is None

    def test_gate_reasons(self):
        qtype = QualificationType.objects.create(slug="poles", name="Pole inspection")
        project = make_project()
        project.required_qualifications.add(qtype)
        labeler = make_labeler()
        with pytest.raises(Forbidden) as exc:
            services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        assert exc.value.code == "qualification_missing"
        assert "Pole inspection" in exc.value.detail
        workforce_services.qualification_grant(
            actor=None,
            labeler=labeler,
            qualification_type=qtype,
            source="manual",
            reason="test",
        )
        assert services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        suspended = make_labeler(status="suspended")
        with pytest.raises(Forbidden) as exc:
            services.assignment_claim_next(labeler=suspended, project_id=project.pk)
        assert exc.value.code == "labeler_inactive"

    def test_claim_and_submit_statement_counts_are_pinned(self, assert_max_statements):
        project = make_project(tasks=50)
        labeler = make_labeler()
        with assert_max_statements(3):
            claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        # The lock, then the count and the store in one statement (SQLite: two, no
        # data-modifying CTE there).
        with assert_max_statements(2 if connection.vendor == "postgresql" else 3):
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
            )


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_never_over_assign_or_repeat_or_lose_a_submit():
    project = make_project(tasks=40, overlap=2, slug="race")
    labelers = [make_labeler() for _ in range(25)]
    accepted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def work(labeler):
        try:
            start.wait()
            for _ in range(20):
                try:
                    claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
                except services.ClaimContended:
                    # Retryable by contract (409 with Retry-After): on a loaded machine fifty
                    # threads on forty tasks can lose every try of one call. Ask again.
                    time.sleep(0.05)
                    continue
                if claim is None:
                    return
                result = services.assignment_submit(
                    labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
                )
                if result.created:
                    with lock:
                        accepted.append(claim.assignment.pk)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    # Two threads per labeler: the same person calling from two tabs must not get two leases.
    threads = [threading.Thread(target=work, args=(labelers[i % 25],)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    per_task = Counter(
        Assignment.objects.filter(status="submitted").values_list("task_id", flat=True)
    )
    assert per_task and max(per_task.values()) <= 2
    pairs = Assignment.objects.values("task_id", "labeler_id").annotate(n=Count("id"))
    assert all(p["n"] == 1 for p in pairs)
    submitted = set(Assignment.objects.filter(status="submitted").values_list("pk", flat=True))
    assert set(accepted) <= submitted
    assert len(accepted) == len(submitted)
    # Every task got its two labelers: 40 tasks x 2 slots with 25 labelers.
    assert sum(per_task.values()) == 80
    for task in Task.objects.filter(project=project):
        assert task.submitted == per_task[task.pk]
        assert live_or_submitted(task.pk, timezone.now()) <= task.target


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_one_labeler_calling_from_ten_threads_gets_one_lease():
    project = make_project(tasks=20, overlap=2, slug="same-labeler")
    labeler = make_labeler()

    def work(_):
        claim = services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        return claim.assignment.pk

    got = race(10, work)
    assert not [r for r in got if isinstance(r, Exception)], got
    assert len(set(got)) == 1
    assert Assignment.objects.filter(labeler=labeler).count() == 1
