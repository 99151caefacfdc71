"""The roles an API operation may be called by, for every app's API (workforce is the lowest
app, so qc and assignments import these; nothing else defines a role check).

Object scoping is done by selectors (a foreign object is a 404); these classes only decide
whether a role may call an operation at all. A view whose methods differ by role (the project
list: every role reads, only ops create) calls ``require_ops`` in the write method instead.
"""

from rest_framework.permissions import BasePermission, IsAuthenticated

from config.api import labeler_or_none
from config.errors import Forbidden
from workforce import selectors


class IsOpsOrVendorManager(BasePermission):
    message = "Only operations managers and vendor managers can do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (selectors.is_ops(user) or selectors.is_vendor_manager(user))
        )


class IsOps(BasePermission):
    message = "Only operations managers can do this."

    def has_permission(self, request, view) -> bool:
        return selectors.is_ops(request.user)


class IsLabeler(BasePermission):
    """The caller has a labeler profile (whatever its status: the services decide what a
    labeler in that status may do)."""

    message = "Only labelers can do this."

    def has_permission(self, request, view) -> bool:
        return labeler_or_none(request.user) is not None


# The permission_classes of the views each role set may call (401 before 403).
OPS_ONLY = (IsAuthenticated, IsOps)
OPS_OR_VENDOR_MANAGER = (IsAuthenticated, IsOpsOrVendorManager)
LABELERS_ONLY = (IsAuthenticated, IsLabeler)


def require_ops(request) -> None:
    """For views whose other methods are open to every role: a write by anyone but ops is a
    403."""
    if not selectors.is_ops(request.user):
        raise Forbidden(IsOps.message)
