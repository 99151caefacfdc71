"""Consensus orchestration: the decision of a complete task by the project's consensus method,
and the Dawid-Skene refit of a project whose estimates weighted consensus decides by (the answers
live in assignments, the estimates in qc). The maths is ``qc.consensus_maths``; the run after a
task's last submission, which applies the decision, is ``assignments.services.review``.

``project_refit`` collects a project's answers set-based (two ``values_list`` queries) and
hands them to ``qc.services.estimates.estimates_fit``; the Celery beat job
``assignments.quality_refit`` runs ``projects_refit`` for every active project. ``task_decision``
is what ``task_consensus_run`` asks: majority vote (``qc.consensus_maths.consensus``) or, for a
project with ``consensus_method = weighted`` and a fit, the posterior of
``qc.consensus_maths.weighted_posterior``. See docs/quality.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg
from django.utils import timezone

from assignments.models import Assignment, ConsensusMethod, Project
from assignments.services.decisions import answer_of_class, project_redecide
from config.errors import NotFound
from qc.answers import BOXES, MULTIPLE_CHOICE, SINGLE_CHOICE
from qc.consensus_maths import DEFAULT_ONE_COIN, consensus, weighted_posterior
from qc.models import GoldCheck, LabelerEstimate, ModelFit
from qc.services.estimates import FitSummary, estimates_fit
from qc.services.quality_facts import LabeledAnswer, answer_class

logger = logging.getLogger(__name__)

# Item keys for the fit: a real task is its id, a gold item its negated id (ids are positive),
# so the two never collide.
BOXES_SKIPPED = (
    "Box projects are not refitted: Dawid-Skene models class labels, and box answers are "
    "compared by IoU-matched F1 instead."
)


@dataclass(frozen=True)
class Refit:
    project_id: int
    skipped: str  # why nothing was fitted ("" when fitted)
    summary: FitSummary | None
    redecided: int = 0  # tasks the fit re-decided (changed decisions and tasks out of review)
    from_review: int = 0  # of which tasks that were waiting in review


def project_refit(*, project_id: int, now: datetime | None = None) -> Refit:
    """Refit Dawid-Skene on a project's answers and replace its estimates (qc).

    Answers: every submitted real (non-control) assignment of the project, as (task, labeler,
    class) — the class is the label for single choice and the sorted labels joined by ``|`` for
    multiple choice (``qc.services.quality_facts.answer_class``). Gold anchors: the project's
    counted gold checks, each an answer on its gold item with the gold class as that item's truth.
    Box projects are skipped (``skipped`` says why). NotFound for an unknown project.

    Then, for a project deciding by the model, the tasks whose decision the new fit changes
    are re-decided (``assignments.services.decisions.project_redecide``; ``redecided`` counts
    them).

    Four queries to read (the project, the answers, the gold checks) and a constant number to
    write the fit, whatever the number of labelers or answers; the re-decision reads the
    candidate tasks once and writes only the tasks it changes. Idempotent: the same answers
    give the same estimates, and a second refit on them re-decides nothing. The read is not
    locked: a submission that lands during the refit is picked up by the next one.
    """
    now = now or timezone.now()
    project = (
        Project.objects.filter(pk=project_id)
        .only(
            "id",
            "answer_type",
            "classes",
            "consensus_method",
            "confidence_threshold",
            "iou_threshold",
        )
        .first()
    )
    if project is None:
        raise NotFound()
    if project.answer_type == BOXES:
        return Refit(project_id=project_id, skipped=BOXES_SKIPPED, summary=None)
    rows = Assignment.objects.filter(
        project_id=project_id, status=Assignment.Status.SUBMITTED, is_control=False
    ).values_list("task_id", "labeler_id", "answer")
    checks = GoldCheck.objects.filter(project_id=project_id, counted=True).values_list(
        "gold_item_id", "labeler_id", "answer_class", "expected_class"
    )
    if project.answer_type == SINGLE_CHOICE:
        answers = list(rows)
    else:
        answers = [(t, w, answer_class(MULTIPLE_CHOICE, a)) for t, w, a in rows]
    gold: dict[int, str] = {}
    for item, labeler_id, answered, expected in checks:
        answers.append((-item, labeler_id, answered))
        gold[-item] = expected
    if project.answer_type == SINGLE_CHOICE:
        classes = list(project.classes)
        seen = {name for _, _, name in answers} | set(gold.values())
        classes += sorted(seen - set(classes))  # a class dropped from the schema since
    else:
        classes = sorted({name for _, _, name in answers} | set(gold.values()))
    summary = estimates_fit(
        project_id=project_id, classes=classes, answers=answers, gold=gold, now=now
    )
    if not summary.verdicts or project.consensus_method != ConsensusMethod.WEIGHTED:
        return Refit(project_id=project_id, skipped="", summary=summary)
    votes: dict[int, list[str]] = {}
    for item, _, name in answers:
        if item > 0:  # real tasks only (gold items are negated)
            votes.setdefault(item, []).append(name)
    result = project_redecide(
        project=project,
        classes=classes,
        verdicts=summary.verdicts,
        votes=votes,
        fit_version=summary.version,
        fit_method=summary.method,
        now=now,
    )
    return Refit(
        project_id=project_id,
        skipped="",
        summary=summary,
        redecided=result.changed + result.from_review,
        from_review=result.from_review,
    )


def projects_refit(*, now: datetime | None = None) -> list[Refit]:
    """``project_refit`` for every active project (one transaction each); a project that fails
    is logged and the others still run. Returns the refits done."""
    now = now or timezone.now()
    done = []
    ids = Project.objects.filter(status=Project.Status.ACTIVE).order_by("id")
    for project_id in ids.values_list("id", flat=True):
        try:
            done.append(project_refit(project_id=project_id, now=now))
        except Exception:  # one project's bad data must not stop the others' refit
            logger.exception("refit of project %s failed", project_id)
    return done


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
