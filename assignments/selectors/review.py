"""Reads of the review flow and the export of accepted labels.

Labelers appear here only by their public code (``L-7KQ4XM``): never a username, an e-mail, a
vendor or a vendor's own id for the person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone

from assignments.models import Assignment, Project, Review, Task
from config.errors import Forbidden
from config.exports import export_lines
from workforce.models import Labeler, User
from workforce.selectors import is_ops

# A review's fields, in the order the API's review output lists them (after its id); the admin's
# review page shows them too.
REVIEW_FIELDS = (
    "kind",
    "status",
    "project",
    "task",
    "assignment",
    "question",
    "audit_week",
    "reviewer",
    "leased_at",
    "expires_at",
    "resolved_at",
    "answer",
    "note",
    "decided_task",
    "gold_item",
    "confidence",
    "proposes_guide_change",
    "guide_version",
    "active_seconds",
    "created_at",
)
FLAG_OPEN, FLAG_ANSWERED = "open", "answered"
EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_CHUNK = 2000
EXPORT_COLUMNS = (
    "task_id",
    "task_external_id",
    "image_url",
    "final_answer",
    "decided_by",
    "agreement",
    "confidence",
    "labelers",
    "answers",
)


def review_list_for(*, actor: User) -> QuerySet[Review]:
    """Operations managers see every review (and, through the task, which flags were on
    control tasks: a senior's resolution of one is recorded, never applied — theirs to act on
    if the gold item may be wrong); a senior labeler sees the reviews they claimed or resolved,
    flags on control tasks looking like any other; anyone else is Forbidden."""
    qs = Review.objects.select_related("reviewer").order_by("-id")
    if is_ops(actor):
        return qs
    labeler = getattr(actor, "labeler", None) if actor.is_authenticated else None
    if labeler is not None and labeler.is_senior:
        return qs.filter(reviewer_id=labeler.pk)
    raise Forbidden("Only operations managers and senior labelers see reviews.")


# -- the review queue ------------------------------------------------------------------------

# What a decision is worth when the review row has no consensus confidence (docs/operations.md,
# "Review queue"): a flag has a labeler waiting on the answer and doubting the guide — a coin
# flip; an audit re-checks a task consensus accepted — sure already, so last; a gold review
# settles a quarantined gold item every control answer is graded against — first.
KIND_CONFIDENCE = {
    Review.Kind.FLAG: 0.5,
    Review.Kind.AUDIT: 1.0,
    Review.Kind.GOLD: 0.0,
    Review.Kind.DISAGREEMENT: 0.5,  # a row opened before confidences were kept
}


def review_age_cap() -> timedelta:
    """``settings.REVIEW_AGE_CAP_HOURS`` (default 48): a review older than this is taken before
    any younger one, oldest first, whatever its confidence."""
    return timedelta(hours=settings.REVIEW_AGE_CAP_HOURS)


def review_worth() -> Coalesce:
    """The confidence a review is ordered by: its own (disagreements: the consensus confidence
    of the leading label when it opened), else its kind's (``KIND_CONFIDENCE``)."""
    return Coalesce(
        "confidence",
        Case(
            *(When(kind=kind, then=Value(value)) for kind, value in KIND_CONFIDENCE.items()),
            default=Value(0.5),
        ),
    )


def queue_order(*, now: datetime) -> tuple:
    """The claim's order: reviews older than the age cap first, oldest first; then the lowest
    confidence (``review_worth``) first; then the oldest (the id). Deterministic."""
    cutoff = now - review_age_cap()
    overdue_since = Case(When(created_at__lte=cutoff, then=F("created_at")), default=None)
    return (overdue_since.asc(nulls_last=True), review_worth().asc(), "id")


