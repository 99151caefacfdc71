"""Writes of task decisions: the history of every decision (``TaskDecision``), and the
re-decision of a project's tasks from a new Dawid-Skene fit.

The decision policy (docs/quality.md, "Decisions"): a project deciding by the model
(``consensus_method = weighted``) decides a complete task by majority until its first fit, then
by the task's posterior under the current fit (``assignments.services.quality.task_decision``).
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
(``qc.services.scoring.label_outcomes_redecide``), so scores and rules read the decision the
export delivers.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from assignments.models import Project, Review, Task, TaskDecision
from qc.answers import MULTIPLE_CHOICE, SINGLE_CHOICE
from qc.services.scoring import answer_class, label_outcomes_redecide

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
    # Imported here: review imports this module (the first decision's history row).
    from assignments.services.review import _record_outcomes

    with transaction.atomic():
        tasks = list(
            Task.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk__in=list(chunk), gold_item__isnull=True)
            .filter(
                Q(state=S.RESOLVED, decided_by__in=[BY.CONSENSUS, BY.MODEL])
                | Q(state=S.REVIEW, decided_by="")
            )
            .only("id", "project_id", "state", "final_answer")
            .order_by("id")
        )
        history = []
        finals: dict[int, str] = {}
        leaving_review = []
        for task in tasks:
            name, confidence = chunk[task.pk]
            given = votes.get(task.pk) or []
            agreement = sum(1 for v in given if v == name) / len(given) if given else None
            answer = answer_of_class(project.answer_type, name)
            history.append(
                TaskDecision(
                    task_id=task.pk,
                    project_id=project.pk,
                    final_answer=answer,
                    previous_answer=task.final_answer,
                    decided_by=BY.MODEL,
                    confidence=round(confidence, 6),
                    agreement=agreement,
                    fit_version=fit_version,
                    fit_method=fit_method,
                    decided_at=now,
                )
            )
            if task.state == S.REVIEW:
                leaving_review.append(task)
            else:
                finals[task.pk] = name
            task.final_answer = answer
            task.decided_by = BY.MODEL
            task.confidence = round(confidence, 6)
            task.agreement = agreement
            task.decided_at = now
            task.state = S.RESOLVED
        Task.objects.bulk_update(
            tasks,
            ["final_answer", "decided_by", "confidence", "agreement", "decided_at", "state"],
            batch_size=500,
        )
        TaskDecision.objects.bulk_create(history)
        label_outcomes_redecide(finals=finals, decided_by=BY.MODEL, now=now)
        if leaving_review:
            Review.objects.filter(
                Q(status=RS.OPEN) | Q(status=RS.LEASED, expires_at__lte=now),
                task_id__in=[t.pk for t in leaving_review],
                kind=Review.Kind.DISAGREEMENT,
            ).update(status=RS.WITHDRAWN, resolved_at=now)
            for task in leaving_review:
                _record_outcomes(
                    task=task,
                    project=project,
                    final_answer=task.final_answer,
                    decided_by=BY.MODEL,
                    now=now,
                )
    return len(finals), len(leaving_review)
