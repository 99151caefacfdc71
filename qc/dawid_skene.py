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
* ``majority`` — one-coin with a single accuracy p shared by all workers: the probabilistic form
  of majority vote (with p > 1/K more votes mean a higher posterior; the priors break ties and
  can outweigh a narrow lead). It is a yardstick for the choice, not a default candidate: on
  sparse synthetic crowds its held-out score came within 0.01 of one-coin's, sometimes above it,
  while its accuracy was 1.7 to 3.9 points lower.
* ``auto`` — chosen by held-out predictive likelihood (``choose_method``): the labels are split
  into ``folds`` (default 5) folds by a hash of (item, worker); each model is fitted on the
  other folds and scores every label of the held-out one by log sum_c P(true c | the item's
  other, training labels) pi_w[c, label] (an item whose labels are all held out uses the
  priors); the candidate (default ``one_coin`` and ``full``) with the highest mean over all
  labels wins, ties to the simpler, and is then fitted on all labels. Gold anchors stay in every
  fold's fit, so a held-out label on a gold item is scored against its gold class. No fixed
  threshold on labels per worker: the held-out labels measure whether the extra K(K - 1) - 1
  parameters per worker predict better than they overfit. On the nine public data sets of
  BENCHMARKS.md it picks ``full`` on all nine, where ``full`` is also the more accurate; on
  those sets thinned to 3 labels per item it still picks ``full``, again as accurate as the
  better of the two; on synthetic one-coin crowds with 2 to 3 labels per item and about 75
  labels per worker it picks ``one_coin``, 2 to 4 points more accurate than ``full``, and on the
  synthetic million of BENCHMARKS.md (one-coin workers, 5,000 labels each) ``one_coin`` too.
  ``choice`` in the result holds every model's score. The choice costs ``folds`` x 3 fits on 80%
  of the labels, so a caller that refits often runs ``choose_method`` now and then and passes
  ``method=`` in between.

