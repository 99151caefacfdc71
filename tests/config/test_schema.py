"""The OpenAPI schema says what the API does: nullable fields are nullable, fields some callers
do not get are not required, every operation documents its errors in the one error shape,
strict parameters (page_size, integer and boolean filters) are refused when malformed, and a
CSRF rejection under /api/ is JSON. The schemathesis run in CI (``.ci/schemathesis``) checks the
rest by generated requests; these pin the cases it found."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from config.api import json_csrf_failure
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(document)
    return document


def _component(schema, name):
    return schema["components"]["schemas"][name]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("LabelerOut", "vendor"),
        ("QuizOut", "qualification_type"),
        ("QualityRuleOut", "qualification_type"),
        ("ReviewOut", "reviewer"),
        ("ProjectOut", "guide"),
        ("ProjectOpsOut", "control_gold_set"),
        ("ResolutionOut", "task_final_answer"),
    ],
)
def test_nullable_fields_are_nullable(schema, component, field):
    assert _component(schema, component)["properties"][field].get("nullable") is True


def test_non_null_fields_stay_required_values(schema):
    labeler = _component(schema, "LabelerOut")["properties"]
    assert not labeler["public_code"].get("nullable")
    assert not labeler["username"].get("nullable")


def test_attempt_fields_left_out_for_some_callers_are_not_required(schema):
    required = set(_component(schema, "AttemptOut")["required"])
    assert not {"correct_count", "next_question", "questions"} & required
    assert {"id", "number", "labeler_code"} <= required
    from qc.api.quizzes import AttemptOut  # after the URL converters are registered

    assert set(AttemptOut.Meta.optional_fields) <= set(AttemptOut.Meta.fields)


def test_blank_email_is_not_format_email(schema):
    contact = _component(schema, "VendorOut")["properties"]["contact_email"]
    assert "format" not in contact


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            if operation.get("security") and {} not in operation["security"]:
                assert {"401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error_ref


def test_role_dependent_reply_is_any_of(schema):
    by_role = _component(schema, "ProjectByRole")
    assert "oneOf" not in by_role and len(by_role["anyOf"]) == 2
    from assignments.api.projects import ProjectOut  # after the URL converters are registered

    assert set(ProjectOut.Meta.fields) <= set(_component(schema, "ProjectOpsOut")["properties"])


def test_integer_filters_are_integers_in_the_schema(schema):
    parameters = schema["paths"]["/api/v1/qualifications/"]["get"]["parameters"]
    by_name = {p["name"]: p["schema"] for p in parameters}
    assert by_name["labeler"]["type"] == "integer"
    assert by_name["valid"]["type"] == "boolean"
    assert by_name["page_size"] == {"type": "integer", "minimum": 1}


@pytest.mark.parametrize("value", ["null", "0", "-1", "x", "1.5", "٣"])
def test_malformed_page_size_is_a_400(client_for, ops_user, value):
    reply = client_for(ops_user).get("/api/v1/labelers/", {"page_size": value})
    assert reply.status_code == 400 and "page_size" in reply.json()["fields"]


def test_page_size_is_clamped_and_repeated_is_a_400(client_for, ops_user):
    client = client_for(ops_user)
    assert client.get("/api/v1/labelers/", {"page_size": 10_000}).status_code == 200
    twice = client.get("/api/v1/labelers/?page_size=1&page_size=2")
    assert twice.status_code == 400


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/gold-checks/?project=0.5", "project"),
        ("/api/v1/rule-firings/?project=0.5", "project"),
        ("/api/v1/quality-rules/?project=0.5", "project"),
        ("/api/v1/qualifications/?labeler=1.5", "labeler"),
        ("/api/v1/qualifications/?valid=null", "valid"),
        ("/api/v1/quality-rules/?is_active=maybe", "is_active"),
        ("/api/v1/labelers/?seniority=", "seniority"),
        ("/api/v1/qualifications/?labeler=", "labeler"),
    ],
)
def test_malformed_filters_are_a_400(client_for, ops_user, url, field):
    reply = client_for(ops_user).get(url)
    assert reply.status_code == 400, reply.content[:300]
    assert field in reply.json()["fields"]


def test_well_formed_filters_still_filter(client_for, ops_user):
    client = client_for(ops_user)
    assert client.get("/api/v1/qualifications/?valid=true&labeler=1").status_code == 200
    assert client.get("/api/v1/quality-rules/?is_active=false&project=1").status_code == 200


def test_csrf_rejection_under_api_is_json():
    """Django's CSRF rejection (for a view under /api/ that is not DRF's) in the error shape;
    elsewhere Django's page."""
    factory = RequestFactory()
    reply = json_csrf_failure(factory.post("/api/v1/anything/"), reason="CSRF cookie not set.")
    assert reply.status_code == 403 and reply["Content-Type"].startswith("application/json")
    assert json.loads(reply.content)["code"] == "permission_denied"
    page = json_csrf_failure(factory.post("/admin/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_session_cookie_post_to_an_unknown_api_path_is_json():
    labeler = make_labeler()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(labeler.user)
    reply = client.post("/api/v1/projects/%C2%84/next-task/")
    assert reply["Content-Type"].startswith("application/json")
    assert set(reply.json()) == {"detail", "code", "fields"}
