"""Consensus after the last submission, the review queue, flags, audits and the export — through
the real services and the HTTP API. Consensus runs after commit: these tests run the captured
on-commit callbacks (``django_capture_on_commit_callbacks(execute=True)``); Celery is eager.

The thread race runs only on PostgreSQL: SQLite serializes writers, so a race there proves
nothing."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from assignments import services as work_services
from assignments import tasks as work_tasks
from assignments.models import Assignment, Project, Review, Task
from assignments.services import consensus as consensus_services
from assignments.services import review as services
from assignments.services.consensus import ConsensusAction
from config.errors import Conflict, Forbidden, NotFound
from qc.models import GoldItem, GoldSet
from tests.assignments.factories import AlwaysControl, make_project, with_controls
from tests.conftest import requires_postgres
from tests.factories import make_labeler, token_client

pytestmark = pytest.mark.django_db


def seniors(n: int):
    return [make_labeler(seniority="senior") for _ in range(n)]


def to_review(project, label, answers=("crack", "rust", "ok")):
    """Label the project's single task until it lands in review (3 different answers)."""
    labelers = [make_labeler() for _ in answers]
    for labeler, answer in zip(labelers, answers, strict=True):
        label(project, labeler, answer)
    task = Task.objects.get(project=project)
    assert task.state == Task.State.REVIEW
    return task, labelers


# -- consensus ---------------------------------------------------------------------------------


