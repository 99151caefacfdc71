"""Role-by-endpoint matrix over every route of API v1 and the public endpoints.

Each row names one request (a route, a method, a target, a body) and the exact status each role
gets. A foreign object is a 404 (never a 403 that confirms it exists); a labeler sees only their
own profile and may not change it; anonymous callers get 401 everywhere but the public
endpoints. ``test_every_api_v1_route_is_in_the_matrix`` fails when a route or method is added to
/api/v1/ without a row here.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import get_resolver

from tests.factories import make_labeler
from tests.permissions import (
    V1,
    Row,
    all_matrix_rows,
    matrix_test,
    methods,
    route_test,
    routes,
)
from workforce.models import Labeler

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Labelforce-1"
LABELER = V1 + "labelers/<id:pk>/"

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
MATRIX: tuple[Row, ...] = (
    Row("me", "GET", V1 + "me/", "/api/v1/me/", (200, 200, 200, 200, 200, 401)),
    Row(
        "whoami",
        "GET",
        V1 + "auth/whoami/",
        "/api/v1/auth/whoami/",
        (200, 200, 200, 200, 200, 401),
    ),
    Row(
        "token",
        "POST",
        V1 + "auth/token/",
        "/api/v1/auth/token/",
        (200, 200, 200, 200, 200, 200),
        {"username": "acme1", "password": PASSWORD},
    ),
    Row(
        "token, wrong password",
        "POST",
        V1 + "auth/token/",
        "/api/v1/auth/token/",
        (400, 400, 400, 400, 400, 400),
        {"username": "acme1", "password": "wrong"},
    ),
    Row("vendors", "GET", V1 + "vendors/", "/api/v1/vendors/", (200, 200, 200, 200, 200, 401)),
    Row(
        "vendor A",
        "GET",
        V1 + "vendors/<id:pk>/",
        "/api/v1/vendors/{vendor_a}/",
        (200, 200, 404, 404, 404, 401),
    ),
    Row(
        "vendor B",
        "GET",
        V1 + "vendors/<id:pk>/",
        "/api/v1/vendors/{vendor_b}/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "vendor that does not exist",
        "GET",
        V1 + "vendors/<id:pk>/",
        "/api/v1/vendors/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    # A vendor's status: its managers read the history; only ops change it (another vendor's
    # manager, and labelers, get a 404 that does not confirm the vendor exists).
    Row(
        "vendor A history",
        "GET",
        V1 + "vendors/<id:pk>/history/",
        "/api/v1/vendors/{vendor_a}/history/",
        (200, 200, 404, 404, 404, 401),
    ),
    Row(
        "suspend vendor A",
        "POST",
        V1 + "vendors/<id:pk>/suspend/",
        "/api/v1/vendors/{vendor_a}/suspend/",
        (200, 403, 404, 404, 404, 401),
        {"reason": "audit"},
    ),
    Row(
        "suspend vendor A, no reason",
        "POST",
        V1 + "vendors/<id:pk>/suspend/",
        "/api/v1/vendors/{vendor_a}/suspend/",
        (400, 403, 404, 404, 404, 401),
        {},
    ),
    Row(
        "offboard vendor B",
        "POST",
        V1 + "vendors/<id:pk>/offboard/",
        "/api/v1/vendors/{vendor_b}/offboard/",
        (200, 404, 403, 404, 404, 401),
        {"reason": "contract ended"},
    ),
    Row(
        "reactivate vendor A (active)",
        "POST",
        V1 + "vendors/<id:pk>/reactivate/",
        "/api/v1/vendors/{vendor_a}/reactivate/",
        (409, 403, 404, 404, 404, 401),
        {"reason": "resolved"},
    ),
    Row("labelers", "GET", V1 + "labelers/", "/api/v1/labelers/", (200, 200, 200, 200, 200, 401)),
    Row(
        "create labeler",
        "POST",
        V1 + "labelers/",
        "/api/v1/labelers/",
        (201, 201, 201, 403, 403, 401),
        {"username": "newbie"},
    ),
    Row(
        "create labeler, invalid",
        "POST",
        V1 + "labelers/",
        "/api/v1/labelers/",
        (400, 400, 400, 403, 403, 401),
        {"username": "not a username!"},
    ),
    Row(
        "vendor labeler's profile",
        "GET",
        LABELER,
        "/api/v1/labelers/{vendor_labeler}/",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "internal labeler's profile",
        "GET",
        LABELER,
        "/api/v1/labelers/{internal_labeler}/",
        (200, 404, 404, 200, 404, 401),
    ),
    Row(
        "vendor B labeler's profile",
        "GET",
        LABELER,
        "/api/v1/labelers/{b_labeler}/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "labeler that does not exist",
        "GET",
        LABELER,
        "/api/v1/labelers/{missing}/",
        (404, 404, 404, 404, 404, 401),
    ),
    Row(
        "edit vendor labeler",
        "PATCH",
        LABELER,
        "/api/v1/labelers/{vendor_labeler}/",
        (200, 200, 404, 404, 403, 401),
        {"first_name": "Changed"},
    ),
    Row(
        "edit internal labeler",
        "PATCH",
        LABELER,
        "/api/v1/labelers/{internal_labeler}/",
        (200, 404, 404, 403, 404, 401),
        {"first_name": "Changed"},
    ),
    Row(
        "edit vendor labeler, invalid",
        "PATCH",
        LABELER,
        "/api/v1/labelers/{vendor_labeler}/",
        (400, 400, 404, 404, 403, 401),
        {"timezone": "Nowhere/Land"},
    ),
    Row(
        "vendor labeler's history",
        "GET",
        LABELER + "history/",
        "/api/v1/labelers/{vendor_labeler}/history/",
        (200, 200, 404, 404, 200, 401),
    ),
    Row(
        "internal labeler's history",
        "GET",
        LABELER + "history/",
        "/api/v1/labelers/{internal_labeler}/history/",
        (200, 404, 404, 200, 404, 401),
    ),
    Row(
        "activate onboarding labeler of A",
        "POST",
        LABELER + "activate/",
        "/api/v1/labelers/{a_onboarding}/activate/",
        (200, 200, 404, 404, 404, 401),
        {"reason": "trained"},
    ),
    Row(
        "activate vendor labeler (already active)",
        "POST",
        LABELER + "activate/",
        "/api/v1/labelers/{vendor_labeler}/activate/",
        (409, 409, 404, 404, 403, 401),
        {"reason": "trained"},
    ),
    Row(
        "suspend vendor labeler",
        "POST",
        LABELER + "suspend/",
        "/api/v1/labelers/{vendor_labeler}/suspend/",
        (200, 200, 404, 404, 403, 401),
        {"reason": "quality"},
    ),
    Row(
        "suspend vendor labeler without a reason",
        "POST",
        LABELER + "suspend/",
        "/api/v1/labelers/{vendor_labeler}/suspend/",
        (400, 400, 404, 404, 403, 401),
        {},
    ),
    Row(
        "suspend internal labeler",
        "POST",
        LABELER + "suspend/",
        "/api/v1/labelers/{internal_labeler}/suspend/",
        (200, 404, 404, 403, 404, 401),
        {"reason": "quality"},
    ),
    Row(
        "reactivate suspended labeler of A",
        "POST",
        LABELER + "reactivate/",
        "/api/v1/labelers/{a_suspended}/reactivate/",
        (200, 200, 404, 404, 404, 401),
        {"reason": "better now"},
    ),
    Row(
        "reactivate vendor labeler (not suspended)",
        "POST",
        LABELER + "reactivate/",
        "/api/v1/labelers/{vendor_labeler}/reactivate/",
        (409, 409, 404, 404, 403, 401),
        {"reason": "better now"},
    ),
    Row(
        "offboard vendor labeler",
        "POST",
        LABELER + "offboard/",
        "/api/v1/labelers/{vendor_labeler}/offboard/",
        (200, 200, 404, 404, 403, 401),
        {"reason": "contract ended"},
    ),
    Row(
        "offboard vendor B labeler",
        "POST",
        LABELER + "offboard/",
        "/api/v1/labelers/{b_labeler}/offboard/",
        (200, 404, 200, 404, 404, 401),
        {"reason": "contract ended"},
    ),
    Row("schema", "GET", "api/schema/", "/api/schema/", (200, 200, 200, 200, 200, 200)),
    Row("docs", "GET", "api/docs/", "/api/docs/", (200, 200, 200, 200, 200, 200)),
    Row("health", "GET", "healthz", "/healthz", (200, 200, 200, 200, 200, 200)),
)


@pytest.fixture
def world(cast):
    users = cast.users
    ids = {
        **cast.ids,
        "a_onboarding": make_labeler(vendor=cast.vendor_a, status=Labeler.Status.ONBOARDING).pk,
        "a_suspended": make_labeler(vendor=cast.vendor_a, status=Labeler.Status.SUSPENDED).pk,
        "missing": 987654321,
    }
    return SimpleNamespace(users=users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)


def test_every_api_v1_route_is_in_the_matrix():
    covered = {(row.route, row.method) for row in all_matrix_rows()}
    served = {
        (route, method)
        for route, callback in routes(get_resolver().url_patterns)
        if route.startswith(V1)
        for method in methods(callback)
    }
    assert served, "no API v1 routes found: the walk over the resolver is broken"
    missing = sorted(served - covered)
    assert not missing, f"add these routes to the permission matrix: {missing}"
    stale = sorted(c for c in covered - served if c[0].startswith(V1))
    assert not stale, f"the matrix names routes that are not served: {stale}"


# -- what each role sees in the lists ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", {"acme", "bravo"}),
        ("manager_a", {"acme"}),
        ("manager_b", {"bravo"}),
        ("internal_labeler", set()),
        ("vendor_labeler", set()),
    ],
)
def test_vendor_list_per_role(client_for, world, role, expected):
    response = client_for(world.users[role]).get("/api/v1/vendors/")
    assert response.status_code == 200
    assert {v["slug"] for v in response.json()["results"]} == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ops", {"vendor_labeler", "internal_labeler", "b_labeler", "a_onboarding", "a_suspended"}),
        ("manager_a", {"vendor_labeler", "a_onboarding", "a_suspended"}),
        ("manager_b", {"b_labeler"}),
        ("internal_labeler", {"internal_labeler"}),
        ("vendor_labeler", {"vendor_labeler"}),
    ],
)
def test_labeler_list_per_role(client_for, world, role, expected):
    response = client_for(world.users[role]).get("/api/v1/labelers/")
    assert response.status_code == 200
    assert {lab["id"] for lab in response.json()["results"]} == {
        world.ids[name] for name in expected
    }
