"""Statistics of label quality: intervals, agreement, drift, rank correlation. Pure; no ORM.

Every function takes plain values (numbers, label lists, box dicts) and returns plain values;
labels may be any hashable values (strings, ints). Where a statistic is undefined for the data
given (no pairs to compare, a chance agreement of 1, no variance) the function returns None
rather than a made-up number; malformed input raises ValueError.

* ``wilson`` — Wilson score interval of a rate (a labeler's accuracy on gold).
* ``percent_agreement``, ``cohen_kappa``, ``fleiss_kappa``, ``krippendorff_alpha_nominal`` —
  inter-annotator agreement on nominal labels.
* ``box_f1`` — micro-averaged F1 of boxes matched one to one at an IoU threshold, built on
  ``qc.answers.box_matching`` and ``qc.answers.boxes_match``.
* ``chi_square_homogeneity`` — Pearson's chi-square test that several batches share one label
  distribution (drift), with the p-value from the regularized incomplete gamma function.
* ``spearman`` — Spearman's rank correlation with average ranks for ties.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qc.answers import box_matching, boxes_match

Z_95 = 1.959963984540054  # the 0.975 quantile of the standard normal: a two-sided 95% interval


@dataclass(frozen=True)
class Interval:
    rate: float | None  # successes / n; None when n == 0
    low: float
    high: float
    n: int


def wilson(successes: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval for a binomial rate: ``successes`` out of ``n`` trials.

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse to a point at
    0/n or n/n, which matters for labelers with a handful of gold answers. ``n == 0`` gives
    ``Interval(None, 0.0, 1.0, 0)`` (nothing is known). Raises ValueError unless
    ``0 <= successes <= n`` and ``z > 0``.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"Need 0 <= successes <= n, got {successes} of {n}.")
    if not z > 0:
        raise ValueError("z must be positive.")
    if n == 0:
        return Interval(rate=None, low=0.0, high=1.0, n=0)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    # Rounding can push the bounds a hair past the rate at 0/n and n/n; the exact bounds are 0
    # and 1 there.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(rate=p, low=low, high=high, n=n)


def _pair_agreement(labels: Sequence[Hashable]) -> float:
    """Share of the m(m-1)/2 unordered pairs of ``labels`` that agree (m >= 2)."""
    m = len(labels)
    agreeing = sum(c * (c - 1) for c in Counter(labels).values())
    return agreeing / (m * (m - 1))


def percent_agreement(items: Iterable[Sequence[Hashable]]) -> float | None:
    """Observed pairwise agreement: for each item with at least two labels, the share of its
    pairs of labels that are equal; then the mean over those items (each item weighs the same,
    whatever its number of labels — with equal counts this is Fleiss' P-bar). Items with fewer
    than two labels are skipped; None when no item has two."""
    shares = [_pair_agreement(labels) for labels in items if len(labels) >= 2]
    if not shares:
        return None
    return sum(shares) / len(shares)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items: ``a[i]`` and ``b[i]`` label item i.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the agreement
    expected from each rater's own label frequencies. None when p_e == 1 (both raters used one
    and the same label throughout: kappa is 0/0). Raises ValueError on lists of different
    lengths or empty lists.
    """
    if len(a) != len(b):
        raise ValueError(f"The two label lists differ in length ({len(a)} and {len(b)}).")
    n = len(a)
    if n == 0:
        raise ValueError("No items.")
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in count_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(items: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa for items each labeled by the same number n >= 2 of raters (not
    necessarily the same raters).

    kappa = (P-bar - P_e) / (1 - P_e): P-bar is the mean over items of the share of agreeing
    rater pairs, P_e the sum of the squared overall label proportions. Fleiss' formula assumes
    every item has the same n; rather than silently mixing in a generalised variant this raises
    ValueError when the counts differ (or n < 2, or there are no items) — use
    ``krippendorff_alpha_nominal`` for missing or unequal labels. None when P_e == 1 (every
    label is the same one: kappa is 0/0).
    """
    if not items:
        raise ValueError("No items.")
    counts = {len(labels) for labels in items}
    if len(counts) != 1:
        raise ValueError(
            f"Fleiss' kappa needs the same number of labels on every item, got {sorted(counts)}; "
            "use krippendorff_alpha_nominal for unequal counts."
        )
    (n,) = counts
    if n < 2:
        raise ValueError("Fleiss' kappa needs at least two labels per item.")
    p_bar = sum(_pair_agreement(labels) for labels in items) / len(items)
    totals = Counter(label for labels in items for label in labels)
    grand = len(items) * n
    p_e = sum((c / grand) ** 2 for c in totals.values())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha for nominal data, by the coincidence-matrix method.

    ``units`` holds, for each unit (item), the values its coders gave; None entries are missing
    values and are dropped, so any number of coders per unit is fine. Units left with fewer than
    two values are unpairable and do not count. With o_ck the coincidences (each ordered pair of
    values within a unit of m values adds 1 / (m - 1)), n_c their marginals and n = sum n_c:

        alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c * n_k

    None when there are no pairable values or only one value occurs (no disagreement is
    expected, alpha is 0/0).
    """
    disagreement = 0.0  # sum over c != k of o_ck
    marginals: Counter[Hashable] = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        # Within a unit, the ordered pairs of different values number m^2 - sum(count^2).
        disagreement += (m * m - sum(c * c for c in counts.values())) / (m - 1)
        marginals.update(counts)
    n = sum(marginals.values())
    expected = n * n - sum(c * c for c in marginals.values())  # sum over c != k of n_c * n_k
    if n == 0 or expected == 0:
        return None
    return 1.0 - (n - 1) * disagreement / expected


def _matched_boxes(
    predicted: list[dict[str, Any]], reference: list[dict[str, Any]], t: float
) -> int:
    """Size of a maximum one-to-one matching of boxes with the same label and IoU >= ``t``.

    ``qc.answers.boxes_match`` answers only "all matched?"; F1 needs the count: the size of the
    same matching, ``qc.answers.box_matching`` (a box list holds at most ``MAX_BOXES``), with
    boxes_match as the shortcut for the common all-matched case.
    """
    if len(predicted) == len(reference) and boxes_match(predicted, reference, t):
        return len(reference)
    return sum(box_matching(reference, predicted, t))


def box_f1(
    pairs: Iterable[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
    iou_threshold: float = 0.5,
) -> float | None:
    """Micro-averaged F1 of predicted boxes against reference boxes.

    ``pairs`` holds one ``(predicted, reference)`` pair of canonical box lists (see
    ``qc.answers``) per image. In each, boxes are matched one to one (same label, IoU >=
    ``iou_threshold``, a maximum matching); matched boxes are true positives, unmatched
    predicted boxes false positives, unmatched reference boxes false negatives. The counts are
    summed over all pairs, then F1 = 2 TP / (2 TP + FP + FN). None when there are no boxes at
    all (F1 is 0/0; an empty answer to an empty image is agreement but carries no evidence).
    """
    tp = fp = fn = 0
    for predicted, reference in pairs:
        matched = _matched_boxes(predicted, reference, iou_threshold)
        tp += matched
        fp += len(predicted) - matched
        fn += len(reference) - matched
    denominator = 2 * tp + fp + fn
    if denominator == 0:
        return None
    return 2 * tp / denominator


# Regularized incomplete gamma function, after Numerical Recipes (2nd ed., sec. 6.2): the series
# converges fast for x < a + 1, the continued fraction (modified Lentz) for x >= a + 1.
_GAMMA_EPS = 1e-15
_GAMMA_TINY = 1e-300
_GAMMA_MAX_ITER = 10_000


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_GAMMA_MAX_ITER):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _GAMMA_EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_continued_fraction(a: float, x: float) -> float:
    b = x + 1.0 - a
    c = 1.0 / _GAMMA_TINY
    d = 1.0 / b
    h = d
    for i in range(1, _GAMMA_MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _GAMMA_TINY:
            d = _GAMMA_TINY
        c = b + an / c
        if abs(c) < _GAMMA_TINY:
            c = _GAMMA_TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _GAMMA_EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a), for
    a > 0 and x >= 0. The chi-square survival function is Q(dof / 2, statistic / 2)."""
    if a <= 0 or x < 0:
        raise ValueError("gamma_q needs a > 0 and x >= 0.")
    if x == 0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, x))
    return min(1.0, _gamma_q_continued_fraction(a, x))


def chi_square_homogeneity(table: Sequence[Sequence[float]]) -> tuple[float, int, float]:
    """Pearson's chi-square test of homogeneity: do the rows (batches) of a contingency table
    of label counts (rows = batches, columns = labels) share one label distribution?

    Returns ``(statistic, dof, p_value)``. Columns that are zero in every row (a label no batch
    used) and rows that are all zero (a batch with no labels) are dropped first: they carry no
    information and would make expected counts zero. dof = (rows - 1) * (columns - 1) of what
    is left; when that is 0 (one batch, or one label used throughout) there is nothing to test
    and the result is ``(0.0, 0, 1.0)``. The p-value is the chi-square survival function,
    Q(dof / 2, statistic / 2); the usual caveat applies that it is an approximation that wants
    expected counts of about 5 or more. Raises ValueError on ragged rows or negative counts.
    For drift, pass the first batch as row 0 and the batch under test as row 1.
    """
    rows = [list(map(float, row)) for row in table]
    if not rows:
        raise ValueError("Empty table.")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("Every row needs the same number of columns.")
    if any(v < 0 or not math.isfinite(v) for row in rows for v in row):
        raise ValueError("Counts must be finite and non-negative.")
    keep = [j for j in range(width) if any(row[j] > 0 for row in rows)]
    rows = [[row[j] for j in keep] for row in rows]
    rows = [row for row in rows if sum(row) > 0]
    dof = (len(rows) - 1) * (len(keep) - 1)
    if dof <= 0:
        return (0.0, 0, 1.0)
    row_totals = [sum(row) for row in rows]
    column_totals = [sum(column) for column in zip(*rows, strict=True)]
    grand = sum(row_totals)
    statistic = 0.0
    for row, row_total in zip(rows, row_totals, strict=True):
        for observed, column_total in zip(row, column_totals, strict=True):
            expected = row_total * column_total / grand
            statistic += (observed - expected) ** 2 / expected
    return (statistic, dof, gamma_q(dof / 2.0, statistic / 2.0))


def _average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end) / 2.0 + 1.0
        for k in range(start, end + 1):
            ranks[order[k]] = mean_rank
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation: Pearson's correlation of the average ranks of ``x`` and
    ``y`` (ties share the mean of their ranks, so the 1 - 6 sum d^2 / (n(n^2 - 1)) shortcut,
    exact only without ties, is not used). None with fewer than two pairs or when either side
    is constant. Raises ValueError on lists of different lengths or NaN values."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)}).")
    if any(v != v for v in (*x, *y)):  # NaN has no rank
        raise ValueError("NaN values cannot be ranked.")
    n = len(x)
    if n < 2:
        return None
    rx, ry = _average_ranks(x), _average_ranks(y)
    mean = (n + 1) / 2.0  # the mean of average ranks is always (n + 1) / 2
    sxy = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mean) ** 2 for a in rx)
    syy = sum((b - mean) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)
