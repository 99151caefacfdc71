"""Consensus orchestration: how a complete task gets its final answer from its labelers'
answers. The maths is ``qc.consensus_maths`` (pure); the facts it leaves are the task's decision
(``assignments.services.decisions``) and each answer's outcome (``qc.services.quality_facts``);
the model weighted consensus decides by is refitted in ``assignments.services.refits``.

* ``task_consensus_run`` (``tasks_consensus_run`` for a batch) — the worker's follow-up of the
  submissions that filled tasks' last slots (``assignments.assignment_submitted``, taken in
  batches) calls it with the task ids; ``consensus_sweep`` (the beat job
  ``assignments.consensus_sweep``) runs it on complete tasks whose message was lost. The
  project's method decides (``task_decision``): decided → the task is ``resolved`` with
  ``decided_by = consensus``; not decided and ``target < project.max_overlap`` → one more slot
  (``target + 1``, back in the claim queue at once); otherwise → state ``review`` and a
  disagreement ``Review`` for the senior queue (``assignments.services.review``).
* ``task_decision`` — majority vote (``qc.consensus_maths.consensus``) or, for a project with
  ``consensus_method = weighted`` and a fit, the posterior of
  ``qc.consensus_maths.weighted_posterior``, with a confidence below the project's threshold
  counting as a disagreement. See docs/quality.md.

A review-decided task that still waits for planned labels (a flag resolved while the task was
``open``) keeps collecting them — they are scored against the review's answer — and becomes
``resolved`` when its last label arrives (the consensus run does that instead of voting).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Avg, F
from django.utils import timezone

from assignments import sql
from assignments.models import ConsensusMethod, Project, Review, Task, TaskDecision
from assignments.services.decisions import answer_of_class, decision_record
from qc.answers import BOXES
from qc.consensus_maths import DEFAULT_ONE_COIN, consensus, weighted_posterior
from qc.models import LabelerEstimate, ModelFit
from qc.services.quality_facts import (
    LabeledAnswer,
    answer_class,
    label_outcomes_record,
    label_outcomes_record_many,
)

S = Task.State
RS = Review.Status


# -- consensus ---------------------------------------------------------------------------------


class ConsensusAction:
    NONE = "none"  # nothing to do: not complete, already decided, in review, control, missing
    DECIDED = "decided"
    SLOT_ADDED = "slot_added"
    REVIEW = "review"
    CLOSED = "closed"  # a review-decided task got its last planned label: now resolved


# What a completed task's consensus run can answer when the task is done with labels (decided,
# sent to review, or closed after a review); an added slot reopens it.
FILLED = frozenset({ConsensusAction.DECIDED, ConsensusAction.REVIEW, ConsensusAction.CLOSED})


def task_consensus_run(*, task_id: int, now: datetime | None = None) -> str:
    """Decide a complete task from its labelers' answers; returns a ``ConsensusAction``.

    Runs only on a real task in state ``complete`` with no final answer (anything else is a
    no-op, so running it twice, or concurrently, does nothing more: the task row's lock
    serializes runs and every write is an ``UPDATE … WHERE state = 'complete'``). Decided → final
    answer, agreement, ``decided_by = consensus``, state ``resolved``. Not decided → one more slot
    while ``target < project.max_overlap`` (the task is open again, and the labelers who already
    labeled it cannot claim it), else state ``review`` and one disagreement review (a partial
    unique constraint backs "one live disagreement review per task"). One durable transaction;
    locks the task row. ``tasks_consensus_run`` of one task.
    """
    return tasks_consensus_run(runs={task_id: now})[task_id]


@dataclass
class _Decided:
    task: Task
    project: Project
    result: Decision
    submissions: list[LabeledAnswer]
    now: datetime


def tasks_consensus_run(*, runs: Mapping[int, datetime | None]) -> dict[int, str]:
    """``task_consensus_run`` on many tasks at once (task id → the moment to decide it as of,
    None for now): the worker's batch of follow-ups. One durable transaction: the task rows
    locked in id order and read with their projects in one statement, their answers in one,
    each decided task written with one fixed statement, and the decisions and the answers'
    outcomes of all of them recorded with one insert each (per project). The rare paths (an
    added slot, a review, a review-decided task closed) are written per task as before.
    Returns each task's ``ConsensusAction`` (NONE for an unknown task)."""
    results = dict.fromkeys(runs, ConsensusAction.NONE)
    if not runs:
        return results
    default_now = timezone.now()
    ids = sorted(runs)
    with transaction.atomic(durable=True):
        locked = sql.consensus_lock(len(ids)).all(sql.id_params("task", ids))
        answers = _answers_by_task([task.pk for task, _ in locked])
        fits: dict[int, ModelFit | None] = {}
        decided: list[_Decided] = []
        for task, project in locked:
            task.project = project
            now = runs[task.pk] or default_now
            results[task.pk] = _consensus_one(
                task, project, now, answers.get(task.pk, []), fits, decided
            )
        _decided_record(decided)
    return results