Warm start. ``init_posteriors`` (items x K, the previous fit's posteriors) replaces the soft
majority vote as the starting point; from a converged fit of the same labels EM stops after two
E-steps (the first has nothing to compare with). On the synthetic million of BENCHMARKS.md, a
full refit after 1% new labels takes 14 E-steps from the previous posteriors, 42 from scratch.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Method = Literal["auto", "majority", "one_coin", "full"]
Model = Literal["majority", "one_coin", "full"]
METHODS: tuple[Model, ...] = ("majority", "one_coin", "full")  # simplest first
TieRule = Literal["none", "lowest", "random"]

NO_LABEL = -1  # majority_vote's answer for an item without a winner

DEFAULT_MIN_LABELS_FULL = 20
DEFAULT_FULL_MIN_SHARE = 0.9
DEFAULT_SMOOTHING = 0.1
DEFAULT_SHRINKAGE = 1.0
DEFAULT_MAX_ITER = 200
DEFAULT_TOL = 1e-7
DEFAULT_CANDIDATES: tuple[Model, ...] = ("one_coin", "full")
DEFAULT_FOLDS = 5


@dataclass(frozen=True, eq=False)
class DawidSkeneResult:
    method: Model  # the model fitted (what "auto" chose)
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
    # method="auto": each model's held-out log-likelihood per label (choose_method); else {}
    choice: dict[str, float] = field(default_factory=dict)


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


def _inputs(item_idx, worker_idx, label_idx, n_classes, n_items, n_workers, gold=None):
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
    gold = {int(item): int(cls) for item, cls in (gold or {}).items()}
    for item, cls in gold.items():
        if not (0 <= item < n_items and 0 <= cls < n_classes):
            raise ValueError(f"Gold item {item} -> class {cls} is out of range.")
    return items, workers, labels, n_items, n_workers, gold


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
    """One EM run: the label arrays and the options shared by the M- and E-steps.

    Posteriors are kept class-major, (k, n_items), so that every per-class pass (a gather of
    one class's posteriors per label, a bincount, the softmax over classes) reads and writes
    contiguous rows; numpy reduces across k short rows far faster than along a short axis."""

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
        # items with some evidence: they, and only they, inform the priors and the likelihood
        self.seen = None if seen.all() else seen
        self.cell = workers * n_classes + labels  # (worker, answered) cell of each label
        self.own = labels * n_items + items  # the label's own class in the flat posteriors
        if self.method != "full":
            # One-coin E-step: log pi_w[c, l] is log((1 - p_w) / (k - 1)) for every c plus, for
            # c = l only, log(p_w (k - 1) / (1 - p_w)); the labels of each class, once.
            self.by_class = [np.flatnonzero(labels == c) for c in range(n_classes)]

    def clamp(self, posteriors: np.ndarray) -> None:
        if self.gold_items.size:
            posteriors[:, self.gold_items] = 0.0
            posteriors[self.gold_classes, self.gold_items] = 1.0

    def initial(self, init_posteriors: np.ndarray | None) -> np.ndarray:
        """(k, n_items) starting posteriors: ``init_posteriors`` where a row is usable, else the
        soft majority vote (uniform for an item without labels), gold clamped."""
        k, n = self.k, self.n_items
        votes = np.bincount(self.own, minlength=k * n).reshape(k, n).astype(float)
        total = votes.sum(axis=0)
        votes[:, total == 0] = 1.0
        posteriors = votes / votes.sum(axis=0)
        if init_posteriors is not None:
            rows = min(init_posteriors.shape[0], n)
            given = init_posteriors[:rows]
            sums = given.sum(axis=1)
            usable = np.isfinite(sums) & (sums > 0)
            posteriors[:, :rows][:, usable] = (given[usable] / sums[usable, None]).T
        self.clamp(posteriors)
        return posteriors

    def m_step(self, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Priors (k,) and confusion matrices (workers, k, k) from (k, n_items) posteriors."""
        k, n_workers = self.k, self.n_workers
        evidence = posteriors if self.seen is None else posteriors[:, self.seen]
        prior_counts = evidence.sum(axis=1) + 1.0
        priors = prior_counts / prior_counts.sum()
        if self.method != "full":
            right = np.bincount(
                self.workers, weights=posteriors.ravel().take(self.own), minlength=n_workers
            )
            return priors, self._one_coin(right)
        counts = np.empty((n_workers, k, k))
        for c in range(k):
            counts[:, c, :] = np.bincount(
                self.cell, weights=posteriors[c].take(self.items), minlength=n_workers * k
            ).reshape(n_workers, k)
        # A worker's expected right answers are the diagonal of their counts.
        right = np.trace(counts, axis1=1, axis2=2)
        counts += self.smoothing + self.shrinkage * self._one_coin(right)
        return priors, _row_normalise(counts)

    def _one_coin(self, right: np.ndarray) -> np.ndarray:
        """One-coin confusion matrices from each worker's expected right answers: accuracy on
        the diagonal, errors spread evenly. ``majority`` pools all workers into one accuracy."""
        k = self.k
        if self.method == "majority":
            pooled = (right.sum() + self.smoothing) / (self.labels.size + k * self.smoothing)
            accuracy = np.full(self.n_workers, pooled)
        else:
            accuracy = (right + self.smoothing) / (self.counts_per_worker + k * self.smoothing)
        confusion = np.empty((self.n_workers, k, k))
        confusion[:] = ((1.0 - accuracy) / max(k - 1, 1))[:, None, None]
        diagonal = np.arange(k)
        confusion[:, diagonal, diagonal] = accuracy[:, None]
        return confusion

    def log_evidence(self, priors: np.ndarray, confusion: np.ndarray) -> np.ndarray:
        """(k, n_items): log prior_c + sum over the item's labels of log pi_w[c, answered]."""
        k, n = self.k, self.n_items
        # smoothing > 0 keeps every entry of the confusion matrices, and every prior, positive.
        log_confusion = np.log(confusion)
        joint = np.empty((k, n))
        if self.method == "full":
            tables = log_confusion.transpose(1, 0, 2).reshape(k, -1)  # [true c, cell]
            for c in range(k):
                joint[c] = np.bincount(self.items, weights=tables[c].take(self.cell), minlength=n)
        else:
            wrong = log_confusion[:, 0, 1] if k > 1 else np.zeros(self.n_workers)
            bonus = log_confusion[:, 0, 0] - wrong
            base = np.bincount(self.items, weights=wrong.take(self.workers), minlength=n)
            for c, rows in enumerate(self.by_class):
                joint[c] = base + np.bincount(
                    self.items.take(rows),
                    weights=bonus.take(self.workers.take(rows)),
                    minlength=n,
                )
        joint += np.log(priors)[:, None]
        return joint

    def e_step(self, priors: np.ndarray, confusion: np.ndarray) -> tuple[np.ndarray, float]:
        """(k, n_items) posteriors and the log-likelihood of the labels (and gold)."""
        joint = self.log_evidence(priors, confusion)
        gold_part = joint[self.gold_classes, self.gold_items]
        top = joint.max(axis=0)
        joint -= top
        np.exp(joint, out=joint)
        total = joint.sum(axis=0)
        joint /= total
        per_item = np.log(total)
        per_item += top
        per_item[self.gold_items] = gold_part
        self.clamp(joint)
        # An item without labels or gold contributes log 1 = 0.
        seen = per_item if self.seen is None else per_item[self.seen]
        return joint, float(seen.sum())

    def run(self, posteriors: np.ndarray, max_iter: int, tol: float):
        """EM from ``posteriors`` (k, n_items): (posteriors, priors, confusion, iterations,
        converged, log_likelihood)."""
        log_likelihood = -np.inf
        converged = False
        iterations = 0
        tol_total = tol * max(self.labels.size, 1)  # tol is per label: the same at any size
        while iterations < max_iter:
            priors, confusion = self.m_step(posteriors)
            posteriors, new_log_likelihood = self.e_step(priors, confusion)
            iterations += 1
            change = abs(new_log_likelihood - log_likelihood)
            log_likelihood = new_log_likelihood
            if change <= tol_total:
                converged = True
                break
        return posteriors, priors, confusion, iterations, converged, log_likelihood


def _check_options(method, smoothing, shrinkage, max_iter, tol, allowed=METHODS) -> None:
    if method not in allowed:
        raise ValueError(f"Unknown method {method!r}.")
    if not smoothing > 0:
        raise ValueError("smoothing must be positive (it keeps every probability above 0).")
    if shrinkage < 0:
        raise ValueError("shrinkage must not be negative.")
    if max_iter < 1 or tol < 0:
        raise ValueError("max_iter must be at least 1 and tol not negative.")


def _init_array(init_posteriors, n_classes: int) -> np.ndarray | None:
    if init_posteriors is None:
        return None
    array = np.asarray(init_posteriors, dtype=float)
    if array.ndim != 2 or array.shape[1] != n_classes:
        raise ValueError("init_posteriors must have shape (items, n_classes).")
    if (array < 0).any():
        raise ValueError("init_posteriors must not be negative.")
    return array


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
    init_posteriors: np.ndarray | None = None,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    folds: int = DEFAULT_FOLDS,
) -> DawidSkeneResult:
    """Fit Dawid-Skene by EM; see the module docstring for the models and the rules.

    ``item_idx``, ``worker_idx``, ``label_idx``: equal-length sequences of non-negative ints,
    one entry per label given. ``n_items`` / ``n_workers`` default to the largest index + 1;
    an item without labels gets the priors as posteriors (or its gold class), a worker without
    labels gets the smoothing-only parameters. ``gold`` (item index -> class) anchors those
    items. ``method`` is ``"auto"`` (``choose_method`` over ``candidates`` with ``folds``
    folds, then a fit of the winner on all labels) or one model. ``init_posteriors``
    (items x n_classes, e.g. the previous fit's ``posteriors``) replaces the soft majority vote
    as the starting point: a row with a NaN or summing to 0, and the items past its last row,
    start from the soft majority vote; rows past ``n_items`` are ignored; rows are normalised.
    ``smoothing``, ``shrinkage``, ``max_iter`` and ``tol`` are described in the module
    docstring. ``min_labels_full`` and ``full_min_share`` belonged to the old share rule; they
    are accepted and ignored.

    The returned posteriors are the E-step of the returned priors and confusion matrices, and
    ``log_likelihood`` is that of those parameters; ``choice`` holds the held-out scores when
    ``method="auto"``. Raises ValueError on mismatched or out-of-range indices, gold out of
    range, an unknown method, ``smoothing <= 0``, ``shrinkage < 0``, ``max_iter < 1``,
    ``tol < 0``, ``init_posteriors`` of the wrong shape or with negative entries, and (for
    ``"auto"``) an empty or unknown candidate list or ``folds < 2``.
    """
    del min_labels_full, full_min_share  # the share rule is gone; kept for old callers
    items, workers, labels, n_items, n_workers, gold = _inputs(
        item_idx, worker_idx, label_idx, n_classes, n_items, n_workers, gold
    )
    _check_options(method, smoothing, shrinkage, max_iter, tol, allowed=("auto", *METHODS))
    init = _init_array(init_posteriors, n_classes)
    options = {"smoothing": smoothing, "shrinkage": shrinkage}
    choice: dict[str, float] = {}
    if method == "auto":
        method, choice = _choose(
            items, workers, labels, n_items, n_workers, n_classes, gold,
            candidates=candidates, folds=folds, max_iter=max_iter, tol=tol, **options,
        )  # fmt: skip
    fit = _Fit(
        items, workers, labels, n_items, n_workers, n_classes, gold, method=method, **options
    )
    posteriors, priors, confusion, iterations, converged, log_likelihood = fit.run(
        fit.initial(init), max_iter, tol
    )
    diagonal = confusion[:, np.arange(n_classes), np.arange(n_classes)]
    return DawidSkeneResult(
        method=method,
        posteriors=np.ascontiguousarray(posteriors.T),
        labels=np.argmax(posteriors, axis=0),
        priors=priors,
        worker_accuracy=diagonal @ priors,
        worker_expected_correct=_expected_correct(posteriors, fit, n_workers),
        confusion=confusion,
        worker_label_counts=fit.counts_per_worker,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        choice=choice,
    )


def _fold_of(items: np.ndarray, workers: np.ndarray, folds: int) -> np.ndarray:
    """A fold in [0, folds) for each label from a hash of (item, worker): deterministic, the
    same for repeated rows of a pair, and unrelated to the order of the rows."""
    with np.errstate(over="ignore"):
        h = items.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        h ^= workers.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    return (h % np.uint64(folds)).astype(np.int64)


def _choose(items, workers, labels, n_items, n_workers, n_classes, gold, **options):
    candidates = tuple(options.pop("candidates"))
    folds = options.pop("folds")
    max_iter, tol = options.pop("max_iter"), options.pop("tol")
    if not candidates or any(c not in METHODS for c in candidates):
        raise ValueError(f"candidates must be some of {METHODS}.")
    if folds < 2:
        raise ValueError("folds must be at least 2.")
    # Simplest first: a tie goes to the model with fewer parameters.
    candidates = tuple(m for m in METHODS if m in candidates)
    if labels.size == 0:
        return candidates[0], {}
    fold = _fold_of(items, workers, folds)
    totals = dict.fromkeys(METHODS, 0.0)
    for f in range(folds):
        held = fold == f
        if not held.any():
            continue
        train = ~held
        hi, hw, hl = items[held], workers[held], labels[held]
        for method in METHODS:
            fit = _Fit(
                items[train], workers[train], labels[train], n_items, n_workers, n_classes,
                gold, method=method, **options,
            )  # fmt: skip
            posteriors, _, confusion, *_ = fit.run(fit.initial(None), max_iter, tol)
            # P(held-out label) = sum_c P(true c | the item's training labels) pi_w[c, label]
            tables = confusion.transpose(1, 0, 2).reshape(n_classes, -1)
            cell = hw * n_classes + hl
            predictive = sum(
                posteriors[c].take(hi) * tables[c].take(cell) for c in range(n_classes)
            )
            totals[method] += float(np.log(predictive).sum())
    scores = {method: totals[method] / labels.size for method in METHODS}
    best = max(candidates, key=lambda m: (scores[m], -candidates.index(m)))
    return best, scores


def choose_method(
    item_idx,
    worker_idx,
    label_idx,
    n_classes: int,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    gold: Mapping[int, int] | None = None,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    folds: int = DEFAULT_FOLDS,
    smoothing: float = DEFAULT_SMOOTHING,
    shrinkage: float = DEFAULT_SHRINKAGE,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> tuple[str, dict[str, float]]:
    """The model ``method="auto"`` fits, and every model's held-out score.

    Splits the labels into ``folds`` folds by a hash of (item, worker); for each fold fits
    every model of ``METHODS`` on the other folds (gold anchors kept) and scores each held-out
    label by its predictive log-probability, log sum_c P(true c | the item's training labels)
    pi_w[c, label]. Returns (the best of ``candidates`` by the mean score per label, ties to
    the simpler model; {method: mean held-out log-likelihood per label} for every model, the
    non-candidates included). With no labels: (the simplest candidate, {}). Deterministic.
    Arguments as for ``dawid_skene``; raises ValueError as it does, and on an empty or unknown
    candidate list or ``folds < 2``. Costs ``folds`` x ``len(METHODS)`` fits on 1 - 1/folds of
    the labels.
    """
    items, workers, labels, n_items, n_workers, gold = _inputs(
        item_idx, worker_idx, label_idx, n_classes, n_items, n_workers, gold
    )
    _check_options("full", smoothing, shrinkage, max_iter, tol)
    return _choose(
        items, workers, labels, n_items, n_workers, n_classes, gold,
        candidates=candidates, folds=folds, smoothing=smoothing, shrinkage=shrinkage,
        max_iter=max_iter, tol=tol,
    )  # fmt: skip


def _expected_correct(posteriors: np.ndarray, fit: _Fit, n_workers: int) -> np.ndarray:
    """Each worker's expected own fraction correct: the posterior probability of each label
    they gave, averaged over their labels. Unlike sum_c prior_c * pi_w[c, c] it weighs classes
    as the worker met them, which is what "their accuracy" means."""
    right = np.bincount(fit.workers, weights=posteriors.ravel().take(fit.own), minlength=n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return right / fit.counts_per_worker


def full_share(counts_per_worker, min_labels_full: int = DEFAULT_MIN_LABELS_FULL) -> float:
    """Share of all labels given by workers with at least ``min_labels_full`` labels (0.0 when
    there are no labels). The old ``auto`` rule compared it with 90%; the benchmark still
    reports it beside the held-out choice."""
    counts = np.asarray(counts_per_worker)
    total = counts.sum()
    return float(counts[counts >= min_labels_full].sum() / total) if total else 0.0
