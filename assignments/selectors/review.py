"""Reads of the review flow and the export of accepted labels.

Labelers appear here only by their public code (``L-7KQ4XM``): never a username, an e-mail, a
vendor or a vendor's own id for the person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.db.models.fields.json import KT

from assignments.models import Assignment, Project, Review, Task
from config.errors import Forbidden
from config.exports import export_lines
from workforce.models import User
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
    "created_at",
)
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
