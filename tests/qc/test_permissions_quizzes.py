"""Role-by-endpoint matrix over the quiz, attempt and qualification routes of API v1.

Same conventions as ``tests/workforce/test_permissions_matrix.py`` (whose route-coverage test
also reads ``MATRIX`` here): a foreign object is a 404; a route only labelers can call (start,
answer, finish) is a 403 ``not_a_labeler`` for anyone without a labeler profile, whatever the
id; operations-only commands are a 403 for a caller who can see the object and a 404 for one
who cannot. Bodies may name ids of the world below as ``"{name}"``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from qc.models import Quiz
from qc.services import quizzes as quiz_services
from tests.permissions import V1, Row, matrix_test, route_test
from tests.qc.quiz_factories import make_qualification_type, make_quiz
from workforce import services as workforce_services

pytestmark = pytest.mark.django_db

QUIZ = V1 + "quizzes/<id:pk>/"
ATTEMPT = V1 + "quiz-attempts/<id:pk>/"
REVOKE = V1 + "qualifications/<id:pk>/revoke/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row("quizzes", "GET", V1 + "quizzes/", "/api/v1/quizzes/", (200, 200, 200, 200, 200, 401)),
    Row("quiz", "GET", QUIZ, "/api/v1/quizzes/{quiz}/", (200, 200, 200, 200, 200, 401)),
    Row(
        "inactive quiz",
        "GET",
        QUIZ,
        "/api/v1/quizzes/{inactive_quiz}/",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "quiz that does not exist",
        "GET",
        QUIZ,
        "/api/v1/quizzes/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "start (vendor labeler has one open: 200)",
        "POST",
        QUIZ + "attempts/",
        "/api/v1/quizzes/{quiz}/attempts/",
        (403, 403, 403, 201, 200, 401),
    ),
    Row(
        "start an inactive quiz",
        "POST",
        QUIZ + "attempts/",
        "/api/v1/quizzes/{inactive_quiz}/attempts/",
        (403, 403, 403, 404, 404, 401),
    ),
    Row(
        "start with a field",
        "POST",
        QUIZ + "attempts/",
        "/api/v1/quizzes/{quiz}/attempts/",
        (403, 403, 403, 400, 400, 401),
        {"labeler": "{internal_labeler}"},
    ),
    Row(
        "attempts",
        "GET",
        V1 + "quiz-attempts/",
        "/api/v1/quiz-attempts/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "vendor labeler's attempt",
        "GET",
        ATTEMPT,
        "/api/v1/quiz-attempts/{vendor_attempt}/",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "internal labeler's attempt",
        "GET",
        ATTEMPT,
        "/api/v1/quiz-attempts/{internal_attempt}/",
        (200, 404, 404, 200, 404, 401),
    ),
    Row(
        "vendor B labeler's attempt",
        "GET",
        ATTEMPT,
        "/api/v1/quiz-attempts/{b_attempt}/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "attempt that does not exist",
        "GET",
        ATTEMPT,
        "/api/v1/quiz-attempts/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "answer vendor labeler's attempt",
        "POST",
        ATTEMPT + "answers/",
        "/api/v1/quiz-attempts/{vendor_attempt}/answers/",
        (403, 403, 403, 404, 200, 401),
        {"question": "{vendor_q1}", "answer": "crack"},
    ),
    Row(
        "answer internal labeler's attempt",
        "POST",
        ATTEMPT + "answers/",
        "/api/v1/quiz-attempts/{internal_attempt}/answers/",
        (403, 403, 403, 200, 404, 401),
        {"question": "{internal_q1}", "answer": "rust"},
    ),
    Row(
        "answer vendor labeler's attempt, invalid",
        "POST",
        ATTEMPT + "answers/",
        "/api/v1/quiz-attempts/{vendor_attempt}/answers/",
        (403, 403, 403, 404, 400, 401),
        {"question": "{vendor_q1}", "answer": 5},
    ),
    Row(
        "answer an attempt that does not exist",
        "POST",
        ATTEMPT + "answers/",
        "/api/v1/quiz-attempts/{missing}/answers/",
        (403, 403, 403, 404, 404, 401),
        {"question": 1, "answer": "crack"},
    ),
    Row(
        "finish vendor labeler's attempt",
        "POST",
        ATTEMPT + "finish/",
        "/api/v1/quiz-attempts/{vendor_attempt}/finish/",
        (403, 403, 403, 404, 200, 401),
    ),
    Row(
        "finish vendor B labeler's attempt",
        "POST",
        ATTEMPT + "finish/",
        "/api/v1/quiz-attempts/{b_attempt}/finish/",
        (403, 403, 403, 404, 404, 401),
    ),
    Row(
        "qualifications",
        "GET",
        V1 + "qualifications/",
        "/api/v1/qualifications/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "grant",
        "POST",
        V1 + "qualifications/",
        "/api/v1/qualifications/",
        (201, 403, 403, 403, 403, 401),
        {"labeler": "{vendor_labeler}", "qualification_type": "poles", "reason": "certified"},
    ),
    Row(
        "grant, invalid",
        "POST",
        V1 + "qualifications/",
        "/api/v1/qualifications/",
        (400, 403, 403, 403, 403, 401),
        {"labeler": "{vendor_labeler}", "qualification_type": "poles"},
    ),
    Row(
        "revoke vendor labeler's grant",
        "POST",
        REVOKE,
        "/api/v1/qualifications/{vendor_grant}/revoke/",
        (200, 403, 404, 404, 403, 401),
        {"reason": "audit"},
    ),
    Row(
        "revoke vendor B labeler's grant",
        "POST",
        REVOKE,
        "/api/v1/qualifications/{b_grant}/revoke/",
        (200, 404, 403, 404, 404, 401),
        {"reason": "audit"},
    ),
    Row(
        "revoke vendor labeler's grant without a reason",
        "POST",
        REVOKE,
        "/api/v1/qualifications/{vendor_grant}/revoke/",
        (400, 403, 404, 404, 403, 401),
        {},
    ),
    Row(
        "revoke a grant that does not exist",
        "POST",
        REVOKE,
        "/api/v1/qualifications/{missing}/revoke/",
        (404, 404, 404, 404, 404, 401),
        {"reason": "audit"},
    ),
    Row(
        "qualification types",
        "GET",
        V1 + "qualification-types/",
        "/api/v1/qualification-types/",
        (200, 200, 200, 200, 200, 401),
    ),
)


@pytest.fixture
def world(cast):
    qtype = make_qualification_type("poles")
    quiz = make_quiz(num_questions=3, qualification_type=qtype)
    other_quiz = make_quiz(num_questions=3, kind=Quiz.Kind.TRAINING, pass_mark="0.5")
    inactive = make_quiz(num_questions=3, is_active=False)

    def open_attempt(quiz_, labeler):
        attempt, _ = quiz_services.quiz_attempt_start(actor=None, quiz=quiz_, labeler=labeler)
        return attempt, attempt.questions.order_by("position").first()

    vendor_attempt, vendor_q1 = open_attempt(quiz, cast.vendor_labeler)
    internal_attempt, internal_q1 = open_attempt(other_quiz, cast.internal_labeler)
    b_attempt, _ = open_attempt(quiz, cast.vendor_b_labeler)

    def grant(labeler):
        return workforce_services.qualification_grant(
            actor=None, labeler=labeler, qualification_type=qtype, source="manual", reason="x"
        )

    users = cast.users
    ids = {
        "quiz": quiz.pk,
        "inactive_quiz": inactive.pk,
        "vendor_attempt": vendor_attempt.pk,
        "internal_attempt": internal_attempt.pk,
        "b_attempt": b_attempt.pk,
        "vendor_q1": vendor_q1.pk,
        "internal_q1": internal_q1.pk,
        "vendor_labeler": cast.vendor_labeler.pk,
        "internal_labeler": cast.internal_labeler.pk,
        "vendor_grant": grant(cast.vendor_labeler).pk,
        "b_grant": grant(cast.vendor_b_labeler).pk,
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)


# -- what each role sees in the lists ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", {"vendor_attempt", "internal_attempt", "b_attempt"}),
        ("manager_a", {"vendor_attempt"}),
        ("manager_b", {"b_attempt"}),
        ("internal_labeler", {"internal_attempt"}),
        ("vendor_labeler", {"vendor_attempt"}),
    ],
)
def test_attempt_list_per_role(client_for, world, role, expected):
    response = client_for(world.users[role]).get("/api/v1/quiz-attempts/")
    assert response.status_code == 200
    assert {a["id"] for a in response.json()["results"]} == {world.ids[n] for n in expected}


@pytest.mark.parametrize(
    ("role", "sees_inactive", "has_availability"),
    [
        ("ops", True, False),
        ("manager_a", False, False),
        ("internal_labeler", False, True),
        ("vendor_labeler", False, True),
    ],
)
def test_quiz_list_per_role(client_for, world, role, sees_inactive, has_availability):
    response = client_for(world.users[role]).get("/api/v1/quizzes/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert (world.ids["inactive_quiz"] in {r["id"] for r in rows}) is sees_inactive
    assert all((r["availability"] is not None) is has_availability for r in rows)
    assert all(("gold_set" in r) is (role == "ops") for r in rows)
