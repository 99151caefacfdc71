"""Reads of label drift events (``assignments.services.drift`` writes them): for ops only —
vendors and labelers never see a project's batches compared."""

from __future__ import annotations

from django.db.models import QuerySet

from assignments.models import DriftEvent, Project
from config.errors import NotFound


def drift_event_list_for_project(*, project_id: int) -> QuerySet[DriftEvent]:
    """The project's drift events, newest first, with the fired rule and the acknowledger
    joined (a page costs one query). NotFound when there is no such project."""
    if not Project.objects.filter(pk=project_id).exists():
        raise NotFound()
    return (
        DriftEvent.objects.filter(project_id=project_id)
        .select_related("rule", "acknowledged_by")
        .order_by("-detected_at", "-id")
    )


def drift_events_recent(*, project_id: int, limit: int = 10) -> list[DriftEvent]:
    """The project's latest ``limit`` drift events (the quality page's panel). One query."""
    return list(
        DriftEvent.objects.filter(project_id=project_id)
        .select_related("rule")
        .order_by("-detected_at", "-id")[:limit]
    )