class TestConsensus:
    def test_two_agree_decided_by_consensus(self, label):
        project = make_project(tasks=1, overlap=2)
        a, b = make_labeler(), make_labeler()
        label(project, a, "crack")
        task = Task.objects.get()
        assert (task.state, task.decided_by) == (Task.State.OPEN, "")
        label(project, b, "crack")
        task.refresh_from_db()
        assert task.final_answer == "crack"
        assert task.decided_by == Task.DecidedBy.CONSENSUS
        assert task.agreement == 1.0
        assert task.decided_at is not None
        assert (task.state, task.is_open, task.target) == (Task.State.RESOLVED, False, 2)
        assert not Review.objects.exists()

    def test_disagreement_opens_a_third_slot_only_for_a_new_labeler(self, label):
        project = make_project(tasks=1, overlap=2)  # max overlap 3
        a, b, c = make_labeler(), make_labeler(), make_labeler()
        label(project, a, "crack")
        label(project, b, "rust")
        task = Task.objects.get()
        assert (task.state, task.is_open, task.target, task.submitted) == ("open", True, 3, 2)
        assert task.decided_by == "" and task.agreement == 0.5
        # The first two labelers never get the task again; the third gets the new slot at once.
        assert work_services.assignment_claim_next(labeler=a, project_id=project.pk) is None
        assert work_services.assignment_claim_next(labeler=b, project_id=project.pk) is None
        third = label(project, c, "rust")
        assert third.task_id == task.pk
        task.refresh_from_db()
        assert (task.final_answer, task.decided_by) == ("rust", "consensus")
        assert task.agreement == pytest.approx(2 / 3)
        assert (task.state, task.is_open, task.submitted, task.target) == ("resolved", False, 3, 3)

    def test_disagreement_at_max_overlap_goes_to_review(self, label):
        project = make_project(tasks=1, overlap=2)
        task, _ = to_review(project, label)
        assert (task.target, task.submitted, task.is_open, task.decided_by) == (3, 3, False, "")
        assert task.agreement == pytest.approx(1 / 3)
        review = Review.objects.get()
        assert (review.kind, review.status, review.task_id) == ("disagreement", "open", task.pk)

    def test_overlap_equal_to_max_goes_straight_to_review(self, label):
        project = make_project(tasks=1, overlap=2)
        Project.objects.filter(pk=project.pk).update(max_overlap=2)
        label(project, make_labeler(), "crack")
        label(project, make_labeler(), "ok")
        assert Task.objects.get().state == "review"
        assert Review.objects.filter(kind="disagreement").count() == 1

    def test_running_twice_adds_one_slot_not_two(self, label):
        project = make_project(tasks=1, overlap=2)
        a, b = make_labeler(), make_labeler()
        label(project, a, "crack")
        label(project, b, "rust")  # the on-commit run added the slot
        task = Task.objects.get()
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.NONE
        work_tasks.task_consensus.delay(task.pk)  # as a duplicate message would
        task.refresh_from_db()
        assert (task.target, task.is_open) == (3, True)

    def test_running_twice_on_a_complete_task_acts_once(self):
        project = make_project(tasks=1, overlap=2)
        a, b = make_labeler(), make_labeler()
        for labeler, answer in ((a, "crack"), (b, "rust")):  # no on-commit run here
            claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
            work_services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
            )
        task = Task.objects.get()
        assert task.state == "complete"
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.SLOT_ADDED
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.NONE
        task.refresh_from_db()
        assert task.target == 3

    def test_review_created_once(self, label):
        project = make_project(tasks=1, overlap=2)
        task, _ = to_review(project, label)
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.NONE
        Task.objects.filter(pk=task.pk).update(state="complete")  # as if the run were replayed
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.REVIEW
        # One live disagreement review per task is a constraint; the replay created no second.
        assert Review.objects.filter(task=task).count() == 1

    def test_decided_task_is_left_alone(self, label):
        project = make_project(tasks=1, overlap=2)
        label(project, make_labeler(), "ok")
        label(project, make_labeler(), "ok")
        task = Task.objects.get()
        before = (task.final_answer, task.decided_at, task.state)
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.NONE
        task.refresh_from_db()
        assert (task.final_answer, task.decided_at, task.state) == before

    def test_submit_runs_consensus_after_commit_only_when_complete(
        self, django_capture_on_commit_callbacks
    ):
        """Every submit sends one after-commit message (docs/next-task.md, "Submit"); the
        worker runs consensus only once the task is complete."""
        project = make_project(tasks=1, overlap=2)
        a, b = make_labeler(), make_labeler()
        claims = [
            work_services.assignment_claim_next(labeler=x, project_id=project.pk) for x in (a, b)
        ]
        with django_capture_on_commit_callbacks() as first:
            work_services.assignment_submit(
                labeler=a, assignment_id=claims[0].assignment.pk, answer="ok"
            )
        assert len(first) == 1
        first[0]()
        assert Task.objects.get().decided_by == ""  # one of two slots: nothing to decide
        with django_capture_on_commit_callbacks() as second:
            work_services.assignment_submit(
                labeler=b, assignment_id=claims[1].assignment.pk, answer="ok"
            )
        assert len(second) == 1
        assert Task.objects.get().decided_by == ""  # nothing ran inside the transaction
        second[0]()
        assert Task.objects.get().decided_by == "consensus"

    def test_control_submissions_do_not_count(self, label):
        project = make_project(tasks=0, overlap=2)
        with_controls(project, n=1)
        control = Task.objects.get(project=project)
        assert consensus_services.task_consensus_run(task_id=control.pk) == ConsensusAction.NONE

    def test_sweep_catches_a_lost_message(self):
        project = make_project(tasks=1, overlap=1)
        labeler = make_labeler()
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="rust"
        )  # the on-commit message is never sent in this test
        assert consensus_services.consensus_sweep() == 1
        assert Task.objects.get().final_answer == "rust"
        assert consensus_services.consensus_sweep() == 0


# -- the review queue --------------------------------------------------------------------------


