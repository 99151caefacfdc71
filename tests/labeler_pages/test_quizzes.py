"""Quiz pages: the quiz (what it is, whether the labeler may start it and why not), starting
(never a second attempt), one question at a time (never a second answer), training feedback
only after the answer is locked, the deadline, the result and what it grants, and the 404 of
someone else's attempt. Set-up through the qc factories and services, flows through the pages."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from qc.models import AttemptQuestion, Quiz, QuizAttempt
from qc.services import quizzes as quiz_services
from tests.factories import make_labeler
from tests.qc.factories import acknowledge, make_gold_item, make_gold_set, make_published_guide
from tests.qc.quiz_factories import make_qualification_type, make_quiz

pytestmark = pytest.mark.django_db

A = QuizAttempt.Status
_n = itertools.count(1)

EXPLANATION = "The dark line crosses the grain: that is a crack, not a shadow."


def gold_set_with_items(count: int = 4):
    """A single-choice gold set (crack, rust, ok) of ``count`` items, each with an image and an
    explanation naming its answer."""
    gold_set = make_gold_set(classes=["crack", "ok", "rust"])
    labels = ["crack", "rust", "ok"]
    for i in range(count):
        label = labels[i % 3]
        make_gold_item(
            gold_set,
            accepted_answers=[label],
            image_url=f"https://img.example.test/quiz/{next(_n)}.jpg",
            explanation=f"{EXPLANATION} [{label}]",
        )
    return gold_set


def training_quiz(**kwargs) -> Quiz:
    return make_quiz(
        gold_set_with_items(kwargs.pop("items", 4)),
        kind=Quiz.Kind.TRAINING,
        num_questions=kwargs.pop("num_questions", 3),
        pass_mark="0.5",
        title=kwargs.pop("title", "Crack or rust: practice"),
        **kwargs,
    )


def qualification_quiz(**kwargs) -> Quiz:
    return make_quiz(
        gold_set_with_items(kwargs.pop("items", 4)),
        kind=Quiz.Kind.QUALIFICATION,
        num_questions=kwargs.pop("num_questions", 3),
        pass_mark=kwargs.pop("pass_mark", "0.6"),
        qualification_type=make_qualification_type(f"poles-{next(_n)}", "Utility poles"),
        title=kwargs.pop("title", "Crack or rust: qualification"),
        **kwargs,
    )


def quiz_url(quiz) -> str:
    return reverse("labeler:quiz", args=[quiz.pk])


def start_url(quiz) -> str:
    return reverse("labeler:quiz-start", args=[quiz.pk])


def attempt_url(attempt) -> str:
    return reverse("labeler:attempt", args=[attempt.pk])


def answer_url(attempt) -> str:
    return reverse("labeler:attempt-answer", args=[attempt.pk])


def questions(attempt) -> list[AttemptQuestion]:
    return list(attempt.questions.select_related("gold_item").order_by("position"))


def gold(question: AttemptQuestion) -> str:
    return question.gold_item.accepted_answers[0]


def wrong(question: AttemptQuestion) -> str:
    return next(c for c in ("crack", "ok", "rust") if c != gold(question))


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def start(client, quiz, seen=0) -> QuizAttempt:
    response = client.post(start_url(quiz), {"seen": seen})
    assert response.status_code == 302
    return QuizAttempt.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def answer_all(labeler, attempt, *, correct: int) -> None:
    """Answer every question through the service: the first ``correct`` right, the rest
    wrong."""
    for i, question in enumerate(questions(attempt)):
        quiz_services.quiz_attempt_answer(
            actor=labeler.user,
            attempt=attempt,
            question_id=question.pk,
            answer=gold(question) if i < correct else wrong(question),
        )
    attempt.refresh_from_db()


# -- the quiz page ------------------------------------------------------------------------------


def test_training_quiz_page_says_what_it_is_and_offers_start(labeler_client):
    quiz = training_quiz(time_limit_seconds=600, max_attempts=2)
    response = labeler_client.get(quiz_url(quiz))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Crack or rust: practice" in html
    assert "Training quiz" in html
    assert "50% correct" in html
    assert "10 minutes" in html
    assert "0 used of 2" in html
    assert "Nothing: it is practice" in html
    assert f'action="{start_url(quiz)}"' in html
    assert 'name="seen" value="0"' in html


def test_qualification_quiz_page_says_what_it_grants_and_that_a_sequential_test_may_end_early(
    labeler_client,
):
    quiz = qualification_quiz(
        num_questions=4,
        pass_mark="0.75",
        validity_days=90,
        sequential=True,
        seq_p0="0.4",
        seq_min_questions=2,
    )
    html = labeler_client.get(quiz_url(quiz)).content.decode()
    assert "Qualification test" in html
    assert "Utility poles" in html and "valid for 90 days" in html
    assert "Up to 4" in html
    assert "This test may end early" in html
    assert "no limit" in html


def test_quiz_page_says_why_not_and_links_the_guide_to_acknowledge(labeler_client):
    guide, _ = make_published_guide()
    quiz = training_quiz(guide=guide)
    html = labeler_client.get(quiz_url(quiz)).content.decode()
    assert "Read the guide and acknowledge its current version first." in html
    assert reverse("labeler:guide", args=[guide.pk]) in html
    assert start_url(quiz) not in html


def test_quiz_page_offers_to_continue_an_attempt_in_progress(labeler_client):
    quiz = training_quiz()
    attempt = start(labeler_client, quiz)
    html = labeler_client.get(quiz_url(quiz)).content.decode()
    assert "Continue your attempt" in html and attempt_url(attempt) in html
    assert start_url(quiz) not in html


def test_an_inactive_quiz_is_404(labeler_client):
    quiz = training_quiz(is_active=False)
    assert labeler_client.get(quiz_url(quiz)).status_code == 404
    assert labeler_client.post(start_url(quiz), {"seen": 0}).status_code == 404


# -- starting -----------------------------------------------------------------------------------


def test_start_twice_gives_one_attempt(labeler_client):
    quiz = training_quiz()
    first = start(labeler_client, quiz)
    second = labeler_client.post(start_url(quiz), {"seen": 0})  # double click / second tab
    third = labeler_client.post(start_url(quiz))  # a form without the field: the service
    assert second["Location"] == third["Location"] == attempt_url(first)
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 1


def test_a_start_posted_again_after_the_attempt_ended_goes_to_that_attempt(labeler_client):
    quiz = training_quiz()
    first = start(labeler_client, quiz)
    answer_all(labeler_client.labeler, first, correct=3)
    assert first.status == A.PASSED
    response = labeler_client.post(start_url(quiz), {"seen": 0})  # back button, resubmit
    assert response["Location"] == attempt_url(first)
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 1
    # the quiz page now shows attempt 1, so its form starts attempt 2
    html = labeler_client.get(quiz_url(quiz)).content.decode()
    assert 'name="seen" value="1"' in html
    second = start(labeler_client, quiz, seen=1)
    assert second.number == 2


def test_a_refused_start_says_so_and_starts_nothing(labeler_client):
    guide, _ = make_published_guide()
    quiz = training_quiz(guide=guide)
    response = labeler_client.post(start_url(quiz), {"seen": 0})
    assert response["Location"] == quiz_url(quiz)
    assert message_texts(response) == ["You cannot start this quiz now: the reasons are below."]
    assert not QuizAttempt.objects.exists()
    acknowledge(labeler_client.labeler, guide)
    assert start(labeler_client, quiz).number == 1


# -- questions ----------------------------------------------------------------------------------


def test_question_page_shows_one_question_without_gold(labeler_client):
    quiz = training_quiz(time_limit_seconds=300)
    attempt = start(labeler_client, quiz)
    first = questions(attempt)[0]
    response = labeler_client.get(attempt_url(attempt))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Question 1 of 3" in html
    assert first.gold_item.payload["image_url"] in html
    assert f'name="question" value="{first.pk}"' in html
    for label in ("crack", "ok", "rust"):
        assert f'value="{label}"' in html
    assert EXPLANATION not in html
    assert "Accepted answer" not in html
    # the countdown: the server's seconds left, and when it ends
    match = re.search(r'data-seconds-left="(\d+)"', html)
    assert match and 295 <= int(match.group(1)) <= 300
    assert 'role="timer"' in html


def test_a_sequential_question_says_the_test_may_end_early(labeler_client):
    quiz = qualification_quiz(
        num_questions=4, pass_mark="0.75", sequential=True, seq_p0="0.4", seq_min_questions=2
    )
    attempt = start(labeler_client, quiz)
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "Question 1 of at most 4" in html
    assert "this test may end early" in html


def test_training_feedback_comes_after_the_answer_with_the_explanation(labeler_client):
    attempt = start(labeler_client, training_quiz())
    first, second = questions(attempt)[:2]
    response = labeler_client.post(
        answer_url(attempt), {"question": first.pk, "answer": wrong(first)}
    )
    assert response["Location"] == f"{attempt_url(attempt)}?feedback={first.pk}"
    html = labeler_client.get(response["Location"]).content.decode()
    assert "Not correct" in html
    assert f"{EXPLANATION} [{gold(first)}]" in html
    assert "Accepted answer" in html
    assert "Next question" in html
    assert 'name="answer"' not in html  # feedback is not a form to answer again
    # the next question carries no gold of its own
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert f'name="question" value="{second.pk}"' in html
    assert EXPLANATION not in html


def test_the_clock_keeps_running_on_the_feedback_page(labeler_client):
    attempt = start(labeler_client, training_quiz(time_limit_seconds=120))
    first = questions(attempt)[0]
    url = labeler_client.post(answer_url(attempt), {"question": first.pk, "answer": gold(first)})[
        "Location"
    ]
    html = labeler_client.get(url).content.decode()
    assert "Correct" in html and 'role="timer"' in html


def test_a_box_question_shows_the_box_tool_on_the_image_and_takes_boxes(labeler_client):
    gold_set = make_gold_set(answer_type="boxes", classes=["pole", "insulator"])
    for _ in range(2):
        make_gold_item(gold_set, image_url="/static/demo/north/0024.svg", explanation=EXPLANATION)
    quiz = make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=2, pass_mark="0.5")
    attempt = start(labeler_client, quiz)
    first = questions(attempt)[0]
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "data-box-tool" in html
    assert html.count('src="/static/demo/north/0024.svg"') == 1  # the tool's image, once
    assert EXPLANATION not in html
    box = {"label": "pole", "x": 10, "y": 20, "w": 30, "h": 40}  # the gold box exactly
    response = labeler_client.post(
        answer_url(attempt), {"question": first.pk, "answer": json.dumps([box])}
    )
    html = labeler_client.get(response["Location"]).content.decode()
    assert "Correct" in html and "1 box: pole" in html and EXPLANATION in html


def test_feedback_of_a_question_not_answered_yet_is_not_shown(labeler_client):
    attempt = start(labeler_client, training_quiz())
    first = questions(attempt)[0]
    html = labeler_client.get(f"{attempt_url(attempt)}?feedback={first.pk}").content.decode()
    assert EXPLANATION not in html
    assert f'name="question" value="{first.pk}"' in html


def test_the_same_answer_posted_twice_records_one_answer_and_leaves_the_next_question(
    labeler_client,
):
    attempt = start(labeler_client, training_quiz())
    first, second = questions(attempt)[:2]
    form = {"question": first.pk, "answer": gold(first)}
    labeler_client.post(answer_url(attempt), form)
    again = labeler_client.post(answer_url(attempt), {**form, "answer": wrong(first)})
    assert again["Location"] == f"{attempt_url(attempt)}?feedback={first.pk}"
    assert message_texts(again) == [
        "You had already answered this question: your first answer stands."
    ]
    attempt.refresh_from_db()
    assert attempt.answered_count == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.answer == gold(first) and first.is_correct is True
    assert second.answered_at is None and second.answer is None
    html = labeler_client.get(again["Location"]).content.decode()
    assert "Correct" in html and "Not correct" not in html  # the recorded feedback


def test_a_qualification_answer_posted_twice_records_one_answer(labeler_client):
    attempt = start(labeler_client, qualification_quiz())
    first, second = questions(attempt)[:2]
    form = {"question": first.pk, "answer": gold(first)}
    assert labeler_client.post(answer_url(attempt), form)["Location"] == attempt_url(attempt)
    labeler_client.post(answer_url(attempt), form)
    attempt.refresh_from_db()
    assert attempt.answered_count == 1
    second.refresh_from_db()
    assert second.answered_at is None
    # a qualification test tells nothing per question, whatever the URL asks
    html = labeler_client.get(f"{attempt_url(attempt)}?feedback={first.pk}").content.decode()
    assert EXPLANATION not in html and "Correct" not in html
    assert f'name="question" value="{second.pk}"' in html


def test_an_answer_for_a_later_question_records_nothing(labeler_client):
    attempt = start(labeler_client, training_quiz())
    _first, second = questions(attempt)[:2]
    response = labeler_client.post(
        answer_url(attempt), {"question": second.pk, "answer": gold(second)}
    )
    assert response["Location"] == attempt_url(attempt)
    assert "nothing was recorded" in message_texts(response)[0]
    attempt.refresh_from_db()
    assert attempt.answered_count == 0


def test_no_choice_is_a_message_and_nothing_recorded(labeler_client):
    attempt = start(labeler_client, training_quiz())
    first = questions(attempt)[0]
    response = labeler_client.post(answer_url(attempt), {"question": first.pk})
    assert response["Location"] == attempt_url(attempt)
    assert message_texts(response) == ["Choose one of the labels."]
    response = labeler_client.post(
        answer_url(attempt), {"question": first.pk, "answer": "not-a-label"}
    )
    assert message_texts(response)[-1].startswith("Your answer could not be recorded")
    attempt.refresh_from_db()
    assert attempt.answered_count == 0


def test_an_answer_after_the_deadline_is_refused_and_the_result_shown(labeler_client):
    attempt = start(labeler_client, qualification_quiz(time_limit_seconds=60))
    first = questions(attempt)[0]
    QuizAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = labeler_client.post(
        answer_url(attempt), {"question": first.pk, "answer": gold(first)}
    )
    assert response["Location"] == attempt_url(attempt)
    assert message_texts(response) == [
        "The time limit passed before your answer arrived, so it was not recorded. "
        "The attempt has ended: here is your result."
    ]
    attempt.refresh_from_db()
    assert attempt.status == A.FAILED and attempt.end_reason == "time_limit"
    assert attempt.answered_count == 0
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "You did not pass" in html and "The time limit ended this attempt" in html
    assert 'name="answer"' not in html


def test_opening_an_attempt_past_its_deadline_shows_its_result(labeler_client):
    attempt = start(labeler_client, training_quiz(time_limit_seconds=60))
    QuizAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = labeler_client.get(attempt_url(attempt))
    html = response.content.decode()
    assert "The time limit has passed: this attempt has ended." in html
    assert "You did not pass" in html
    assert 'name="answer"' not in html
    attempt.refresh_from_db()
    assert attempt.status == A.FAILED


# -- the result ---------------------------------------------------------------------------------


def test_passing_a_qualification_shows_the_score_and_the_grant(labeler_client):
    quiz = qualification_quiz(validity_days=30)
    attempt = start(labeler_client, quiz)
    for question in questions(attempt):
        labeler_client.post(
            answer_url(attempt), {"question": question.pk, "answer": gold(question)}
        )
    attempt.refresh_from_db()
    assert attempt.status == A.PASSED
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "You passed" in html and "100%" in html and "60% needed to pass" in html
    expires = attempt.qualification.expires_at
    assert "Utility poles" in html and "valid until" in html
    assert expires.date().isoformat() in html
    assert 'name="answer"' not in html
    # a finished attempt never takes another answer
    first = questions(attempt)[0]
    response = labeler_client.post(answer_url(attempt), {"question": first.pk, "answer": "ok"})
    assert message_texts(response) == ["This attempt has ended: its answers can no longer change."]


def test_a_failed_qualification_shows_when_to_try_again(labeler_client):
    quiz = qualification_quiz(retry_delay_seconds=3600)
    attempt = start(labeler_client, quiz)
    answer_all(labeler_client.labeler, attempt, correct=0)
    assert attempt.status == A.FAILED
    retry_at = attempt.finished_at + timedelta(seconds=3600)
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "You did not pass" in html and "0%" in html
    assert "You may try again from" in html
    assert retry_at.strftime("%H:%M") in html  # the internal labeler's zone is UTC
    quiz_html = labeler_client.get(quiz_url(quiz)).content.decode()
    assert "You may try again from" in quiz_html and start_url(quiz) not in quiz_html
    assert "Not passed, 0%" in quiz_html


def test_training_result_after_the_last_feedback(labeler_client):
    attempt = start(labeler_client, training_quiz())
    qs = questions(attempt)
    for question in qs:
        response = labeler_client.post(
            answer_url(attempt), {"question": question.pk, "answer": gold(question)}
        )
    html = labeler_client.get(response["Location"]).content.decode()
    assert "See your result" in html
    html = labeler_client.get(attempt_url(attempt)).content.decode()
    assert "You passed" in html and "A training quiz grants nothing" in html


# -- someone else's attempt ---------------------------------------------------------------------


def test_another_labelers_attempt_is_404(labeler_client):
    quiz = training_quiz()
    other = make_labeler(username="someone-else")
    attempt, _ = quiz_services.quiz_attempt_start(actor=other.user, quiz=quiz, labeler=other)
    first = questions(attempt)[0]
    assert labeler_client.get(attempt_url(attempt)).status_code == 404
    assert labeler_client.get(f"{attempt_url(attempt)}?feedback={first.pk}").status_code == 404
    response = labeler_client.post(answer_url(attempt), {"question": first.pk, "answer": "ok"})
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert attempt.answered_count == 0


# -- queries ------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, internal_labeler):
    client.force_login(internal_labeler.user)
    client.labeler = internal_labeler
    return client


def test_quiz_page_query_count(signed_in, django_assert_max_num_queries):
    guide, _ = make_published_guide()
    acknowledge(signed_in.labeler, guide)
    quiz = qualification_quiz(guide=guide, retry_delay_seconds=60, max_attempts=3)
    attempt = start(signed_in, quiz)
    answer_all(signed_in.labeler, attempt, correct=0)
    with django_assert_max_num_queries(10):
        response = signed_in.get(quiz_url(quiz))
    assert response.status_code == 200


def test_question_page_query_count(signed_in, django_assert_max_num_queries):
    attempt = start(signed_in, training_quiz(time_limit_seconds=600))
    with django_assert_max_num_queries(10):
        response = signed_in.get(attempt_url(attempt))
    assert b'name="question"' in response.content


def test_feedback_page_query_count(signed_in, django_assert_max_num_queries):
    attempt = start(signed_in, training_quiz())
    first = questions(attempt)[0]
    url = signed_in.post(answer_url(attempt), {"question": first.pk, "answer": gold(first)})[
        "Location"
    ]
    with django_assert_max_num_queries(10):
        response = signed_in.get(url)
    assert b"Next question" in response.content


@pytest.mark.parametrize("correct", [3, 0], ids=["passed", "failed"])
def test_result_page_query_count(signed_in, django_assert_max_num_queries, correct):
    guide, _ = make_published_guide()
    acknowledge(signed_in.labeler, guide)
    quiz = qualification_quiz(guide=guide, validity_days=30, retry_delay_seconds=60)
    attempt = start(signed_in, quiz)
    answer_all(signed_in.labeler, attempt, correct=correct)
    with django_assert_max_num_queries(10):
        response = signed_in.get(attempt_url(attempt))
    assert b"needed to pass" in response.content
