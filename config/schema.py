"""OpenAPI: what every operation can answer besides its success, added to the generated schema
once instead of on each view (drf-spectacular postprocessing hook, ``SPECTACULAR_SETTINGS``).

Every error under ``/api/`` has the one shape ``{"detail", "code", "fields"}`` (``Error``). Which
statuses an operation documents follows from what it takes, because the same machinery answers
them for every view:

* 400 ``invalid`` (and DRF's ``parse_error``) — an operation with a body or query parameters;
* 401 ``not_authenticated`` / 403 ``permission_denied`` (or a more precise code) — an operation
  that needs a login; a signed-in caller of the wrong role gets the 403;
* 404 ``not_found`` — an operation with a path parameter (an object the caller may not see
  does not exist for them) or a ``project`` filter (the same rule for the project);
* 413 ``payload_too_large`` / 415 ``unsupported_media_type`` — an operation with a body;
* 429 ``login_locked_out`` — the login, after repeated failures (with ``Retry-After``);
* 503 ``database_unavailable`` — any operation while the database is down (with
  ``Retry-After``).

An operation that documents one of these itself keeps its description; the error body is added
where it names none.

``AutoSchema`` (the API's schema class) marks a response field nullable when the model field
it reads can be null — a field declared by hand on a model serializer (``vendor =
SlugRelatedField(…)``) otherwise loses the model's ``null=True`` and the schema promises a value
the API does not always give.

A ``oneOf`` without a discriminator (one reply shape per role, ``ProjectByRole``) becomes
``anyOf``: the shapes overlap (the labeler view is a subset of the ops view), so a reply
matches more than one of them, which ``oneOf`` forbids.

The tests in ``tests/config/test_schema.py`` and the schemathesis run in CI
(``.ci/schemathesis``) hold the schema to what the API does.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django_filters import NumberFilter
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from config.api import integer_column

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "detail": {"type": "string", "description": "For people."},
        "code": {"type": "string", "description": "Stable; clients branch on it."},
        "fields": {
            "type": "object",
            "additionalProperties": True,
            "description": "Input field → its messages (nested for rows and nested objects).",
        },
    },
    "required": ["detail", "code", "fields"],
}

DESCRIPTIONS = {
    "400": "invalid: bad input; fields names each field and its messages.",
    "401": "not_authenticated: no or an invalid token.",
    "403": "permission_denied (or a more precise code): the caller's role may not do this.",
    "404": "not_found: no such object for this caller.",
    "409": "conflict (or a more precise code): the object's state does not allow this.",
    "413": "payload_too_large: the body is over the limit.",
    "415": "unsupported_media_type: the body's content type is not accepted.",
    "429": "login_locked_out: too many failed logins; retry after Retry-After seconds.",
    "503": "database_unavailable: retry after Retry-After seconds.",
}

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}

_LOGIN_PATHS = ("/api/v1/auth/token/",)
_METHODS = ("get", "put", "post", "patch", "delete")


def _needs_login(operation: dict[str, Any]) -> bool:
    security = operation.get("security")
    return security is None or {} not in security


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    in_path = any(p.get("in") == "path" for p in parameters)
    in_query = [p.get("name") for p in parameters if p.get("in") == "query"]
    statuses = ["503"]
    if has_body or in_query:
        statuses.append("400")
    if _needs_login(operation):
        statuses += ["401", "403"]
    if in_path or "project" in in_query:
        statuses.append("404")
    if has_body:
        statuses += ["413", "415"]
    if path in _LOGIN_PATHS and method == "post":
        statuses.append("429")
    return statuses


def document_errors(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Add the ``Error`` component and the error responses above to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    for component in schemas.values():
        if "oneOf" in component and "discriminator" not in component:
            component["anyOf"] = component.pop("oneOf")
    error_content = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}
    }
    for path, item in result.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if not str(status).startswith(("4", "5")):
                    continue
                response.setdefault("description", DESCRIPTIONS.get(str(status), "Error."))
                if "content" not in response:
                    response["content"] = error_content
                if str(status) in ("429", "503"):
                    response.setdefault("headers", RETRY_AFTER)
    return result


def _source_nullable(field: serializers.Field) -> bool:
    """Whether the model attribute ``field`` reads (through its dotted ``source``) can be
    None: any nullable field on the way makes it so. Only for fields of model serializers;
    plain serializers say so themselves (``allow_null``)."""
    if isinstance(field, serializers.ManyRelatedField) or field.source == "*":
        return False
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    for attr in getattr(field, "source_attrs", None) or []:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False):
            return True
        model = model_field.related_model if model_field.is_relation else None
    return False


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, plus: nullable model sources (above), blank e-mail fields without
    ``format: email``, and ``Meta.optional_fields`` of a serializer — fields its
    ``to_representation`` leaves out for some callers — not listed as required."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        optional = set(getattr(getattr(serializer, "Meta", None), "optional_fields", ()))
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and "nullable" not in meta and _source_nullable(field):
            meta["nullable"] = True
        return meta

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        if isinstance(field, serializers.EmailField) and field.allow_blank:
            # "" is a valid value here (no address given), which format: email refuses.
            schema.pop("format", None)
            schema.setdefault("description", "An e-mail address, or empty.")


class StrictFilterExtension(DjangoFilterExtension):
    """The filters of ``config.api.FilterBackend`` as it parses them: a number filter on an
    integer column (a foreign key's ``…_id`` included) is an integer parameter."""

    target_class = "config.api.FilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        integer = integer_column(model, filter_field.field_name)
        if isinstance(filter_field, NumberFilter) and integer:
            for parameter in parameters:
                parameter["schema"] = {"type": "integer"}
        return parameters