class TestReviewQueue:
    def test_only_active_seniors_claim(self, label):
        project = make_project(tasks=1, overlap=2)
        to_review(project, label)
        with pytest.raises(Forbidden) as exc:
            services.review_claim_next(reviewer=make_labeler())
        assert exc.value.code == "not_a_reviewer"
        suspended = make_labeler(seniority="senior", status="suspended")
        with pytest.raises(Forbidden) as exc:
            services.review_claim_next(reviewer=suspended)
        assert exc.value.code == "labeler_inactive"

    def test_claim_shows_answers_by_public_code_and_hands_back_the_lease(self, label):
        project = make_project(tasks=1, overlap=2)
        task, labelers = to_review(project, label)
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        assert claim.created
        assert claim.review.task_id == task.pk
        assert claim.review.status == "leased" and claim.review.reviewer_id == senior.pk
        assert claim.answers == [
            {"labeler": x.public_code, "answer": a}
            for x, a in zip(labelers, ("crack", "rust", "ok"), strict=True)
        ]
        again = services.review_claim_next(reviewer=senior)
        assert not again.created and again.review.pk == claim.review.pk
        assert services.review_claim_next(reviewer=seniors(1)[0]) is None  # nothing else

    def test_a_reviewer_never_gets_a_task_they_labeled(self, label):
        project = make_project(tasks=1, overlap=2)
        s1, s2, s3 = seniors(3)
        label(project, s1, "crack")
        label(project, s2, "rust")
        label(project, make_labeler(), "ok")
        assert Review.objects.get().status == "open"
        assert services.review_claim_next(reviewer=s1) is None
        assert services.review_claim_next(reviewer=s2) is None
        claim = services.review_claim_next(reviewer=s3)
        assert claim is not None and claim.created

    def test_a_lapsed_lease_goes_to_the_next_reviewer(self, label):
        project = make_project(tasks=1, overlap=2)
        to_review(project, label)
        s1, s2 = seniors(2)
        now = timezone.now()
        first = services.review_claim_next(reviewer=s1, now=now)
        assert services.review_claim_next(reviewer=s2, now=now) is None
        later = now + timedelta(seconds=services.REVIEW_LEASE_SECONDS + 1)
        second = services.review_claim_next(reviewer=s2, now=later)
        assert second.created and second.review.pk == first.review.pk
        # s1 lost it: resolving it now is a 404, not a second decision.
        with pytest.raises(NotFound):
            services.review_resolve(
                reviewer=s1, review_id=first.review.pk, answer="ok", note="late"
            )

    def test_own_lapsed_lease_returns_to_the_queue(self, label):
        project = make_project(tasks=1, overlap=2)
        to_review(project, label)
        (senior,) = seniors(1)
        now = timezone.now()
        first = services.review_claim_next(reviewer=senior, now=now)
        later = now + timedelta(seconds=services.REVIEW_LEASE_SECONDS + 1)
        again = services.review_claim_next(reviewer=senior, now=later)
        assert again.created and again.review.pk == first.review.pk
        assert again.review.expires_at > later

    def test_project_filter(self, label):
        p1 = make_project(tasks=1, overlap=2, slug="p1")
        p2 = make_project(tasks=1, overlap=2, slug="p2")
        to_review(p1, label)
        to_review(p2, label)
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior, project_id=p2.pk)
        assert claim.review.project_id == p2.pk
        # One lease per reviewer and project: p1's review is still claimable by them.
        other = services.review_claim_next(reviewer=senior, project_id=p1.pk)
        assert other.created and other.review.project_id == p1.pk
        with pytest.raises(NotFound):
            services.review_claim_next(reviewer=senior, project_id=987654321)

    def test_resolve_decides_the_task_and_is_final(self, label):
        project = make_project(tasks=1, overlap=2)
        task, _ = to_review(project, label)
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        result = services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="rust", note="Rust, not a crack."
        )
        assert result.created and result.review.decided_task
        task.refresh_from_db()
        assert (task.final_answer, task.decided_by, task.state) == ("rust", "review", "resolved")
        assert task.agreement == pytest.approx(1 / 3)
        review = Review.objects.get()
        assert (review.status, review.answer, review.note) == (
            "resolved",
            "rust",
            "Rust, not a crack.",
        )
        assert review.resolved_at is not None
        retry = services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="rust", note="Rust, not a crack."
        )
        assert not retry.created
        with pytest.raises(Conflict) as exc:
            services.review_resolve(
                reviewer=senior, review_id=claim.review.pk, answer="ok", note="changed my mind"
            )
        assert exc.value.code == "already_resolved"
        task.refresh_from_db()
        assert task.final_answer == "rust"
        # Consensus never overwrites a review's decision.
        assert consensus_services.task_consensus_run(task_id=task.pk) == ConsensusAction.NONE
        assert Task.objects.get().final_answer == "rust"
        # Resolved reviews leave the queue.
        assert services.review_claim_next(reviewer=seniors(1)[0]) is None

    def test_resolve_validates_and_scopes(self, label):
        project = make_project(tasks=1, overlap=2)
        to_review(project, label)
        s1, s2 = seniors(2)
        claim = services.review_claim_next(reviewer=s1)
        with pytest.raises(ValidationError) as exc:
            services.review_resolve(reviewer=s1, review_id=claim.review.pk, answer="x", note="n")
        assert "answer" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            services.review_resolve(reviewer=s1, review_id=claim.review.pk, answer="ok", note=" ")
        assert "note" in exc.value.message_dict
        with pytest.raises(NotFound):  # not s2's lease
            services.review_resolve(reviewer=s2, review_id=claim.review.pk, answer="ok", note="n")
        with pytest.raises(Forbidden):
            services.review_resolve(
                reviewer=make_labeler(), review_id=claim.review.pk, answer="ok", note="n"
            )
        assert Review.objects.get().status == "leased"

    def test_promote_to_gold(self, label):
        project = make_project(tasks=1, overlap=2)
        Task.objects.filter(project=project).update(
            external_id="pole-17",
            payload={"image_url": "https://img.example.test/17.jpg", "camera": "north"},
        )
        to_review(project, label)
        gold_set = GoldSet.objects.create(
            slug="pole-gold", name="Pole gold", answer_type="single_choice", classes=project.classes
        )
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        result = services.review_resolve(
            reviewer=senior,
            review_id=claim.review.pk,
            answer="crack",
            note="Hairline crack near the top.",
            promote_to_gold="pole-gold",
        )
        item = GoldItem.objects.get(gold_set=gold_set)
        assert result.review.gold_item_id == item.pk
        assert item.external_id == "poles/pole-17"
        assert item.accepted_answers == ["crack"]
        assert item.explanation == "Hairline crack near the top."
        assert item.payload == {
            "image_url": "https://img.example.test/17.jpg",
            "metadata": {"camera": "north"},
        }
        assert item.status_changes.count() == 1  # created through qc's service
        # Retrying the promotion does not create a second item.
        services.review_resolve(
            reviewer=senior,
            review_id=claim.review.pk,
            answer="crack",
            note="Hairline crack near the top.",
            promote_to_gold="pole-gold",
        )
        assert GoldItem.objects.filter(gold_set=gold_set).count() == 1

    def test_promote_to_an_unknown_set_writes_nothing(self, label):
        project = make_project(tasks=1, overlap=2)
        task, _ = to_review(project, label)
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        with pytest.raises(ValidationError) as exc:
            services.review_resolve(
                reviewer=senior,
                review_id=claim.review.pk,
                answer="crack",
                note="n",
                promote_to_gold="nope",
            )
        assert "promote_to_gold" in exc.value.message_dict
        assert Review.objects.get().status == "leased"
        task.refresh_from_db()
        assert (task.decided_by, task.state) == ("", "review")


