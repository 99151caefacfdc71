"""The one error shape ``{"detail", "code", "fields"}`` for everything that can go wrong with a
request, the health check, and the OpenAPI schema and docs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.api import json_server_error
from workforce.models import Labeler, User

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"detail", "code", "fields"}
PASSWORD = "pw-Labelforce-1"


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["fields"], dict)
    if code is not None:
        assert body["code"] == code
    return body


@pytest.fixture
def ops(client_for, ops_user):
    client = client_for(ops_user)
    client.raise_request_exception = False  # a 500 must show as a 500, not as a test error
    return client


@pytest.fixture
def anonymous():
    return APIClient(raise_request_exception=False)


# -- bodies -------------------------------------------------------------------------------------


def test_malformed_json_is_a_parse_error(ops):
    response = ops.post("/api/v1/labelers/", '{"username": ', content_type="application/json")
    _error(response, 400, "parse_error")


@pytest.mark.parametrize("body", ["[]", '[{"username": "x"}]', '"x"', "42", "null"])
def test_json_that_is_not_an_object_is_rejected(ops, body):
    response = ops.post("/api/v1/labelers/", body, content_type="application/json")
    assert _error(response, 400, "invalid")["fields"]
    assert not User.objects.filter(username="x").exists()


def test_json_array_on_patch_is_rejected(ops, vendor_labeler):
    response = ops.patch(
        f"/api/v1/labelers/{vendor_labeler.pk}/", "[1, 2]", content_type="application/json"
    )
    assert "non_field_errors" in _error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "x", "skills": "ner"}, "skills"),
        ({"username": "x", "languages": 5}, "languages"),
        ({"username": "x", "languages": "en"}, "languages"),
        ({"username": ["x"]}, "username"),
        ({"username": "x", "email": 12}, "email"),
        ({"username": "x", "timezone": {"tz": "UTC"}}, "timezone"),
    ],
)
def test_wrong_types_are_field_errors(ops, body, field):
    response = ops.post("/api/v1/labelers/", body, format="json")
    assert field in _error(response, 400, "invalid")["fields"]
    assert not Labeler.objects.exists()


def test_unsupported_content_type_is_415(ops):
    response = ops.post("/api/v1/labelers/", "username=x", content_type="text/plain")
    _error(response, 415, "unsupported_media_type")


# -- routes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v2/labelers/",
        "/api/",
        "/api/v1/labelers/99999999999999999999/",
        "/api/v1/labelers/9223372036854775808/",
        "/api/v1/labelers/12abc/",
        "/api/v1/labelers/-1/",
        "/api/v1/vendors/abc/",
        "/api/v1/labelers/99999999999999999999/history/",
    ],
)
def test_unknown_or_malformed_paths_are_json_404(ops, anonymous, path):
    _error(ops.get(path), 404, "not_found")
    _error(anonymous.get(path), 404, "not_found")


def test_existing_id_that_is_not_there_is_404(ops):
    _error(ops.get("/api/v1/labelers/999999999999999999/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/labelers/{pk}/"),
        ("put", "/api/v1/labelers/{pk}/"),
        ("get", "/api/v1/labelers/{pk}/suspend/"),
        ("post", "/api/v1/vendors/"),
        ("post", "/api/v1/me/"),
        ("get", "/api/v1/auth/token/"),
    ],
)
def test_method_not_allowed_is_405(ops, vendor_labeler, method, path):
    response = getattr(ops, method)(path.format(pk=vendor_labeler.pk))
    _error(response, 405, "method_not_allowed")


# -- authentication -----------------------------------------------------------------------------


def test_unauthenticated_is_401_with_challenge(anonymous):
    response = anonymous.get("/api/v1/labelers/")
    _error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer xyz"])
def test_invalid_token_is_401_in_the_shape(anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)
    response = anonymous.get("/api/v1/me/")
    assert response.status_code == 401
    _error(response, 401)


def test_token_of_inactive_user_is_401(anonymous, vendor_labeler):
    token = Token.objects.create(user=vendor_labeler.user)
    User.objects.filter(pk=vendor_labeler.user_id).update(is_active=False)
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    _error(anonymous.get("/api/v1/me/"), 401, "authentication_failed")


def test_token_endpoint_issues_a_working_token(anonymous, vendor_labeler):
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "acme1", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=vendor_labeler.user).key == key
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anonymous.get("/api/v1/me/").json()["labeler"]["id"] == vendor_labeler.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "acme1", "password": "wrong"}, "non_field_errors"),
        ({"username": "nobody", "password": PASSWORD}, "non_field_errors"),
        ({"username": "acme1"}, "password"),
        ({"password": PASSWORD}, "username"),
    ],
)
def test_token_endpoint_bad_credentials_are_400_with_fields(anonymous, vendor_labeler, body, field):
    response = anonymous.post("/api/v1/auth/token/", body, format="json")
    assert field in _error(response, 400, "invalid")["fields"]
    assert not Token.objects.exists()


def test_token_endpoint_rejects_offboarded_labeler(anonymous, manager_a, vendor_labeler):
    from workforce import services

    services.labeler_offboard(actor=manager_a, labeler=vendor_labeler, reason="left")
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "acme1", "password": PASSWORD}, format="json"
    )
    _error(response, 400, "invalid")


def test_token_endpoint_malformed_json_is_parse_error(anonymous):
    response = anonymous.post("/api/v1/auth/token/", "{", content_type="application/json")
    _error(response, 400, "parse_error")


def test_token_endpoint_ignores_a_stale_authorization_header(anonymous, vendor_labeler):
    anonymous.credentials(HTTP_AUTHORIZATION="Token deleted-long-ago")
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "acme1", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert "token" in response.json()


# -- size limits --------------------------------------------------------------------------------

LIMIT = 2048


@pytest.fixture
def small_uploads(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


def test_json_body_over_the_limit_is_413(ops, small_uploads):
    body = json.dumps({"username": "big", "first_name": "a", "external_id": "x" * (LIMIT * 2)})
    response = ops.post("/api/v1/labelers/", body, content_type="application/json")
    _error(response, 413, "payload_too_large")
    assert not User.objects.filter(username="big").exists()


def test_json_body_under_the_limit_is_accepted(ops, small_uploads):
    body = json.dumps({"username": "small", "first_name": "a" * 100})
    assert len(body) < LIMIT
    response = ops.post("/api/v1/labelers/", body, content_type="application/json")
    assert response.status_code == 201


def test_form_body_over_the_limit_is_413(ops, small_uploads):
    body = urlencode({"username": "big", "external_id": "x" * (LIMIT * 2)})
    response = ops.post("/api/v1/labelers/", body, content_type="application/x-www-form-urlencoded")
    _error(response, 413, "payload_too_large")


def test_multipart_body_over_the_limit_is_413(ops, small_uploads):
    response = ops.post("/api/v1/labelers/", {"username": "big", "external_id": "x" * (LIMIT * 2)})
    _error(response, 413, "payload_too_large")


def test_oversize_form_with_session_login_is_413(vendor_labeler, manager_a, small_uploads):
    """Session authentication reads the form for its CSRF check before the view runs."""
    client = APIClient(raise_request_exception=False)
    client.force_login(manager_a)
    body = urlencode({"reason": "x" * (LIMIT * 2)})
    response = client.post(
        f"/api/v1/labelers/{vendor_labeler.pk}/suspend/",
        body,
        content_type="application/x-www-form-urlencoded",
    )
    _error(response, 413, "payload_too_large")
    assert Labeler.objects.get(pk=vendor_labeler.pk).status == Labeler.Status.ACTIVE


def test_token_endpoint_body_over_the_limit_is_413(anonymous, small_uploads):
    body = json.dumps({"username": "acme1", "password": "x" * (LIMIT * 2)})
    response = anonymous.post("/api/v1/auth/token/", body, content_type="application/json")
    _error(response, 413, "payload_too_large")


def test_default_limit_applies_without_override(ops, settings):
    body = json.dumps({"username": "big", "first_name": "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = ops.post("/api/v1/labelers/", body, content_type="application/json")
    _error(response, 413, "payload_too_large")


# -- requests Django refuses before any view, and server errors ----------------------------------


def test_disallowed_host_under_api_is_json_400(anonymous):
    response = anonymous.get("/api/v1/me/", HTTP_HOST="evil.example")
    _error(response, 400, "bad_request")


def test_server_error_page_under_api_is_json():
    response = json_server_error(RequestFactory().get("/api/v1/labelers/"))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "detail": "Server error.",
        "code": "server_error",
        "fields": {},
    }


# -- health, schema and docs --------------------------------------------------------------------


def test_healthz_reports_database_and_readiness_the_eager_broker(anonymous, settings):
    """Liveness is the database only; the broker is readiness's (tests/health)."""
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] in ("sqlite", "postgresql")
    assert settings.CELERY_TASK_ALWAYS_EAGER
    broker = anonymous.get("/healthz/ready").json()["checks"]["broker"]
    assert broker["ok"] is True
    assert broker["mode"].startswith("eager")


_PARAMETER = {"pk": "id"}  # drf-spectacular names a pk "id", any other parameter by its name


def _v1_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route

    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: f"{{{_PARAMETER.get(m[1], m[1])}}}", route)
        for route in walk(get_resolver().url_patterns)
        if route.startswith("api/v1/")
    }


def test_schema_is_a_valid_openapi_3_document_with_every_v1_route(anonymous):
    response = anonymous.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document
    routes = _v1_routes()
    assert len(routes) >= 10
    assert routes <= set(schema["paths"]), routes - set(schema["paths"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_docs_use_only_local_static_assets(anonymous, settings):
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    collector = _AssetCollector()
    collector.feed(html)
    assert collector.urls, "no script or link tags found"
    for url in collector.urls:
        assert not re.match(r"^(https?:)?//", url), f"external asset {url}"
        assert url.startswith("/" + settings.STATIC_URL.lstrip("/")), url
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
