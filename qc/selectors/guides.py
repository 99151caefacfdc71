"""Reads of guides, versions and acknowledgements."""

from __future__ import annotations

from qc.models import Guide, GuideAcknowledgement, GuideVersion
from workforce.models import Labeler


def guide_current_version(*, guide: Guide | int) -> GuideVersion | None:
    """The latest published version of the guide, or None when nothing is published. One
    query."""
    guide_id = guide if isinstance(guide, int) else guide.pk
    return (
        GuideVersion.objects.filter(guide_id=guide_id, status=GuideVersion.Status.PUBLISHED)
        .order_by("-major", "-minor")
        .first()
    )


def guide_ack_missing(*, labeler: Labeler, guide: Guide | int) -> GuideVersion | None:
    """The current version the labeler still has to acknowledge, or None when they are up to
    date (or nothing is published). Acknowledging any version of the current major line counts:
    minor versions only notify."""
    current = guide_current_version(guide=guide)
    if current is None:
        return None
    acknowledged = GuideAcknowledgement.objects.filter(
        labeler=labeler, version__guide_id=current.guide_id, version__major=current.major
    ).exists()
    return None if acknowledged else current