# -- flags -------------------------------------------------------------------------------------


class TestFlags:
    def test_flag_once_per_assignment(self):
        project = make_project(tasks=1, overlap=2)
        labeler, other = make_labeler(), make_labeler()
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
        pk = claim.assignment.pk
        flag = services.assignment_flag(
            labeler=labeler, assignment_id=pk, question="Is a chip a crack?"
        )
        assert flag.created
        review = flag.review
        assert (review.kind, review.status, review.assignment_id) == ("flag", "open", pk)
        assert review.question == "Is a chip a crack?"
        again = services.assignment_flag(
            labeler=labeler, assignment_id=pk, question="Is a chip a crack?"
        )
        assert not again.created and again.review.pk == review.pk
        with pytest.raises(Conflict) as exc:
            services.assignment_flag(labeler=labeler, assignment_id=pk, question="Other?")
        assert exc.value.code == "already_flagged"
        with pytest.raises(NotFound):
            services.assignment_flag(labeler=other, assignment_id=pk, question="Mine?")
        with pytest.raises(ValidationError):
            services.assignment_flag(labeler=labeler, assignment_id=pk, question="   ")
        assert Review.objects.count() == 1

    def test_resolving_a_flag_on_an_open_task(self, label):
        project = make_project(tasks=1, overlap=2)
        a, b = make_labeler(), make_labeler()
        flagged = label(project, a, "crack")
        services.assignment_flag(labeler=a, assignment_id=flagged.pk, question="Chip or crack?")
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        assert claim.review.kind == "flag"
        assert claim.answers == []  # a flag shows the question, not the labels so far
        assert claim.review.question == "Chip or crack?"
        services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="ok", note="A chip is not a crack."
        )
        task = Task.objects.get()
        # Decided by review, still collecting its planned label (scored against the review).
        assert (task.final_answer, task.decided_by, task.state, task.is_open) == (
            "ok",
            "review",
            "open",
            True,
        )
        label(project, b, "crack")
        task.refresh_from_db()
        assert (task.final_answer, task.decided_by, task.state) == ("ok", "review", "resolved")
        assert task.target == 2  # no extra slot: the review's answer stands
        assert Review.objects.filter(kind="disagreement").count() == 0

    def test_a_second_review_of_a_decided_task_does_not_change_it(self, label):
        project = make_project(tasks=1, overlap=2)
        task, labelers = to_review(project, label)
        first_assignment = Assignment.objects.get(labeler=labelers[0])
        services.assignment_flag(
            labeler=labelers[0], assignment_id=first_assignment.pk, question="Chip?"
        )
        s1, s2 = seniors(2)
        disagreement = services.review_claim_next(reviewer=s1)
        flag = services.review_claim_next(reviewer=s2)
        assert {disagreement.review.kind, flag.review.kind} == {"disagreement", "flag"}
        services.review_resolve(
            reviewer=s1, review_id=disagreement.review.pk, answer="rust", note="a"
        )
        second = services.review_resolve(
            reviewer=s2, review_id=flag.review.pk, answer="ok", note="b"
        )
        assert not second.review.decided_task
        task.refresh_from_db()
        assert (task.final_answer, task.decided_by) == ("rust", "review")

    def test_flags_on_control_tasks_reach_seniors_too(self, client_for, ops_user):
        """Like flags on real tasks (tests/assignments/test_control_flags.py: the two look the
        same to a senior; the resolution is not applied)."""
        project = make_project(tasks=0, overlap=2)
        with_controls(project, n=1)
        labeler = make_labeler()
        claim = work_services.assignment_claim_next(
            labeler=labeler, project_id=project.pk, rng=AlwaysControl()
        )
        assert claim.assignment.task.pk == Task.objects.get(project=project).pk
        flag = services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question="Which label?"
        )
        assert flag.created
        assert services.review_claim_next(reviewer=seniors(1)[0]).review.pk == flag.review.pk
        # Operations see it too.
        listed = client_for(ops_user).get("/api/v1/reviews/?kind=flag").json()["results"]
        assert [r["id"] for r in listed] == [flag.review.pk]


