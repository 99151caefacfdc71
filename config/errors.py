"""Application errors that services raise and the one API error handler renders.

Every error the API returns has the shape ``{"detail": str, "code": str, "fields": {...}}``.
Codes are stable; clients branch on ``code``, people read ``detail``.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of every error a service raises on purpose.

    ``status`` is the HTTP status the API renders it with; ``fields`` maps an input field to its
    messages when the error is about particular fields.
    """

    status = 400
    code = "error"
    default_detail = "The request could not be carried out."

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


class InvalidInput(ApplicationError):
    status = 400
    code = "invalid"
    default_detail = "Invalid input."


class NotFound(ApplicationError):
    """The object does not exist or is not the caller's to see (never tell them apart)."""

    status = 404
    code = "not_found"
    default_detail = "Not found."


class Forbidden(ApplicationError):
    status = 403
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class Conflict(ApplicationError):
    """The request is well formed but the object's current state does not allow it."""

    status = 409
    code = "conflict"
    default_detail = "The object's current state does not allow this."


class InvalidTransition(Conflict):
    code = "invalid_transition"
