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

from qc.dawid_skene import dawid_skene
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
    min_items_full: int = 20,
) -> FitSummary:
    """Fit Dawid-Skene (``method="auto"``) on a project's answers and replace the project's
    ``ModelFit`` and ``LabelerEstimate`` rows with the result.

    ``answers``: one ``(item_key, labeler_id, class)`` per answer; item keys are any hashable
    values (real tasks and gold items must not share a key). ``gold``: item key -> true class,
    for the items whose truth is known (control tasks' gold items): those items anchor the fit.
    ``classes``: the class names; an answer or gold class not among them raises ValueError.
    ``min_items_full``: the auto rule picks full confusion matrices when at least 90% of the
    labels come from labelers with at least this many labels, else one-coin.

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

    result = dawid_skene(
        items,
        workers,
        labels,
        len(classes),
        n_items=len(item_index),
        n_workers=len(labeler_index),
        gold=gold_idx,
        method="auto",
        min_labels_full=min_items_full,
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
                "choice": dict(getattr(result, "choice", None) or {}),
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


def _verdicts(
    posteriors: np.ndarray, item_index: Mapping[Hashable, int]
) -> dict[Hashable, tuple[int | None, float]]:
    """Each item's top class and its posterior; a tie for the top (within 1e-12, as
    ``qc.consensus.weighted_posterior`` rules) has no class."""
    if not len(item_index):
        return {}
    top = posteriors.max(axis=1)
    best = posteriors.argmax(axis=1)
    tied = (posteriors >= top[:, None] - 1e-12).sum(axis=1) > 1
    return {
        key: (None if tied[i] else int(best[i]), float(top[i])) for key, i in item_index.items()
    }
