"""Role-by-endpoint matrix for the assignments routes (see tests/workforce/
test_permissions_matrix.py for the conventions: a foreign object is a 404; a route the role may
not use at all is a 403; anonymous callers get 401)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assignments import services
from assignments.models import Project
from tests.assignments.factories import make_project
from tests.permissions import V1, Row, matrix_test, role_users

pytestmark = pytest.mark.django_db

PROJECT = V1 + "projects/<id:pk>/"
ASSIGNMENT = V1 + "assignments/<id:pk>/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row("projects", "GET", V1 + "projects/", "/api/v1/projects/", (200, 200, 200, 200, 200, 401)),
    Row(
        "active project",
        "GET",
        PROJECT,
        "/api/v1/projects/{project}/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "draft project",
        "GET",
        PROJECT,
        "/api/v1/projects/{draft}/",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "next task",
        "POST",
        PROJECT + "next-task/",
        "/api/v1/projects/{project}/next-task/",
        # the vendor labeler already holds a lease in the world: it is handed back (200)
        (403, 403, 403, 201, 200, 401),
    ),
    Row(
        "next task, missing project",
        "POST",
        PROJECT + "next-task/",
        "/api/v1/projects/{missing}/next-task/",
        (403, 403, 403, 404, 404, 401),
    ),
    Row(
        "assignments",
        "GET",
        V1 + "assignments/",
        "/api/v1/assignments/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "submit vendor labeler's assignment",
        "POST",
        ASSIGNMENT + "submit/",
        "/api/v1/assignments/{assignment}/submit/",
        (403, 403, 403, 404, 200, 401),
        {"answer": "ok"},
    ),
    Row(
        "release vendor labeler's assignment",
        "POST",
        ASSIGNMENT + "release/",
        "/api/v1/assignments/{assignment}/release/",
        (403, 403, 403, 404, 200, 401),
    ),
)


@pytest.fixture
def world(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler):
    project = make_project(tasks=5, overlap=2)
    draft = make_project(tasks=1, slug="draft-project", status=Project.Status.DRAFT)
    claim = services.assignment_claim_next(labeler=vendor_labeler, project_id=project.pk)
    users = role_users(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler)
    ids = {
        "project": project.pk,
        "draft": draft.pk,
        "assignment": claim.assignment.pk,
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", 1),
        ("manager_a", 1),
        ("manager_b", 0),
        ("internal_labeler", 0),
        ("vendor_labeler", 1),
    ],
)
def test_assignment_list_is_scoped(client_for, world, role, expected):
    response = client_for(world.users[role]).get("/api/v1/assignments/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected
