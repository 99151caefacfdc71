"""Application errors that services raise and the one API error handler renders.

Every error the API returns has the shape ``{"detail": str, "code": str, "fields": {...}}``.
Codes are stable; clients branch on ``code``, people read ``detail``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

M = TypeVar("M", bound="Model")


class ApplicationError(Exception):
    """Base of every error a service raises on purpose.

    ``status`` is the HTTP status the API renders it with; ``fields`` maps an input field to its
    messages when the error is about particular fields. A subclass names its status, code and
    default detail in its class line (``class Gone(ApplicationError, status=410, code="gone",
    default_detail="…")``) or as class attributes; what it leaves out it inherits.
    """

    status = 400
    code = "error"
    default_detail = "The request could not be carried out."

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        code: str | None = None,
        default_detail: str | None = None,
        **kwargs,
    ) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in (("status", status), ("code", code), ("default_detail", default_detail)):
            if value is not None:
                setattr(cls, name, value)

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(self.detail)


class InvalidInput(ApplicationError, status=400, code="invalid", default_detail="Invalid input."):
    pass


class NotFound(ApplicationError, status=404, code="not_found", default_detail="Not found."):
    """The object does not exist or is not the caller's to see (never tell them apart)."""


def get_or_not_found(queryset: QuerySet[M], **lookups: Any) -> M:
    """The row of ``queryset`` that ``lookups`` name, or ``NotFound``: a selector's
    ``<entity>_get_for`` over the rows its ``_list_for`` lets the caller see."""
    try:
        return queryset.get(**lookups)
    except queryset.model.DoesNotExist:
        raise NotFound() from None


class Forbidden(
    ApplicationError,
    status=403,
    code="permission_denied",
    default_detail="You do not have permission to perform this action.",
):
    pass


class Conflict(
    ApplicationError,
    status=409,
    code="conflict",
    default_detail="The object's current state does not allow this.",
):
    """The request is well formed but the object's current state does not allow it."""


class InvalidTransition(Conflict, code="invalid_transition"):
    pass