# -- audits ------------------------------------------------------------------------------------


def this_week():
    return services.last_week_start() + timedelta(days=7)


class TestAudits:
    def _accepted_work(self, label, tasks=4):
        project = make_project(tasks=tasks, overlap=2)
        a, b = make_labeler(), make_labeler()
        for _ in range(tasks):
            label(project, a, "ok")
            label(project, b, "ok")
        assert Task.objects.filter(project=project, decided_by="consensus").count() == tasks
        return project, a, b

    def test_percent_of_each_labelers_accepted_work_idempotent(self, label):
        project, a, b = self._accepted_work(label, tasks=4)
        Project.objects.filter(pk=project.pk).update(audit_percent=50)
        created = services.audit_sample_week(
            project_id=project.pk, week_start=this_week(), rng=random.Random(7)
        )
        # ceil(50% of 4) = 2 each; a's picks are not drawn again for b: 4 tasks in all.
        assert created == 4
        audits = Review.objects.filter(kind="audit")
        assert Counter(audits.values_list("assignment__labeler_id", flat=True)) == {
            a.pk: 2,
            b.pk: 2,
        }
        assert len(set(audits.values_list("task_id", flat=True))) == 4
        assert set(audits.values_list("audit_week", flat=True)) == {this_week()}
        again = services.audit_sample_week(project_id=project.pk, week_start=this_week())
        assert again == 0 and audits.count() == 4

    def test_rounds_up_and_ignores_other_weeks(self, label):
        project, _, _ = self._accepted_work(label, tasks=3)
        Project.objects.filter(pk=project.pk).update(audit_percent=10)
        last_week = services.last_week_start()
        assert services.audit_sample_week(project_id=project.pk, week_start=last_week) == 0
        # ceil(10% of 3) = 1 each.
        assert services.audit_sample_week(project_id=project.pk, week_start=this_week()) == 2

    def test_zero_percent_samples_nothing(self, label):
        project, _, _ = self._accepted_work(label, tasks=2)
        assert services.audit_sample_week(project_id=project.pk, week_start=this_week()) == 0

    def test_weekly_task_and_the_audit_review(self, label):
        project, a, b = self._accepted_work(label, tasks=1)
        Project.objects.filter(pk=project.pk).update(audit_percent=5)
        assert work_tasks.audit_sample_weekly.delay(this_week().isoformat()).get() == 1
        assert work_tasks.audit_sample_weekly.delay(this_week().isoformat()).get() == 0
        (senior,) = seniors(1)
        claim = services.review_claim_next(reviewer=senior)
        assert claim.review.kind == "audit"
        assert {x["labeler"] for x in claim.answers} == {a.public_code, b.public_code}
        services.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer="crack", note="n"
        )
        task = Task.objects.get(project=project)
        assert (task.final_answer, task.decided_by, task.agreement) == ("crack", "review", 0.0)


