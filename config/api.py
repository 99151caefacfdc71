"""API wiring shared by every app: the one exception handler, pagination, strict input
serializers, JSON 400/404/500 pages, the URL converter for ids, and the pieces views share (the
201-or-200 answer, the calling labeler with their input). The size-limited body parsers live in
``config.parsers``, file uploads in ``config.uploads``, file downloads in ``config.downloads``;
the health routes in ``health.api``."""

from __future__ import annotations

import base64
import logging
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.db import models
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django_filters import BooleanFilter, CharFilter, NumberFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from config.errors import ApplicationError
from config.parsers import PayloadTooLarge

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            out.extend(f"{key}: {m}" for m in _flatten(value))
        return out
    if isinstance(detail, list | tuple):
        out = []
        for item in detail:
            out.extend(_flatten(item))
        return out
    return [str(detail)]


def _fields_from_drf(detail: Any) -> dict[str, Any]:
    """Normalize a DRF ValidationError detail into ``{field: [messages]}``; nested serializers
    keep their nesting (``{"items": {"0": {"x": [...]}}}``) so clients can point at a row."""
    if isinstance(detail, dict):
        fields: dict[str, Any] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                fields[str(key)] = _fields_from_drf(value)
            elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
                fields[str(key)] = {str(i): _fields_from_drf(v) for i, v in enumerate(value) if v}
            else:
                fields[str(key)] = _flatten(value)
        return fields
    return {NON_FIELD: _flatten(detail)}


