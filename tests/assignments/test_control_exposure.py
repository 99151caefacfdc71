"""A gold item a labeler has met outside a control task of their own is never served to them as
a control task (issue 9, point 1): shown with its answer in a training quiz, drawn into a
qualification quiz, checked (or only leased) in another project sharing the gold set. Plus: a
quarantined item is not served, and the control claim's statements are pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase

from assignments import services
from assignments.models import Assignment, Task
from qc.models import GoldCheck, GoldExposure, GoldItem
from qc.services import quizzes as quiz_services
from tests.assignments.factories import AlwaysControl, make_project, with_gold
from tests.factories import make_labeler
from tests.qc.quiz_factories import make_qualification_type, make_quiz

pytestmark = pytest.mark.django_db


def _claim(labeler, project):
    return services.assignment_claim_next(
        labeler=labeler, project_id=project.pk, rng=AlwaysControl()
    )


def _served_gold(claim) -> int | None:
    """The gold item of the claimed task (None for a real task)."""
    if not claim.assignment.is_control:
        return None
    return Task.objects.values_list("gold_item_id", flat=True).get(pk=claim.assignment.task_id)


def _submit(labeler, claim, answer="ok"):
    """Submit, and run the after-commit work (grading a control answer) as production does."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer=answer
        )


def test_items_a_training_quiz_showed_with_their_answer_are_never_served_as_control():
    project = make_project()
    gold_set = with_gold(project, n=4)
    labeler = make_labeler()
    quiz = make_quiz(
        gold_set,
        slug="poles-training",
        title="Poles training",
        kind="training",
        num_questions=3,
        pass_mark="0.5",
    )
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    shown = set()
    for question in attempt.questions.order_by("position"):
        outcome = quiz_services.quiz_attempt_answer(
            actor=labeler.user, attempt=attempt, question_id=question.pk, answer="rust"
        )
        assert outcome.feedback.accepted_answers == ["ok"]  # the answer was shown
        shown.add(question.gold_item_id)
    assert len(shown) == 3
    assert (
        set(
            GoldExposure.objects.filter(labeler=labeler, reason="quiz_training").values_list(
                "gold_item_id", flat=True
            )
        )
        == shown
    )

    served = []
    for _ in range(3):  # every claim asks for a control task first
        claim = _claim(labeler, project)
        served.append(_served_gold(claim))
        _submit(labeler, claim)

    # The one item the quiz did not show is served, once; then only real tasks.
    (unseen,) = set(GoldItem.objects.filter(gold_set=gold_set).values_list("pk", flat=True)) - shown
    assert served == [unseen, None, None]


def test_a_qualification_quiz_exposes_its_questions_and_recording_twice_keeps_the_first():
    project = make_project()
    gold_set = with_gold(project, n=3)
    labeler = make_labeler()
    quiz = make_quiz(
        gold_set,
        slug="poles-qualification",
        title="Poles qualification",
        kind="qualification",
        num_questions=3,
        pass_mark="0.5",
        qualification_type=make_qualification_type("poles"),
    )
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    quiz_services.quiz_attempt_finish(actor=None, attempt=attempt)
    first = dict(GoldExposure.objects.filter(labeler=labeler).values_list("gold_item_id", "at"))
    assert len(first) == 3
    assert set(GoldExposure.objects.values_list("reason", flat=True)) == {"quiz_qualification"}
    again, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    assert again.pk != attempt.pk
    assert dict(GoldExposure.objects.values_list("gold_item_id", "at")) == first

    claim = _claim(labeler, project)
    assert _served_gold(claim) is None  # every item of the set was met in the quiz


def test_an_item_met_in_one_project_is_not_served_in_another_sharing_the_gold_set():
    """Project A and project B use the same control set. In A the labeler submits one control
    task (a gold check) and releases the other (seen, not checked); B then has nothing for
    them."""
    a = make_project(slug="poles-a")
    gold_set = with_gold(a, n=2)
    b = make_project(slug="poles-b", control_gold_set=gold_set, control_ratio="0.5")
    services.project_sync_control_tasks(actor=None, project=b)
    labeler, fresh = make_labeler(), make_labeler()

    checked = _claim(labeler, a)
    _submit(labeler, checked)
    released = _claim(labeler, a)
    assert released.assignment.is_control
    services.assignment_release(labeler=labeler, assignment_id=released.assignment.pk)
    assert GoldCheck.objects.filter(labeler=labeler).count() == 1

    assert _served_gold(_claim(labeler, b)) is None
    # Someone who met neither item gets one in B.
    assert _served_gold(_claim(fresh, b)) is not None


def test_a_gold_check_from_a_project_whose_tasks_are_gone_still_counts():
    """The gold check is qc's own fact and outlives the other project's tasks."""
    project = make_project()
    gold_set = with_gold(project, n=1)
    labeler = make_labeler()
    (item,) = GoldItem.objects.filter(gold_set=gold_set)
    GoldCheck.objects.create(
        labeler=labeler,
        gold_item=item,
        project_id=project.pk + 1000,
        assignment_id=10**9,
        answer="ok",
        correct=True,
        checked_at=project.created_at,
    )
    assert _served_gold(_claim(labeler, project)) is None


def test_quarantined_and_retired_items_are_not_served():
    project = make_project()
    gold_set = with_gold(project, n=3)
    quarantined, retired, active = GoldItem.objects.filter(gold_set=gold_set).order_by("pk")
    GoldItem.objects.filter(pk=quarantined.pk).update(status=GoldItem.Status.QUARANTINED)
    GoldItem.objects.filter(pk=retired.pk).update(status=GoldItem.Status.RETIRED)
    labeler = make_labeler()
    first = _claim(labeler, project)
    assert _served_gold(first) == active.pk
    _submit(labeler, first)
    assert _served_gold(_claim(labeler, project)) is None


def test_every_eligible_item_can_be_drawn():
    """The random pivot wraps round: with one item left at either end of the id range, it is
    found whatever the pivot."""
    project = make_project(tasks=0)
    gold_set = with_gold(project, n=5)
    items = list(GoldItem.objects.filter(gold_set=gold_set).order_by("pk"))
    for keep in (items[0], items[-1]):
        labeler = make_labeler()
        for item in items:
            if item != keep:
                task = Task.objects.get(project=project, gold_item=item)
                Assignment.objects.create(
                    task=task,
                    project=project,
                    labeler=labeler,
                    is_control=True,
                    status=Assignment.Status.RELEASED,
                    leased_at=project.created_at,
                    expires_at=project.created_at + timedelta(seconds=60),
                )
        for _ in range(5):
            claim = _claim(labeler, project)
            assert _served_gold(claim) == keep.pk
            services.assignment_release(labeler=labeler, assignment_id=claim.assignment.pk)
            Assignment.objects.filter(pk=claim.assignment.pk).delete()


def test_a_control_claim_is_three_statements_however_much_the_labeler_has_met(
    assert_max_statements,
):
    """Gate, the control pick, the lease: the exclusions are index probes inside the pick."""
    project = make_project()
    gold_set = with_gold(project, n=30)
    labeler = make_labeler()
    items = list(GoldItem.objects.filter(gold_set=gold_set).values_list("pk", flat=True))
    GoldExposure.objects.bulk_create(
        GoldExposure(
            labeler=labeler, gold_item_id=pk, reason="quiz_training", at=project.created_at
        )
        for pk in items[:20]
    )
    with assert_max_statements(3):
        claim = _claim(labeler, project)
    assert _served_gold(claim) in items[20:]
