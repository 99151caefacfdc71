"""Reads of tasks and project records outside the claim path: the sample of real pre-labels
that control tasks' decoys are drawn from, and a project's status history."""

from __future__ import annotations

import random
from typing import Any

from django.db.models import QuerySet

from assignments.models import Project, ProjectStatusChange, Task

Prelabel = tuple[Any, float | None]


def real_prelabel_sample(*, project_id: int, n: int) -> list[Prelabel]:
    """Up to ``n`` ``(prelabel, prelabel_confidence)`` pairs of real tasks of the project, drawn
    uniformly at random without replacement (fewer when the project has fewer real tasks; none
    when it has none). A task without a pre-label gives ``(None, None)``, so the sample keeps
    the share of tasks without one. Control tasks are never in it.

    Cost: one query that reads the two columns of every real task of the project (a random
    sort kept to ``n`` rows); it runs when control tasks are made or their decoys redrawn,
    never on the claim path."""
    if n <= 0:
        return []
    rows = (
        Task.objects.filter(project_id=project_id, gold_item__isnull=True)
        .order_by("?")
        .values_list("prelabel", "prelabel_confidence")[:n]
    )
    return [(prelabel, confidence) for prelabel, confidence in rows]


def control_decoy_prelabels(*, project_id: int, n: int, rng: random.Random) -> list[Prelabel]:
    """``n`` decoy pre-labels for control tasks: each the ``(prelabel, prelabel_confidence)`` of
    a real task of the project chosen uniformly at random, so a control task has a pre-label, or
    none, with the same probability and the same shapes as a real task. Derived only from real
    tasks, never from a gold answer. ``(None, None)`` each when the project has no real task
    yet (as every real task then has none)."""
    sample = real_prelabel_sample(project_id=project_id, n=n)
    if not sample:
        return [(None, None)] * n
    if len(sample) >= n:
        return sample  # already a uniform draw without replacement, in random order
    # Fewer real tasks than control tasks: draw with replacement.
    return [rng.choice(sample) for _ in range(n)]


def project_status_changes(*, project: Project) -> QuerySet[ProjectStatusChange]:
    """The project's status history, newest first, with the acting user."""
    return ProjectStatusChange.objects.filter(project_id=project.pk).select_related("actor")