def _consensus_one(
    task: Task,
    project: Project,
    now: datetime,
    submissions: list[LabeledAnswer],
    fits: dict[int, ModelFit | None],
    decided: list[_Decided],
) -> str:
    """One locked task of ``tasks_consensus_run``; a decided one is written here and added to
    ``decided`` for the batch's records."""
    if task.gold_item_id is not None:
        return ConsensusAction.NONE
    if task.decided_by == Task.DecidedBy.REVIEW:
        closed = Task.objects.filter(
            pk=task.pk, decided_by=Task.DecidedBy.REVIEW, state=S.COMPLETE
        ).update(state=S.RESOLVED)
        if closed:
            task_outcomes_record(
                task=task,
                project=project,
                final_answer=task.final_answer,
                decided_by=Task.DecidedBy.REVIEW,
                now=now,
            )
        return ConsensusAction.CLOSED if closed else ConsensusAction.NONE
    if task.decided_by or task.state != S.COMPLETE or task.submitted < task.target:
        return ConsensusAction.NONE
    # Majority vote, or the posterior weighted by estimated confusion (docs/quality.md).
    result = task_decision(project=project, submissions=submissions, fits=fits)
    if result.decided:
        params = {
            "task": task.pk,
            "answer": Task._meta.get_field("final_answer").get_db_prep_value(
                result.answer, connection
            ),
            "agreement": result.agreement,
            "confidence": result.confidence,
            "now": connection.ops.adapt_datetimefield_value(now),
        }
        if sql.consensus_decide().one(params) is not None:
            decided.append(_Decided(task, project, result, submissions, now))
        return ConsensusAction.DECIDED
    pending = Task.objects.filter(pk=task.pk, state=S.COMPLETE, decided_by="")
    if task.target < project.max_overlap:
        pending.filter(target=task.target, submitted=task.target).update(
            target=F("target") + 1,
            is_open=True,
            state=S.OPEN,
            agreement=result.agreement,
            confidence=result.confidence,
        )
        return ConsensusAction.SLOT_ADDED
    if pending.update(state=S.REVIEW, agreement=result.agreement, confidence=result.confidence):
        live = Review.objects.filter(
            task_id=task.pk,
            kind=Review.Kind.DISAGREEMENT,
            status__in=[RS.OPEN, RS.LEASED],
        )
        if not live.exists():
            # What the decision is worth (docs/operations.md, "Review queue"): the leading
            # label's posterior (weighted) or its share of the votes (majority).
            worth = result.confidence if result.confidence is not None else result.agreement
            Review.objects.create(
                task=task, project=project, kind=Review.Kind.DISAGREEMENT, confidence=worth
            )
    return ConsensusAction.REVIEW


