"""The review queue is ordered by what a decision is worth (issue 14): past the age cap first,
oldest first; then the lowest confidence (a disagreement's consensus confidence, set when the
review opens; other kinds' defaults); seniors see the queue's size and age before they take one
(``GET /api/v1/reviews/queue/``); two seniors never get the same review (real threads).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from assignments.models import Assignment, Review, Task
from assignments.selectors import review as selectors
from assignments.services import review as services
from assignments.services.consensus import task_consensus_run
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race, token_client

pytestmark = pytest.mark.django_db


def open_reviews(project, confidences, *, ages_hours=None):
    """One disagreement review per task of ``project`` with these confidences (None: none
    stored), created ``ages_hours`` ago (default: a minute ago each, in order)."""
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    now = timezone.now()
    ids = []
    for i, confidence in enumerate(confidences):
        review = Review.objects.create(
            task=tasks[i], project=project, kind="disagreement", confidence=confidence
        )
        hours = ages_hours[i] if ages_hours else 0
        Review.objects.filter(pk=review.pk).update(
            created_at=now - timedelta(hours=hours, minutes=1 + i)
        )
        ids.append(review.pk)
    Task.objects.filter(pk__in=[t.pk for t in tasks[: len(confidences)]]).update(state="review")
    return ids


def claim_order(n: int) -> list[int]:
    """The reviews ``n`` fresh seniors get, one each, in turn."""
    out = []
    for _ in range(n):
        claim = services.review_claim_next(reviewer=make_labeler(seniority="senior"))
        out.append(claim.review.pk if claim else None)
    return out


def test_the_lowest_confidence_comes_first_then_the_oldest():
    project = make_project(tasks=6, overlap=2)
    ids = open_reviews(project, [0.9, 0.34, None, 0.34, 0.51])
    # 0.34 (older id first), 0.34, none stored (counts 0.5), 0.51, 0.9.
    assert claim_order(6) == [ids[1], ids[3], ids[2], ids[4], ids[0], None]


def test_kinds_without_a_confidence_sort_by_their_defaults():
    project = make_project(tasks=4, overlap=1)
    labeler = make_labeler()
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    now = timezone.now()
    subjects = [
        Assignment.objects.create(
            task=task,
            project=project,
            labeler=labeler,
            status="submitted",
            leased_at=now - timedelta(minutes=5),
            expires_at=now + timedelta(minutes=5),
            submitted_at=now - timedelta(minutes=1),
            answer="ok",
        )
        for task in tasks[:2]
    ]
    audit = Review.objects.create(
        task=tasks[0],
        project=project,
        kind="audit",
        assignment=subjects[0],
        audit_week=now.date(),
    )
    flag = Review.objects.create(
        task=tasks[1], project=project, kind="flag", assignment=subjects[1], question="?"
    )
    sure = Review.objects.create(
        task=tasks[2], project=project, kind="disagreement", confidence=0.7
    )
    unsure = Review.objects.create(
        task=tasks[3], project=project, kind="disagreement", confidence=0.4
    )
    # 0.4, the flag (0.5), 0.7, the audit (1.0): the audit was opened first and comes last.
    assert claim_order(4) == [unsure.pk, flag.pk, sure.pk, audit.pk]


def test_past_the_age_cap_comes_first_oldest_first(settings):
    settings.REVIEW_AGE_CAP_HOURS = 48
    project = make_project(tasks=5, overlap=2)
    ids = open_reviews(project, [0.1, 0.99, 0.95, 0.2, 0.3], ages_hours=[1, 50, 72, 47, 0])
    # 72 h and 50 h are past the cap: oldest first, whatever their confidence; then 0.1, 0.2,
    # 0.3 (the 47 h one is not past it yet).
    assert claim_order(5) == [ids[2], ids[1], ids[0], ids[3], ids[4]]
    assert selectors.review_age_cap() == timedelta(hours=48)


def test_the_age_cap_is_a_setting(settings):
    settings.REVIEW_AGE_CAP_HOURS = 100
    project = make_project(tasks=2, overlap=2)
    ids = open_reviews(project, [0.2, 0.9], ages_hours=[1, 72])
    assert claim_order(2) == [ids[0], ids[1]]  # 72 h is within a 100 h cap


def test_a_disagreement_review_opens_with_the_leading_labels_confidence(label):
    project2 = make_project(tasks=1, overlap=2)  # max overlap 3
    for answer in ("crack", "rust", "ok"):
        label(project2, make_labeler(), answer)
    review = Review.objects.get(project=project2)
    assert review.kind == "disagreement"
    assert review.confidence == pytest.approx(1 / 3)
    # Running consensus again changes nothing (no second review, same confidence).
    task_consensus_run(task_id=review.task_id)
    assert Review.objects.filter(project=project2).count() == 1


def test_seniors_see_the_queue_before_taking_one(client_for, ops_user, manager_a, settings):
    settings.REVIEW_AGE_CAP_HOURS = 48
    project = make_project(tasks=5, overlap=2)
    ids = open_reviews(project, [0.2, 0.3, 0.4], ages_hours=[60, 2, 1])
    senior = make_labeler(seniority="senior")
    # A review of a task the senior labeled is not theirs to take: not counted for them.
    task = Review.objects.get(pk=ids[2]).task
    now = timezone.now()
    Assignment.objects.create(
        task=task,
        project=project,
        labeler=senior,
        status="submitted",
        leased_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(minutes=5),
        submitted_at=now - timedelta(minutes=1),
        answer="ok",
    )
    client = token_client(senior)
    body = client.get("/api/v1/reviews/queue/").json()
    assert (body["count"], body["overdue"], body["age_cap_hours"]) == (2, 1, 48.0)
    assert body["oldest_age_seconds"] >= 60 * 3600
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert set(kinds) == {"disagreement", "audit", "flag", "gold"}
    assert kinds["disagreement"]["count"] == 2 and kinds["flag"]["count"] == 0
    assert kinds["flag"]["oldest_created_at"] is None
    # Ops see the whole queue.
    ops_body = client_for(ops_user).get("/api/v1/reviews/queue/").json()
    assert ops_body["count"] == 3
    # Taking one shrinks it; ?project= narrows it.
    assert client.post("/api/v1/reviews/next/").json()["id"] == ids[0]  # overdue first
    assert client.get("/api/v1/reviews/queue/").json()["count"] == 1
    other = make_project(tasks=1, overlap=2, slug="queue-other")
    assert client.get(f"/api/v1/reviews/queue/?project={other.pk}").json()["count"] == 0
    assert client.get("/api/v1/reviews/queue/?project=x").status_code == 400
    # Labelers and vendor managers do not see it.
    assert token_client(make_labeler()).get("/api/v1/reviews/queue/").status_code == 403
    assert client_for(manager_a).get("/api/v1/reviews/queue/").status_code == 403


def test_the_queue_summary_and_the_claim_cost_the_same_for_a_long_queue(
    django_assert_max_num_queries,
):
    senior = make_labeler(seniority="senior")
    client = token_client(senior)
    project = make_project(tasks=40, overlap=2)
    open_reviews(project, [0.5] * 2)
    with django_assert_max_num_queries(3) as short:
        assert client.get("/api/v1/reviews/queue/").json()["count"] == 2
    Review.objects.all().delete()
    open_reviews(project, [i / 40 for i in range(40)])
    with django_assert_max_num_queries(len(short.captured_queries)):
        assert client.get("/api/v1/reviews/queue/").json()["count"] == 40
    # The claim: the token (with the user), the transaction's start and end, the standing, the
    # live lease, the lapsed leases, the one locked select in the queue's order, the update,
    # the review and its answers — the same however long the queue.
    with django_assert_max_num_queries(10):
        assert client.post("/api/v1/reviews/next/").status_code == 201


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_seniors_take_distinct_reviews_from_the_ordered_queue(settings):
    """The order itself is proven one claim at a time above; racing, skip-locked claims of a
    queue in that order still hand each review to one senior only, and all of them."""
    settings.REVIEW_AGE_CAP_HOURS = 48
    project = make_project(tasks=24, overlap=2, slug="queue-race")
    confidences = [((i * 7) % 24) / 24 for i in range(24)]
    ages = [60 if i % 6 == 0 else 0 for i in range(24)]  # four overdue
    ids = open_reviews(project, confidences, ages_hours=ages)
    reviewers = [make_labeler(seniority="senior") for _ in range(8)]

    def work(i: int) -> list[int]:
        got = []
        for _ in range(3):
            claim = services.review_claim_next(reviewer=reviewers[i])
            assert claim is not None and claim.created
            got.append(claim.review.pk)
            services.review_resolve(
                reviewer=reviewers[i], review_id=claim.review.pk, answer="ok", note="ok"
            )
        return got

    results = race(8, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    taken = [pk for got in results for pk in got]
    assert len(taken) == 24
    assert Counter(taken).most_common(1)[0][1] == 1  # nobody got a review twice
    assert set(taken) == set(ids)
    assert Review.objects.filter(project=project, status="resolved").count() == 24
