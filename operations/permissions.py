"""Who sees which panel of the landing page.

The admin index is for active staff only (the admin's own gate sends anyone else to its login
page). Each panel shows one model's rows, so it is shown to the staff users who may view that
model in the admin (``<app>.view_<model>``, or its change permission, which implies viewing as
the admin itself reads it): a staff user who may not open the review list does not see the
review backlog either. A link inside a panel to another model's list is shown only when the
user may view that model too (``operations.admin.link``).
"""

from __future__ import annotations

from enum import StrEnum

from workforce.models import User


class Panel(StrEnum):
    PROGRESS = "progress"
    BACKLOG = "backlog"
    STOPS = "stops"
    GOLD = "gold"
    DRIFT = "drift"
    EXPIRING = "expiring"
    FAILED = "failed"


#: The model whose rows each panel shows, as ``app_label.model_name``.
PANEL_MODELS = {
    Panel.PROGRESS: "assignments.project",
    Panel.BACKLOG: "assignments.review",
    Panel.STOPS: "qc.rulefiring",
    Panel.GOLD: "qc.golditem",
    Panel.DRIFT: "assignments.driftevent",
    Panel.EXPIRING: "workforce.qualification",
    Panel.FAILED: "health.failedtask",
}


def may_view(user: User, model: str) -> bool:
    """Whether ``user`` (active staff) may view ``app_label.model_name`` in the admin: its view
    or change permission, as ``ModelAdmin.has_view_permission`` reads them. No query after the
    first (Django caches a user's permissions on the user object)."""
    if not (user.is_active and user.is_staff):
        return False
    app_label, model_name = model.split(".")
    return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(
        f"{app_label}.change_{model_name}"
    )


def panels_for(user: User) -> frozenset[Panel]:
    return frozenset(panel for panel, model in PANEL_MODELS.items() if may_view(user, model))
