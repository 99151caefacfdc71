"""Dawid-Skene: true labels and labeler confusion matrices by EM. Pure numpy; no ORM.

Input is integer-coded: one row per label given, ``item_idx[r]`` labeled by ``worker_idx[r]``
as class ``label_idx[r]`` (0 <= class < n_classes). Repeated (item, worker) rows each count.

Model. Item i has a hidden true class z_i with P(z_i = c) = prior_c; a worker w who sees an
item of class c answers k with probability pi_w[c, k], independently of everything else.

* ``one_coin`` — each worker has one accuracy p_w; pi_w[c, c] = p_w and the errors are spread
  evenly, pi_w[c, k] = (1 - p_w) / (K - 1). p_w is the expected share of the worker's labels
  that are right, (expected right + ``smoothing``) / (labels + K * ``smoothing``).
* ``full`` — each worker has a whole confusion matrix pi_w (Dawid & Skene 1979). Each row
  pi_w[c, :] is the expected count of (true c, answered k), plus a Dirichlet prior of
  ``smoothing`` pseudo-counts per cell, plus ``shrinkage`` pseudo-labels spread like the
  worker's own one-coin matrix. Smoothing keeps a worker who never answered k from getting
  log 0. Shrinkage lets a row seen on few items lean on how accurate the worker is overall
  instead of on a handful of answers; with many labels the data dominate.
* ``auto`` — ``full`` when at least ``full_min_share`` (default 90%) of all labels come from
  workers with at least ``min_labels_full`` labels (default 20), else ``one_coin``. The rule
  "every worker has M labels" would almost never choose ``full`` on a real crowd, whose long
  tail of occasional workers gives a few labels each; those workers weigh little in the
  posteriors (and shrinkage covers them), while the workers who give most labels have
  well-estimated matrices. On the nine public data sets of BENCHMARKS.md the share is 0.92 to
  1.0 and ``full`` is the better model on all nine.

The defaults (smoothing 0.1, shrinkage 1, tol 1e-7 per label, 200 iterations) were chosen on
those nine data sets; see the "Dawid-Skene on public crowdsourcing data" section of
BENCHMARKS.md for the figures and for how much they depend on the choice.

EM. Initial posteriors are the soft majority vote (each item's share of votes per class; an
item without labels gets the uniform distribution). Then M-step (priors, worker parameters),
E-step (posteriors), until the log-likelihood of the labels changes by at most ``tol`` per
label or after ``max_iter`` E-steps (``iterations`` counts E-steps). Class priors are estimated
from the posteriors of items with at least one label or a gold label (add-one smoothed, so no
class has prior 0).

Gold anchors. ``gold`` maps item index -> true class. Those items' posteriors are set to the
one-hot gold class at the start and after every E-step, so they teach the worker parameters
what each class looks like; their part of the log-likelihood is that of the gold class.

Results are deterministic (no randomness; the same input gives the same floats). ``labels`` is
the argmax of the posteriors, ties to the lowest class index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["auto", "one_coin", "full"]
TieRule = Literal["none", "lowest", "random"]

NO_LABEL = -1  # majority_vote's answer for an item without a winner

DEFAULT_MIN_LABELS_FULL = 20
DEFAULT_FULL_MIN_SHARE = 0.9
DEFAULT_SMOOTHING = 0.1
DEFAULT_SHRINKAGE = 1.0
DEFAULT_MAX_ITER = 200
DEFAULT_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class DawidSkeneResult:
    method: Literal["one_coin", "full"]  # the model fitted (what "auto" chose)
    posteriors: np.ndarray  # (n_items, n_classes), rows sum to 1
    labels: np.ndarray  # (n_items,) argmax of posteriors, ties to the lowest class index
    priors: np.ndarray  # (n_classes,)
    worker_accuracy: np.ndarray  # (n_workers,) sum_c prior_c * pi_w[c, c]
    # (n_workers,) the expected fraction of the worker's own labels that are right: the mean,
    # over the labels they gave, of the posterior probability of that label (NaN without labels)
    worker_expected_correct: np.ndarray
    confusion: np.ndarray  # (n_workers, n_classes, n_classes): [w, true, answered]
    worker_label_counts: np.ndarray  # (n_workers,) labels given by each worker
    iterations: int  # E-steps run
    converged: bool  # stopped on tol rather than max_iter
    log_likelihood: float  # log P(labels) under the fitted model (gold items: joint with gold)


def _as_index(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers.")
    array = array.astype(np.int64, copy=False)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must not be negative.")
    return array


def _inputs(item_idx, worker_idx, label_idx, n_classes, n_items, n_workers):
    items = _as_index(item_idx, "item_idx")
    workers = _as_index(worker_idx, "worker_idx")
    labels = _as_index(label_idx, "label_idx")
    if not items.size == workers.size == labels.size:
        raise ValueError("item_idx, worker_idx and label_idx must have the same length.")
    if n_classes < 1:
        raise ValueError("n_classes must be at least 1.")
    if labels.size and labels.max() >= n_classes:
        raise ValueError("label_idx must be below n_classes.")
    n_items = int(items.max()) + 1 if n_items is None and items.size else (n_items or 0)
    n_workers = int(workers.max()) + 1 if n_workers is None and workers.size else (n_workers or 0)
    if items.size and items.max() >= n_items:
        raise ValueError("item_idx must be below n_items.")
    if workers.size and workers.max() >= n_workers:
        raise ValueError("worker_idx must be below n_workers.")
    return items, workers, labels, n_items, n_workers


def vote_counts(item_idx, label_idx, n_classes: int, n_items: int | None = None) -> np.ndarray:
    """(n_items, n_classes) array: how many labels of each class each item received. Raises
    ValueError on lists of different lengths, negative or non-integer indices, or a class
    >= ``n_classes``."""
    items = _as_index(item_idx, "item_idx")
    labels = _as_index(label_idx, "label_idx")
    if items.size != labels.size:
        raise ValueError("item_idx and label_idx must have the same length.")
    if labels.size and labels.max() >= n_classes:
        raise ValueError("label_idx must be below n_classes.")
    if n_items is None:
        n_items = int(items.max()) + 1 if items.size else 0
    flat = np.bincount(items * n_classes + labels, minlength=n_items * n_classes)
    return flat.reshape(n_items, n_classes)


def majority_vote(
    item_idx,
    label_idx,
    n_classes: int,
    *,
    n_items: int | None = None,
    tie: TieRule = "none",
    seed: int = 0,
) -> np.ndarray:
    """The most frequent class of each item, as an (n_items,) int array.

    ``tie`` says what a tie for the most votes gives: ``"none"`` — ``NO_LABEL`` (-1), for live
    operation, where a tie is a disagreement to resolve, not a coin to toss; ``"lowest"`` — the
    lowest tied class index (deterministic, but biased towards low codes); ``"random"`` — one of
    the tied classes uniformly at random, from a generator seeded with ``seed`` (deterministic
    for a given seed). An item without labels is always ``NO_LABEL``. Raises ValueError as
    ``vote_counts`` does, and on an unknown tie rule.
    """
    counts = vote_counts(item_idx, label_idx, n_classes, n_items)
    result = np.argmax(counts, axis=1) if counts.size else np.zeros(0, dtype=np.int64)
    result = result.astype(np.int64)
    best = counts.max(axis=1, initial=0)
    leaders = counts == best[:, None]
    tied = leaders.sum(axis=1) > 1
    if tie == "none":
        result[tied] = NO_LABEL
    elif tie == "random":
        rng = np.random.default_rng(seed)
        # A random key per (item, class), kept only for the leaders: its argmax is a uniform
        # choice among them.
        keys = np.where(leaders[tied], rng.random(leaders[tied].shape), -1.0)
        result[tied] = np.argmax(keys, axis=1)
    elif tie != "lowest":
        raise ValueError(f"Unknown tie rule {tie!r}.")
    result[best == 0] = NO_LABEL
    return result


def _row_normalise(array: np.ndarray) -> np.ndarray:
    return array / array.sum(axis=-1, keepdims=True)


class _Fit:
    """One EM run: the label arrays and the options shared by the M- and E-steps."""

    def __init__(self, items, workers, labels, n_items, n_workers, n_classes, gold, **options):
        self.items, self.workers, self.labels = items, workers, labels
        self.n_items, self.n_workers, self.k = n_items, n_workers, n_classes
        self.method = options["method"]
        self.smoothing = options["smoothing"]
        self.shrinkage = options["shrinkage"]
        self.gold_items = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
        self.gold_classes = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
        self.counts_per_worker = np.bincount(workers, minlength=n_workers)
        seen = np.bincount(items, minlength=n_items) > 0
        seen[self.gold_items] = True
        self.seen = seen  # items with some evidence: they, and only they, inform the priors
        self.cell = workers * n_classes + labels  # (worker, answered) cell of each label
        self.diagonal = (np.arange(n_classes), np.arange(n_classes))

    def clamp(self, posteriors: np.ndarray) -> None:
        if self.gold_items.size:
            posteriors[self.gold_items] = 0.0
            posteriors[self.gold_items, self.gold_classes] = 1.0

    def m_step(self, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Priors (k,) and confusion matrices (workers, k, k) from the posteriors."""
        k = self.k
        prior_counts = posteriors[self.seen].sum(axis=0) + 1.0
        priors = prior_counts / prior_counts.sum()
        answered = posteriors[self.items]  # (n_labels, k): P(true class | data) per label
        coin = self._one_coin(answered)
        if self.method == "one_coin":
            return priors, coin
        counts = np.empty((self.n_workers, k, k))
        for c in range(k):
            counts[:, c, :] = np.bincount(
                self.cell, weights=answered[:, c], minlength=self.n_workers * k
            ).reshape(self.n_workers, k)
        counts += self.smoothing + self.shrinkage * coin
        return priors, _row_normalise(counts)

    def _one_coin(self, answered: np.ndarray) -> np.ndarray:
        """One-coin confusion matrices: accuracy on the diagonal, errors spread evenly."""
        k = self.k
        right = np.bincount(
            self.workers,
            weights=answered[np.arange(self.labels.size), self.labels],
            minlength=self.n_workers,
        )
        accuracy = (right + self.smoothing) / (self.counts_per_worker + k * self.smoothing)
        confusion = np.empty((self.n_workers, k, k))
        confusion[:] = ((1.0 - accuracy) / max(k - 1, 1))[:, None, None]
        confusion[:, self.diagonal[0], self.diagonal[1]] = accuracy[:, None]
        return confusion

    def e_step(self, priors: np.ndarray, confusion: np.ndarray) -> tuple[np.ndarray, float]:
        """Posteriors (items, k) and the log-likelihood of the labels (and gold)."""
        k = self.k
        # log pi_w[c, answered] of every label for every candidate true class c; smoothing > 0
        # keeps every entry of the confusion matrices, and every prior, positive.
        per_label = np.log(confusion).transpose(0, 2, 1).reshape(-1, k)[self.cell]
        joint = np.empty((self.n_items, k))
        for c in range(k):
            joint[:, c] = np.bincount(self.items, weights=per_label[:, c], minlength=self.n_items)
        joint += np.log(priors)
        top = joint.max(axis=1, keepdims=True)
        weights = np.exp(joint - top)
        total = weights.sum(axis=1, keepdims=True)
        posteriors = weights / total
        per_item = np.log(total[:, 0]) + top[:, 0]
        if self.gold_items.size:
            per_item[self.gold_items] = joint[self.gold_items, self.gold_classes]
        self.clamp(posteriors)
        # An item without labels or gold contributes log 1 = 0.
        return posteriors, float(per_item[self.seen].sum())


