"""Decisions from the model: a refit re-decides the tasks whose decision the new fit changes
(``assignments.services.decisions``), keeps every decision in the task's history, decides tasks
waiting in review when it is confident, and never overwrites a senior's answer.

The crowd: two truthful labelers and two who swap crack and rust (and get ok right). Tasks
0-9 are labeled by the truthful pair and the first swapper, 10-18 by the truthful pair and the
second swapper — so majority is right on them and the fit learns who swaps — and task 19, the
target (truth crack), by one truthful labeler and both swappers: majority says rust before
any fit; the fitted model says crack."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from assignments import services as work_services
from assignments.models import ConsensusMethod, Project, Review, Task, TaskDecision
from assignments.selectors.review import project_export
from assignments.services import review as review_services
from assignments.services.refits import project_refit
from qc.models import LabelOutcome
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db

CLASSES = ["ok", "crack", "rust"]
SWAP = {"ok": "ok", "crack": "rust", "rust": "crack"}
TARGET = 19


def crowd_project(**extra) -> Project:
    extra.setdefault("consensus_method", ConsensusMethod.WEIGHTED)
    project = Project.objects.create(
        slug="poles",
        name="Pole inspection",
        status=Project.Status.ACTIVE,
        answer_type="single_choice",
        classes=CLASSES,
        overlap=3,
        max_overlap=extra.pop("max_overlap", 4),
        refit_every=0,  # the test refits by hand, at the moment it chooses
        **extra,
    )
    # Claimed in index order (priority falls with the index); truth cycles through classes.
    Task.objects.bulk_create(
        Task(
            project=project,
            payload={"image_url": f"https://img.example.test/{i}.jpg", "i": i},
            priority=float(-i),
            target=3,
        )
        for i in range(TARGET + 1)
    )
    return project


def truth(task: Task) -> str:
    return "crack" if task.payload["i"] == TARGET else CLASSES[task.payload["i"] % 3]


def label_next(project, labeler, policy, django_capture_on_commit_callbacks, answer=None):
    claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    assert claim is not None, "no task left for this labeler"
    given = answer if answer is not None else policy(truth(claim.assignment.task))
    with django_capture_on_commit_callbacks(execute=True):
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer=given
        )
    return claim.assignment


@pytest.fixture
def crowd(django_capture_on_commit_callbacks):
    """Label the project as the module docstring says; returns the labelers and the target task
    labeler's assignments. ``target_answers`` overrides what the three give on the target."""

    def run(project, target_answers=None):
        good1, good2, swap1, swap2 = (make_labeler() for _ in range(4))

        def honest(t):
            return t

        def swapper(t):
            return SWAP[t]

        def lab(labeler, policy, answer=None):
            return label_next(project, labeler, policy, django_capture_on_commit_callbacks, answer)

        for _ in range(10):
            lab(good1, honest), lab(good2, honest), lab(swap1, swapper)
        for _ in range(9):
            lab(good1, honest), lab(good2, honest), lab(swap2, swapper)
        given = target_answers or ("crack", "rust", "rust")
        mine = [
            lab(good1, honest, given[0]),
            lab(swap1, swapper, given[1]),
            lab(swap2, swapper, given[2]),
        ]
        assert {a.task.payload["i"] for a in mine} == {TARGET}
        return (good1, good2, swap1, swap2), Task.objects.get(pk=mine[0].task_id)

    return run


def history(task):
    return list(
        TaskDecision.objects.filter(task=task).values_list(
            "decided_by", "final_answer", "previous_answer", "fit_version"
        )
    )


def test_a_majority_decision_is_re_decided_by_the_refit_and_the_change_is_recorded(crowd):
    project = crowd_project()
    (good1, _, swap1, swap2), target = crowd(project)
    assert (target.final_answer, target.decided_by) == ("rust", "consensus")
    # Majority is right on the other 19 tasks.
    others = Task.objects.filter(project=project).exclude(pk=target.pk)
    assert all(t.final_answer == truth(t) for t in others)

    refit = project_refit(project_id=project.pk)

    target.refresh_from_db()
    assert (target.final_answer, target.decided_by, target.state) == ("crack", "model", "resolved")
    assert target.confidence >= 0.9
    assert target.agreement == pytest.approx(1 / 3)
    assert refit.redecided == 1 and refit.from_review == 0
    assert history(target) == [
        ("consensus", "rust", None, None),
        ("model", "crack", "rust", refit.summary.version),
    ]
    # The labelers' outcomes follow the new final answer (scores read these).
    outcomes = dict(
        LabelOutcome.objects.filter(task_id=target.pk).values_list("labeler_id", "agrees_final")
    )
    assert outcomes == {good1.pk: True, swap1.pk: False, swap2.pk: False}
    assert set(
        LabelOutcome.objects.filter(task_id=target.pk).values_list("final_class", "decided_by")
    ) == {("crack", "model")}
    # The export delivers the model's decision, with its confidence.
    rows = [json.loads(line) for line in project_export(project=project, file_format="jsonl")]
    row = next(r for r in rows if r["task_id"] == target.pk)
    assert (row["final_answer"], row["decided_by"]) == ("crack", "model")
    assert row["confidence"] == pytest.approx(target.confidence)
    # The other tasks agreed with the model: not touched, one history row each.
    assert all(t.decided_by == "consensus" for t in others.all())
    assert TaskDecision.objects.filter(project_id=project.pk).count() == 21


