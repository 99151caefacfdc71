"""The role-by-endpoint matrix harness shared by every ``tests/<app>/test_permissions*.py``.

A module there defines ``MATRIX`` (a tuple of :class:`Row`) and a ``world`` fixture returning
``SimpleNamespace(users=role_users, ids={...})``, then takes its tests from here::

    test_matrix = matrix_test(MATRIX)
    test_matrix_rows_resolve_to_their_route = route_test(MATRIX)

Each row names one request (a route, a method, a target, a body) and the exact status each role
gets, in the order of ``ROLES``. Paths are formatted with the world's ids and may carry a query
string; body values may name an id of the world as ``"{name}"``. Every error response has the
one error shape. ``test_every_api_v1_route_is_in_the_matrix`` (tests/workforce/
test_permissions_matrix.py) reads every ``MATRIX`` through :func:`all_matrix_rows`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, resolve

ROLES = ("ops", "manager_a", "manager_b", "internal_labeler", "vendor_labeler", "anonymous")
ERROR_KEYS = {"detail", "code", "fields"}
V1 = "api/v1/"


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    route: str  # the URL pattern as config.urls spells it
    path: str  # formatted with the ids of the module's world
    expected: tuple[int, int, int, int, int, int]  # in the order of ROLES
    body: dict | None = field(default=None)


def role_users(ops_user, manager_a, manager_b, internal_labeler, vendor_labeler) -> dict:
    """The user behind each role of ``ROLES`` (``None`` for anonymous), from the role fixtures
    of tests/conftest.py."""
    return {
        "ops": ops_user,
        "manager_a": manager_a,
        "manager_b": manager_b,
        "internal_labeler": internal_labeler.user,
        "vendor_labeler": vendor_labeler.user,
        "anonymous": None,
    }


def fill(body: dict | None, ids: dict) -> dict | None:
    """``body`` with each value spelled ``"{name}"`` replaced by ``ids[name]``."""
    if body is None:
        return None
    return {
        key: ids[value[1:-1]] if isinstance(value, str) and value.startswith("{") else value
        for key, value in body.items()
    }


def content(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def request_row(client, row: Row, ids: dict):
    """Send ``row``'s request with ``client``."""
    path = row.path.format(**ids)
    if row.method == "GET":
        return client.get(path)
    return getattr(client, row.method.lower())(path, fill(row.body, ids), format="json")


def run_row(client_for, world, row: Row, role: str, expected: int) -> None:
    """Send ``row``'s request as ``role`` and check the status (and the error shape)."""
    response = request_row(client_for(world.users[role]), row, world.ids)
    assert response.status_code == expected, content(response)[:500]
    if expected >= 400:
        assert set(response.json()) == ERROR_KEYS


def cells(matrix: tuple[Row, ...]) -> list:
    """One pytest param per (row, role), with the status expected."""
    return [
        pytest.param(row, role, status, id=f"{row.name} | {role}")
        for row in matrix
        for role, status in zip(ROLES, row.expected, strict=True)
    ]


def matrix_test(matrix: tuple[Row, ...]):
    """The test of every cell of ``matrix``; it uses the ``world`` fixture of the module that
    assigns it to a ``test_…`` name."""

    @pytest.mark.parametrize(("row", "role", "expected"), cells(matrix))
    def test_matrix(client_for, world, row, role, expected):
        run_row(client_for, world, row, role, expected)

    return test_matrix


def route_test(matrix: tuple[Row, ...]):
    """The test that each row's path resolves to the route the row names (which the coverage
    test counts)."""

    @pytest.mark.parametrize("row", matrix, ids=[r.name for r in matrix])
    def test_matrix_rows_resolve_to_their_route(world, row):
        assert resolve(urlsplit(row.path.format(**world.ids)).path).route == row.route

    return test_matrix_rows_resolve_to_their_route


# -- route coverage ---------------------------------------------------------------------------


def routes(patterns, prefix: str = ""):
    """(route, callback) of every URL pattern below ``patterns``."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def methods(callback) -> set[str]:
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:  # a function view: every method reaches it
        return {"GET"}
    return {
        m.upper()
        for m in view.http_method_names
        if hasattr(view, m) and m not in ("options", "head")
    }


def all_matrix_rows() -> list[Row]:
    """Rows of every permission matrix in the suite: each app's routes live in a
    ``tests/<app>/test_permissions*.py`` module that defines ``MATRIX``."""
    rows: list[Row] = []
    root = Path(__file__).resolve().parent
    for module_path in sorted(root.glob("*/test_permissions*.py")):
        name = ".".join(module_path.relative_to(root.parent).with_suffix("").parts)
        rows.extend(importlib.import_module(name).MATRIX)
    return rows