def error_body(detail: str, code: str, fields: dict | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, "fields": fields or {}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render every error in the one shape ``{"detail", "code", "fields"}``."""
    if isinstance(exc, DatabaseOperationalError | DatabaseInterfaceError):
        # The database is down, restarting, or timed out: retryable, not a bug (a 503 with
        # Retry-After, code database_unavailable; health.api renders the same outside DRF).
        from health.api import (
            DATABASE_UNAVAILABLE,
            DATABASE_UNAVAILABLE_DETAIL,
            RETRY_AFTER_SECONDS,
        )

        logger.warning("database unavailable: %s", exc)
        set_rollback()
        return Response(
            error_body(DATABASE_UNAVAILABLE_DETAIL, DATABASE_UNAVAILABLE),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.detail, exc.code, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
            fields = {(NON_FIELD if k == "__all__" else k): v for k, v in fields.items()}
        else:
            fields = {NON_FIELD: [str(m) for m in exc.messages]}
        set_rollback()
        return Response(error_body("Invalid input.", "invalid", fields), status=400)
    # Django raises these while reading the body (multipart fields over the size limit, too
    # many fields); unhandled they would leave DRF as an HTML 400 page.
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request could not be read.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("Invalid input.", "invalid", _fields_from_drf(exc.detail))
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    code = codes if isinstance(codes, str) else "error"
    text = detail if isinstance(detail, str) else "; ".join(_flatten(detail))
    response.data = error_body(str(text), code)
    return response


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


class CursorPage(CursorPagination):
    """Stable cursor pagination. ``page_size`` above the maximum is clamped, not an error; a
    malformed or tampered cursor is a 400 ``invalid`` naming the ``cursor`` parameter (bad
    input, not a missing resource), never a database error."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None:
            # DRF's decoding skips characters outside base64, so junk would read as page one.
            try:
                base64.b64decode(encoded.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise self._invalid_cursor() from None
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:  # DRF's own answer to a cursor it cannot decode
            raise self._invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _invalid_cursor(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def _check_position(self, position: str) -> None:
        """The position is compared with the first ordering field in SQL: it must be a value
        of that field's type (and, for integers, within BIGINT range)."""
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
        except (AttributeError, FieldDoesNotExist):
            return
        try:
            value = field.to_python(position)
        except DjangoValidationError:
            raise self._invalid_cursor() from None
        if isinstance(field, models.IntegerField) and not _BIGINT_MIN <= value <= _BIGINT_MAX:
            raise self._invalid_cursor()

    def get_page_size(self, request) -> int:
        """``?page_size=``: a whole number from 1 (above the maximum: clamped to it); anything
        else (``0``, ``-1``, ``null``, ``x``, the parameter twice) is a 400 naming it, never
        silently the default."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        raw = values[0]
        if len(values) > 1 or not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: ["A whole number from 1 is required."]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; above "
                    f"{self.max_page_size}: {self.max_page_size})."
                )
        return parameters


class _StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``, any case); anything else is an error, not "no
    filter" as django-filter's own boolean field would read it."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise DjangoValidationError("Must be true or false.", code="invalid")


class FilterBackend(DjangoFilterBackend):
    """django-filter, strict about types: a number filter on an integer column takes whole
    numbers only (``?project=0.5`` is a 400, not an empty list), a boolean filter takes
    ``true``/``false`` only (``?valid=null`` is a 400, not the unfiltered list), and a typed
    filter given empty (``?seniority=``) is a 400 rather than ignored."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        model = filterset._meta.model or queryset.model
        for name, filter_ in filterset.filters.items():
            # A typed filter given empty (``?seniority=``) is not "no filter": it is no value.
            if not isinstance(filter_, CharFilter) and request.query_params.get(name) == "":
                raise exceptions.ValidationError(
                    {name: ["Give a value, or leave the parameter out."]}
                )
            if isinstance(filter_, BooleanFilter):
                filter_.field_class = _StrictBooleanField
                filter_.extra["widget"] = forms.TextInput
            elif isinstance(filter_, NumberFilter) and integer_column(model, filter_.field_name):
                filter_.field_class = forms.IntegerField
        return filterset


def integer_column(model, name: str) -> bool:
    """Whether ``name`` on ``model`` is an integer column (a foreign key: its target's)."""
    try:
        field = model._meta.get_field(name)
    except (FieldDoesNotExist, AttributeError):
        return False
    field = getattr(field, "target_field", field)  # a foreign key compares its target's type
    return isinstance(field, models.IntegerField | models.AutoField)


class StrictSerializer(serializers.Serializer):
    """An input serializer that rejects fields it does not declare (and read-only ones).

    Silently dropping an unknown field hides mass-assignment attempts and client typos; a 400
    that names the field is clearer for both.
    """

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {NON_FIELD: ["Expected a JSON object."]}, code="invalid"
            )
        writable = {name for name, f in self.fields.items() if not f.read_only}
        unknown = sorted(set(data) - writable)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field is not accepted here."] for name in unknown}
            )
        return super().to_internal_value(data)


class IdConverter:
    """Path converter for primary keys: digits only and within BIGINT range, so a huge or
    malformed id is a 404 rather than a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def json_not_found(request, exception=None):
    """404 for unmatched URLs: the API's error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Not found.", "not_found"), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


@csrf_exempt  # it changes nothing; a session-cookie POST to a wrong path is a 404, not a 403
def api_not_found(request, *args, **kwargs):
    """The last route under /api/: whatever no other route matched (an unknown path, an id
    that is not digits, a missing trailing slash) is a JSON 404 in the one error shape — with
    ``DEBUG`` on too, where Django would otherwise answer its HTML debug page instead of
    calling ``handler404``. A path that exists with a trailing slash says so."""
    detail = "Not found."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"Not found. Did you mean {request.path}/ (with a trailing slash)?"
    return JsonResponse(error_body(detail, "not_found"), status=404)


def json_csrf_failure(request, reason: str = ""):
    """Django's CSRF rejection (``CSRF_FAILURE_VIEW``): under /api/ a 403 in the one error
    shape — a request with a session cookie to a view that is not DRF's (the catch-all 404)
    would otherwise get Django's HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(f"CSRF check failed: {reason}", "permission_denied"), status=403
        )
    from django.views.csrf import csrf_failure

    return csrf_failure(request, reason=reason)


def json_bad_request(request, exception=None):
    """400 for requests Django rejects before any view (a disallowed Host, an unreadable
    body): the API's error shape under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Bad request.", "bad_request"), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Server error.", "server_error"), status=500)
    from django.views.defaults import server_error

    return server_error(request)


def parse_input(serializer_class, data, *, partial: bool = False) -> dict:
    """Validate request data with an input serializer; raises the API's 400 on bad input."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def labeler_or_none(user):
    """``user``'s labeler profile, or None (anonymous callers, ops and vendor managers usually
    have none). At most one query, cached on ``user``."""
    if user is None or not user.is_authenticated:
        return None
    return getattr(user, "labeler", None)


def labeler_of(request, *, detail: str = "Only labelers can do this."):
    """The caller's labeler profile, or a 403 ``not_a_labeler`` (with ``detail``) when the
    caller is not a labeler."""
    from config.errors import Forbidden

    labeler = labeler_or_none(request.user)
    if labeler is None:
        raise Forbidden(detail, code="not_a_labeler")
    return labeler


def labeler_input(request, serializer_class) -> tuple:
    """``(labeler, data)`` for a labeler's command: the caller's labeler profile (a 403
    ``not_a_labeler`` first) and the body validated by ``serializer_class`` (then a 400)."""
    return labeler_of(request), parse_input(serializer_class, request.data)


def created_or_ok(data: Any, *, created: bool) -> Response:
    """``data`` as a 201 when the command created it, a 200 when it handed back what was
    already there (a lease, a flag, an attempt)."""
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
