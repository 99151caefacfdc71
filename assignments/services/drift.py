"""Label drift: a batch whose distribution of final answers differs from the project's baseline.

**When a batch is tested.** Once every real task of the batch has a final answer (decided by
consensus, a refit or a review) and at least ``MIN_DECIDED`` (30) of them do — and the baseline,
the decided real tasks of the project's earlier batches (lower ids), holds at least
``MIN_DECIDED`` too. A batch with fewer tasks is never tested (a chi-square test on a handful of
answers says nothing), nor is the first batch of a project (it is the baseline), nor a box
project (no classes). A project with ``drift_alpha = 0`` is not tested at all.

**The test.** Pearson's chi-square test of homogeneity (``qc.stats.chi_square_homogeneity``)
on the 2-by-k table of class counts: the baseline's and the batch's (classes as
``qc.services.quality_facts.answer_class`` counts them). A p-value below the project's
``drift_alpha`` records a ``DriftEvent`` — once per batch: the row is one-to-one with its batch,
so a second check, or two at the same time, find the row and do nothing more (the insert that
loses the race is a unique violation that ``get_or_create`` turns into a read). A batch that
passes is tested again whenever one of its tasks is decided anew (a refit, a review) while the
sweep still looks at it; the event, once recorded, is not revised.

**What an event does.** It is announced (``assignments.signals.drift_detected``, every event,
inside the transaction; the notifications app listens) and fires the project's active quality
rules of metric ``label_drift`` whose threshold the p-value is below: ``pause_project`` (if any
fires) moves an active project to paused through ``project_set_status``, with a history row
whose reason names the batch and the p-value; ``warn`` does nothing more than the announcement.
The event records the rule and action it fired. A rule's threshold above the project's
``drift_alpha`` acts as ``drift_alpha`` (nothing is recorded above it).

**Triggers.** ``drift_sweep`` (the beat job ``assignments.drift_sweep``, every 15 minutes by
default) checks the batches of active projects with a task decided in the last hours; ops can
check a batch by hand (``batch_drift_check``). docs/operations.md, "Drift".
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Case, Count, Value, When
from django.utils import timezone

from assignments.models import Batch, DriftEvent, Project, Task, TaskDecision
from assignments.services.projects import project_set_status
from assignments.signals import drift_detected
from config.errors import InvalidTransition
from qc.answers import BOXES
from qc.models import QualityRule
from qc.services.quality_facts import answer_class
from qc.stats import chi_square_homogeneity

logger = logging.getLogger(__name__)

MIN_DECIDED = 30  # decided tasks a batch, and its baseline, need before the test is run
SWEEP_HOURS = 6  # the sweep looks at batches with a task decided this recently

A = QualityRule.Action


def _counts(project: Project, batch_id: int) -> tuple[Counter, Counter, int]:
    """(baseline class counts, batch class counts, undecided real tasks of the batch): one
    aggregate query over the real tasks of the batch and of the earlier batches."""
    rows = (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=True, batch_id__lte=batch_id)
        .annotate(
            this=Case(
                When(batch_id=batch_id, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .values_list("this", "final_answer")
        .annotate(n=Count("pk"))
        .order_by()
    )
    baseline: Counter = Counter()
    batch: Counter = Counter()
    undecided = 0
    for this, final, n in rows:
        if final is None:
            undecided += n if this else 0
            continue
        (batch if this else baseline)[answer_class(project.answer_type, final)] += n
    return baseline, batch, undecided


def batch_drift_test(*, batch: Batch, project: Project) -> dict[str, Any] | None:
    """The test of one batch against its baseline, without writing anything: None when the
    batch is not ready or not testable (see the module docstring), else ``{statistic, dof,
    p_value, n, baseline_n, observed, expected}`` (``observed`` the batch's count per class,
    ``expected`` the baseline's share per class). One query."""
    if project.answer_type == BOXES:
        return None
    baseline, counts, undecided = _counts(project, batch.pk)
    n, baseline_n = sum(counts.values()), sum(baseline.values())
    if undecided or n < MIN_DECIDED or baseline_n < MIN_DECIDED:
        return None
    classes = sorted(set(baseline) | set(counts))
    statistic, dof, p_value = chi_square_homogeneity(
        [[baseline[c] for c in classes], [counts[c] for c in classes]]
    )
    return {
        "statistic": statistic,
        "dof": dof,
        "p_value": p_value,
        "n": n,
        "baseline_n": baseline_n,
        "observed": {c: counts[c] for c in classes},
        "expected": {c: baseline[c] / baseline_n for c in classes},
    }


def _fired_rule(project_id: int, p_value: float) -> QualityRule | None:
    """The active ``label_drift`` rule of the project that the p-value fires: one that pauses
    the project before one that warns, then the lowest threshold (the most specific)."""
    rules = QualityRule.objects.filter(
        project_id=project_id, is_active=True, metric=QualityRule.Metric.LABEL_DRIFT
    ).order_by("threshold", "id")
    fired = [rule for rule in rules if p_value < float(rule.threshold)]
    fired.sort(key=lambda rule: rule.action != A.PAUSE_PROJECT)
    return fired[0] if fired else None


def batch_drift_check(*, batch_id: int, now: datetime | None = None) -> DriftEvent | None:
    """Test the batch (``batch_drift_test``) and, when its p-value is below the project's
    ``drift_alpha``, record its ``DriftEvent``, fire the project's ``label_drift`` rule and
    announce ``drift_detected`` — all in one transaction. Returns the batch's event (the one
    already recorded, if any: nothing is done twice), or None (no drift, not ready, not
    testable, drift checks off, or no such batch).

    Safe to run twice and concurrently: the event is one-to-one with its batch, and only the
    run that inserted it fires the rule and sends the signal. Queries: the batch and its
    project, the existing event, the aggregate; then, on drift, the insert, the rules and the
    pause (``project_set_status``)."""
    now = now or timezone.now()
    batch = Batch.objects.select_related("project").filter(pk=batch_id).first()
    if batch is None:
        return None
    project = batch.project
    existing = DriftEvent.objects.filter(batch_id=batch.pk).first()
    if existing is not None:
        return existing
    if not project.drift_alpha or project.drift_alpha <= 0:
        return None
    result = batch_drift_test(batch=batch, project=project)
    if result is None or result["dof"] == 0 or result["p_value"] >= float(project.drift_alpha):
        return None
    with transaction.atomic():
        event, created = DriftEvent.objects.get_or_create(
            batch_id=batch.pk, defaults={"project_id": project.pk, "detected_at": now, **result}
        )
        if not created:
            return event
        rule = _fired_rule(project.pk, event.p_value)
        if rule is not None:
            event.rule, event.action = rule, rule.action
            event.save(update_fields=["rule", "action"])
            if rule.action == A.PAUSE_PROJECT:
                _pause(project, event, rule)
        drift_detected.send(sender=DriftEvent, event=event)
    logger.info(
        "drift in batch %s of project %s: p=%.3g (%s)",
        batch.pk,
        project.pk,
        event.p_value,
        event.action or "recorded",
    )
    return event


def _pause(project: Project, event: DriftEvent, rule: QualityRule) -> None:
    reason = (
        f"Label drift in batch {event.batch_id}: chi-square p = {event.p_value:.2g} "
        f"(n = {event.n}, baseline {event.baseline_n}); rule {rule.name!r}."
    )
    try:
        with transaction.atomic():
            project_set_status(
                actor=None,
                project=project,
                status=Project.Status.PAUSED,
                from_statuses={Project.Status.ACTIVE},
                reason=reason,
            )
    except InvalidTransition:
        # Not active (already paused, a draft, done): nothing to pause.
        logger.info("drift rule %s: project %s is not active", rule.pk, project.pk)


def drift_sweep(*, hours: int = SWEEP_HOURS, now: datetime | None = None) -> int:
    """Check (``batch_drift_check``) every batch of an active project with drift checks on that
    has a real task decided in the last ``hours`` and no event yet. One query picks the
    batches (the decisions by the (project, decided_at) index); each is then its own check.
    Returns the events recorded by this run."""
    now = now or timezone.now()
    projects = list(
        Project.objects.filter(status=Project.Status.ACTIVE, drift_alpha__gt=0)
        .exclude(answer_type=BOXES)
        .values_list("pk", flat=True)
    )
    if not projects:
        return 0
    decided = TaskDecision.objects.filter(
        project_id__in=projects, decided_at__gte=now - timedelta(hours=hours)
    ).values("task_id")
    batches = (
        Task.objects.filter(pk__in=decided, gold_item__isnull=True, batch__isnull=False)
        .exclude(batch__drift_event__isnull=False)
        .values_list("batch_id", flat=True)
        .distinct()
        .order_by("batch_id")
    )
    recorded = 0
    for batch_id in list(batches):
        event = batch_drift_check(batch_id=batch_id, now=now)
        if event is not None and event.detected_at == now:
            recorded += 1
    return recorded


def drift_event_acknowledge(*, actor, event_id: int, now: datetime | None = None) -> bool:
    """Stamp ``acknowledged_at``/``acknowledged_by`` on an event not yet acknowledged (ops saw
    it; a paused project is resumed through the project's status, not here). One guarded
    UPDATE; returns whether it changed the row (False: already acknowledged or no such row)."""
    now = now or timezone.now()
    return bool(
        DriftEvent.objects.filter(pk=event_id, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=actor
        )
    )
