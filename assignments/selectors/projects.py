"""Reads of projects and assignments, scoped to the caller: ops see every project, everyone else
the active and paused ones; an assignment is seen by its labeler, their vendor's managers and
ops."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from assignments.models import Assignment, Project
from config.errors import get_or_not_found
from workforce.models import User
from workforce.selectors import is_ops, managed_vendor_ids

# What everyone but ops may read of projects. The next-task gate answers 404 for the rest, as
# a read would (``assignments.selectors.gate``).
LABELER_VISIBLE_STATUSES = (Project.Status.ACTIVE, Project.Status.PAUSED)


def project_list_for(*, actor: User) -> QuerySet[Project]:
    """Ops see every project; everyone else sees active and paused ones (projects are not
    vendor-owned; what a labeler may work on is decided by the gate)."""
    qs = Project.objects.prefetch_related("required_qualifications").order_by("-priority", "id")
    if is_ops(actor):
        return qs
    return qs.filter(status__in=LABELER_VISIBLE_STATUSES)


def project_get_for(*, actor: User, pk: int) -> Project:
    return get_or_not_found(project_list_for(actor=actor), pk=pk)


def assignment_list_for(*, actor: User) -> QuerySet[Assignment]:
    """A labeler's own assignments; a vendor manager's labelers'; everything for ops."""
    qs = Assignment.objects.all()
    if is_ops(actor):
        return qs
    return qs.filter(
        Q(labeler__user_id=actor.pk) | Q(labeler__vendor_id__in=managed_vendor_ids(actor))
    )
