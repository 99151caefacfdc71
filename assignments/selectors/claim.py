"""Reads of the work flow. ``project_gate`` answers, in one query, everything the next-task
call must know before it claims: the project, the labeler's status, a missing qualification, a
missing guide acknowledgement, and the labeler's live lease in the project."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from assignments.models import Assignment, Project
from config.errors import NotFound
from qc.models import GuideAcknowledgement, GuideVersion
from workforce.models import Labeler, Qualification, QualificationType, User
from workforce.selectors import is_ops, managed_vendor_ids


@dataclass(frozen=True)
class Gate:
    project: Project
    labeler_status: str
    missing_qualification: str | None  # the name of one required type the labeler lacks
    guide_ack_missing: bool
    live_assignment_id: int | None
    has_stale_lease: bool  # a lease of this labeler in the project ran out without submission


def project_gate(*, labeler: Labeler, project_id: int, now: datetime) -> Gate:
    """One query: the project with the labeler's standing on it. Raises NotFound for an unknown
    project."""
    valid_grant = Qualification.objects.filter(
        labeler_id=labeler.pk,
        qualification_type_id=OuterRef("pk"),
        revoked_at__isnull=True,
        superseded_at__isnull=True,
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    missing_type = (
        QualificationType.objects.filter(projects=OuterRef("pk"))
        .exclude(Exists(valid_grant))
        .order_by("name")
        .values("name")[:1]
    )
    published = GuideVersion.objects.filter(
        guide_id=OuterRef("guide_id"), status=GuideVersion.Status.PUBLISHED
    )
    # Nested one level deeper (inside the acknowledgement subquery), so it refers outward twice.
    current_major = (
        GuideVersion.objects.filter(
            guide_id=OuterRef(OuterRef("guide_id")), status=GuideVersion.Status.PUBLISHED
        )
        .order_by("-major")
        .values("major")[:1]
    )
    acknowledged = GuideAcknowledgement.objects.filter(
        labeler_id=labeler.pk,
        version__guide_id=OuterRef("guide_id"),
        version__major=Subquery(current_major),
    )
    live_lease = Assignment.objects.filter(
        labeler_id=labeler.pk,
        project_id=OuterRef("pk"),
        status=Assignment.Status.LEASED,
        expires_at__gt=now,
    ).values("pk")[:1]
    stale_lease = Assignment.objects.filter(
        labeler_id=labeler.pk,
        project_id=OuterRef("pk"),
        status=Assignment.Status.LEASED,
        expires_at__lte=now,
    )
    labeler_status = Labeler.objects.filter(pk=labeler.pk).values("status")[:1]
    row = (
        Project.objects.filter(pk=project_id)
        .annotate(
            _labeler_status=Subquery(labeler_status),
            _missing=Subquery(missing_type),
            _published=Exists(published),
            _acknowledged=Exists(acknowledged),
            _live=Subquery(live_lease),
            _stale=Exists(stale_lease),
        )
        .first()
    )
    if row is None:
        raise NotFound()
    needs_ack = bool(row.guide_id and row.require_guide_ack and row._published)
    return Gate(
        project=row,
        labeler_status=row._labeler_status,
        missing_qualification=row._missing,
        guide_ack_missing=needs_ack and not row._acknowledged,
        live_assignment_id=row._live,
        has_stale_lease=row._stale,
    )


def project_list_for(*, actor: User) -> QuerySet[Project]:
    """Ops see every project; everyone else sees active and paused ones (projects are not
    vendor-owned; what a labeler may work on is decided by the gate)."""
    qs = Project.objects.prefetch_related("required_qualifications").order_by("-priority", "id")
    if is_ops(actor):
        return qs
    return qs.filter(status__in=[Project.Status.ACTIVE, Project.Status.PAUSED])


def project_get_for(*, actor: User, pk: int) -> Project:
    try:
        return project_list_for(actor=actor).get(pk=pk)
    except Project.DoesNotExist:
        raise NotFound() from None


def assignment_list_for(*, actor: User) -> QuerySet[Assignment]:
    """A labeler's own assignments; a vendor manager's labelers'; everything for ops."""
    qs = Assignment.objects.all()
    if is_ops(actor):
        return qs
    return qs.filter(
        Q(labeler__user_id=actor.pk) | Q(labeler__vendor_id__in=managed_vendor_ids(actor))
    )
