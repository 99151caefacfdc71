"""Query counts: the quiz list (with each quiz's availability), starting an attempt and
answering cost a constant number of queries, whatever the number of quizzes, questions,
attempts and grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qc.models import Quiz
from qc.services import quizzes as services
from tests.qc.quiz_factories import (
    acknowledge,
    make_choice_set,
    make_guide,
    make_quiz,
)
from workforce import services as workforce_services

pytestmark = pytest.mark.django_db


def _populate(labeler, n: int) -> None:
    """``n`` quizzes of every flavour, each with a guide, attempts and grants of the labeler."""
    for i in range(n):
        guide = make_guide(published=((1, 0), (2, 0)))
        if i % 2:
            acknowledge(labeler, guide.versions.get(major=2))
        quiz = make_quiz(
            num_questions=2,
            guide=guide if i % 3 else None,
            max_attempts=3,
            retry_delay_seconds=7200,
            kind=Quiz.Kind.QUALIFICATION if i % 4 else Quiz.Kind.TRAINING,
            pass_mark="0.5",
        )
        if quiz.guide_id is None or i % 2:
            attempt, _ = services.quiz_attempt_start(
                actor=None, quiz=quiz, labeler=labeler, now=timezone.now() - timedelta(hours=2)
            )
            services.quiz_attempt_finish(
                actor=None, attempt=attempt, now=timezone.now() - timedelta(hours=1)
            )
        if quiz.qualification_type_id and i % 2:
            workforce_services.qualification_grant(
                actor=None,
                labeler=labeler,
                qualification_type=quiz.qualification_type,
                source="manual",
                reason="x",
                valid_days=1,
            )


def _count(client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx), response.json()


def test_quiz_list_costs_a_constant_number_of_queries(
    client_for, vendor_labeler, django_assert_max_num_queries
):
    client = client_for(vendor_labeler.user)
    _populate(vendor_labeler, 2)
    client.get("/api/v1/quizzes/")  # warm-up
    few, body = _count(client, "/api/v1/quizzes/")
    assert len(body["results"]) == 2

    _populate(vendor_labeler, 10)
    many, body = _count(client, "/api/v1/quizzes/")
    assert len(body["results"]) == 12
    codes = {b["code"] for row in body["results"] for b in row["availability"]["blocked"]}
    assert {"guide_not_acknowledged", "already_qualified", "retry_delay"} <= codes
    assert few == many
    # quizzes, labeler, attempts, grants, guide versions, acknowledgements, item counts
    with django_assert_max_num_queries(7):
        client.get("/api/v1/quizzes/")


def test_attempt_and_qualification_lists_are_constant(client_for, manager_a, vendor_a):
    from tests.factories import make_labeler

    client = client_for(manager_a)

    def add(n):
        for _ in range(n):
            labeler = make_labeler(vendor=vendor_a)
            quiz = make_quiz(num_questions=2, pass_mark="0.5")
            attempt, _ = services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
            q = attempt.questions.select_related("gold_item").order_by("position").first()
            services.quiz_attempt_answer(
                actor=labeler.user,
                attempt=attempt,
                question_id=q.pk,
                answer=q.gold_item.accepted_answers[0],
            )
            services.quiz_attempt_finish(actor=None, attempt=attempt)

    add(1)
    client.get("/api/v1/quiz-attempts/")
    counts = {}
    for url in ("/api/v1/quiz-attempts/", "/api/v1/qualifications/"):
        counts[url] = _count(client, url)[0]
    add(5)
    for url, few in counts.items():
        many, body = _count(client, url)
        assert len(body["results"]) == 6
        assert many == few, url


def _start_count(labeler, quiz) -> int:
    with CaptureQueriesContext(connection) as ctx:
        services.quiz_attempt_start(actor=None, quiz=quiz, labeler=labeler)
    return len(ctx)


def test_start_is_constant_in_the_number_of_questions(
    internal_labeler, vendor_labeler, django_assert_max_num_queries
):
    guide = make_guide(published=((1, 0),))
    for labeler in (internal_labeler, vendor_labeler):
        acknowledge(labeler, guide.versions.get())
    small = make_quiz(make_choice_set({"a": 2, "b": 2}), num_questions=3, guide=guide)
    large = make_quiz(make_choice_set({"a": 20, "b": 20}), num_questions=30, guide=guide)
    assert _start_count(internal_labeler, small) == _start_count(vendor_labeler, large)
    quiz = make_quiz(make_choice_set({"a": 20, "b": 20}), num_questions=30, guide=guide)
    # 12, plus the one INSERT of the drawn questions' gold exposures.
    with django_assert_max_num_queries(13):
        services.quiz_attempt_start(actor=None, quiz=quiz, labeler=internal_labeler)


def test_start_and_answer_through_the_api_are_pinned(
    client_for, vendor_labeler, django_assert_max_num_queries
):
    quiz = make_quiz(make_choice_set({"a": 20, "b": 20}), num_questions=30, pass_mark="0.5")
    client = client_for(vendor_labeler.user)
    with django_assert_max_num_queries(16):
        attempt = client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/").json()
    counts = []
    for _ in range(29):
        q = attempt["next_question"]
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(
                f"/api/v1/quiz-attempts/{attempt['id']}/answers/",
                {"question": q["id"], "answer": "a"},
                format="json",
            )
        assert response.status_code == 200
        attempt = response.json()["attempt"]
        counts.append(len(ctx))
    assert len(set(counts)) == 1, counts
    assert counts[0] <= 11
    # the last answer ends the attempt and grants the qualification: still a fixed number
    q = attempt["next_question"]
    with django_assert_max_num_queries(16):
        response = client.post(
            f"/api/v1/quiz-attempts/{attempt['id']}/answers/",
            {"question": q["id"], "answer": "a"},
            format="json",
        )
    assert response.json()["attempt"]["status"] in ("passed", "failed")
