"""Every score window ends at now: a fact stamped in the future (a clock that ran ahead, a
backdated import, a demo seeded with a runaway clock) is never counted — not in a window, the
per-class figures, the confusion matrices, the weekly series, the per-labeler table, the vendor
comparison, the quiz figures or the throughput."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assignments.admin_quality_pages import _vendor_throughput
from assignments.models import Assignment
from assignments.selectors import quality_pages
from qc.models import LabelOutcome
from qc.selectors import quality_facts
from qc.services import quizzes as quiz_services
from tests.assignments.factories import NOW, gold_check, gold_item, make_project, submissions
from tests.factories import VendorFactory, make_labeler
from tests.qc.factories import make_gold_set
from tests.qc.quiz_factories import add_item, make_quiz

pytestmark = pytest.mark.django_db

AHEAD = -2.0  # days before NOW: two days after it


def outcome(labeler, project, *, answer, final, days):
    at = NOW - timedelta(days=days)
    LabelOutcome.objects.create(
        project_id=project.pk,
        task_id=LabelOutcome.objects.count() + 1,
        assignment_id=800_000 + LabelOutcome.objects.count(),
        labeler=labeler,
        answer=answer,
        answer_class=answer,
        final_class=final,
        agrees_final=answer == final,
        peers=1,
        peers_agreeing=int(answer == final),
        decided_by="consensus",
        submitted_at=at,
        decided_at=at,
    )


@pytest.fixture
def world():
    """A vendor labeler with one right gold check and one decided answer a day ago, and a wrong
    check and a disagreeing answer stamped two days from now."""
    project = make_project(tasks=0)
    me = make_labeler(vendor=VendorFactory(slug="windows-v"))
    item = gold_item(slug="windows-gold")
    gold_check(me, item, project, "crack", days=1)
    gold_check(me, item, project, "rust", days=AHEAD)
    outcome(me, project, answer="ok", final="ok", days=1)
    outcome(me, project, answer="ok", final="crack", days=AHEAD)
    return project, me


def test_scores_count_no_fact_after_now(world):
    project, me = world
    got = quality_facts.labeler_scores(labeler_id=me.pk, project_id=project.pk, now=NOW)
    for key, _days in quality_facts.WINDOWS:
        assert got["gold_accuracy"][key] == quality_facts.rate(1, 1), key
        assert got["agreement"]["with_final"][key] == quality_facts.rate(1, 1, key="agreeing"), key
        assert got["agreement"]["pairwise"][key] == quality_facts.rate(1, 1, key="agreeing"), key
    assert got["per_class"] == [{"class_name": "crack", **quality_facts.rate(1, 1)}]
    assert got["confusion_vs_gold"] == {"classes": ["crack"], "counts": [[1]]}
    assert got["confusion_vs_final"] == {"classes": ["ok"], "counts": [[1]]}
    assert [w["n"] for w in got["gold_weekly"]] == [1]

    table = quality_facts.labeler_score_table(project_id=project.pk, now=NOW)[me.pk]
    assert table["gold_all_time"] == table["gold_last_30_days"] == quality_facts.rate(1, 1)
    assert table["with_final"] == quality_facts.rate(1, 1, key="agreeing")
    (row,) = quality_facts.vendor_comparison(project_id=project.pk, now=NOW)
    assert row["gold_all_time"] == row["gold_last_30_days"] == quality_facts.rate(1, 1)
    assert row["with_final"] == quality_facts.rate(1, 1, key="agreeing")

    # The same facts, read from a "now" after all of them: both count.
    later = NOW + timedelta(days=3)
    got = quality_facts.labeler_scores(labeler_id=me.pk, project_id=project.pk, now=later)
    assert got["gold_accuracy"]["last_7_days"] == quality_facts.rate(1, 2)


def test_quiz_answers_after_now_do_not_count():
    me = make_labeler()
    gold_set = make_gold_set(classes=["crack", "ok"])
    for _ in range(3):
        add_item(gold_set, ["crack"])
    quiz = make_quiz(gold_set, num_questions=2, max_attempts=None)
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=me)
    first, second = attempt.questions.order_by("position")
    first.is_correct, first.answer, first.answered_at = True, "crack", NOW - timedelta(days=1)
    second.is_correct, second.answer, second.answered_at = False, "ok", NOW + timedelta(days=1)
    first.save()
    second.save()
    type(attempt).objects.filter(pk=attempt.pk).update(finished_at=NOW - timedelta(hours=1))
    got = quality_facts.quiz_accuracy(labeler_id=me.pk, now=NOW)
    assert got["all_time"] == got["last_7_days"] == quality_facts.rate(1, 1)
    # An attempt that ends after now does not count yet.
    type(attempt).objects.filter(pk=attempt.pk).update(finished_at=NOW + timedelta(hours=1))
    assert quality_facts.quiz_accuracy(labeler_id=me.pk, now=NOW)["all_time"]["n"] == 0


def test_throughput_counts_no_submission_after_now():
    project = make_project(tasks=0)
    me = make_labeler()
    submissions(project, [[(me, "ok")]] * 2, days=1)
    submissions(project, [[(me, "ok")]] * 3, days=AHEAD)
    assert Assignment.objects.filter(labeler=me).count() == 5
    got = quality_pages.labeler_throughput(labeler_id=me.pk, project_id=project.pk, now=NOW)
    for key, _days in quality_facts.WINDOWS:
        assert got["windows"][key]["submissions"] == 2, key
    assert got["timed_submissions"] == 2
    assert sum(d["submissions"] for d in got["daily"]) == 2

    work = _vendor_throughput(project_id=project.pk, now=NOW)
    assert work[None]["labels"] == 2
    assert work[None]["per_day"] == pytest.approx(2 / 30)
