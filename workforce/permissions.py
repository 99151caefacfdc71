"""DRF permission classes for the workforce API. Object scoping is done by selectors (a foreign
object is a 404); these classes only decide whether a role may call an operation at all."""

from rest_framework.permissions import BasePermission

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