# -- HTTP --------------------------------------------------------------------------------------


class TestApi:
    def test_review_loop_over_http(self, label):
        project = make_project(tasks=1, overlap=2)
        task, labelers = to_review(project, label)
        (senior,) = seniors(1)
        client = token_client(senior)
        first = client.post("/api/v1/reviews/next/")
        assert first.status_code == 201
        body = first.json()
        assert set(body) == {
            "id",
            "kind",
            "status",
            "project",
            "task",
            "expires_at",
            "lease_expires_at",  # deprecated alias of expires_at
            "payload",
            "answer_type",
            "classes",
            "answers",
            "question",
        }
        assert body["kind"] == "disagreement" and body["task"] == task.pk
        assert [x["labeler"] for x in body["answers"]] == [x.public_code for x in labelers]
        assert client.post("/api/v1/reviews/next/").status_code == 200
        url = f"/api/v1/reviews/{body['id']}/resolve/"
        bad = client.post(url, {"answer": "nope", "note": "n"}, format="json")
        assert bad.status_code == 400 and "answer" in bad.json()["fields"]
        extra = client.post(url, {"answer": "ok", "note": "n", "reviewer": 1}, format="json")
        assert extra.status_code == 400 and "reviewer" in extra.json()["fields"]
        ok = client.post(url, {"answer": "ok", "note": "Clean pole."}, format="json")
        assert ok.status_code == 200
        assert ok.json()["status"] == "resolved" and ok.json()["task_decided_by"] == "review"
        assert ok.json()["reviewer"] == senior.public_code
        conflict = client.post(url, {"answer": "rust", "note": "n"}, format="json")
        assert conflict.status_code == 409 and conflict.json()["code"] == "already_resolved"
        assert client.post("/api/v1/reviews/next/").status_code == 204
        listed = client.get("/api/v1/reviews/")
        assert [r["id"] for r in listed.json()["results"]] == [body["id"]]

    def test_review_list_scope(self, label, client_for, ops_user):
        project = make_project(tasks=2, overlap=2)
        for answer in ("crack", "rust", "ok"):  # both tasks get to review
            x = make_labeler()
            label(project, x, answer)
            label(project, x, answer)
        s1, s2 = seniors(2)
        services.review_claim_next(reviewer=s1)
        assert len(client_for(ops_user).get("/api/v1/reviews/").json()["results"]) == 2
        assert len(token_client(s1).get("/api/v1/reviews/").json()["results"]) == 1
        assert token_client(s2).get("/api/v1/reviews/").json()["results"] == []
        only_open = client_for(ops_user).get("/api/v1/reviews/?status=open")
        assert len(only_open.json()["results"]) == 1

    def test_flag_over_http(self):
        project = make_project(tasks=1, overlap=2)
        labeler = make_labeler()
        client = token_client(labeler)
        assignment = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()["assignment"]
        url = f"/api/v1/assignments/{assignment}/flag/"
        first = client.post(url, {"question": "Chip or crack?"}, format="json")
        assert first.status_code == 201
        # question: the deprecated alias of note
        assert set(first.json()) == {"id", "assignment", "note", "question", "created_at"}
        assert client.post(url, {"question": "Chip or crack?"}, format="json").status_code == 200
        assert client.post(url, {"question": ""}, format="json").status_code == 400
        other = token_client(make_labeler())
        assert other.post(url, {"question": "x"}, format="json").status_code == 404