def _decided_record(decided: list[_Decided]) -> None:
    """The decisions of a batch's decided tasks kept in their history (one insert), and their
    answers' outcomes against them (one insert per project) — what
    ``decision_and_outcomes_record`` does for one task."""
    if not decided:
        return
    TaskDecision.objects.bulk_create(
        [
            TaskDecision(
                task_id=d.task.pk,
                project_id=d.task.project_id,
                final_answer=d.result.answer,
                previous_answer=None,
                decided_by=Task.DecidedBy.CONSENSUS,
                confidence=d.result.confidence,
                agreement=d.result.agreement,
                decided_at=d.now,
            )
            for d in decided
        ]
    )
    by_project: dict[int, list[_Decided]] = {}
    for d in decided:
        if d.submissions:
            by_project.setdefault(d.project.pk, []).append(d)
    for group in by_project.values():
        project = group[0].project
        label_outcomes_record_many(
            project_id=project.pk,
            answer_type=project.answer_type,
            iou_threshold=float(project.iou_threshold),
            decided=[(d.task.pk, d.result.answer, d.submissions) for d in group],
            decided_by=Task.DecidedBy.CONSENSUS,
            decided_at={d.task.pk: d.now for d in group},
        )


def consensus_sweep(*, limit_per_project: int = 1000) -> int:
    """Run consensus on complete tasks that have none yet — those whose after-commit message
    was lost (a broker outage while submitting). Idempotent; walks the ``(project, state)``
    index once per project. Returns how many tasks it ran on."""
    done = 0
    for project_id in Project.objects.values_list("id", flat=True):
        ids = list(
            Task.objects.filter(
                project_id=project_id, state=S.COMPLETE, decided_by="", gold_item__isnull=True
            )
            .order_by("id")
            .values_list("id", flat=True)[:limit_per_project]
        )
        for task_id in ids:
            task_consensus_run(task_id=task_id)
        done += len(ids)
    return done


# -- the answers of a task and their outcomes --------------------------------------------------


def task_answers(task_id: int) -> list[LabeledAnswer]:
    """The task's submitted real answers in submission order, as qc's outcome records want
    them."""
    return _answers_by_task([task_id]).get(task_id, [])


def _answers_by_task(task_ids: Sequence[int]) -> dict[int, list[LabeledAnswer]]:
    """The submitted real answers of each task in submission order, in one fixed statement
    (``sql.task_answers``): tasks without answers are absent."""
    out: dict[int, list[LabeledAnswer]] = {}
    if not task_ids:
        return out
    rows = sql.task_answers(len(task_ids)).all(sql.id_params("task", task_ids))
    for (a,) in rows:
        out.setdefault(a.task_id, []).append(
            LabeledAnswer(a.pk, a.labeler_id, a.answer, a.submitted_at, a.active_seconds)
        )
    return out


def task_outcomes_record(
    *,
    task: Task,
    project: Project,
    final_answer: Any,
    decided_by: str,
    now: datetime,
    submissions: list[LabeledAnswer] | None = None,
) -> None:
    """Hand the decided task's answers to qc, which records how each compares with the final
    label and with the others (scores and agreement are computed from these facts)."""
    answers = submissions if submissions is not None else task_answers(task.pk)
    label_outcomes_record(
        project_id=project.pk,
        task_id=task.pk,
        answer_type=project.answer_type,
        iou_threshold=float(project.iou_threshold),
        final_answer=final_answer,
        decided_by=decided_by,
        answers=answers,
        now=now,
    )
    # Quality rules read these outcomes in their periodic sweep, from the next day on
    # (qc.services.rules): never right after a decision.


def decision_and_outcomes_record(
    *, project: Project, submissions: list[LabeledAnswer], **decision: Any
) -> None:
    """What follows a decision the caller has written on its task, in the caller's transaction:
    ``decision`` (the keyword arguments of ``decision_record``) kept in the task's history and,
    when the task has answers (``submissions``), their outcomes against it
    (``task_outcomes_record``)."""
    decision_record(**decision)
    if submissions:
        task_outcomes_record(
            task=decision["task"],
            project=project,
            final_answer=decision["answer"],
            decided_by=decision["decided_by"],
            now=decision["now"],
            submissions=submissions,
        )


