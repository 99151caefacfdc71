"""Real races on PostgreSQL: threads with their own connections call the services at the same
moment (a barrier releases them together). Starts, answers, finishes, the attempt limit, the
retry delay and the time limit must hold."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from config.errors import Conflict
from qc.models import AttemptQuestion, Quiz, QuizAttempt
from qc.services import quizzes as services
from tests.conftest import requires_postgres
from tests.factories import race
from tests.qc.factories import make_gold_set
from tests.qc.quiz_factories import add_item, make_quiz
from workforce.models import Labeler, Qualification

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


def _start(quiz_pk: int, labeler_pk: int, now=None):
    quiz = Quiz.objects.get(pk=quiz_pk)
    labeler = Labeler.objects.get(pk=labeler_pk)
    return services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler, now=now)


def _codes(results) -> Counter:
    return Counter(r.code if isinstance(r, Conflict) else type(r).__name__ for r in results)


def test_concurrent_starts_give_one_attempt(vendor_labeler):
    quiz = make_quiz(num_questions=3)
    results = race(THREADS, lambda i: _start(quiz.pk, vendor_labeler.pk))
    assert all(isinstance(r, tuple) for r in results), results
    assert len({attempt.pk for attempt, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (THREADS - 1) + [True]
    attempt = QuizAttempt.objects.get()
    assert AttemptQuestion.objects.filter(attempt=attempt).count() == 3


def test_concurrent_answers_to_one_question_keep_the_first(vendor_labeler):
    gold_set = make_gold_set(answer_type="boxes", classes=["pole"])
    for i in range(3):
        add_item(gold_set, [[{"label": "pole", "x": 5.0 * i, "y": 0.0, "w": 9.0, "h": 9.0}]])
    quiz = make_quiz(gold_set, num_questions=3, pass_mark="0.5")
    attempt, _ = _start(quiz.pk, vendor_labeler.pk)
    question = attempt.questions.order_by("position").first()

    def answer(i: int):
        box = {"label": "pole", "x": float(100 + i), "y": 1.0, "w": 2.0, "h": 2.0}
        return services.quiz_attempt_answer(
            actor=vendor_labeler.user,
            attempt=QuizAttempt.objects.select_related("quiz__gold_set").get(pk=attempt.pk),
            question_id=question.pk,
            answer=[box],
        )

    results = race(THREADS, answer)
    winners = [r for r in results if isinstance(r, services.AnswerOutcome)]
    assert len(winners) == 1, results
    assert _codes(r for r in results if r not in winners) == {"already_answered": THREADS - 1}
    question.refresh_from_db()
    assert question.answer[0]["x"] in {float(100 + i) for i in range(THREADS)}
    stored = QuizAttempt.objects.get(pk=attempt.pk)
    assert (stored.answered_count, stored.correct_count) == (1, 0)


def test_concurrent_finishes_give_one_result_and_one_qualification(vendor_labeler):
    quiz = make_quiz(num_questions=4, pass_mark="0.5", validity_days=30)
    attempt, _ = _start(quiz.pk, vendor_labeler.pk)
    for q in attempt.questions.select_related("gold_item").order_by("position")[:2]:
        services.quiz_attempt_answer(
            actor=vendor_labeler.user,
            attempt=attempt,
            question_id=q.pk,
            answer=q.gold_item.accepted_answers[0],
        )

    def finish(i: int):
        fresh = QuizAttempt.objects.get(pk=attempt.pk)
        return services.quiz_attempt_finish(actor=vendor_labeler.user, attempt=fresh)

    results = race(THREADS, finish)
    assert all(isinstance(r, QuizAttempt) for r in results), results
    outcomes = {(r.status, r.score, r.finished_at, r.qualification_id) for r in results}
    assert len(outcomes) == 1, outcomes
    [(status, score, _, qualification_id)] = outcomes
    assert status == "passed" and str(score) == "0.5000"
    grant = Qualification.objects.get()
    assert grant.pk == qualification_id and grant.source_ref == f"quiz-attempt:{attempt.pk}"


def test_concurrent_starts_within_the_retry_delay_are_all_refused(vendor_labeler):
    quiz = make_quiz(num_questions=2, retry_delay_seconds=3600)
    attempt, _ = _start(quiz.pk, vendor_labeler.pk)
    services.quiz_attempt_finish(actor=None, attempt=attempt)  # failed: nothing answered
    results = race(THREADS, lambda i: _start(quiz.pk, vendor_labeler.pk))
    assert _codes(results) == {"retry_delay": THREADS}
    assert QuizAttempt.objects.count() == 1


def test_the_attempt_limit_holds_under_concurrent_start_and_finish(vendor_labeler):
    quiz = make_quiz(num_questions=2, max_attempts=3)

    def take_attempts(i: int):
        taken = 0
        while True:
            try:
                attempt, created = _start(quiz.pk, vendor_labeler.pk)
            except Conflict as exc:
                assert exc.code == "attempts_exhausted"
                return taken
            services.quiz_attempt_finish(actor=None, attempt=attempt)
            taken += created

    results = race(THREADS, take_attempts)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 3
    assert sorted(QuizAttempt.objects.values_list("number", flat=True)) == [1, 2, 3]
    assert set(QuizAttempt.objects.values_list("status", flat=True)) == {"failed"}


def test_concurrent_answers_after_the_time_limit_end_the_attempt_once(vendor_labeler):
    quiz = make_quiz(num_questions=3, pass_mark="0.3", time_limit_seconds=60)
    attempt, _ = _start(quiz.pk, vendor_labeler.pk)
    questions = list(attempt.questions.select_related("gold_item").order_by("position"))
    services.quiz_attempt_answer(
        actor=vendor_labeler.user,
        attempt=attempt,
        question_id=questions[0].pk,
        answer=questions[0].gold_item.accepted_answers[0],
    )
    deadline = timezone.now() - timedelta(seconds=1)
    QuizAttempt.objects.filter(pk=attempt.pk).update(deadline=deadline)

    def answer(i: int):
        return services.quiz_attempt_answer(
            actor=vendor_labeler.user,
            attempt=QuizAttempt.objects.select_related("quiz__gold_set").get(pk=attempt.pk),
            question_id=questions[1].pk,
            answer=questions[1].gold_item.accepted_answers[0],
        )

    results = race(THREADS, answer)
    assert _codes(results) == {"time_limit_passed": 1, "attempt_ended": THREADS - 1}
    stored = QuizAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.end_reason, stored.finished_at) == (
        "passed",
        "time_limit",
        deadline,
    )
    assert stored.answered_count == 1
    assert Qualification.objects.count() == 1


def test_racing_answers_and_finish_grant_at_most_once(vendor_labeler):
    quiz = make_quiz(num_questions=2, pass_mark="0.5")
    attempt, _ = _start(quiz.pk, vendor_labeler.pk)
    first = attempt.questions.select_related("gold_item").order_by("position").first()

    def act(i: int):
        fresh = QuizAttempt.objects.select_related("quiz__gold_set").get(pk=attempt.pk)
        if i % 2:
            return services.quiz_attempt_finish(actor=vendor_labeler.user, attempt=fresh)
        return services.quiz_attempt_answer(
            actor=vendor_labeler.user,
            attempt=fresh,
            question_id=first.pk,
            answer=first.gold_item.accepted_answers[0],
        )

    results = race(THREADS, act)
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, Conflict) for e in errors), errors
    stored = QuizAttempt.objects.get(pk=attempt.pk)
    assert stored.status in ("passed", "failed")
    assert Qualification.objects.count() == (1 if stored.status == "passed" else 0)
    assert stored.answered_count <= 1