# -- export ------------------------------------------------------------------------------------


@pytest.fixture
def exported(label, vendor_labeler, internal_labeler):
    """A project with a consensus-decided task, a review-decided one, an undecided one and a
    control task; the vendor labeler (username acme1, vendor Acme, external id A-001) and the
    internal one labeled the real tasks."""
    project = make_project(tasks=3, overlap=2)
    with_controls(project, n=2)
    Project.objects.filter(pk=project.pk).update(control_ratio=0)
    # Even a control task with an answer on it (it never gets one) is not exported.
    Task.objects.filter(project=project, gold_item__isnull=False).update(
        final_answer="ok", decided_by="consensus", agreement=1.0, decided_at=timezone.now()
    )
    ids = list(
        Task.objects.filter(project=project, gold_item__isnull=True).values_list("pk", flat=True)
    )
    for i, pk in enumerate(ids):
        Task.objects.filter(pk=pk).update(external_id=f"pole-{i}")
    label(project, vendor_labeler, "crack")
    label(project, internal_labeler, "crack")  # one task decided by consensus
    label(project, vendor_labeler, "ok")
    label(project, internal_labeler, "rust")  # a third slot opens
    label(project, make_labeler(), "crack")  # ok, rust, crack: review
    senior = make_labeler(seniority="senior")
    claim = services.review_claim_next(reviewer=senior)
    services.review_resolve(reviewer=senior, review_id=claim.review.pk, answer="ok", note="n")
    return project


