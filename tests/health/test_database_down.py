"""While the database is down the API answers 503 ``database_unavailable`` with Retry-After in
the one error shape, and the admin a plain 503 page, never a 500. The outage is simulated by
making every statement fail as it does with PostgreSQL stopped; the real outage is the drill
(bench/drill_postgres.py)."""

from __future__ import annotations

import sys
from unittest import mock

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from health.api import server_error

DOWN = OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
BODY = {
    "detail": "The database is unavailable; try again in a few seconds.",
    "code": "database_unavailable",
    "fields": {},
}


def _down(error: Exception = DOWN):
    return mock.patch.object(CursorWrapper, "execute", side_effect=error)


@pytest.mark.django_db
def test_api_call_with_the_database_down_is_503_with_retry_after(internal_labeler):
    token = Token.objects.create(user=internal_labeler.user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.raise_request_exception = False
    with _down():
        response = client.post("/api/v1/projects/1/next-task/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == BODY


@pytest.mark.django_db
@pytest.mark.parametrize("error", [DOWN, InterfaceError("connection already closed")])
def test_an_authenticated_api_read_losing_the_database_is_503(client_for, ops_user, error):
    client = client_for(ops_user)
    client.raise_request_exception = False
    with _down(error):
        response = client.get("/api/v1/labelers/")
    assert response.status_code == 503
    assert response.json() == BODY


@pytest.mark.django_db
def test_a_query_bug_is_still_a_500_not_a_503(client_for, ops_user):
    client = client_for(ops_user)
    client.raise_request_exception = False
    with _down(IntegrityError("duplicate key")):
        response = client.get("/api/v1/labelers/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


@pytest.mark.django_db
def test_admin_page_with_the_database_down_is_a_plain_503_page(ops_user):
    client = Client(raise_request_exception=False)
    client.force_login(ops_user)
    with _down():
        response = client.get("/admin/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"The database is unavailable" in response.content


@pytest.mark.django_db
def test_admin_login_page_with_the_database_down_is_503():
    client = Client(raise_request_exception=False)
    with _down():
        response = client.post("/admin/login/", {"username": "ops", "password": "x"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def _handled(error: Exception, path: str):
    """What Django's handler500 answers while ``error`` is being handled (an error raised
    outside any view, e.g. in a middleware)."""
    try:
        raise error
    except Exception:
        assert sys.exc_info()[1] is error
        return server_error(RequestFactory().get(path))


def test_server_error_handler_turns_a_lost_database_into_503():
    api = _handled(DOWN, "/api/v1/labelers/")
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    page = _handled(DOWN, "/admin/")
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert page["Content-Type"].startswith("text/html")


def test_server_error_handler_keeps_500_for_other_errors():
    response = _handled(ValueError("bug"), "/api/v1/labelers/")
    assert response.status_code == 500
    assert b"server_error" in response.content
