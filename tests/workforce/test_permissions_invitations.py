"""Role-by-endpoint rows of the invitation route (POST /api/v1/labelers/{id}/invitation/),
read by the route coverage test of test_permissions_matrix.py like every ``MATRIX``.

Who issues a labeler's link: operations, and the manager of the labeler's vendor. Another
vendor's labeler is a 404; a labeler asking for their own profile is a 403 (they see it but do
not manage it); a labeler who can already sign in is a 409."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.permissions import V1, Row, matrix_test, route_test
from workforce import services
from workforce.models import Labeler

pytestmark = pytest.mark.django_db

ROUTE = V1 + "labelers/<id:pk>/invitation/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row(
        "invite invited labeler of A",
        "POST",
        ROUTE,
        "/api/v1/labelers/{a_invited}/invitation/",
        (201, 201, 404, 404, 404, 401),
        {},
    ),
    Row(
        "invite invited labeler of A, unknown field",
        "POST",
        ROUTE,
        "/api/v1/labelers/{a_invited}/invitation/",
        (400, 400, 404, 404, 404, 401),
        {"password": "chosen-by-the-manager"},
    ),
    Row(
        "invite vendor labeler (can sign in)",
        "POST",
        ROUTE,
        "/api/v1/labelers/{vendor_labeler}/invitation/",
        (409, 409, 404, 404, 403, 401),
        {},
    ),
    Row(
        "invite internal labeler (can sign in)",
        "POST",
        ROUTE,
        "/api/v1/labelers/{internal_labeler}/invitation/",
        (409, 404, 404, 403, 404, 401),
        {},
    ),
    Row(
        "invite labeler that does not exist",
        "POST",
        ROUTE,
        "/api/v1/labelers/{missing}/invitation/",
        (404, 404, 404, 404, 404, 401),
        {},
    ),
)


@pytest.fixture
def world(cast):
    a_invited = services.labeler_create(
        actor=None, username="a-invited", kind=Labeler.Kind.VENDOR, vendor=cast.vendor_a
    )
    return SimpleNamespace(
        users=cast.users, ids={**cast.ids, "a_invited": a_invited.pk, "missing": 987654321}
    )


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)