# -- the decision of a complete task -----------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    answer: Any | None  # the final answer when decided
    decided: bool
    agreement: float  # share of the answers the same as the winner (or the top support)
    confidence: float | None  # the winner's posterior (weighted); None for majority vote


def task_decision(
    *,
    project: Project,
    submissions: Sequence[LabeledAnswer],
    fits: dict[int, ModelFit | None] | None = None,
) -> Decision:
    """Decide a task from its answers by the project's consensus method.

    Majority (and weighted without a fit, or for boxes): ``qc.consensus_maths.consensus``; a tie or
    no strict majority is not decided; ``confidence`` is None.

    Weighted with a ``ModelFit``: each answer counts with its labeler's confusion matrix from
    their ``LabelerEstimate``; a labeler without one counts as a one-coin labeler with the
    project's mean estimated accuracy (0.7 when the project has no estimates). Class priors
    come from the fit. The label is the argmax of the posterior and ``confidence`` its
    posterior; it is decided when that is at least ``project.confidence_threshold`` and not a
    tie. A vote of a class the fit does not know (the schema grew since) falls back to
    majority. Three queries (the fit, the task's labelers' estimates, the mean accuracy); the
    fit is read once per project when ``fits`` (a memo, project id → fit) is given.
    """
    answers = [s.answer for s in submissions]
    iou = float(project.iou_threshold)
    weighted = project.consensus_method == ConsensusMethod.WEIGHTED and project.answer_type != BOXES
    fit = None
    if weighted:
        # ``fits``: a batch's memo of each project's fit (one query per project, not per task).
        if fits is None or project.pk not in fits:
            fit = ModelFit.objects.filter(project_id=project.pk).first()
            if fits is not None:
                fits[project.pk] = fit
        else:
            fit = fits[project.pk]
    if fit is not None:
        votes = [answer_class(project.answer_type, a) for a in answers]
        if set(votes) <= set(fit.classes):
            return _weighted(project=project, fit=fit, submissions=submissions, votes=votes)
    result = consensus(project.answer_type, answers, iou)
    return Decision(
        answer=result.answer if result.decided else None,
        decided=result.decided,
        agreement=result.agreement,
        confidence=None,
    )


def _weighted(
    *, project: Project, fit: ModelFit, submissions: Sequence[LabeledAnswer], votes: list[str]
) -> Decision:
    labeler_ids = [s.labeler_id for s in submissions]
    fitted = dict(
        LabelerEstimate.objects.filter(
            project_id=project.pk, labeler_id__in=labeler_ids
        ).values_list("labeler_id", "confusion")
    )
    k = len(fit.classes)
    models: list[Any] = []
    for labeler_id in labeler_ids:
        matrix = fitted.get(labeler_id)
        models.append(matrix if matrix and len(matrix) == k else None)
    default = DEFAULT_ONE_COIN
    if any(m is None for m in models):
        mean = LabelerEstimate.objects.filter(project_id=project.pk).aggregate(a=Avg("accuracy"))
        default = mean["a"] if mean["a"] is not None else DEFAULT_ONE_COIN
    priors = fit.priors if len(fit.priors) == k else None
    post = weighted_posterior(
        votes, models, classes=fit.classes, priors=priors, default_accuracy=default
    )
    counts = Counter(votes)
    top = counts[post.label] if post.label is not None else max(counts.values())
    agreement = top / len(votes)
    threshold = float(project.confidence_threshold)
    decided = post.label is not None and post.confidence >= threshold
    return Decision(
        answer=answer_of_class(project.answer_type, post.label) if decided else None,
        decided=decided,
        agreement=agreement,
        confidence=post.confidence,
    )
