"""Writes of Dawid-Skene estimates: fit a project's answers (``qc.dawid_skene``) and replace its
``ModelFit`` and ``LabelerEstimate`` rows.

``assignments`` collects the answers (it owns tasks and assignments) and calls
``estimates_fit`` with plain values; qc never reaches up. See docs/quality.md for the model
choice rule and what the estimates are used for (scorecards, weighted consensus).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db import transaction

from qc.dawid_skene import choose_method, dawid_skene
from qc.models import LabelerEstimate, ModelFit

DIGITS = 6  # stored floats are rounded: the same data give the same rows, byte for byte


@dataclass(frozen=True, eq=False)
class FitSummary:
    project_id: int
    method: str  # "one_coin" or "full" (what "auto" chose), or "" when nothing was fitted
    n_items: int
    n_labels: int
    n_gold: int
    n_labelers: int
    iterations: int
    converged: bool
    version: int = 0  # the stored fit's version (qc.ModelFit.version); 0 when nothing was fitted
    # item key -> (the index in ``classes`` of the item's top posterior, or None on a tie for
    # it; that posterior), for every item of the fit: what a re-decision reads.
    verdicts: Mapping[Hashable, tuple[int | None, float]] = field(default_factory=dict)


def estimates_fit(
    *,
    project_id: int,
    classes: Sequence[str],
    answers: Sequence[tuple[Hashable, int, str]],
    gold: Mapping[Hashable, str],
    now: datetime,
) -> FitSummary:
    """Fit Dawid-Skene (``method="auto"``) on a project's answers and replace the project's
    ``ModelFit`` and ``LabelerEstimate`` rows with the result.

    ``answers``: one ``(item_key, labeler_id, class)`` per answer; item keys are any hashable
    values (real tasks and gold items must not share a key). ``gold``: item key -> true class,
    for the items whose truth is known (control tasks' gold items): those items anchor the fit.
    ``classes``: the class names; an answer or gold class not among them raises ValueError.
    The model (one-coin or full confusion matrices) is chosen by held-out likelihood
    (``qc.dawid_skene.choose_method``) on the first fit, and again whenever the labels have
    grown ``RECHOOSE_GROWTH``-fold since the last choice; in between the project keeps its model
    (``ModelFit.choice`` records the scores and the labels the choice was made on). EM starts
    from the previous fit's parameters when there is one (``_warm_start``).

    Each estimate stores the labeler's accuracy (sum over classes of prior * the diagonal of
    their confusion matrix), the labels it rests on (``n_items``) and the confusion matrix
    (rows: true class, columns: answered class, in the order of ``classes``). With no answers
    the project's fit and estimates are deleted. The same inputs (and ``now``) give the same
    rows, except the fit's ``version``, which counts the fits (a decision names the fit it came
    from). The summary carries every item's verdict (top class and its posterior) for the
    caller's re-decision. One transaction; a constant number of queries (a delete, the fit's
    version read under lock and its upsert, one bulk upsert of the estimates), whatever the
    number of labelers.
    """
    classes = list(classes)
    index = {name: i for i, name in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError("classes must be distinct.")
    item_index: dict[Hashable, int] = {}
    labeler_index: dict[int, int] = {}
    n = len(answers)
    items = np.empty(n, dtype=np.int64)
    workers = np.empty(n, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    try:
        for row, (item, labeler_id, name) in enumerate(answers):
            items[row] = item_index.setdefault(item, len(item_index))
            workers[row] = labeler_index.setdefault(labeler_id, len(labeler_index))
            labels[row] = index[name]
        gold_idx = {
            item_index[item]: index[name] for item, name in gold.items() if item in item_index
        }
    except KeyError as exc:
        raise ValueError(f"Class {exc.args[0]!r} is not one of the classes.") from None

    if n == 0:
        with transaction.atomic():
            LabelerEstimate.objects.filter(project_id=project_id).delete()
            ModelFit.objects.filter(project_id=project_id).delete()
        return FitSummary(project_id, "", 0, 0, 0, 0, 0, True)

    previous = ModelFit.objects.filter(project_id=project_id).first()
    method, choice, kept = _method(previous, classes, items, workers, labels, gold_idx, item_index)
    # A new choice starts EM from the votes: started from a fit of another model (one-coin's
    # answers when full is chosen) EM stays near that model's answers (on trec, 0.560 against
    # 0.672 from the votes; BENCHMARKS.md). Between choices the previous fit is the same model.
    result = dawid_skene(
        items,
        workers,
        labels,
        len(classes),
        n_items=len(item_index),
        n_workers=len(labeler_index),
        gold=gold_idx,
        method=method,
        init_posteriors=_warm_start(
            previous, project_id, classes, items, workers, labels, labeler_index, len(item_index)
        )
        if kept
        else None,
    )
    # A labeler's accuracy is their own expected fraction correct (the posterior of each label
    # they gave, averaged), which ranks labelers against gold better than the class-prior
    # weighted diagonal of their confusion matrix (BENCHMARKS.md, real data).
    accuracy = np.clip(np.round(np.nan_to_num(result.worker_expected_correct), DIGITS), 0.0, 1.0)
    confusion = np.round(result.confusion, DIGITS)
    rows = [
        LabelerEstimate(
            project_id=project_id,
            labeler_id=labeler_id,
            method=result.method,
            accuracy=float(accuracy[w]),
            n_items=int(result.worker_label_counts[w]),
            confusion=confusion[w].tolist(),
            fitted_at=now,
        )
        for labeler_id, w in labeler_index.items()
    ]
    with transaction.atomic():
        LabelerEstimate.objects.filter(project_id=project_id).exclude(
            labeler_id__in=list(labeler_index)
        ).delete()
        previous = (
            ModelFit.objects.select_for_update()
            .filter(project_id=project_id)
            .values_list("version", flat=True)
            .first()
        )
        version = (previous or 0) + 1
        ModelFit.objects.update_or_create(
            project_id=project_id,
            defaults={
                "version": version,
                "choice": choice,
                "method": result.method,
                "classes": classes,
                "n_items": len(item_index),
                "n_labels": n,
                "n_gold": len(gold_idx),
                "iterations": result.iterations,
                "log_likelihood": round(float(result.log_likelihood), DIGITS),
                "priors": np.round(result.priors, DIGITS).tolist(),
                "fitted_at": now,
            },
        )
        LabelerEstimate.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["project_id", "labeler"],
            update_fields=["method", "accuracy", "n_items", "confusion", "fitted_at"],
        )
    return FitSummary(
        project_id=project_id,
        method=result.method,
        n_items=len(item_index),
        n_labels=n,
        n_gold=len(gold_idx),
        n_labelers=len(labeler_index),
        iterations=result.iterations,
        converged=result.converged,
        version=version,
        verdicts=_verdicts(result.posteriors, item_index),
    )


# The model is chosen again once the project has this many times the labels of the last choice:
# the choice costs about a dozen fits, so choosing at 1x, 2x, 4x… the labels costs at most about
# two choices' worth over the project's life, while the best model changes as labels pile up.
RECHOOSE_GROWTH = 2.0
CHOICE_TOL = 1e-5


def _method(previous, classes, items, workers, labels, gold_idx, item_index):
    """The model to fit, how it was chosen, and whether it is the previous fit's choice kept:
    the previous fit's model while the labels have not grown ``RECHOOSE_GROWTH``-fold since it
    was chosen (and the classes are the same), else a new choice by held-out likelihood
    (``qc.dawid_skene.choose_method``)."""
    n = int(labels.size)
    made = (previous.choice or {}) if previous is not None else {}
    if (
        made.get("method") in ("one_coin", "full")
        and previous.classes == list(classes)
        and n < RECHOOSE_GROWTH * int(made.get("n_labels") or 0)
    ):
        return made["method"], made, True
    method, scores = choose_method(
        items,
        workers,
        labels,
        len(classes),
        n_items=len(item_index),
        gold=gold_idx,
        # A looser tolerance for the choice's fold fits: a third of the cost on a million
        # labels, and the same pick on 17 of the 18 public data sets, whole and thinned (the
        # exception, where the two models are equally accurate) — BENCHMARKS.md.
        tol=CHOICE_TOL,
    )
    rounded = {name: round(float(score), DIGITS) for name, score in scores.items()}
    return method, {"method": method, "n_labels": n, "scores": rounded}, False


def _warm_start(previous, project_id, classes, items, workers, labels, labeler_index, n_items):
    """The posteriors of the previous fit's parameters on the current labels — the E-step of
    its priors and stored confusion matrices — as EM's starting point, so a refit after some
    new labels converges in a few iterations instead of starting from the votes. A labeler
    without a stored matrix counts as a one-coin labeler of the previous fit's mean accuracy.
    None (start from the votes) when there is no previous fit or its classes differ."""
    k = len(classes)
    if previous is None or previous.classes != list(classes) or len(previous.priors) != k:
        return None
    stored = dict(
        LabelerEstimate.objects.filter(
            project_id=project_id, labeler_id__in=list(labeler_index)
        ).values_list("labeler_id", "confusion")
    )
    usable = {w: m for w, m in stored.items() if len(m) == k and all(len(r) == k for r in m)}
    mean = float(np.mean([np.trace(np.asarray(m)) / k for m in usable.values()])) if usable else 0.7
    off = (1.0 - mean) / max(k - 1, 1)
    fallback = np.full((k, k), off)
    np.fill_diagonal(fallback, mean)
    confusion = np.empty((len(labeler_index), k, k))
    for labeler_id, w in labeler_index.items():
        confusion[w] = usable.get(labeler_id, fallback)
    logs = np.log(np.clip(confusion, 1e-6, 1.0))
    per_label = logs[workers, :, labels]  # (labels, k): log pi_w[c, answered] for each c
    log_priors = np.log(np.clip(np.asarray(previous.priors, dtype=float), 1e-6, 1.0))
    joint = np.empty((n_items, k))
    for c in range(k):
        joint[:, c] = log_priors[c] + np.bincount(items, weights=per_label[:, c], minlength=n_items)
    joint -= joint.max(axis=1, keepdims=True)
    weights = np.exp(joint)
    return weights / weights.sum(axis=1, keepdims=True)


def _verdicts(
    posteriors: np.ndarray, item_index: Mapping[Hashable, int]
) -> dict[Hashable, tuple[int | None, float]]:
    """Each item's top class and its posterior; a tie for the top (within 1e-12, as
    ``qc.consensus_maths.weighted_posterior`` rules) has no class."""
    if not len(item_index):
        return {}
    top = posteriors.max(axis=1)
    best = posteriors.argmax(axis=1)
    tied = (posteriors >= top[:, None] - 1e-12).sum(axis=1) > 1
    return {
        key: (None if tied[i] else int(best[i]), float(top[i])) for key, i in item_index.items()
    }
