"""Weighted consensus through the real submit flow: a project with ``consensus_method =
weighted`` decides by the posterior of its labelers' estimated confusion, with a confidence;
below the confidence threshold it is a disagreement (an extra slot, else review). Majority
projects are unchanged (confidence stays null). Hand-checked posteriors."""

from __future__ import annotations

import pytest
from django.utils import timezone

from assignments.models import ConsensusMethod, Project, Review, Task
from qc.consensus_maths import one_coin_matrix
from qc.models import LabelerEstimate, ModelFit
from tests.assignments.factories import make_project
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


CLASSES = ["ok", "crack", "rust"]  # make_project's classes


def weighted_project(*, threshold: str = "0", overlap: int = 3):
    project = make_project(
        tasks=1,
        overlap=overlap,
        consensus_method=ConsensusMethod.WEIGHTED,
        confidence_threshold=threshold,
        refit_every=0,  # the fit below is the one under test: no refit when the task finishes
    )
    ModelFit.objects.create(
        project_id=project.pk,
        method="one_coin",
        classes=CLASSES,
        n_items=100,
        n_labels=300,
        iterations=10,
        priors=[1 / 3, 1 / 3, 1 / 3],
        fitted_at=timezone.now(),
    )
    return project


def estimate(project, labeler, accuracy: float) -> None:
    LabelerEstimate.objects.create(
        project_id=project.pk,
        labeler=labeler,
        method="one_coin",
        accuracy=accuracy,
        n_items=100,
        confusion=one_coin_matrix(accuracy, 3),
        fitted_at=timezone.now(),
    )


def strong_and_two_weak(project):
    strong, weak1, weak2 = make_labeler(), make_labeler(), make_labeler()
    estimate(project, strong, 0.9)
    estimate(project, weak1, 0.6)
    estimate(project, weak2, 0.6)
    return strong, weak1, weak2


# crack (strong, 0.9) against rust, rust (0.6 each), uniform priors:
#   crack: 0.9 * 0.2 * 0.2 = 0.036; rust: 0.05 * 0.6 * 0.6 = 0.018; ok: 0.05 * 0.2 * 0.2 = 0.002
CRACK_POSTERIOR = 0.036 / 0.056


def test_the_strong_labeler_outweighs_the_majority(label):
    project = weighted_project(threshold="0.6")
    strong, weak1, weak2 = strong_and_two_weak(project)
    label(project, strong, "crack")
    label(project, weak1, "rust")
    label(project, weak2, "rust")
    task = Task.objects.get()
    assert (task.final_answer, task.decided_by, task.state) == ("crack", "consensus", "resolved")
    assert task.confidence == pytest.approx(CRACK_POSTERIOR)
    assert task.agreement == pytest.approx(1 / 3)


def test_below_the_threshold_the_task_gets_an_extra_slot(label):
    project = weighted_project(threshold="0.7")  # 0.643 < 0.7
    strong, weak1, weak2 = strong_and_two_weak(project)
    for labeler, answer in ((strong, "crack"), (weak1, "rust"), (weak2, "rust")):
        label(project, labeler, answer)
    task = Task.objects.get()
    assert (task.state, task.is_open, task.target, task.decided_by) == ("open", True, 4, "")
    assert task.confidence == pytest.approx(CRACK_POSTERIOR)
    # A fourth answer of crack from a labeler without an estimate (the project's mean
    # accuracy, 0.7, as a one-coin): crack 0.036 * 0.7, rust 0.018 * 0.15, ok 0.002 * 0.15.
    fourth = make_labeler()
    label(project, fourth, "crack")
    task.refresh_from_db()
    crack, rust, ok = 0.036 * 0.7, 0.018 * 0.15, 0.002 * 0.15
    assert (task.final_answer, task.decided_by) == ("crack", "consensus")
    assert task.confidence == pytest.approx(crack / (crack + rust + ok))


def test_below_the_threshold_at_max_overlap_goes_to_review(label):
    project = weighted_project(threshold="0.7")
    Project.objects.filter(pk=project.pk).update(max_overlap=3)  # make_project adds one
    strong, weak1, weak2 = strong_and_two_weak(project)
    for labeler, answer in ((strong, "crack"), (weak1, "rust"), (weak2, "rust")):
        label(project, labeler, answer)
    task = Task.objects.get()
    assert (task.state, task.decided_by) == ("review", "")
    assert task.confidence == pytest.approx(CRACK_POSTERIOR)
    assert Review.objects.get().kind == Review.Kind.DISAGREEMENT


def test_labelers_without_estimates_count_with_the_project_mean(label):
    project = weighted_project(threshold="0.9")
    strong, weak = make_labeler(), make_labeler()
    estimate(project, strong, 0.9)
    estimate(project, weak, 0.6)
    unknown = make_labeler()  # counts as one-coin 0.75, the mean of 0.9 and 0.6
    label(project, strong, "crack")
    label(project, weak, "rust")
    label(project, unknown, "crack")
    task = Task.objects.get()
    crack, rust, ok = 0.9 * 0.2 * 0.75, 0.05 * 0.6 * 0.125, 0.05 * 0.2 * 0.125
    assert task.final_answer == "crack"
    assert task.confidence == pytest.approx(crack / (crack + rust + ok))  # 0.964


def test_without_any_estimate_every_labeler_is_a_one_coin_of_0_7(label):
    project = weighted_project(threshold="0")
    for answer in ("crack", "crack", "rust"):
        label(project, make_labeler(), answer)
    task = Task.objects.get()
    crack, rust, ok = 0.7 * 0.7 * 0.15, 0.15 * 0.15 * 0.7, 0.15**3
    assert task.final_answer == "crack"
    assert task.confidence == pytest.approx(crack / (crack + rust + ok))


def test_weighted_without_a_fit_votes_by_majority(label):
    project = weighted_project()
    ModelFit.objects.all().delete()
    for answer in ("crack", "rust", "rust"):
        label(project, make_labeler(), answer)
    task = Task.objects.get()
    assert (task.final_answer, task.confidence) == ("rust", None)


def test_majority_projects_keep_a_null_confidence(label):
    project = make_project(tasks=1, overlap=2)
    label(project, make_labeler(), "crack")
    label(project, make_labeler(), "crack")
    task = Task.objects.get()
    assert (task.final_answer, task.decided_by, task.confidence) == ("crack", "consensus", None)
