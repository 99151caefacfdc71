"""Token authentication: one fixed statement finds the token, its user and the user's labeler
profile, and hands back the same objects the ORM's select_related would."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.authentication import token_with_user

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_labelers_token_loads_user_and_labeler_in_one_statement(vendor_labeler):
    key = Token.objects.create(user=vendor_labeler.user).key
    expected = Token.objects.select_related("user", "user__labeler").get(key=key)
    with CaptureQueriesContext(connection) as queries:
        token = token_with_user(key)
        labeler = token.user.labeler
        assert labeler.user is token.user
    assert len(queries) == 1
    assert _fields(token) == _fields(expected)
    assert _fields(token.user) == _fields(expected.user)
    assert _fields(labeler) == _fields(expected.user.labeler)


def test_a_user_without_a_labeler_profile_is_known_to_have_none(ops_user):
    key = Token.objects.create(user=ops_user).key
    with CaptureQueriesContext(connection) as queries:
        token = token_with_user(key)
        assert not hasattr(token.user, "labeler")
    assert len(queries) == 1
    assert token.user.pk == ops_user.pk


def test_an_unknown_key_is_none():
    assert token_with_user("0" * 40) is None


def test_the_api_refuses_an_unknown_token_and_an_inactive_user(vendor_labeler):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    response = client.get("/api/v1/auth/whoami/")
    assert response.status_code == 401
    assert "Invalid token" in response.content.decode()

    key = Token.objects.create(user=vendor_labeler.user).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/auth/whoami/").json()["username"] == vendor_labeler.user.username
    vendor_labeler.user.is_active = False
    vendor_labeler.user.save(update_fields=["is_active"])
    response = client.get("/api/v1/auth/whoami/")
    assert response.status_code == 401
    assert "inactive" in response.content.decode()