def test_a_second_refit_on_the_same_answers_re_decides_nothing(crowd):
    project = crowd_project()
    _, target = crowd(project)
    project_refit(project_id=project.pk)
    again = project_refit(project_id=project.pk)
    assert again.redecided == 0
    assert again.summary.version == 2
    assert len(history(target)) == 2


def test_a_majority_project_is_not_re_decided(crowd):
    project = crowd_project(consensus_method=ConsensusMethod.MAJORITY)
    _, target = crowd(project)
    refit = project_refit(project_id=project.pk)
    target.refresh_from_db()
    assert (target.final_answer, target.decided_by, refit.redecided) == ("rust", "consensus", 0)


def test_below_the_confidence_threshold_the_decision_stands(crowd):
    project = crowd_project(confidence_threshold="1")  # no posterior reaches 1 (smoothing)
    _, target = crowd(project)
    refit = project_refit(project_id=project.pk)
    target.refresh_from_db()
    assert (target.final_answer, target.decided_by, refit.redecided) == ("rust", "consensus", 0)


def test_a_seniors_decision_is_never_overwritten(crowd):
    project = crowd_project()
    (good1, *_), target = crowd(project)
    senior = make_labeler(seniority="senior")
    mine = target.assignments.get(labeler=good1)
    review_services.assignment_flag(
        labeler=good1, assignment_id=mine.pk, question="Is a bracket crack a crack?"
    )
    claim = review_services.review_claim_next(reviewer=senior, project_id=project.pk)
    review_services.review_resolve(
        reviewer=senior, review_id=claim.review.pk, answer="rust", note="Guide 2.1: bracket."
    )
    target.refresh_from_db()
    assert (target.final_answer, target.decided_by) == ("rust", "review")

    refit = project_refit(project_id=project.pk)

    target.refresh_from_db()
    assert (target.final_answer, target.decided_by, target.confidence) == ("rust", "review", None)
    assert refit.redecided == 0
    assert [h[0] for h in history(target)] == ["consensus", "review"]


def test_a_task_waiting_in_review_is_decided_by_the_confident_model_and_leaves_the_queue(crowd):
    project = crowd_project(max_overlap=3)
    # Three different answers at the maximum overlap: a tie, so a disagreement review.
    (good1, _, swap1, swap2), target = crowd(project, target_answers=("crack", "ok", "rust"))
    assert (target.state, target.decided_by) == ("review", "")
    review = Review.objects.get(task=target)
    assert review.status == "open"

    refit = project_refit(project_id=project.pk)

    target.refresh_from_db()
    assert (target.final_answer, target.decided_by, target.state) == ("crack", "model", "resolved")
    assert refit.from_review == 1 and refit.redecided == 1
    review.refresh_from_db()
    assert (review.status, review.answer) == ("withdrawn", None)
    assert review.resolved_at is not None
    senior = make_labeler(seniority="senior")
    assert review_services.review_claim_next(reviewer=senior, project_id=project.pk) is None
    assert history(target) == [("model", "crack", None, refit.summary.version)]
    outcomes = dict(
        LabelOutcome.objects.filter(task_id=target.pk).values_list("labeler_id", "agrees_final")
    )
    assert outcomes == {good1.pk: True, swap1.pk: False, swap2.pk: False}


def test_a_review_a_senior_is_working_on_is_left_to_the_senior(crowd):
    project = crowd_project(max_overlap=3)
    _, target = crowd(project, target_answers=("crack", "ok", "rust"))
    senior = make_labeler(seniority="senior")
    claim = review_services.review_claim_next(reviewer=senior, project_id=project.pk)
    assert claim.review.task_id == target.pk

    refit = project_refit(project_id=project.pk)

    target.refresh_from_db()
    assert (target.state, target.decided_by, refit.redecided) == ("review", "", 0)
    claim.review.refresh_from_db()
    assert claim.review.status == "leased"


def test_a_lapsed_review_lease_is_withdrawn_with_the_task_decided(crowd):
    project = crowd_project(max_overlap=3)
    _, target = crowd(project, target_answers=("crack", "ok", "rust"))
    senior = make_labeler(seniority="senior")
    past = timezone.now() - timezone.timedelta(hours=2)
    review_services.review_claim_next(reviewer=senior, project_id=project.pk, now=past)

    refit = project_refit(project_id=project.pk)

    target.refresh_from_db()
    assert (target.decided_by, refit.from_review) == ("model", 1)
    assert Review.objects.get(task=target).status == "withdrawn"
    # The senior's lease row is gone with it: they can take other work.
    assert not Review.objects.filter(reviewer=senior, status="leased").exists()


def test_the_task_admin_shows_the_decision_history(crowd, client):
    from django.contrib.auth import get_user_model

    project = crowd_project()
    _, target = crowd(project)
    refit = project_refit(project_id=project.pk)
    ops = get_user_model().objects.create_superuser("ops-redecide", "", "pw-Labelforce-1")
    client.force_login(ops)
    page = client.get(f"/admin/assignments/task/{target.pk}/change/").content.decode()
    assert "&quot;rust&quot; by consensus" in page
    version = refit.summary.version
    assert f"&quot;crack&quot; by model (re-decided by a refit) (fit {version}" in page
    assert "replacing &quot;rust&quot;" in page
