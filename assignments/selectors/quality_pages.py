"""What the quality pages show (rendered by ``assignments.admin_quality_pages`` and
``assignments.api.quality``), read with the work records: a labeler's throughput and active
time, the scorecard (qc's scores plus throughput), and a project's quality page (agreement
coefficients, consensus confidence, decisions, label drift per batch). Aggregates in SQL; the
coefficients themselves come from the pure maths of ``qc.stats``. See docs/quality.md.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from assignments.models import Assignment, Project, Task
from qc.answers import BOXES
from qc.selectors import quality_facts
from qc.selectors.quality_facts import WINDOWS, filter_given, start_of_day
from qc.services.quality_facts import answer_class
from qc.stats import (
    box_f1,
    chi_square_homogeneity,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from workforce.models import Labeler

DAILY_DAYS = 30  # the daily submissions series covers this many days
TOP_PAIRS = 10  # Cohen's kappa for the labeler pairs sharing the most tasks
MAX_TASKS = 20_000  # the agreement coefficients use the latest tasks up to this many
HISTOGRAM_BINS = 10
DRIFT_P = 0.01  # a batch whose label distribution differs from the first batch's at p < this

FLEISS_RULE = (
    "Fleiss' kappa uses the first {k} answers (in submission order) of every task with at least "
    "{k}: the project's planned overlap. Answers from extra slots added on disagreement are left "
    "out so every task has the same count, and the disagreeing tasks still count. Krippendorff's "
    "alpha uses every answer of every task with two or more."
)


def _submitted(project_id: int | None = None, labeler_id: int | None = None):
    return filter_given(
        Assignment.objects.filter(status=Assignment.Status.SUBMITTED),
        project_id=project_id,
        labeler_id=labeler_id,
    )


# -- throughput --------------------------------------------------------------------------------


def labeler_throughput(
    *, labeler_id: int, project_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A labeler's submissions (real and control alike) per window: how many, per day, and the
    active seconds they reported; the median active seconds per label (all time, over the
    submissions that reported it); and a daily series of the last 30 days. Per day over all
    time divides by the days since the first submission (at least one).

    Three queries (four when the number of timed submissions is even: the median is then the
    mean of the two middle values, fetched by offset)."""
    now = now or timezone.now()
    # Every window ends at now: a submission stamped later is never counted.
    qs = _submitted(project_id, labeler_id).filter(submitted_at__lte=now)
    aggregates: dict[str, Any] = {
        "first": Min("submitted_at"),
        "timed": Count("pk", filter=Q(active_seconds__isnull=False)),
    }
    for key, days in WINDOWS:
        window = Q(submitted_at__gte=now - timedelta(days=days)) if days else Q(pk__isnull=False)
        aggregates[f"{key}_n"] = Count("pk", filter=window)
        aggregates[f"{key}_s"] = Coalesce(Sum("active_seconds", filter=window), 0)
    row = qs.aggregate(**aggregates)
    windows = {}
    for key, days in WINDOWS:
        if days is None:
            first = row["first"]
            days = max(1, math.ceil((now - first).total_seconds() / 86400)) if first else 1
        windows[key] = {
            "submissions": row[f"{key}_n"],
            "per_day": row[f"{key}_n"] / days,
            "active_seconds": row[f"{key}_s"],
        }
    timed = row["timed"]
    median = None
    if timed:
        middle = (
            qs.filter(active_seconds__isnull=False)
            .order_by("active_seconds")
            .values_list("active_seconds", flat=True)
        )
        values = list(middle[(timed - 1) // 2 : timed // 2 + 1])
        median = sum(values) / len(values)
    daily = (
        qs.filter(submitted_at__gte=now - timedelta(days=DAILY_DAYS))
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(submissions=Count("pk"), active_seconds=Coalesce(Sum("active_seconds"), 0))
        .order_by("day")
    )
    return {
        "windows": windows,
        "timed_submissions": timed,
        "median_seconds_per_label": median,
        "daily": list(daily),
    }


# -- the scorecard -----------------------------------------------------------------------------


def labeler_scorecard(
    *,
    labeler: Labeler,
    project_id: int | None = None,
    own_view: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One labeler's scorecard: qc's scores (``qc.selectors.quality_facts.labeler_scores``) and
    throughput, optionally on one project. Counts, rates and class names only: never another
    labeler's answer, never a gold answer.

    ``own_view`` is the card as anyone but ops sees it — the labeler themselves or their vendor
    manager: gold checks and outcomes recorded since the start of today are left out (``as_of``
    says from when), so nobody outside operations can match a change of a gold count to the
    submission that caused it and tell control tasks from real ones. Scoping (who may see whose
    card) is the caller's job. Ten queries at most."""
    now = now or timezone.now()
    # The labeler's own day, in their time zone (docs/quality.md, "Time zones").
    before = start_of_day(now, labeler.timezone) if own_view else None
    return {
        "labeler": {"id": labeler.pk, "public_code": labeler.public_code},
        "project": project_id,
        "as_of": before or now,
        "scores": quality_facts.labeler_scores(
            labeler_id=labeler.pk, project_id=project_id, now=now, before=before
        ),
        "throughput": labeler_throughput(labeler_id=labeler.pk, project_id=project_id, now=now),
    }


def labeler_project_scores(
    *, labeler: Labeler, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The labeler's own figures per project (``quality_facts.labeler_scores_by_project``) as
    they see them — facts recorded before the start of the day — each with the project's id and
    name (``project_id``, ``project``), projects by name. Only projects they have facts on, so
    only projects they worked on. Three queries."""
    now = now or timezone.now()
    rows = quality_facts.labeler_scores_by_project(
        labeler_id=labeler.pk, before=start_of_day(now, labeler.timezone), now=now
    )
    if not rows:
        return []
    names = dict(Project.objects.filter(pk__in=list(rows)).values_list("pk", "name"))
    out = [{"project_id": pk, "project": names.get(pk, ""), **row} for pk, row in rows.items()]
    out.sort(key=lambda row: (row["project"], row["project_id"]))
    return out


# -- project quality ---------------------------------------------------------------------------


def _histogram(field: str) -> dict[str, Any]:
    aggregates = {f"{field}_none": Count("pk", filter=Q(**{f"{field}__isnull": True}))}
    for b in range(HISTOGRAM_BINS):
        low, high = b / HISTOGRAM_BINS, (b + 1) / HISTOGRAM_BINS
        cond = Q(**{f"{field}__gte": low})
        if b < HISTOGRAM_BINS - 1:
            cond &= Q(**{f"{field}__lt": high})
        aggregates[f"{field}_{b}"] = Count("pk", filter=cond)
    return aggregates


def _bins(row: dict[str, Any], field: str) -> dict[str, Any]:
    return {
        "bins": [
            {
                "low": b / HISTOGRAM_BINS,
                "high": (b + 1) / HISTOGRAM_BINS,
                "tasks": row[f"{field}_{b}"],
            }
            for b in range(HISTOGRAM_BINS)
        ],
        "missing": row[f"{field}_none"],
    }


def _top_pairs(project_id: int, limit: int) -> list[tuple[int, int, int]]:
    """The labeler pairs sharing the most real tasks: (labeler a, labeler b, shared), a < b.
    One aggregate self-join."""
    table = Assignment._meta.db_table
    sql = (
        f"SELECT a.labeler_id, b.labeler_id, COUNT(*) AS shared "  # noqa: S608 (names only)
        f"FROM {table} a JOIN {table} b "
        "ON a.task_id = b.task_id AND a.labeler_id < b.labeler_id "
        "WHERE a.project_id = %s AND b.project_id = %s "
        "AND a.status = %s AND b.status = %s AND NOT a.is_control AND NOT b.is_control "
        "GROUP BY a.labeler_id, b.labeler_id ORDER BY shared DESC, a.labeler_id, b.labeler_id "
        "LIMIT %s"
    )
    submitted = Assignment.Status.SUBMITTED
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id, project_id, submitted, submitted, limit])
        return [tuple(int(v) for v in row) for row in cursor.fetchall()]


def _pair_agreement(project: Project, pairs: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Cohen's kappa (choice) or IoU-matched F1 (boxes) for each pair over their shared tasks.
    One query: the answers of the pairs' labelers, grouped by task here."""
    if not pairs:
        return []
    labelers = {a for a, _, _ in pairs} | {b for _, b, _ in pairs}
    by_task: dict[int, dict[int, Any]] = defaultdict(dict)
    rows = (
        _submitted(project.pk)
        .filter(is_control=False, labeler_id__in=labelers)
        .values_list("task_id", "labeler_id", "answer")
    )
    for task_id, labeler_id, answer in rows:
        by_task[task_id][labeler_id] = answer
    iou = float(project.iou_threshold)
    out = []
    for a, b, shared in pairs:
        both = [(t[a], t[b]) for t in by_task.values() if a in t and b in t]
        entry: dict[str, Any] = {"labeler_a": a, "labeler_b": b, "n": shared}
        if project.answer_type == BOXES:
            entry["cohen_kappa"] = None
            entry["box_f1"] = box_f1(both, iou) if both else None
        else:
            first = [answer_class(project.answer_type, x) for x, _ in both]
            second = [answer_class(project.answer_type, y) for _, y in both]
            entry["cohen_kappa"] = cohen_kappa(first, second) if both else None
            entry["box_f1"] = None
        out.append(entry)
    return out


def _coefficients(project: Project, max_tasks: int) -> dict[str, Any]:
    """Fleiss' kappa and Krippendorff's alpha over the latest ``max_tasks`` real tasks with two
    or more answers (choice projects). One query."""
    if project.answer_type == BOXES:
        return {
            "tasks": 0,
            "fleiss_kappa": None,
            "fleiss_tasks": 0,
            "krippendorff_alpha": None,
            "note": "Box projects are compared by IoU-matched F1 between pairs.",
        }
    latest = (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=True, submitted__gte=2)
        .order_by("-id")
        .values("id")[:max_tasks]
    )
    rows = (
        _submitted(project.pk)
        .filter(is_control=False, task_id__in=latest)
        .order_by("task_id", "submitted_at", "id")
        .values_list("task_id", "answer")
    )
    units: dict[int, list[str]] = defaultdict(list)
    for task_id, answer in rows:
        units[task_id].append(answer_class(project.answer_type, answer))
    k = project.overlap
    fleiss_units = [labels[:k] for labels in units.values() if len(labels) >= k]
    fleiss = fleiss_kappa(fleiss_units) if fleiss_units and k >= 2 else None
    alpha = krippendorff_alpha_nominal(units.values()) if units else None
    return {
        "tasks": len(units),
        "fleiss_kappa": fleiss,
        "fleiss_tasks": len(fleiss_units) if k >= 2 else 0,
        "krippendorff_alpha": alpha,
        "note": FLEISS_RULE.format(k=k),
    }


def _drift(project: Project) -> dict[str, Any]:
    """Final labels per batch, and a chi-square test of each batch against the first batch
    (the lowest id). One query."""
    if project.answer_type == BOXES:
        return {"batches": [], "note": "Box projects have no class distribution to compare."}
    rows = (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=True, batch__isnull=False)
        .exclude(decided_by="")
        .values_list("batch_id", "final_answer")
        .annotate(n=Count("pk"))
        .order_by("batch_id")
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for batch_id, final, n in rows:
        counts[batch_id][answer_class(project.answer_type, final)] += n
    batches = sorted(counts)
    classes = sorted({c for counter in counts.values() for c in counter})
    out = []
    first = counts[batches[0]] if batches else Counter()
    for batch_id in batches:
        counter = counts[batch_id]
        entry: dict[str, Any] = {
            "batch": batch_id,
            "tasks": sum(counter.values()),
            "labels": [{"class_name": c, "tasks": counter[c]} for c in classes if counter[c]],
            "chi_square": None,
            "dof": None,
            "p_value": None,
            "drift": False,
        }
        if batch_id != batches[0]:
            stat, dof, p = chi_square_homogeneity(
                [[first[c] for c in classes], [counter[c] for c in classes]]
            )
            entry.update(chi_square=stat, dof=dof, p_value=p, drift=dof > 0 and p < DRIFT_P)
        out.append(entry)
    return {
        "batches": out,
        "note": (
            f"Each batch's final labels against the first batch's: Pearson's chi-square test of "
            f"homogeneity; drift is flagged when p < {DRIFT_P}. Expected counts under about 5 "
            "make the p-value approximate."
        ),
    }


def project_quality(
    *,
    project: Project,
    vendor_ids: list[int] | None = None,
    now: datetime | None = None,
    max_tasks: int = MAX_TASKS,
) -> dict[str, Any]:
    """A project's quality page.

    * ``decisions`` — real tasks by ``decided_by`` (consensus, model, review, undecided);
    * ``agreement`` / ``confidence`` — histograms (10 bins) of ``Task.agreement`` and
      ``Task.confidence`` (the weighted-consensus posterior; missing under majority vote);
    * ``pairs`` — Cohen's kappa (choice) or IoU-matched F1 (boxes) of the ``TOP_PAIRS`` labeler
      pairs sharing the most tasks, each with n = the tasks they share;
    * ``coefficients`` — Fleiss' kappa and Krippendorff's alpha (rule in ``FLEISS_RULE``) over
      the latest ``max_tasks`` tasks with two answers or more;
    * ``drift`` — final labels per batch, each batch tested against the first (chi-square,
      flagged at p < 0.01);
    * ``labelers`` — per labeler: gold accuracy, agreement, Dawid-Skene estimate.

    ``vendor_ids`` None is ops' view. A vendor manager passes their vendors: ``labelers`` then
    lists only their labelers, counting facts recorded before the start of the day, and in
    ``pairs`` a labeler of another vendor (or internal) is shown as null — the aggregates stay
    whole. Twelve queries at most, whatever the size.
    """
    now = now or timezone.now()
    real = Task.objects.filter(project_id=project.pk, gold_item__isnull=True)
    decisions = {
        (row["decided_by"] or "undecided"): row["n"]
        for row in real.values("decided_by").annotate(n=Count("pk")).order_by()
    }
    histograms = real.aggregate(**_histogram("agreement"), **_histogram("confidence"))
    pairs = _pair_agreement(project, _top_pairs(project.pk, TOP_PAIRS))
    if vendor_ids is None:
        visible = None
    else:
        visible = set(Labeler.objects.filter(vendor_id__in=vendor_ids).values_list("pk", flat=True))
        for entry in pairs:
            for side in ("labeler_a", "labeler_b"):
                if entry[side] not in visible:
                    entry[side] = None
    # A vendor manager's table stops at the start of the day, like their labelers' own cards:
    # today's gold figures would tell them which of today's answers were control, and how
    # they were graded (docs/quality.md, "Secrecy of control tasks").
    before = None if vendor_ids is None else quality_facts.start_of_day(now)
    table = quality_facts.labeler_score_table(
        project_id=project.pk, labeler_ids=visible, before=before, now=now
    )
    codes = dict(Labeler.objects.filter(pk__in=list(table)).values_list("pk", "public_code"))
    return {
        "project": project.pk,
        "consensus_method": project.consensus_method,
        "confidence_threshold": float(project.confidence_threshold),
        "decisions": {
            "consensus": decisions.get(Task.DecidedBy.CONSENSUS, 0),
            "model": decisions.get(Task.DecidedBy.MODEL, 0),
            "review": decisions.get(Task.DecidedBy.REVIEW, 0),
            "undecided": decisions.get("undecided", 0),
        },
        "agreement": _bins(histograms, "agreement"),
        "confidence": _bins(histograms, "confidence"),
        "pairs": pairs,
        "coefficients": _coefficients(project, max_tasks),
        "drift": _drift(project),
        "labelers": [
            {"labeler": pk, "public_code": codes.get(pk, ""), **row}
            for pk, row in sorted(table.items())
        ],
        "computed_at": now,
    }


__all__ = ["FLEISS_RULE", "labeler_scorecard", "labeler_throughput", "project_quality"]
