"""Role-by-endpoint matrix for the review, flag and export routes (conventions as in
tests/workforce/test_permissions_matrix.py: a foreign object is a 404; a route the role may not
use at all is a 403; anonymous callers get 401).

In this world the *internal labeler is made a senior labeler* (a reviewer), so the column
"internal_labeler" reads "senior labeler" here; the vendor labeler (of A) stays a plain labeler
and is refused the review routes with a 403.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assignments import services as work_services
from assignments.models import Review, Task
from assignments.services import review as services
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.permissions import V1, Row, matrix_test, role_users, route_test
from workforce import services as workforce_services

pytestmark = pytest.mark.django_db

REVIEW = V1 + "reviews/<id:pk>/"

# ops, manager A, manager B, internal labeler (a senior here), vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row(
        "next review",
        "POST",
        V1 + "reviews/next/",
        "/api/v1/reviews/next/",
        # the senior already holds a lease in project P: it is handed back (200)
        (403, 403, 403, 200, 403, 401),
    ),
    Row(
        "next review in project Q",
        "POST",
        V1 + "reviews/next/",
        "/api/v1/reviews/next/?project={project_q}",
        # a new lease in Q (one lease per reviewer and project)
        (403, 403, 403, 201, 403, 401),
    ),
    Row(
        "next review, missing project",
        "POST",
        V1 + "reviews/next/",
        "/api/v1/reviews/next/?project={missing}",
        (403, 403, 403, 404, 403, 401),
    ),
    Row(
        "reviews",
        "GET",
        V1 + "reviews/",
        "/api/v1/reviews/",
        # ops: all; the senior: their own; vendor managers and plain labelers: 403
        (200, 403, 403, 200, 403, 401),
    ),
    Row(
        "resolve the senior's review",
        "POST",
        REVIEW + "resolve/",
        "/api/v1/reviews/{own_review}/resolve/",
        (403, 403, 403, 200, 403, 401),
        {"answer": "rust", "note": "Rust stains, no crack."},
    ),
    Row(
        "resolve the senior's review, invalid answer",
        "POST",
        REVIEW + "resolve/",
        "/api/v1/reviews/{own_review}/resolve/",
        (403, 403, 403, 400, 403, 401),
        {"answer": "nope", "note": "n"},
    ),
    Row(
        "resolve another senior's review",
        "POST",
        REVIEW + "resolve/",
        "/api/v1/reviews/{other_review}/resolve/",
        (403, 403, 403, 404, 403, 401),
        {"answer": "rust", "note": "n"},
    ),
    Row(
        "resolve an open review nobody claimed",
        "POST",
        REVIEW + "resolve/",
        "/api/v1/reviews/{open_review}/resolve/",
        (403, 403, 403, 404, 403, 401),
        {"answer": "rust", "note": "n"},
    ),
    Row(
        "resolve a review that does not exist",
        "POST",
        REVIEW + "resolve/",
        "/api/v1/reviews/{missing}/resolve/",
        (403, 403, 403, 404, 403, 401),
        {"answer": "rust", "note": "n"},
    ),
    Row(
        "review queue summary",
        "GET",
        V1 + "reviews/queue/",
        "/api/v1/reviews/queue/",
        # ops: the whole queue; the senior: the queue they claim from; others: 403
        (200, 403, 403, 200, 403, 401),
    ),
    Row(
        "link a guide version to a review that is not a flag",
        "POST",
        REVIEW + "guide-version/",
        "/api/v1/reviews/{own_review}/guide-version/",
        (400, 403, 403, 403, 403, 401),
        {"guide_version": 1},
    ),
    Row(
        "link a guide version to a review that does not exist",
        "POST",
        REVIEW + "guide-version/",
        "/api/v1/reviews/{missing}/guide-version/",
        (404, 403, 403, 403, 403, 401),
        {"guide_version": 1},
    ),
    Row(
        "my flags",
        "GET",
        V1 + "me/flags/",
        "/api/v1/me/flags/",
        # labelers: their own flags; everyone else has none to see
        (403, 403, 403, 200, 200, 401),
    ),
    Row(
        "flag vendor labeler's assignment",
        "POST",
        V1 + "assignments/<id:pk>/flag/",
        "/api/v1/assignments/{assignment}/flag/",
        (403, 403, 403, 404, 201, 401),
        {"question": "Is a chip a crack?"},
    ),
    Row(
        "flag, missing assignment",
        "POST",
        V1 + "assignments/<id:pk>/flag/",
        "/api/v1/assignments/{missing}/flag/",
        (403, 403, 403, 404, 404, 401),
        {"question": "Is a chip a crack?"},
    ),
    Row(
        "export jsonl",
        "GET",
        V1 + "projects/<id:pk>/export/",
        "/api/v1/projects/{project}/export/?format=jsonl",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "export csv",
        "GET",
        V1 + "projects/<id:pk>/export/",
        "/api/v1/projects/{project}/export/?format=csv",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "export, unknown format",
        "GET",
        V1 + "projects/<id:pk>/export/",
        "/api/v1/projects/{project}/export/?format=xml",
        (400, 403, 403, 403, 403, 401),
    ),
    Row(
        "export, missing project",
        "GET",
        V1 + "projects/<id:pk>/export/",
        "/api/v1/projects/{missing}/export/?format=csv",
        (404, 403, 403, 403, 403, 401),
    ),
)


def _disagreement(project) -> Review:
    """A review on the first task of ``project`` without a live review (set-up shortcut: the
    consensus flow that creates these is tested in test_review.py)."""
    task = Task.objects.filter(project=project, reviews__isnull=True).order_by("id").first()
    Task.objects.filter(pk=task.pk).update(state=Task.State.REVIEW, is_open=False)
    return Review.objects.create(task=task, project=project, kind=Review.Kind.DISAGREEMENT)


@pytest.fixture
def world(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler):
    workforce_services.labeler_update(
        actor=ops_user, labeler=internal_labeler, data={"seniority": "senior"}
    )
    other_senior = make_labeler(seniority="senior")
    project = make_project(tasks=5, overlap=2)
    project_q = make_project(tasks=1, slug="poles-q")
    own = _disagreement(project)
    other = _disagreement(project)
    open_review = _disagreement(project)
    _disagreement(project_q)
    assert (
        services.review_claim_next(reviewer=internal_labeler, project_id=project.pk).review == own
    )
    assert services.review_claim_next(reviewer=other_senior, project_id=project.pk).review == other
    claim = work_services.assignment_claim_next(labeler=vendor_labeler, project_id=project.pk)
    users = role_users(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler)
    ids = {
        "project": project.pk,
        "project_q": project_q.pk,
        "own_review": own.pk,
        "other_review": other.pk,
        "open_review": open_review.pk,
        "assignment": claim.assignment.pk,
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)