def review_queue_summary(
    *, actor: User, project_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """What waits in the review queue before one is taken: per kind, how many reviews are
    claimable (open, or leased with a lapsed lease), the oldest one's ``created_at`` and age in
    seconds, and how many are past the age cap (they come first). A senior labeler sees the
    queue they claim from (no gold reviews unless they are also ops, none of a task they
    labeled); an operations manager the whole queue; anyone else is Forbidden. ``project_id``
    narrows it to one project. One query (grouped by kind)."""
    now = now or timezone.now()
    claimable = Q(status=Review.Status.OPEN) | Q(status=Review.Status.LEASED, expires_at__lte=now)
    qs = Review.objects.filter(claimable)
    if not is_ops(actor):
        labeler = getattr(actor, "labeler", None) if actor.is_authenticated else None
        if labeler is None or not labeler.is_senior:
            raise Forbidden("Only operations managers and senior labelers see the review queue.")
        qs = qs.filter(for_ops=False).exclude(
            Exists(Assignment.objects.filter(task_id=OuterRef("task_id"), labeler_id=labeler.pk))
        )
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    cutoff = now - review_age_cap()
    rows = (
        qs.order_by()
        .values("kind")
        .annotate(
            count=Count("pk"),
            oldest=Min("created_at"),
            overdue=Count("pk", filter=Q(created_at__lte=cutoff)),
        )
    )
    by_kind = {row["kind"]: row for row in rows}
    kinds = []
    for kind in Review.Kind.values:
        row = by_kind.get(kind, {"count": 0, "oldest": None, "overdue": 0})
        oldest = row["oldest"]
        kinds.append(
            {
                "kind": kind,
                "count": row["count"],
                "overdue": row["overdue"],
                "oldest_created_at": oldest,
                "oldest_age_seconds": None
                if oldest is None
                else max(int((now - oldest).total_seconds()), 0),
            }
        )
    ages = [k["oldest_age_seconds"] for k in kinds if k["oldest_age_seconds"] is not None]
    return {
        "count": sum(k["count"] for k in kinds),
        "overdue": sum(k["overdue"] for k in kinds),
        "oldest_age_seconds": max(ages) if ages else None,
        "age_cap_hours": review_age_cap().total_seconds() / 3600,
        "kinds": kinds,
    }


def flag_list_for_labeler(*, labeler: Labeler) -> QuerySet[Review]:
    """The labeler's own flags, newest first, with the guide version that answers any (one
    query per page). A flag on a control task is listed like any other: nothing here reads the
    task's gold item, the reviewer or the reviewer's answer."""
    return (
        Review.objects.filter(kind=Review.Kind.FLAG, assignment__labeler_id=labeler.pk)
        .select_related("guide_version")
        .only(
            "id",
            "kind",
            "status",
            "project_id",
            "task_id",
            "assignment_id",
            "question",
            "note",
            "created_at",
            "resolved_at",
            "proposes_guide_change",
            "guide_version__id",
            "guide_version__guide_id",
            "guide_version__major",
            "guide_version__minor",
        )
        .order_by("-id")
    )


def flag_status(review: Review) -> str:
    """``answered`` once resolved, else ``open`` (leased is open to the labeler)."""
    return FLAG_ANSWERED if review.status == Review.Status.RESOLVED else FLAG_OPEN


def review_answers(*, review: Review) -> list[dict[str, Any]]:
    """What the task's labelers answered, by public code, in submission order — for
    disagreement and audit reviews; a flag shows the question instead (an empty list)."""
    if review.kind == Review.Kind.FLAG:
        return []
    rows = (
        Assignment.objects.filter(
            task_id=review.task_id, status=Assignment.Status.SUBMITTED, is_control=False
        )
        .order_by("submitted_at", "id")
        .values_list("labeler__public_code", "answer")
    )
    return [{"labeler": code, "answer": answer} for code, answer in rows]


# -- export ------------------------------------------------------------------------------------


def _export_tasks(project: Project) -> QuerySet[Task]:
    """Real tasks of the project with a final answer, in id order (the partial index
    ``assignments_task_decided``), with their submitted labels prefetched per chunk."""
    labels = (
        Assignment.objects.filter(status=Assignment.Status.SUBMITTED, is_control=False)
        .select_related("labeler")
        .only("id", "task_id", "answer", "submitted_at", "labeler__id", "labeler__public_code")
        .order_by("submitted_at", "id")
    )
    return (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=True)
        .exclude(decided_by="")
        .annotate(image_url=KT("payload__image_url"))
        .only("id", "external_id", "final_answer", "decided_by", "agreement", "confidence")
        .prefetch_related(Prefetch("assignments", queryset=labels, to_attr="labels"))
        .order_by("id")
    )


def _export_row(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.pk,
        "task_external_id": task.external_id,
        "image_url": task.image_url or "",
        "final_answer": task.final_answer,
        "decided_by": task.decided_by,
        "agreement": task.agreement,
        "confidence": task.confidence,
        "labelers": [a.labeler.public_code for a in task.labels],
        "answers": [{"labeler": a.labeler.public_code, "answer": a.answer} for a in task.labels],
    }


def csv_answer(answer: Any) -> str:
    """An answer as a CSV cell: a single-choice answer (a string) as it is — ``woodpecker``,
    not ``"woodpecker"``; a structured answer (the list of a multiple choice, boxes) as JSON."""
    if isinstance(answer, str):
        return answer
    return json.dumps(answer, ensure_ascii=False)


def project_export(*, project: Project, file_format: str) -> Iterator[str]:
    """The project's accepted labels as CSV or JSONL text, one chunk per row (CSV: header
    first) — a generator for a streaming response. Columns: ``task_id``, ``task_external_id``,
    ``image_url`` (from the payload), ``final_answer``, ``decided_by`` (consensus, model — a
    refit re-decided it — or review), ``agreement``, ``confidence`` (the posterior of the final
    answer when the model decided it; empty for majority and review decisions), ``labelers``
    (public codes) and ``answers`` (``[{"labeler": code, "answer": …}]``). In CSV a
    single-choice ``final_answer`` is the plain class name and a structured one (multiple
    choice, boxes) is JSON (``csv_answer``); ``labelers`` and ``answers`` are JSON in their
    cells. Tasks waiting in review are not delivered; control tasks are never exported. Reads
    ``EXPORT_CHUNK`` tasks per query (plus one for their labels).
    Raises ValidationError for an unknown format (before yielding anything)."""
    if file_format not in EXPORT_FORMATS:
        raise ValidationError({"format": [f"Must be one of {', '.join(EXPORT_FORMATS)}."]})
    tasks = _export_tasks(project).iterator(chunk_size=EXPORT_CHUNK)
    return export_lines(
        (_export_row(task) for task in tasks),
        file_format=file_format,
        columns=EXPORT_COLUMNS,
        csv_cells=_csv_cells,
    )


def _csv_cells(row: dict[str, Any]) -> dict[str, Any]:
    """An export row as CSV cells: the final answer as ``csv_answer`` writes it, the labelers
    and answers as JSON, an absent agreement or confidence empty."""
    row["final_answer"] = csv_answer(row["final_answer"])
    for name in ("labelers", "answers"):
        row[name] = json.dumps(row[name], ensure_ascii=False)
    for name in ("agreement", "confidence"):
        row[name] = "" if row[name] is None else row[name]
    return row
