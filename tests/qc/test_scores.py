"""Labeler scores from qc's facts (qc.selectors.quality_facts): windows, Wilson intervals, per
class, confusion matrices, agreement, quizzes, the day cut-off of the labeler's own view, the
vendor comparison, and query counts that do not grow with the facts. Hand-checked figures."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from qc.models import GoldCheck, LabelerEstimate, LabelOutcome
from qc.selectors import quality_facts
from qc.services import quizzes as quiz_services
from tests.factories import VendorFactory, make_labeler
from tests.qc.factories import make_gold_set
from tests.qc.quiz_factories import add_item, make_quiz

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
PROJECT = 41
_ids = itertools.count(1)


@pytest.fixture
def item(db):
    gold_set = make_gold_set(classes=["crack", "ok", "rust"])
    return add_item(gold_set, ["crack"], explanation="zq-canary gold explanation")


def check(labeler, item, *, expected="crack", answer="crack", days=1.0, project=PROJECT, **extra):
    return GoldCheck.objects.create(
        labeler=labeler,
        gold_item=item,
        project_id=project,
        assignment_id=next(_ids),
        answer=answer,
        correct=extra.pop("correct", answer == expected),
        expected_class=expected,
        answer_class=answer,
        checked_at=NOW - timedelta(days=days),
        **extra,
    )


def outcome(labeler, *, answer, final, peers=2, agreeing=1, days=1.0, project=PROJECT):
    at = NOW - timedelta(days=days)
    return LabelOutcome.objects.create(
        project_id=project,
        task_id=next(_ids),
        assignment_id=next(_ids),
        labeler=labeler,
        answer=answer,
        answer_class=answer,
        final_class=final,
        agrees_final=answer == final,
        peers=peers,
        peers_agreeing=agreeing,
        decided_by="consensus",
        submitted_at=at,
        decided_at=at,
    )


def test_wilson_figures_match_the_textbook():
    assert quality_facts.rate(8, 10) == {
        "n": 10,
        "correct": 8,
        "rate": 0.8,
        "low": pytest.approx(0.4902, abs=1e-4),
        "high": pytest.approx(0.9433, abs=1e-4),
    }
    assert quality_facts.rate(0, 0)["rate"] is None


class TestGoldAccuracy:
    def test_windows_count_only_this_labelers_counted_checks(self, item):
        me, other = make_labeler(), make_labeler()
        # 2 days ago: 2 of 3 right; 10 days ago: 3 of 4; 40 days ago: 3 of 3.
        for days, answers in ((2, "ccr"), (10, "cccr"), (40, "ccc")):
            for a in answers:
                check(me, item, answer="crack" if a == "c" else "rust", days=days)
        check(me, item, answer="rust", days=1, counted=False)  # quarantined gold: not counted
        check(other, item, answer="rust", days=1)
        check(me, item, answer="rust", days=1, project=PROJECT + 1, contest="open")
        got = quality_facts.gold_accuracy(labeler_id=me.pk, project_id=PROJECT, now=NOW)
        w = got["windows"]
        assert (w["last_7_days"]["correct"], w["last_7_days"]["n"]) == (2, 3)
        assert (w["last_30_days"]["correct"], w["last_30_days"]["n"]) == (5, 7)
        assert w["all_time"] == quality_facts.rate(8, 10)
        assert got["contested"] == 0
        everywhere = quality_facts.gold_accuracy(labeler_id=me.pk, now=NOW)
        assert everywhere["windows"]["all_time"]["n"] == 11
        assert everywhere["contested"] == 1

    def test_per_class_and_confusion_against_gold(self, item):
        me = make_labeler()
        for expected, answer in [
            ("crack", "crack"),
            ("crack", "crack"),
            ("crack", "rust"),
            ("rust", "rust"),
            ("rust", "ok"),
        ]:
            check(me, item, expected=expected, answer=answer)
        got = quality_facts.gold_by_class(labeler_id=me.pk)
        assert [(r["class_name"], r["correct"], r["n"]) for r in got["per_class"]] == [
            ("crack", 2, 3),
            ("rust", 1, 2),
        ]
        assert got["confusion"] == {
            "classes": ["crack", "ok", "rust"],
            "counts": [[2, 0, 1], [0, 0, 0], [0, 1, 1]],
        }

    def test_weekly_series_with_bands(self, item):
        me = make_labeler()
        for days in (1, 1, 8, 100):
            check(me, item, days=days)
        weeks = quality_facts.gold_weekly(labeler_id=me.pk, now=NOW)
        assert sum(w["n"] for w in weeks) == 3  # the 100-day-old check is past 12 weeks
        assert all(w["low"] <= w["rate"] <= w["high"] for w in weeks)
        assert [w["week"] for w in weeks] == sorted(w["week"] for w in weeks)
        assert all(w["week"].weekday() == 0 for w in weeks)


class TestAgreement:
    def test_pairwise_and_final(self):
        me = make_labeler()
        outcome(me, answer="crack", final="crack", peers=2, agreeing=2, days=1)
        outcome(me, answer="rust", final="crack", peers=2, agreeing=0, days=1)
        outcome(me, answer="ok", final="ok", peers=1, agreeing=1, days=20)
        outcome(me, answer="ok", final="ok", peers=2, agreeing=1, days=20, project=PROJECT + 1)
        got = quality_facts.agreement(labeler_id=me.pk, project_id=PROJECT, now=NOW)
        assert got["pairwise"]["last_7_days"] == quality_facts.rate(2, 4, key="agreeing")
        assert got["pairwise"]["all_time"] == quality_facts.rate(3, 5, key="agreeing")
        assert got["with_final"]["last_7_days"] == quality_facts.rate(1, 2, key="agreeing")
        assert got["with_final"]["all_time"] == quality_facts.rate(2, 3, key="agreeing")
        assert quality_facts.confusion_vs_final(labeler_id=me.pk, project_id=PROJECT) == {
            "classes": ["crack", "ok", "rust"],
            "counts": [[1, 0, 1], [0, 1, 0], [0, 0, 0]],
        }


def test_quiz_accuracy_counts_ended_attempts_only():
    me = make_labeler()
    gold_set = make_gold_set(classes=["crack", "ok", "rust"])
    for _ in range(4):
        add_item(gold_set, ["crack"])
    quiz = make_quiz(gold_set, num_questions=3, max_attempts=None)
    attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz, labeler=me)
    questions = list(attempt.questions.order_by("position"))
    for q, right in zip(questions, (True, True, False), strict=True):
        q.is_correct, q.answer, q.answered_at = right, "crack", NOW - timedelta(days=1)
        q.save()
    assert quality_facts.quiz_accuracy(labeler_id=me.pk, now=NOW)["all_time"]["n"] == 0  # running
    type(attempt).objects.filter(pk=attempt.pk).update(finished_at=NOW)
    got = quality_facts.quiz_accuracy(labeler_id=me.pk, now=NOW)
    assert got["all_time"] == quality_facts.rate(2, 3)
    assert got["last_7_days"] == quality_facts.rate(2, 3)


def test_the_own_view_leaves_out_facts_from_before_the_cut_off(item):
    me = make_labeler()
    check(me, item, days=2)
    check(me, item, answer="rust", days=0.01)  # minutes ago
    outcome(me, answer="crack", final="crack", days=0.01)
    cut = NOW - timedelta(days=1)
    got = quality_facts.labeler_scores(labeler_id=me.pk, now=NOW, before=cut)
    assert got["gold_accuracy"]["all_time"] == quality_facts.rate(1, 1)
    assert got["agreement"]["with_final"]["all_time"]["n"] == 0
    full = quality_facts.labeler_scores(labeler_id=me.pk, now=NOW)
    assert full["gold_accuracy"]["all_time"] == quality_facts.rate(1, 2)


def test_labeler_scores_take_seven_queries_whatever_the_facts(item, django_assert_num_queries):
    me = make_labeler()
    for i in range(30):
        check(me, item, answer="crack" if i % 3 else "rust", days=i)
        outcome(me, answer="ok", final="ok" if i % 2 else "crack", days=i)
    LabelerEstimate.objects.create(
        project_id=PROJECT,
        labeler=me,
        method="one_coin",
        accuracy=0.8,
        n_items=30,
        confusion=[],
        fitted_at=NOW,
    )
    with django_assert_num_queries(7):
        got = quality_facts.labeler_scores(labeler_id=me.pk, project_id=PROJECT, now=NOW)
    assert got["gold_accuracy"]["all_time"] == quality_facts.rate(20, 30)
    assert got["estimates"][0]["accuracy"] == 0.8


def test_vendor_comparison_pools_each_vendors_facts(item, django_assert_max_num_queries):
    acme, bravo = VendorFactory(slug="acme-s"), VendorFactory(slug="bravo-s")
    a1, a2 = make_labeler(vendor=acme), make_labeler(vendor=acme)
    b1, internal = make_labeler(vendor=bravo), make_labeler()
    for labeler, answers in ((a1, "ccr"), (a2, "c"), (b1, "rr"), (internal, "c")):
        for a in answers:
            check(labeler, item, answer="crack" if a == "c" else "rust")
    outcome(a1, answer="crack", final="crack", peers=2, agreeing=1)
    for labeler, accuracy in ((a1, 0.9), (a2, 0.7)):
        LabelerEstimate.objects.create(
            project_id=PROJECT,
            labeler=labeler,
            method="one_coin",
            accuracy=accuracy,
            n_items=10,
            confusion=[],
            fitted_at=NOW,
        )
    with django_assert_max_num_queries(4):
        rows = {r["vendor_id"]: r for r in quality_facts.vendor_comparison(now=NOW)}
    assert set(rows) == {acme.pk, bravo.pk, None}
    assert rows[acme.pk]["gold_all_time"] == quality_facts.rate(3, 4)
    assert rows[acme.pk]["labelers_checked"] == 2
    assert rows[acme.pk]["pairwise"] == quality_facts.rate(1, 2, key="agreeing")
    assert rows[acme.pk]["mean_estimated_accuracy"] == pytest.approx(0.8)
    assert rows[bravo.pk]["gold_all_time"] == quality_facts.rate(0, 2)
    assert rows[None]["vendor_name"] == "internal"
    scoped = quality_facts.vendor_comparison(vendor_ids=[bravo.pk], now=NOW)
    assert [r["vendor_id"] for r in scoped] == [bravo.pk]
