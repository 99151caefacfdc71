"""Active time of reviews and quiz answers, and per vendor (issue 14).

A quiz answer and a review's resolution record ``active_seconds``: the client's measure (the
API's optional field, the quiz page's hidden field), never more than the wall time since the
question was served or the review leased; without a measure, that wall time, capped. Bad input
is a 400 on ``active_seconds`` with nothing written. ``GET /api/v1/vendor-comparison/`` gives
each vendor's labeling, review and quiz hours and seconds per label (a vendor manager: their
vendors only), at a query count that does not grow with vendors; the admin's comparison shows
them too.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from assignments.models import Assignment, Review, Task
from assignments.services import review as review_services
from qc.models import AttemptQuestion, QuizAttempt
from qc.services import quizzes as quiz_services
from tests.assignments.factories import make_project
from tests.factories import make_labeler, token_client
from tests.qc.quiz_factories import make_choice_set, make_quiz

pytestmark = pytest.mark.django_db
_slugs = itertools.count()
PINNED_RESOLVE = 11


# -- quiz answers --------------------------------------------------------------------------------


def start(labeler, *, served_ago: int):
    """An attempt of a three-question training quiz, started ``served_ago`` seconds ago."""
    quiz = make_quiz(make_choice_set({"a": 3, "b": 3}), kind="training", num_questions=3)
    attempt, _ = quiz_services.quiz_attempt_start(actor=labeler.user, quiz=quiz, labeler=labeler)
    QuizAttempt.objects.filter(pk=attempt.pk).update(
        started_at=timezone.now() - timedelta(seconds=served_ago)
    )
    return QuizAttempt.objects.get(pk=attempt.pk)


def current(attempt) -> AttemptQuestion:
    return attempt.questions.filter(answered_at__isnull=True).order_by("position").first()


def answer(client, attempt, question, **extra):
    return client.post(
        f"/api/v1/quiz-attempts/{attempt.pk}/answers/",
        {"question": question.pk, "answer": "a", **extra},
        format="json",
    )


def test_a_quiz_answer_keeps_the_measure_clamped_to_the_time_since_served(vendor_labeler):
    client = token_client(vendor_labeler)
    attempt = start(vendor_labeler, served_ago=100)
    first = current(attempt)
    assert answer(client, attempt, first, active_seconds=30).status_code == 200
    first.refresh_from_db()
    assert first.active_seconds == 30
    # The second question was served when the first was answered (just now): a claim of an
    # hour is clamped to the seconds since then.
    second = current(attempt)
    assert answer(client, attempt, second, active_seconds=3600).status_code == 200
    second.refresh_from_db()
    assert 0 <= second.active_seconds <= 5


def test_without_a_measure_the_wall_time_counts_up_to_the_cap(vendor_labeler):
    client = token_client(vendor_labeler)
    attempt = start(vendor_labeler, served_ago=200)
    first = current(attempt)
    assert answer(client, attempt, first).status_code == 200
    first.refresh_from_db()
    assert 200 <= first.active_seconds <= 205
    later = start(make_labeler(), served_ago=5000)
    question = current(later)
    quiz_services.quiz_attempt_answer(
        actor=later.labeler.user, attempt=later, question_id=question.pk, answer="a"
    )
    question.refresh_from_db()
    assert question.active_seconds == quiz_services.QUESTION_ACTIVE_CAP_SECONDS


@pytest.mark.parametrize("bad", [-1, "ten", 86_401, 1.5, None])
def test_a_bad_measure_is_a_400_and_nothing_is_answered(vendor_labeler, bad):
    client = token_client(vendor_labeler)
    attempt = start(vendor_labeler, served_ago=10)
    question = current(attempt)
    response = answer(client, attempt, question, active_seconds=bad)
    assert response.status_code == 400
    assert "active_seconds" in response.json()["fields"]
    question.refresh_from_db()
    assert (question.answered_at, question.active_seconds) == (None, None)


def test_the_quiz_page_sends_its_measure(client, vendor_labeler):
    attempt = start(vendor_labeler, served_ago=120)
    client.force_login(vendor_labeler.user)
    page = client.get(reverse("labeler:attempt", args=[attempt.pk])).content.decode()
    assert 'name="active_seconds"' in page and "data-active-seconds" in page
    url = reverse("labeler:attempt-answer", args=[attempt.pk])
    first = current(attempt)
    client.post(url, {"question": first.pk, "answer": "a", "active_seconds": "42"})
    first.refresh_from_db()
    assert first.active_seconds == 42
    # Something that is not a whole number is ignored: the wall time counts instead.
    second = current(attempt)
    client.post(url, {"question": second.pk, "answer": "a", "active_seconds": "-3"})
    second.refresh_from_db()
    assert second.answered_at is not None and 0 <= second.active_seconds <= 5


# -- reviews -------------------------------------------------------------------------------------


def leased_review(*, leased_ago: int):
    project = make_project(tasks=1, overlap=2, slug=f"leased-{next(_slugs)}")
    task = Task.objects.get(project=project)
    Task.objects.filter(pk=task.pk).update(state="review")
    Review.objects.create(task=task, project=project, kind="disagreement")
    senior = make_labeler(seniority="senior")
    claim = review_services.review_claim_next(reviewer=senior)
    leased_at = timezone.now() - timedelta(seconds=leased_ago)
    Review.objects.filter(pk=claim.review.pk).update(
        leased_at=leased_at, expires_at=leased_at + timedelta(hours=1)
    )
    return senior, claim.review.pk


def resolve(senior, review_id, **extra):
    return token_client(senior).post(
        f"/api/v1/reviews/{review_id}/resolve/",
        {"answer": "ok", "note": "clear", **extra},
        format="json",
    )


def test_a_resolution_keeps_the_measure_clamped_to_the_lease():
    senior, review_id = leased_review(leased_ago=300)
    response = resolve(senior, review_id, active_seconds=120)
    assert response.status_code == 200
    assert response.json()["active_seconds"] == 120
    senior, review_id = leased_review(leased_ago=60)
    resolve(senior, review_id, active_seconds=5000)
    assert 60 <= Review.objects.get(pk=review_id).active_seconds <= 65


def test_without_a_measure_a_resolution_counts_the_lease_time_up_to_its_length():
    senior, review_id = leased_review(leased_ago=90)
    resolve(senior, review_id)
    assert 90 <= Review.objects.get(pk=review_id).active_seconds <= 95
    senior, review_id = leased_review(leased_ago=3000)
    resolve(senior, review_id)
    assert Review.objects.get(pk=review_id).active_seconds == review_services.REVIEW_LEASE_SECONDS


@pytest.mark.parametrize("bad", [-5, "x", 86_401])
def test_a_bad_review_measure_is_a_400_and_nothing_is_resolved(bad):
    senior, review_id = leased_review(leased_ago=30)
    response = resolve(senior, review_id, active_seconds=bad)
    assert response.status_code == 400
    assert "active_seconds" in response.json()["fields"]
    review = Review.objects.get(pk=review_id)
    assert (review.status, review.active_seconds) == ("leased", None)


# -- per vendor ----------------------------------------------------------------------------------


def timed_work(labeler, project, *, labels: int, seconds: int) -> None:
    """``labels`` submitted assignments of ``labeler`` of ``seconds`` active time each (a new
    task each, written directly: facts to read)."""
    now = timezone.now() - timedelta(days=2)
    tasks = Task.objects.bulk_create(
        Task(project=project, payload={"image_url": "https://img.example.test/x.jpg"}, target=1)
        for _ in range(labels)
    )
    Assignment.objects.bulk_create(
        Assignment(
            task=task,
            project=project,
            labeler=labeler,
            status="submitted",
            leased_at=now - timedelta(seconds=seconds),
            expires_at=now + timedelta(minutes=10),
            submitted_at=now,
            answer="ok",
            active_seconds=seconds,
        )
        for task in tasks
    )


def reviewed(senior, project, *, seconds: int) -> None:
    task = Task.objects.filter(project=project).first()
    now = timezone.now() - timedelta(days=2)
    Review.objects.create(
        task=task,
        project=project,
        kind="disagreement",
        status="resolved",
        reviewer=senior,
        leased_at=now - timedelta(seconds=seconds),
        expires_at=now + timedelta(minutes=30),
        resolved_at=now,
        answer="ok",
        active_seconds=seconds,
    )


def quizzed(labeler, *, seconds: int) -> None:
    attempt = start(labeler, served_ago=10)
    AttemptQuestion.objects.filter(attempt=attempt).update(
        answered_at=timezone.now() - timedelta(days=2), active_seconds=seconds
    )


def by_vendor(client, url="/api/v1/vendor-comparison/") -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return {row["vendor_id"]: row for row in response.json()}


def test_vendor_comparison_gives_each_vendor_its_active_time(
    client_for, ops_user, manager_a, vendor_a, vendor_b
):
    project = make_project(tasks=0, overlap=1)
    a1, a2 = make_labeler(vendor=vendor_a), make_labeler(vendor=vendor_a)
    b1 = make_labeler(vendor=vendor_b)
    senior_a = make_labeler(vendor=vendor_a, seniority="senior")
    timed_work(a1, project, labels=3, seconds=40)
    timed_work(a2, project, labels=1, seconds=80)  # vendor A: 4 labels, 200 s
    timed_work(b1, project, labels=2, seconds=1800)  # vendor B: 1 hour
    reviewed(senior_a, project, seconds=1800)
    quizzed(a1, seconds=900)  # three questions: 45 minutes

    rows = by_vendor(client_for(ops_user))
    assert rows[vendor_a.pk]["active_time"] == {
        "labeling_hours": round(200 / 3600, 2),
        "review_hours": 0.5,
        "quiz_hours": 0.75,
        "timed_labels": 4,
        "seconds_per_label": 50.0,
    }
    assert rows[vendor_b.pk]["active_time"]["labeling_hours"] == 1.0
    assert rows[vendor_b.pk]["active_time"]["seconds_per_label"] == 1800.0
    assert rows[vendor_b.pk]["active_time"]["review_hours"] == 0.0
    # ?project= narrows labeling and reviewing; quizzes belong to no project.
    other = make_project(tasks=0, overlap=1, slug="active-other")
    narrowed = by_vendor(client_for(ops_user), f"/api/v1/vendor-comparison/?project={other.pk}")
    for row in narrowed.values():
        assert row["active_time"]["labeling_hours"] == row["active_time"]["review_hours"] == 0
    # A vendor manager sees their vendor only.
    assert set(by_vendor(client_for(manager_a))) == {vendor_a.pk}
    assert by_vendor(client_for(manager_a))[vendor_a.pk]["active_time"]["timed_labels"] == 4


def test_vendor_comparison_costs_the_same_for_more_vendors(
    client_for, ops_user, django_assert_max_num_queries
):
    from tests.factories import VendorFactory

    project = make_project(tasks=0, overlap=1)
    client = client_for(ops_user)

    def add_vendor():
        labeler = make_labeler(vendor=VendorFactory())
        timed_work(labeler, project, labels=2, seconds=30)
        quizzed(labeler, seconds=60)

    add_vendor()
    with django_assert_max_num_queries(30) as few:
        rows = by_vendor(client)
    for _ in range(4):
        add_vendor()
    # qc's comparison (its own queries) and the three grouped active-time queries.
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(by_vendor(client)) == len(rows) + 4


def test_the_admin_comparison_shows_review_and_quiz_hours(ops_client, vendor_a):
    project = make_project(tasks=0, overlap=1)
    labeler = make_labeler(vendor=vendor_a)
    timed_work(labeler, project, labels=2, seconds=90)
    reviewed(make_labeler(vendor=vendor_a, seniority="senior"), project, seconds=3600)
    page = ops_client.get(reverse("admin:assignments_quality_vendors")).content.decode()
    table = page.split("<tbody>")[-1]  # the vendors table (a chart may name the vendor first)
    row = table.split(vendor_a.name, 1)[1].split("</tr>", 1)[0]
    assert "Review hours" in page and "Quiz hours" in page
    assert '<td class="num">90 s</td><td class="num">1.00</td><td class="num">0.00</td>' in row


def test_resolving_with_a_measure_is_pinned(django_assert_num_queries):
    senior, review_id = leased_review(leased_ago=40)
    client = token_client(senior)
    # The token (with the user), the transaction's start and end, the standing, the review
    # with its project (locked), the task (locked), the task's answers, the task's update, the
    # decision's history row, the review's update (active time included), the reviewer's code
    # for the reply. No outcome rows: the task has no answers.
    with django_assert_num_queries(PINNED_RESOLVE):
        response = client.post(
            f"/api/v1/reviews/{review_id}/resolve/",
            {"answer": "ok", "note": "clear", "active_seconds": 20},
            format="json",
        )
    assert response.status_code == 200 and response.json()["active_seconds"] == 20