def _read(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


# usernames, e-mail addresses, the vendor's name and slug, the vendor's own id for the person
FORBIDDEN_IN_EXPORT = ("acme", "internal1", "@example.test", "Acme", "A-001")


class TestExport:
    def test_jsonl(self, exported, client_for, ops_user, vendor_labeler, internal_labeler):
        response = client_for(ops_user).get(f"/api/v1/projects/{exported.pk}/export/?format=jsonl")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/x-ndjson")
        text = _read(response)
        rows = [json.loads(line) for line in text.splitlines()]
        assert [r["task_id"] for r in rows] == sorted(r["task_id"] for r in rows)
        by = {r["decided_by"]: r for r in rows}
        assert len(rows) == 2 and set(by) == {"consensus", "review"}
        consensus_row, review_row = by["consensus"], by["review"]
        assert consensus_row["final_answer"] == "crack" and consensus_row["agreement"] == 1.0
        assert consensus_row["labelers"] == [
            vendor_labeler.public_code,
            internal_labeler.public_code,
        ]
        assert consensus_row["answers"] == [
            {"labeler": vendor_labeler.public_code, "answer": "crack"},
            {"labeler": internal_labeler.public_code, "answer": "crack"},
        ]
        assert consensus_row["task_external_id"].startswith("pole-")
        assert consensus_row["image_url"].startswith("https://img.example.test/")
        assert review_row["final_answer"] == "ok" and len(review_row["labelers"]) == 3
        assert review_row["agreement"] == pytest.approx(1 / 3)
        for secret in FORBIDDEN_IN_EXPORT:
            assert secret not in text
        assert "g0" not in text  # control tasks are never exported

    def test_csv(self, exported, client_for, ops_user):
        response = client_for(ops_user).get(f"/api/v1/projects/{exported.pk}/export/?format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        text = _read(response)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 2
        assert set(rows[0]) == {
            "task_id",
            "task_external_id",
            "image_url",
            "final_answer",
            "decided_by",
            "agreement",
            "confidence",
            "labelers",
            "answers",
        }
        by = {r["decided_by"]: r for r in rows}
        assert by["consensus"]["final_answer"] == "crack"  # plain, not JSON-quoted
        assert by["consensus"]["agreement"] == "1.0"
        assert len(json.loads(by["review"]["answers"])) == 3
        assert len(json.loads(by["review"]["labelers"])) == 3
        for secret in FORBIDDEN_IN_EXPORT:
            assert secret not in text

    def test_bad_format_and_default(self, exported, client_for, ops_user):
        client = client_for(ops_user)
        bad = client.get(f"/api/v1/projects/{exported.pk}/export/?format=xml")
        assert bad.status_code == 400 and "format" in bad.json()["fields"]
        default = client.get(f"/api/v1/projects/{exported.pk}/export/")
        assert default["Content-Type"].startswith("text/csv")

    def test_query_count_does_not_grow_with_tasks(
        self, client_for, ops_user, django_assert_max_num_queries
    ):
        project = make_project(tasks=30, overlap=1)
        a = make_labeler()
        for task in Task.objects.filter(project=project):
            Assignment.objects.create(
                task=task,
                project=project,
                labeler=a,
                status="submitted",
                leased_at=timezone.now() - timedelta(minutes=1),
                expires_at=timezone.now() + timedelta(minutes=5),
                submitted_at=timezone.now(),
                answer="ok",
            )
            Task.objects.filter(pk=task.pk).update(
                submitted=1,
                is_open=False,
                state="resolved",
                final_answer="ok",
                decided_by="consensus",
                agreement=1.0,
                decided_at=timezone.now(),
            )
        client = client_for(ops_user)
        with django_assert_max_num_queries(8):
            text = _read(client.get(f"/api/v1/projects/{project.pk}/export/?format=jsonl"))
        assert len(text.splitlines()) == 30


# -- concurrency -------------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_seniors_never_get_the_same_review():
    project = make_project(tasks=30, overlap=2, slug="review-race")
    reviewers = seniors(10)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    now = timezone.now()
    # Each of the first ten tasks was labeled by one of the reviewers: they must skip it.
    own = {}
    for task, reviewer in zip(tasks[:10], reviewers, strict=True):
        Assignment.objects.create(
            task=task,
            project=project,
            labeler=reviewer,
            status="submitted",
            leased_at=now - timedelta(minutes=2),
            expires_at=now + timedelta(minutes=5),
            submitted_at=now - timedelta(minutes=1),
            answer="ok",
        )
        own[task.pk] = reviewer.pk
    Task.objects.filter(project=project).update(state="review", is_open=False)
    for task in tasks:
        Review.objects.create(task=task, project=project, kind=Review.Kind.DISAGREEMENT)

    handed: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def work(reviewer):
        try:
            start.wait()
            for _ in range(40):
                claim = services.review_claim_next(reviewer=reviewer)
                if claim is None:
                    return
                if claim.created:
                    with lock:
                        handed.append((claim.review.pk, reviewer.pk))
                services.review_resolve(
                    reviewer=reviewer, review_id=claim.review.pk, answer="rust", note="race"
                )
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    # Two threads per reviewer: the same person in two tabs still holds one lease at a time.
    threads = [threading.Thread(target=work, args=(reviewers[i % 10],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    per_review = Counter(pk for pk, _ in handed)
    assert len(per_review) == 30 and max(per_review.values()) == 1
    resolved = Review.objects.filter(project=project)
    assert resolved.filter(status="resolved").count() == 30
    for review in resolved:
        assert own.get(review.task_id) != review.reviewer_id
        assert (review.pk, review.reviewer_id) in handed
    assert Task.objects.filter(project=project, decided_by="review").count() == 30
