"""Active time per vendor: the hours labelers spent labeling, reviewing and taking quizzes, as
their clients measured (or, without a measure, the wall time the services clamp it to). See
docs/quality.md, "Active time".

Where each figure comes from:

* labeling — ``Assignment.active_seconds`` of submitted assignments (real and control tasks);
* reviewing — ``Review.active_seconds`` of resolved reviews, by the reviewer's vendor;
* quizzes — ``qc.AttemptQuestion.active_seconds`` of answered questions, by the labeler's
  vendor. Quizzes belong to no project: with a project filter their figure stays over all
  quizzes.

A vendor of None is the internal labelers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce

from assignments.models import Assignment, Review
from qc.models import AttemptQuestion

HOUR = 3600


def _grouped(qs: QuerySet, vendor: str, seconds: str, **extra: Any) -> dict[int | None, dict]:
    rows = (
        qs.values(vendor)
        .annotate(seconds=Coalesce(Sum(seconds), 0), **extra)
        .order_by()
        .values(vendor, "seconds", *extra)
    )
    return {row[vendor]: row for row in rows}


def vendor_active_time(
    *,
    vendor_ids: Iterable[int] | None = None,
    project_id: int | None = None,
    before: datetime | None = None,
) -> dict[int | None, dict[str, Any]]:
    """Per vendor (None: internal labelers; only ``vendor_ids`` when given): ``labeling_hours``,
    ``review_hours``, ``quiz_hours`` (rounded to 0.01 h), ``timed_labels`` (submissions with an
    active time) and ``seconds_per_label`` (labeling seconds over timed labels; None without
    any). ``project_id`` narrows labeling and reviewing to one project; ``before`` leaves out
    work finished from then on (a vendor manager's figures stop at the start of the day). Three
    grouped queries."""
    ids = list(vendor_ids) if vendor_ids is not None else None
    labels = Assignment.objects.filter(
        status=Assignment.Status.SUBMITTED, active_seconds__isnull=False
    )
    reviews = Review.objects.filter(status=Review.Status.RESOLVED, active_seconds__isnull=False)
    answers = AttemptQuestion.objects.filter(
        answered_at__isnull=False, active_seconds__isnull=False
    )
    if project_id is not None:
        labels = labels.filter(project_id=project_id)
        reviews = reviews.filter(project_id=project_id)
    if before is not None:
        labels = labels.filter(submitted_at__lt=before)
        reviews = reviews.filter(resolved_at__lt=before)
        answers = answers.filter(answered_at__lt=before)
    if ids is not None:
        labels = labels.filter(labeler__vendor_id__in=ids)
        reviews = reviews.filter(reviewer__vendor_id__in=ids)
        answers = answers.filter(attempt__labeler__vendor_id__in=ids)
    labeling = _grouped(labels, "labeler__vendor_id", "active_seconds", n=Count("pk"))
    reviewing = _grouped(reviews, "reviewer__vendor_id", "active_seconds")
    quizzes = _grouped(answers, "attempt__labeler__vendor_id", "active_seconds")
    out: dict[int | None, dict[str, Any]] = {}
    for vendor_id in {*labeling, *reviewing, *quizzes}:
        label_row = labeling.get(vendor_id, {"seconds": 0, "n": 0})
        out[vendor_id] = active_time_row(
            labeling_seconds=label_row["seconds"],
            timed_labels=label_row["n"],
            review_seconds=reviewing.get(vendor_id, {"seconds": 0})["seconds"],
            quiz_seconds=quizzes.get(vendor_id, {"seconds": 0})["seconds"],
        )
    return out


def active_time_row(
    *,
    labeling_seconds: int = 0,
    timed_labels: int = 0,
    review_seconds: int = 0,
    quiz_seconds: int = 0,
) -> dict[str, Any]:
    """The figures of one vendor (all zero by default: a vendor with no timed work). Pure."""
    return {
        "labeling_hours": round(labeling_seconds / HOUR, 2),
        "review_hours": round(review_seconds / HOUR, 2),
        "quiz_hours": round(quiz_seconds / HOUR, 2),
        "timed_labels": timed_labels,
        "seconds_per_label": round(labeling_seconds / timed_labels, 1) if timed_labels else None,
    }