def dawid_skene(
    item_idx,
    worker_idx,
    label_idx,
    n_classes: int,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    gold: Mapping[int, int] | None = None,
    method: Method = "auto",
    min_labels_full: int = DEFAULT_MIN_LABELS_FULL,
    full_min_share: float = DEFAULT_FULL_MIN_SHARE,
    smoothing: float = DEFAULT_SMOOTHING,
    shrinkage: float = DEFAULT_SHRINKAGE,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> DawidSkeneResult:
    """Fit Dawid-Skene by EM; see the module docstring for the model and the rules.

    ``item_idx``, ``worker_idx``, ``label_idx``: equal-length sequences of non-negative ints,
    one entry per label given. ``n_items`` / ``n_workers`` default to the largest index + 1;
    an item without labels gets the priors as posteriors (or its gold class), a worker without
    labels gets the smoothing-only parameters. ``gold`` (item index -> class) anchors those
    items. ``method``, ``min_labels_full``, ``full_min_share``, ``smoothing``, ``shrinkage``,
    ``max_iter`` and ``tol`` are described in the module docstring.

    The returned posteriors are the E-step of the returned priors and confusion matrices, and
    ``log_likelihood`` is that of those parameters. Raises ValueError on mismatched or
    out-of-range indices, gold out of range, an unknown method, ``smoothing <= 0``,
    ``shrinkage < 0``, ``max_iter < 1`` or ``tol < 0``.
    """
    items, workers, labels, n_items, n_workers = _inputs(
        item_idx, worker_idx, label_idx, n_classes, n_items, n_workers
    )
    gold = {int(item): int(cls) for item, cls in (gold or {}).items()}
    for item, cls in gold.items():
        if not (0 <= item < n_items and 0 <= cls < n_classes):
            raise ValueError(f"Gold item {item} -> class {cls} is out of range.")
    if method not in ("auto", "one_coin", "full"):
        raise ValueError(f"Unknown method {method!r}.")
    if not smoothing > 0:
        raise ValueError("smoothing must be positive (it keeps every probability above 0).")
    if shrinkage < 0:
        raise ValueError("shrinkage must not be negative.")
    if max_iter < 1 or tol < 0:
        raise ValueError("max_iter must be at least 1 and tol not negative.")
    counts_per_worker = np.bincount(workers, minlength=n_workers)
    if method == "auto":
        method = (
            "full"
            if full_share(counts_per_worker, min_labels_full) >= full_min_share
            else "one_coin"
        )
    fit = _Fit(
        items,
        workers,
        labels,
        n_items,
        n_workers,
        n_classes,
        gold,
        method=method,
        smoothing=smoothing,
        shrinkage=shrinkage,
    )

    posteriors = vote_counts(items, labels, n_classes, n_items).astype(float)
    posteriors[posteriors.sum(axis=1) == 0] = 1.0
    posteriors = _row_normalise(posteriors)
    fit.clamp(posteriors)

    log_likelihood = -np.inf
    converged = False
    iterations = 0
    tol_total = tol * max(labels.size, 1)  # tol is per label, so it means the same at any size
    while iterations < max_iter:
        priors, confusion = fit.m_step(posteriors)
        posteriors, new_log_likelihood = fit.e_step(priors, confusion)
        iterations += 1
        change = abs(new_log_likelihood - log_likelihood)
        log_likelihood = new_log_likelihood
        if change <= tol_total:
            converged = True
            break
    diagonal = confusion[:, np.arange(n_classes), np.arange(n_classes)]
    return DawidSkeneResult(
        method=method,
        posteriors=posteriors,
        labels=np.argmax(posteriors, axis=1),
        priors=priors,
        worker_accuracy=diagonal @ priors,
        worker_expected_correct=_expected_correct(
            posteriors, items, workers, labels, counts_per_worker, n_workers
        ),
        confusion=confusion,
        worker_label_counts=counts_per_worker,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
    )


def _expected_correct(posteriors, items, workers, labels, counts_per_worker, n_workers):
    """Each worker's expected own fraction correct: the posterior probability of each label
    they gave, averaged over their labels. Unlike sum_c prior_c * pi_w[c, c] it weighs classes
    as the worker met them, which is what "their accuracy" means."""
    right = np.bincount(workers, weights=posteriors[items, labels], minlength=n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return right / counts_per_worker


def full_share(counts_per_worker, min_labels_full: int = DEFAULT_MIN_LABELS_FULL) -> float:
    """Share of all labels given by workers with at least ``min_labels_full`` labels (0.0 when
    there are no labels): what ``method="auto"`` compares with ``full_min_share``."""
    counts = np.asarray(counts_per_worker)
    total = counts.sum()
    return float(counts[counts >= min_labels_full].sum() / total) if total else 0.0
