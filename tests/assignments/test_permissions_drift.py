"""Role-by-endpoint matrix of the drift events route: operations managers read a project's drift
events; every other role is refused (the route is ops-only, like the project's export), an
unknown project is a 404 for ops. Same conventions as tests/workforce/test_permissions_matrix.py,
whose route-coverage test also reads ``MATRIX`` here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.assignments.factories import make_project
from tests.permissions import V1, Row, matrix_test, route_test

pytestmark = pytest.mark.django_db

DRIFT_EVENTS = V1 + "projects/<id:pk>/drift-events/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row(
        "drift events of a project",
        "GET",
        DRIFT_EVENTS,
        "/api/v1/projects/{project}/drift-events/",
        (200, 403, 403, 403, 403, 401),
    ),
    Row(
        "drift events of a project that does not exist",
        "GET",
        DRIFT_EVENTS,
        "/api/v1/projects/{missing}/drift-events/",
        (404, 403, 403, 403, 403, 401),
    ),
)


@pytest.fixture
def world(cast):
    project = make_project(tasks=0)
    ids = {"project": project.pk, "missing": 987654321, **cast.ids}
    return SimpleNamespace(users=cast.users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)
