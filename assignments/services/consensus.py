"""Consensus orchestration: how a complete task gets its final answer from its labelers'
answers. The maths is ``qc.consensus_maths`` (pure); the facts it leaves are the task's decision
(``assignments.services.decisions``) and each answer's outcome (``qc.services.quality_facts``);
the model weighted consensus decides by is refitted in ``assignments.services.refits``.

* ``task_consensus_run`` — after the submission that fills a task's last slot commits, a Celery
  task (``assignments.task_consensus``) calls it with the task id; ``consensus_sweep`` (the beat
  job ``assignments.consensus_sweep``) runs it on complete tasks whose message was lost. The
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Avg, F
from django.utils import timezone

from assignments import sql
from assignments.models import ConsensusMethod, Project, Review, Task
from assignments.services.decisions import answer_of_class, decision_record
from config.rawsql import prepared_cursor
from qc.answers import BOXES
from qc.consensus_maths import DEFAULT_ONE_COIN, consensus, weighted_posterior
from qc.models import LabelerEstimate, ModelFit
from qc.services.quality_facts import LabeledAnswer, answer_class, label_outcomes_record

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
    locks the task row.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        # Fixed statements (``sql.consensus_lock``, ``sql.task_answers``): once per completed
        # task in the worker, and composing the querysets cost more CPU than running them.
        row = sql.consensus_lock().one({"task": task_id})
        task = None
        if row is not None:
            task, task.project = row
        if task is None or task.gold_item_id is not None:
            return ConsensusAction.NONE
        if task.decided_by == Task.DecidedBy.REVIEW:
            closed = Task.objects.filter(
                pk=task.pk, decided_by=Task.DecidedBy.REVIEW, state=S.COMPLETE
            ).update(state=S.RESOLVED)
            if closed:
                task_outcomes_record(
                    task=task,
                    project=task.project,
                    final_answer=task.final_answer,
                    decided_by=Task.DecidedBy.REVIEW,
                    now=now,
                )
            return ConsensusAction.CLOSED if closed else ConsensusAction.NONE
        if task.decided_by or task.state != S.COMPLETE or task.submitted < task.target:
            return ConsensusAction.NONE
        project = task.project
        submissions = task_answers(task.pk)
        # Majority vote, or the posterior weighted by estimated confusion (docs/quality.md).
        result = task_decision(project=project, submissions=submissions)
        pending = Task.objects.filter(pk=task.pk, state=S.COMPLETE, decided_by="")
        if result.decided:
            decided = pending.update(
                final_answer=result.answer,
                decided_by=Task.DecidedBy.CONSENSUS,
                agreement=result.agreement,
                confidence=result.confidence,
                decided_at=now,
                state=S.RESOLVED,
            )
            if decided:
                decision_and_outcomes_record(
                    task=task,
                    project=project,
                    answer=result.answer,
                    previous=None,
                    decided_by=Task.DecidedBy.CONSENSUS,
                    confidence=result.confidence,
                    agreement=result.agreement,
                    now=now,
                    submissions=submissions,
                )
            return ConsensusAction.DECIDED
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
    statement = sql.task_answers()
    with prepared_cursor() as cursor:
        cursor.execute(statement.sql, {"task": task_id})
        rows = [statement.read(row)[0] for row in cursor.fetchall()]
    return [
        LabeledAnswer(a.pk, a.labeler_id, a.answer, a.submitted_at, a.active_seconds) for a in rows
    ]


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


def task_decision(*, project: Project, submissions: Sequence[LabeledAnswer]) -> Decision:
    """Decide a task from its answers by the project's consensus method.

    Majority (and weighted without a fit, or for boxes): ``qc.consensus_maths.consensus``; a tie or
    no strict majority is not decided; ``confidence`` is None.

    Weighted with a ``ModelFit``: each answer counts with its labeler's confusion matrix from
    their ``LabelerEstimate``; a labeler without one counts as a one-coin labeler with the
    project's mean estimated accuracy (0.7 when the project has no estimates). Class priors
    come from the fit. The label is the argmax of the posterior and ``confidence`` its
    posterior; it is decided when that is at least ``project.confidence_threshold`` and not a
    tie. A vote of a class the fit does not know (the schema grew since) falls back to
    majority. Three queries (the fit, the task's labelers' estimates, the mean accuracy).
    """
    answers = [s.answer for s in submissions]
    iou = float(project.iou_threshold)
    weighted = project.consensus_method == ConsensusMethod.WEIGHTED and project.answer_type != BOXES
    fit = ModelFit.objects.filter(project_id=project.pk).first() if weighted else None
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
