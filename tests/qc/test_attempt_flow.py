"""Quizzes through the API as a labeler sees them: the training and the qualification flows end
to end, the canary scan (no gold answer or explanation ever reaches a labeler of a
qualification quiz), training feedback for the question just answered only, what vendor
managers and operations see, and bad input."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from qc.models import AttemptQuestion, GoldItem, Quiz, QuizAttempt
from tests.factories import make_labeler
from tests.qc.factories import make_gold_set
from tests.qc.quiz_factories import add_item, make_choice_set, make_quiz
from workforce.models import Qualification

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"detail", "code", "fields"}
QUESTION_KEYS = {"id", "position", "payload", "answer_type", "classes"}


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content[:800]
    return response.json()


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:800]
    body = response.json()
    assert set(body) == ERROR_KEYS
    if code is not None:
        assert body["code"] == code, body
    return body


def _gold(question_id: int) -> GoldItem:
    return AttemptQuestion.objects.select_related("gold_item").get(pk=question_id).gold_item


def _right(question_id: int):
    return _gold(question_id).accepted_answers[0]


def _wrong(question_id: int):
    """A valid answer that is not accepted (for the answer types used here)."""
    item = _gold(question_id)
    gold_set = item.gold_set
    first = item.accepted_answers[0]
    if gold_set.answer_type == "single_choice":
        return next(c for c in gold_set.classes if c not in item.accepted_answers)
    if gold_set.answer_type == "multiple_choice":
        return [] if first else [gold_set.classes[0]]
    return [{"label": gold_set.classes[0], "x": 1.0, "y": 1.0, "w": 2.0, "h": 2.0}]


def _answer(client, attempt_id: int, question_id: int, answer):
    return client.post(
        f"/api/v1/quiz-attempts/{attempt_id}/answers/",
        {"question": question_id, "answer": answer},
        format="json",
    )


# -- the two flows --------------------------------------------------------------------------------


def test_training_flow_gives_feedback_after_each_answer_and_a_result(client_for, vendor_labeler):
    quiz = make_quiz(kind=Quiz.Kind.TRAINING, num_questions=4, pass_mark="0.5")
    client = client_for(vendor_labeler.user)

    [listed] = _ok(client.get("/api/v1/quizzes/"))["results"]
    assert listed["id"] == quiz.pk and listed["kind"] == "training"
    assert listed["availability"]["available"] is True

    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    assert attempt["status"] == "in_progress" and attempt["question_count"] == 4
    assert attempt["result"] is None

    answers = []
    for i in range(4):
        question = attempt["next_question"]
        assert set(question) == QUESTION_KEYS
        assert question["position"] == i + 1
        right = i != 1  # the second answer is wrong
        given = _right(question["id"]) if right else _wrong(question["id"])
        body = _ok(_answer(client, attempt["id"], question["id"], given))
        item = _gold(question["id"])
        assert body["question"] == question["id"]
        assert body["feedback"] == {
            "correct": right,
            "accepted_answers": item.accepted_answers,
            "explanation": item.explanation,
        }
        attempt = body["attempt"]
        answers.append(right)

    assert attempt["status"] == "passed"
    assert attempt["next_question"] is None
    assert attempt["result"] == {
        "score": "0.7500",
        "passed": True,
        "end_reason": "all_answered",
        "qualification": None,
    }
    assert not Qualification.objects.exists()  # training grants nothing


def test_qualification_flow_grants_the_qualification_with_the_attempts_end(
    client_for, vendor_labeler
):
    quiz = make_quiz(num_questions=5, pass_mark="0.8", validity_days=30)
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)

    for i in range(5):
        question = attempt["next_question"]
        given = _wrong(question["id"]) if i == 2 else _right(question["id"])
        body = _ok(_answer(client, attempt["id"], question["id"], given))
        assert set(body) == {"question", "attempt"}  # nothing about correctness
        attempt = body["attempt"]
        assert "correct_count" not in attempt
        if i < 4:
            assert attempt["result"] is None

    assert attempt["status"] == "passed"
    assert attempt["result"]["score"] == "0.8000"
    assert attempt["result"]["passed"] is True
    stored = QuizAttempt.objects.get(pk=attempt["id"])
    qualification = stored.qualification
    assert attempt["result"]["qualification"] == qualification.pk
    assert qualification.labeler == vendor_labeler
    assert qualification.qualification_type == quiz.qualification_type
    assert qualification.source == "quiz"
    assert qualification.source_ref == f"quiz-attempt:{stored.pk}"
    assert qualification.score == Decimal("0.8000")
    assert qualification.granted_at == stored.finished_at
    assert qualification.expires_at == stored.finished_at + timedelta(days=30)

    [listed] = _ok(client.get("/api/v1/qualifications/"))["results"]
    assert listed["id"] == qualification.pk and listed["state"] == "valid"
    [quiz_row] = _ok(client.get("/api/v1/quizzes/"))["results"]
    assert [b["code"] for b in quiz_row["availability"]["blocked"]] == ["already_qualified"]
    assert quiz_row["availability"]["holds_qualification"]["id"] == qualification.pk


def test_failing_records_the_attempt_and_grants_nothing(client_for, vendor_labeler):
    quiz = make_quiz(num_questions=3, pass_mark="0.8")
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    question = attempt["next_question"]
    _ok(_answer(client, attempt["id"], question["id"], _right(question["id"])))

    finished = _ok(client.post(f"/api/v1/quiz-attempts/{attempt['id']}/finish/"))
    assert finished["status"] == "failed"
    assert finished["result"] == {
        "score": "0.3333",
        "passed": False,
        "end_reason": "finished",
        "qualification": None,
    }
    assert not Qualification.objects.exists()
    again = _ok(client.post(f"/api/v1/quiz-attempts/{attempt['id']}/finish/"))
    assert again == finished


def test_starting_again_returns_the_attempt_in_progress(client_for, vendor_labeler):
    quiz = make_quiz(num_questions=3)
    client = client_for(vendor_labeler.user)
    first = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    again = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 200)
    assert again["id"] == first["id"]
    assert again["next_question"] == first["next_question"]
    assert QuizAttempt.objects.count() == 1
    [row] = _ok(client.get("/api/v1/quizzes/"))["results"]
    assert row["availability"]["open_attempt"] == first["id"]


def test_questions_are_answered_in_order_and_an_answer_is_locked(client_for, vendor_labeler):
    quiz = make_quiz(num_questions=3)
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    questions = list(AttemptQuestion.objects.filter(attempt_id=attempt["id"]).order_by("position"))
    body = _error(_answer(client, attempt["id"], questions[1].pk, _right(questions[1].pk)), 400)
    assert body["fields"] == {"question": ["Answer the current question first."]}

    first = _wrong(questions[0].pk)
    _ok(_answer(client, attempt["id"], questions[0].pk, first))
    _error(
        _answer(client, attempt["id"], questions[0].pk, _right(questions[0].pk)),
        409,
        "already_answered",
    )
    questions[0].refresh_from_db()
    assert questions[0].answer == first and questions[0].is_correct is False
    assert QuizAttempt.objects.get(pk=attempt["id"]).answered_count == 1


def test_answering_after_the_time_limit_is_refused_and_ends_the_attempt(client_for, vendor_labeler):
    quiz = make_quiz(num_questions=3, pass_mark="0.3", time_limit_seconds=600)
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    assert attempt["deadline"] is not None
    question = attempt["next_question"]
    _ok(_answer(client, attempt["id"], question["id"], _right(question["id"])))
    past = timezone.now() - timedelta(seconds=5)
    QuizAttempt.objects.filter(pk=attempt["id"]).update(
        started_at=past - timedelta(seconds=600), deadline=past
    )

    nxt = AttemptQuestion.objects.filter(attempt_id=attempt["id"], position=2).get()
    _error(_answer(client, attempt["id"], nxt.pk, _right(nxt.pk)), 409, "time_limit_passed")
    ended = QuizAttempt.objects.get(pk=attempt["id"])  # committed although the request failed
    assert (ended.status, ended.end_reason, ended.finished_at) == ("passed", "time_limit", past)
    assert ended.answered_count == 1
    assert AttemptQuestion.objects.get(pk=nxt.pk).answer is None
    _error(_answer(client, attempt["id"], nxt.pk, _right(nxt.pk)), 409, "attempt_ended")
    # a score of 1/3 passes a 0.3 mark: the qualification came with the time-limit end
    assert ended.qualification is not None


# -- the canary: no gold answer or explanation reaches a labeler of a qualification quiz ---------


CANARY = "CANARY-7f3a9c"


def _canary_set(answer_type: str, n: int):
    """A gold set whose every item has an accepted alternative and an explanation carrying a
    unique canary (the first accepted answer, the real one, stays canary-free so it can be
    answered; the box coordinates carry a canary number too)."""
    classes = ["pole", "wire", "tree"]
    gold_set = make_gold_set(answer_type=answer_type, classes=classes)
    for i in range(n):
        label = classes[i % 3]
        canary_label = f"{CANARY}-answer-{i}"
        if answer_type == "single_choice":
            accepted = [label, canary_label]
        elif answer_type == "multiple_choice":
            accepted = [[label], [label, canary_label]]
        else:
            box = {"label": label, "x": 910000 + i + 0.7182818, "y": 10.0, "w": 30.0, "h": 40.0}
            accepted = [[box], [{**box, "label": canary_label}]]
        add_item(
            gold_set,
            accepted,
            explanation=f"{CANARY}-explanation-{i}: the reason",
            payload={"image": f"https://img.example/{i}.jpg"},
        )
    return gold_set


def _scan(responses: list) -> None:
    for response in responses:
        text = response.content.decode()
        assert CANARY not in text, (response.status_code, text[:500])
        assert "7182818" not in text, (response.status_code, text[:500])
        assert not re.search(r'"(accepted_answers|explanation|is_correct)"', text), text[:500]


@pytest.mark.parametrize(
    ("answer_type", "sequential"),
    [
        ("single_choice", False),
        ("multiple_choice", False),
        ("boxes", False),
        ("boxes", True),
    ],
)
def test_canary_never_reaches_the_labeler_of_a_qualification_quiz(
    client_for, vendor_labeler, answer_type, sequential
):
    gold_set = _canary_set(answer_type, 12)
    extra = {"sequential": True, "seq_p0": "0.4", "seq_min_questions": 3} if sequential else {}
    quiz = make_quiz(gold_set, num_questions=8, pass_mark="0.7", validity_days=10, **extra)
    client = client_for(vendor_labeler.user)
    seen = []

    def keep(response):
        seen.append(response)
        return response

    keep(client.get("/api/v1/quizzes/"))
    keep(client.get(f"/api/v1/quizzes/{quiz.pk}/"))
    attempt = _ok(keep(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/")), 201)
    keep(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"))
    aid = attempt["id"]
    keep(client.get(f"/api/v1/quiz-attempts/{aid}/"))
    keep(client.get(f"/api/v1/quiz-attempts/{aid}/", {"include": "questions"}))
    keep(client.get("/api/v1/quiz-attempts/"))

    # bad input of every kind, before and after answering
    question = attempt["next_question"]
    keep(_answer(client, aid, 987654321, _right(question["id"])))
    keep(_answer(client, aid, question["id"], 42))
    keep(_answer(client, aid, question["id"], {"label": "pole"}))
    keep(_answer(client, aid, question["id"], [{"label": "pole", "x": -1, "w": 0}]))
    keep(_answer(client, aid, question["id"], None))
    keep(client.post(f"/api/v1/quiz-attempts/{aid}/answers/", {"question": "x"}, format="json"))
    keep(
        client.post(
            f"/api/v1/quiz-attempts/{aid}/answers/",
            {"question": question["id"], "answer": "pole", "score": 1},
            format="json",
        )
    )
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000):
        _error(keep(_answer(client, aid, question["id"], "x" * 5000)), 413)

    # answer: wrong, right, right, wrong, ... until the attempt ends
    i = 0
    while attempt["status"] == "in_progress":
        question = attempt["next_question"]
        given = _wrong(question["id"]) if i % 4 == 3 else _right(question["id"])
        body = _ok(keep(_answer(client, aid, question["id"], given)))
        keep(_answer(client, aid, question["id"], given))  # a second answer: 409
        attempt = body["attempt"]
        i += 1
        assert i <= 8

    keep(client.get(f"/api/v1/quiz-attempts/{aid}/"))
    finished = _ok(keep(client.post(f"/api/v1/quiz-attempts/{aid}/finish/")))
    assert _ok(keep(client.post(f"/api/v1/quiz-attempts/{aid}/finish/"))) == finished
    keep(_answer(client, aid, question["id"], _right(question["id"])))
    keep(client.get("/api/v1/quiz-attempts/"))
    keep(client.get("/api/v1/qualifications/"))
    keep(client.get("/api/v1/quizzes/"))
    keep(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"))

    assert finished["result"]["score"] is not None
    assert {r.status_code for r in seen} >= {200, 201, 400, 409, 413}
    _scan(seen)
    if sequential:
        assert QuizAttempt.objects.get(pk=aid).end_reason in ("sequential", "all_answered")


def test_the_canary_scan_would_catch_a_leak(client_for, vendor_labeler, ops_user):
    """The scan above is not vacuous: the same gold set's canaries do show in what operations
    may see (?include=questions)."""
    gold_set = _canary_set("boxes", 4)
    quiz = make_quiz(gold_set, num_questions=2, pass_mark="0.5")
    attempt = _ok(client_for(vendor_labeler.user).post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    response = client_for(ops_user).get(
        f"/api/v1/quiz-attempts/{attempt['id']}/", {"include": "questions"}
    )
    with pytest.raises(AssertionError):
        _scan([response])


# -- training feedback: the question just answered, and no other ---------------------------------


def test_training_feedback_is_only_for_the_question_just_answered(client_for, vendor_labeler):
    gold_set = make_gold_set(classes=["a", "b", "c"])
    items = {}
    for i in range(8):
        item = add_item(gold_set, ["abc"[i % 3], f"ANS-{i}-CANARY"], explanation=f"EXPL-{i}-CANARY")
        items[item.pk] = i
    quiz = make_quiz(gold_set, kind=Quiz.Kind.TRAINING, num_questions=5, pass_mark="0.6")
    client = client_for(vendor_labeler.user)

    start = client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/")
    attempt = _ok(start, 201)
    assert "CANARY" not in start.content.decode()
    assert "CANARY" not in client.get(f"/api/v1/quiz-attempts/{attempt['id']}/").content.decode()

    answered = set()
    while attempt["status"] == "in_progress":
        question = attempt["next_question"]
        mine = items[_gold(question["id"]).pk]
        response = _answer(client, attempt["id"], question["id"], _wrong(question["id"]))
        text = _ok(response) and response.content.decode()
        assert set(re.findall(r"(?:ANS|EXPL)-(\d+)-CANARY", text)) == {str(mine)}
        assert f"ANS-{mine}-CANARY" in text and f"EXPL-{mine}-CANARY" in text
        # the answer was locked before the feedback was given
        assert AttemptQuestion.objects.get(pk=question["id"]).answered_at is not None
        answered.add(mine)
        attempt = response.json()["attempt"]
    assert len(answered) == 5
    detail = client.get(f"/api/v1/quiz-attempts/{attempt['id']}/").content.decode()
    assert "CANARY" not in detail


# -- who sees what ------------------------------------------------------------------------------


@pytest.fixture
def finished_attempt(client_for, vendor_labeler):
    quiz = make_quiz(num_questions=2, pass_mark="0.5")
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    while attempt["status"] == "in_progress":
        q = attempt["next_question"]
        attempt = _ok(_answer(client, attempt["id"], q["id"], _right(q["id"])))["attempt"]
    return QuizAttempt.objects.get(pk=attempt["id"])


def test_another_labeler_cannot_see_or_touch_an_attempt(
    client_for, finished_attempt, internal_labeler, vendor_a
):
    open_attempt = QuizAttempt.objects.create(
        quiz=finished_attempt.quiz,
        labeler=finished_attempt.labeler,
        number=2,
        started_at=timezone.now(),
        question_count=1,
    )
    question = AttemptQuestion.objects.create(
        attempt=open_attempt, position=1, gold_item=GoldItem.objects.first()
    )
    for other in (internal_labeler, make_labeler(vendor=vendor_a)):
        client = client_for(other.user)
        for attempt in (finished_attempt, open_attempt):
            _error(client.get(f"/api/v1/quiz-attempts/{attempt.pk}/"), 404, "not_found")
            _error(_answer(client, attempt.pk, question.pk, "crack"), 404, "not_found")
            _error(client.post(f"/api/v1/quiz-attempts/{attempt.pk}/finish/"), 404, "not_found")
        assert _ok(client.get("/api/v1/quiz-attempts/"))["results"] == []
    assert QuizAttempt.objects.get(pk=open_attempt.pk).status == "in_progress"
    assert AttemptQuestion.objects.get(pk=question.pk).answer is None


def test_vendor_manager_sees_scores_never_answers(
    client_for, finished_attempt, manager_a, manager_b
):
    body = _ok(client_for(manager_a).get(f"/api/v1/quiz-attempts/{finished_attempt.pk}/"))
    assert body["result"]["score"] == "1.0000" and body["correct_count"] == 2
    assert "next_question" not in body and "questions" not in body
    with_questions = client_for(manager_a).get(
        f"/api/v1/quiz-attempts/{finished_attempt.pk}/", {"include": "questions"}
    )
    assert _ok(with_questions) == body
    [row] = _ok(client_for(manager_a).get("/api/v1/quiz-attempts/"))["results"]
    assert row["id"] == finished_attempt.pk and "questions" not in row
    [grant] = _ok(client_for(manager_a).get("/api/v1/qualifications/"))["results"]
    assert grant["score"] == "1.0000"

    _error(client_for(manager_b).get(f"/api/v1/quiz-attempts/{finished_attempt.pk}/"), 404)
    assert _ok(client_for(manager_b).get("/api/v1/quiz-attempts/"))["results"] == []
    assert _ok(client_for(manager_b).get("/api/v1/qualifications/"))["results"] == []


def test_operations_may_include_every_question_with_its_result(
    client_for, finished_attempt, ops_user
):
    body = _ok(
        client_for(ops_user).get(
            f"/api/v1/quiz-attempts/{finished_attempt.pk}/", {"include": "questions"}
        )
    )
    assert [q["position"] for q in body["questions"]] == [1, 2]
    for q in body["questions"]:
        assert q["is_correct"] is True and q["answer"] in q["accepted_answers"]


def test_attempt_list_filters(client_for, finished_attempt, ops_user, internal_labeler):
    other_quiz = make_quiz(num_questions=2)
    _ok(client_for(internal_labeler.user).post(f"/api/v1/quizzes/{other_quiz.pk}/attempts/"), 201)
    client = client_for(ops_user)

    def ids(**params):
        return {r["id"] for r in _ok(client.get("/api/v1/quiz-attempts/", params))["results"]}

    everything = ids()
    assert len(everything) == 2
    assert ids(quiz=finished_attempt.quiz_id) == {finished_attempt.pk}
    assert ids(labeler=finished_attempt.labeler_id) == {finished_attempt.pk}
    assert ids(status="in_progress") == everything - {finished_attempt.pk}
    assert ids(status="passed") == {finished_attempt.pk}


def test_non_labelers_get_a_clear_403_on_labeler_routes(
    client_for, ops_user, manager_a, finished_attempt
):
    quiz = finished_attempt.quiz
    for user in (ops_user, manager_a):
        client = client_for(user)
        body = _error(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 403, "not_a_labeler")
        assert "labeler" in body["detail"]
        _error(_answer(client, finished_attempt.pk, 1, "crack"), 403, "not_a_labeler")
        _error(client.post(f"/api/v1/quiz-attempts/{finished_attempt.pk}/finish/"), 403)


def test_inactive_quiz_is_not_found_for_labelers(client_for, vendor_labeler, ops_user):
    quiz = make_quiz(num_questions=2, is_active=False)
    client = client_for(vendor_labeler.user)
    assert _ok(client.get("/api/v1/quizzes/"))["results"] == []
    _error(client.get(f"/api/v1/quizzes/{quiz.pk}/"), 404)
    _error(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 404)
    assert _ok(client_for(ops_user).get(f"/api/v1/quizzes/{quiz.pk}/"))["is_active"] is False


# -- bad input ------------------------------------------------------------------------------------


@pytest.fixture
def open_attempt(client_for, vendor_labeler):
    gold_set = make_gold_set(answer_type="boxes", classes=["pole", "wire"])
    for i in range(3):
        add_item(gold_set, [[{"label": "pole", "x": 10.0 * i, "y": 5.0, "w": 20.0, "h": 20.0}]])
    quiz = make_quiz(gold_set, num_questions=3, pass_mark="0.5")
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    return client, attempt["id"], attempt["next_question"]["id"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"question": 987654321, "answer": []}, "question", "Not a question of this attempt."),
        ({"question": "one", "answer": []}, "question", "A valid integer is required."),
        ({"question": 0, "answer": []}, "question", None),
        ({"question": 10**30, "answer": []}, "question", None),
        ({"answer": []}, "question", "This field is required."),
        ({"question": "{q}"}, "answer", "This field is required."),
        ({"question": "{q}", "answer": None}, "answer", "This field may not be null."),
        ({"question": "{q}", "answer": "pole"}, "answer", "Expected a list of boxes."),
        (
            {"question": "{q}", "answer": [{"label": "pole", "x": 1, "y": 1, "w": -2, "h": 3}]},
            "answer",
            "Box 0: w and h must be positive.",
        ),
        (
            {"question": "{q}", "answer": [{"label": "cat", "x": 1, "y": 1, "w": 2, "h": 3}]},
            "answer",
            "Box 0: label must be one of the set's labels.",
        ),
        (
            {"question": "{q}", "answer": [{"label": "pole", "x": "1", "y": 1, "w": 2, "h": 3}]},
            "answer",
            "Box 0: x must be a number.",
        ),
        (
            {"question": "{q}", "answer": [{"label": "pole", "x": 1, "y": 1, "w": 2, "z": 3}]},
            "answer",
            "Box 0: unknown keys z.",
        ),
        ({"question": "{q}", "answer": [], "is_correct": True}, "is_correct", None),
    ],
)
def test_bad_answers_are_400_with_field_messages(open_attempt, body, field, message):
    client, aid, qid = open_attempt
    body = {k: (qid if v == "{q}" else v) for k, v in body.items()}
    error = _error(client.post(f"/api/v1/quiz-attempts/{aid}/answers/", body, format="json"), 400)
    assert field in error["fields"], error
    if message is not None:
        assert error["fields"][field] == [message]
    assert QuizAttempt.objects.get(pk=aid).answered_count == 0


def test_an_oversize_answer_is_refused(open_attempt):
    client, aid, qid = open_attempt
    boxes = [{"label": "pole", "x": 1, "y": 1, "w": 2, "h": 3}] * 600
    error = _error(_answer(client, aid, qid, boxes), 400)
    assert error["fields"]["answer"] == ["At most 500 boxes."]
    huge = ["pole"] * 20000
    error = _error(_answer(client, aid, qid, huge), 400)
    assert "too large" in error["fields"]["answer"][0]
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024):
        body = json.dumps({"question": qid, "answer": "x" * 2000})
        response = client.post(
            f"/api/v1/quiz-attempts/{aid}/answers/", body, content_type="application/json"
        )
    _error(response, 413, "payload_too_large")
    assert QuizAttempt.objects.get(pk=aid).answered_count == 0


def test_start_and_finish_accept_no_fields(open_attempt, client_for, vendor_labeler):
    client, aid, _ = open_attempt
    error = _error(
        client.post(f"/api/v1/quiz-attempts/{aid}/finish/", {"score": 1}, format="json"), 400
    )
    assert error["fields"] == {"score": ["This field is not accepted here."]}
    assert QuizAttempt.objects.get(pk=aid).status == "in_progress"


def test_a_question_of_another_attempt_is_not_this_attempts(client_for, vendor_labeler):
    quiz_a, quiz_b = make_quiz(num_questions=2), make_quiz(num_questions=2)
    client = client_for(vendor_labeler.user)
    a = _ok(client.post(f"/api/v1/quizzes/{quiz_a.pk}/attempts/"), 201)
    b = _ok(client.post(f"/api/v1/quizzes/{quiz_b.pk}/attempts/"), 201)
    qb = b["next_question"]["id"]
    error = _error(_answer(client, a["id"], qb, _right(qb)), 400)
    assert error["fields"] == {"question": ["Not a question of this attempt."]}


def test_suspended_labeler_cannot_start_or_answer(client_for, vendor_labeler):
    from workforce import services as workforce_services

    quiz = make_quiz(num_questions=2)
    client = client_for(vendor_labeler.user)
    attempt = _ok(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 201)
    workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="quality")
    q = attempt["next_question"]["id"]
    _error(_answer(client, attempt["id"], q, _right(q)), 403, "labeler_inactive")
    _error(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 403, "labeler_inactive")


def test_a_gold_set_too_small_is_a_clear_409(client_for, vendor_labeler):
    gold_set = make_choice_set({"crack": 2, "rust": 1})
    add_item(gold_set, ["crack"], status=GoldItem.Status.RETIRED)
    quiz = make_quiz(gold_set, num_questions=4)
    client = client_for(vendor_labeler.user)
    body = _error(client.post(f"/api/v1/quizzes/{quiz.pk}/attempts/"), 409, "not_enough_items")
    assert "too few active items" in body["detail"]
    assert not QuizAttempt.objects.exists()
