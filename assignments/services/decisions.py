"""Writes of task decisions: the history of every decision (``TaskDecision``), and the
re-decision of a project's tasks from a new Dawid-Skene fit.

The decision policy (docs/quality.md, "Decisions"): a project deciding by the model
(``consensus_method = weighted``) decides a complete task by majority until its first fit, then
by the task's posterior under the current fit (``assignments.services.consensus.task_decision``).
A fit changes what the model believes of tasks decided before it, so every refit re-decides:

* a task decided by consensus or by an earlier fit (state ``resolved``) whose top class under the
  new fit differs from its final answer, with a posterior at or above the project's confidence
  threshold, gets the model's answer — ``decided_by = model``, the posterior as ``confidence``;
* a task waiting in review for a disagreement (state ``review``) whose top class reaches the
  threshold is decided the same way and leaves the review queue: its open disagreement review
  (or one whose lease lapsed) is ``withdrawn``. A review a senior holds a live lease on is left to
  the senior (their resolution is final anyway);
* a task decided by a review, a control task, a task still collecting labels, and a tie under
  the fit are never touched.

Every decision — the first by consensus or review, and each change — is a ``TaskDecision`` row
with what decided it (the fit's version and method for the model), when, and the answer it
replaced. The labelers' recorded outcomes follow the new final answer
(``qc.services.quality_facts.label_outcomes_redecide``), so scores and rules read the decision the
export delivers.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from assignments.models import Assignment, Project, Review, Task, TaskDecision
from qc.answers import MULTIPLE_CHOICE, SINGLE_CHOICE
from qc.services.quality_facts import (
    LabeledAnswer,
    answer_class,
    label_outcomes_record_many,
    label_outcomes_redecide,
)

S = Task.State
RS = Review.Status
BY = Task.DecidedBy

# Tasks re-decided per transaction: each transaction locks its tasks' rows, so a chunk keeps
# the locks short while a million-label project is re-decided.
REDECIDE_CHUNK = 2000


def decision_record(
    *,
    task: Task,
    answer: Any,
    previous: Any | None,
    decided_by: str,
    confidence: float | None,
    agreement: float | None,
    now: datetime,
    reviewer_id: int | None = None,
) -> TaskDecision:
    """Keep one decision of ``task`` in its history (the caller has written it on the task, in
    the same transaction). One INSERT."""
    return TaskDecision.objects.create(
        task_id=task.pk,
        project_id=task.project_id,
        final_answer=answer,
        previous_answer=previous,
        decided_by=decided_by,
        confidence=confidence,
        agreement=agreement,
        reviewer_id=reviewer_id,
        decided_at=now,
    )


def answer_of_class(answer_type: str, name: str) -> Any:
    """The canonical answer of a class key (inverse of ``answer_class`` for choice answers)."""
    if answer_type == SINGLE_CHOICE:
        return name
    return [] if name == "(none)" else name.split("|")


@dataclass(frozen=True)
class Redecision:
    changed: int  # decided tasks whose final answer the fit changed
    from_review: int  # tasks waiting in review that the fit decided (their reviews withdrawn)


def project_redecide(
    *,
    project: Project,
    classes: Sequence[str],
    verdicts: Mapping[Hashable, tuple[int | None, float]],
    votes: Mapping[int, Sequence[str]],
    fit_version: int,
    fit_method: str,
    now: datetime,
) -> Redecision:
    """Re-decide the project's tasks from a fit (module docstring for which and how).

    ``verdicts``: item key -> (index in ``classes`` of its top posterior or None on a tie, that
    posterior), as ``qc.services.estimates.estimates_fit`` returns them (real tasks are keyed
    by their id; other keys are ignored). ``votes``: task id -> the classes its labelers
    answered (for the agreement stored with a decision).

    Reads the candidate tasks in one query; then, per chunk of ``REDECIDE_CHUNK`` tasks to
    change, one transaction: the rows locked and re-checked (a senior's resolution that landed
    meanwhile wins), one bulk UPDATE, the history rows in one INSERT, the outcomes re-pointed,
    and for tasks leaving review their reviews withdrawn and their outcomes recorded. A
    project that decides by majority, or a box project, is not re-decided.
    """
    if project.consensus_method != "weighted" or project.answer_type not in (
        SINGLE_CHOICE,
        MULTIPLE_CHOICE,
    ):
        return Redecision(0, 0)
    threshold = float(project.confidence_threshold)
    live_review = Review.objects.filter(
        task_id=OuterRef("pk"),
        kind=Review.Kind.DISAGREEMENT,
        status=RS.LEASED,
        expires_at__gt=now,
    )
    candidates = (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=True)
        .filter(
            Q(state=S.RESOLVED, decided_by__in=[BY.CONSENSUS, BY.MODEL])
            | Q(state=S.REVIEW, decided_by="")
        )
        .exclude(Exists(live_review))
        .values_list("id", "state", "final_answer")
    )
    wanted: dict[int, tuple[str, float]] = {}
    for task_id, state, final_answer in candidates.iterator(chunk_size=5000):
        verdict = verdicts.get(task_id)
        if verdict is None or verdict[0] is None or verdict[1] < threshold:
            continue
        name = classes[verdict[0]]
        if state == S.RESOLVED and answer_class(project.answer_type, final_answer) == name:
            continue
        wanted[task_id] = (name, verdict[1])
    changed = from_review = 0
    ids = sorted(wanted)
    for start in range(0, len(ids), REDECIDE_CHUNK):
        chunk = {task_id: wanted[task_id] for task_id in ids[start : start + REDECIDE_CHUNK]}
        c, r = _redecide_chunk(
            project=project,
            chunk=chunk,
            votes=votes,
            fit_version=fit_version,
            fit_method=fit_method,
            now=now,
        )
        changed += c
        from_review += r
    return Redecision(changed, from_review)


def _redecide_chunk(
    *,
    project: Project,
    chunk: Mapping[int, tuple[str, float]],
    votes: Mapping[int, Sequence[str]],
    fit_version: int,
    fit_method: str,
    now: datetime,
) -> tuple[int, int]:
    with transaction.atomic():
        locked = (
            Task.objects.select_for_update(of=("self",), no_key=True)
            .filter(project_id=project.pk, pk__in=list(chunk), gold_item__isnull=True)
            .filter(
                Q(state=S.RESOLVED, decided_by__in=[BY.CONSENSUS, BY.MODEL])
                | Q(state=S.REVIEW, decided_by="")
            )
            .order_by("id")
            .values_list("id", "state", "final_answer")
        )
        history, changes = [], []
        finals: dict[int, str] = {}
        leaving_review: dict[int, Any] = {}
        for task_id, state, previous in locked:
            name, confidence = chunk[task_id]
            given = votes.get(task_id) or []
            agreement = sum(1 for v in given if v == name) / len(given) if given else None
            answer = answer_of_class(project.answer_type, name)
            confidence = round(confidence, 6)
            history.append(
                TaskDecision(
                    task_id=task_id,
                    project_id=project.pk,
                    final_answer=answer,
                    previous_answer=previous,
                    decided_by=BY.MODEL,
                    confidence=confidence,
                    agreement=agreement,
                    fit_version=fit_version,
                    fit_method=fit_method,
                    decided_at=now,
                )
            )
            changes.append((task_id, answer, confidence, agreement))
            if state == S.REVIEW:
                leaving_review[task_id] = answer
            else:
                finals[task_id] = name
        _tasks_set(changes, now=now)
        TaskDecision.objects.bulk_create(history)
        label_outcomes_redecide(project_id=project.pk, finals=finals, decided_by=BY.MODEL, now=now)
        if leaving_review:
            Review.objects.filter(
                Q(status=RS.OPEN) | Q(status=RS.LEASED, expires_at__lte=now),
                task_id__in=list(leaving_review),
                kind=Review.Kind.DISAGREEMENT,
            ).update(status=RS.WITHDRAWN, resolved_at=now)
            _outcomes_first_recorded(project=project, finals=leaving_review, now=now)
    return len(finals), len(leaving_review)


def _tasks_set(changes: Sequence[tuple[int, Any, float, float | None]], *, now: datetime) -> None:
    """Write the model's decisions on the (locked) tasks: one UPDATE joined with the new values
    on PostgreSQL (Django's ``bulk_update`` builds a CASE per row and field, most of a
    re-decision's time); ``bulk_update`` elsewhere (SQLite, the demo)."""
    if not changes:
        return
    if connection.vendor == "postgresql":
        values = [
            {"id": task_id, "answer": answer, "confidence": confidence, "agreement": agreement}
            for task_id, answer, confidence, agreement in changes
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Task._meta.db_table} AS t
                   SET final_answer = v.answer, confidence = v.confidence,
                       agreement = v.agreement, decided_by = %s, decided_at = %s, state = %s
                  FROM jsonb_to_recordset(%s::jsonb)
                       AS v(id bigint, answer jsonb, confidence float8, agreement float8)
                 WHERE t.id = v.id
                """,  # noqa: S608 (the table name comes from model metadata)
                [BY.MODEL, now, S.RESOLVED, json.dumps(values)],
            )
        return
    tasks = [
        Task(
            pk=task_id,
            final_answer=answer,
            confidence=confidence,
            agreement=agreement,
            decided_by=BY.MODEL,
            decided_at=now,
            state=S.RESOLVED,
        )
        for task_id, answer, confidence, agreement in changes
    ]
    Task.objects.bulk_update(
        tasks,
        ["final_answer", "decided_by", "confidence", "agreement", "decided_at", "state"],
        batch_size=500,
    )


def _outcomes_first_recorded(*, project: Project, finals: Mapping[int, Any], now: datetime) -> None:
    """The outcomes of tasks decided for the first time (out of review): their submissions read
    in one query, recorded in one upsert."""
    answers: dict[int, list[LabeledAnswer]] = {task_id: [] for task_id in finals}
    rows = (
        Assignment.objects.filter(
            task_id__in=list(finals), status=Assignment.Status.SUBMITTED, is_control=False
        )
        .order_by("task_id", "submitted_at", "id")
        .values_list("task_id", "id", "labeler_id", "answer", "submitted_at", "active_seconds")
    )
    for task_id, *row in rows:
        answers[task_id].append(LabeledAnswer(*row))
    label_outcomes_record_many(
        project_id=project.pk,
        answer_type=project.answer_type,
        iou_threshold=float(project.iou_threshold),
        decided=[(task_id, finals[task_id], answers[task_id]) for task_id in finals],
        decided_by=BY.MODEL,
        now=now,
    )
