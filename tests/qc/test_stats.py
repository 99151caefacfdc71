"""qc.stats against values worked out by hand or taken from published worked examples; each
expected value says where it comes from. No database."""

from __future__ import annotations

import math

import pytest

from qc.stats import (
    Interval,
    box_f1,
    chi_square_homogeneity,
    cohen_kappa,
    fleiss_kappa,
    gamma_q,
    krippendorff_alpha_nominal,
    percent_agreement,
    spearman,
    wilson,
)

# --- Wilson ------------------------------------------------------------------------------------


def test_wilson_8_of_10():
    # z = 1.96, z^2 = 3.8415, p = 0.8, n = 10: denominator 1 + z^2/n = 1.38415;
    # centre (0.8 + 0.19207) / 1.38415 = 0.71674;
    # half 1.96 / 1.38415 * sqrt(0.8 * 0.2 / 10 + 3.8415 / 400) = 1.41600 * 0.16001 = 0.22658;
    # so 0.4902 to 0.9433 (the usual textbook figure for 8/10).
    interval = wilson(8, 10)
    assert interval.rate == 0.8
    assert interval.n == 10
    assert interval.low == pytest.approx(0.4902, abs=1e-4)
    assert interval.high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_extremes():
    # 0/n: the centre equals the half-width, low is exactly 0 and high = z^2 / (n + z^2);
    # for n = 10 that is 3.8415 / 13.8415 = 0.2775.
    zero = wilson(0, 10)
    assert (zero.rate, zero.low) == (0.0, 0.0)
    assert zero.high == pytest.approx(3.841459 / 13.841459)
    # n/n mirrors it.
    full = wilson(10, 10)
    assert (full.rate, full.high) == (1.0, 1.0)
    assert full.low == pytest.approx(1 - 3.841459 / 13.841459)


def test_wilson_no_trials_knows_nothing():
    assert wilson(0, 0) == Interval(rate=None, low=0.0, high=1.0, n=0)


def test_wilson_narrows_with_n_and_widens_with_z():
    small, large = wilson(8, 10), wilson(80, 100)
    assert large.high - large.low < small.high - small.low
    wide = wilson(8, 10, z=2.576)  # 99%
    assert wide.low < small.low and wide.high > small.high


@pytest.mark.parametrize(("successes", "n", "z"), [(11, 10, 1.96), (-1, 10, 1.96), (1, 2, 0.0)])
def test_wilson_rejects_nonsense(successes, n, z):
    with pytest.raises(ValueError):
        wilson(successes, n, z)


# --- agreement ---------------------------------------------------------------------------------


def test_percent_agreement_by_hand():
    # a,a,b: 1 of 3 pairs agree; a,a: 1 of 1; the single label is skipped. Mean (1/3 + 1) / 2.
    assert percent_agreement([["a", "a", "b"], ["a", "a"], ["x"]]) == pytest.approx(2 / 3)
    assert percent_agreement([["x"], []]) is None


def test_cohen_kappa_textbook_2x2():
    # The worked example of Wikipedia's "Cohen's kappa": 50 grant proposals, both say yes 20,
    # A yes / B no 5, A no / B yes 10, both no 15. p_o = 35/50 = 0.7;
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_edges():
    assert cohen_kappa(["x", "y"], ["x", "y"]) == pytest.approx(1.0)
    # p_o = 0, p_e = 0.5: perfect disagreement on a balanced pair gives -1.
    assert cohen_kappa(["x", "y"], ["y", "x"]) == pytest.approx(-1.0)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None  # p_e = 1: 0/0
    with pytest.raises(ValueError):
        cohen_kappa(["x"], ["x", "y"])
    with pytest.raises(ValueError):
        cohen_kappa([], [])


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters each, 5 categories; the
# table gives how many raters put each subject in each category. P-bar = 0.378, P_e = 0.213,
# kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
FLEISS_ITEMS = [[c for c, k in enumerate(row) for _ in range(k)] for row in FLEISS_TABLE]


def test_fleiss_kappa_wikipedia_example():
    assert fleiss_kappa(FLEISS_ITEMS) == pytest.approx(0.210, abs=5e-4)
    # the same example's P-bar is the pairwise percent agreement
    assert percent_agreement(FLEISS_ITEMS) == pytest.approx(0.378, abs=5e-4)


def test_fleiss_kappa_needs_equal_counts():
    with pytest.raises(ValueError, match="krippendorff"):
        fleiss_kappa([["a", "b"], ["a", "b", "b"]])
    with pytest.raises(ValueError):
        fleiss_kappa([["a"], ["b"]])
    with pytest.raises(ValueError):
        fleiss_kappa([])
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None


def test_fleiss_equals_cohen_like_agreement_when_perfect():
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing data; nominal alpha = 0.743. Unit 12 has one value only.
N = None
KRIPPENDORFF_UNITS = list(
    zip(
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],  # observer A
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],  # observer B
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],  # observer C
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],  # observer D
        strict=True,
    )
)


def test_krippendorff_alpha_published_example():
    # By hand, as in the paper: n = 40 pairable values with marginals n_1..n_5 = 9, 13, 10, 5,
    # 3; only units 2, 6 and 8 disagree, and a unit of m values adds (m^2 - sum of squared
    # value counts) / (m - 1) off-diagonal coincidences: (16 - 10)/3 + (16 - 4)/3 +
    # (16 - 10)/3 = 2 + 4 + 2 = 8; sum_{c != k} n_c n_k = 40^2 - (81 + 169 + 100 + 25 + 9) = 1216;
    # alpha = 1 - 39 * 8 / 1216 = 0.7434.
    alpha = krippendorff_alpha_nominal(KRIPPENDORFF_UNITS)
    assert alpha == pytest.approx(0.743, abs=5e-4)
    assert alpha == pytest.approx(1 - 39 * 8 / 1216)


def test_krippendorff_alpha_by_hand_two_coders():
    # Two coders, units (a, a), (a, b), (b, b): pairable n = 6, n_a = n_b = 3;
    # disagreeing coincidences: unit 2 gives o_ab = o_ba = 1, so the sum over c != k is 2.
    # alpha = 1 - 5 * 2 / (2 * 3 * 3) = 1 - 10/18 = 4/9.
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "b"], ["b", "b"]]) == pytest.approx(4 / 9)


def test_krippendorff_alpha_undefined():
    assert krippendorff_alpha_nominal([[1], [None, 2]]) is None  # nothing pairable
    assert krippendorff_alpha_nominal([[1, 1], [1, 1, None]]) is None  # one value only


# --- boxes -------------------------------------------------------------------------------------


def box(x: float, label: str = "crack") -> dict:
    return {"label": label, "x": float(x), "y": 0.0, "w": 10.0, "h": 10.0}


# 10x10 boxes on one row: a shift of s along x gives IoU = (10 - s) / (10 + s).


def test_box_f1_by_hand():
    pairs = [
        # box(0) ~ box(1): 9/11 = 0.82, matched; box(5) vs box(1) (shift 4): 6/14 = 0.43, not.
        ([box(0), box(5)], [box(1)]),  # TP 1, FP 1
        ([box(0, "rust")], [box(0)]),  # different label: FP 1, FN 1
        # A crowded scene that a greedy matcher gets wrong: P_a = box(11.5) matches both
        # R1 = box(10) and R2 = box(13) (shift 1.5: 8.5/11.5 = 0.74); P_b = box(8) matches
        # R1 only (shift 2: 8/12 = 0.67; vs R2 shift 5: 5/15 = 0.33). Greedy P_a -> R1 leaves
        # P_b alone; the maximum matching pairs both. box(50) matches nothing.
        ([box(11.5), box(8), box(50)], [box(10), box(13)]),  # TP 2, FP 1
    ]
    # TP 3, FP 3, FN 1: F1 = 6 / (6 + 3 + 1) = 0.6
    assert box_f1(pairs, iou_threshold=0.5) == pytest.approx(0.6)


def test_box_f1_threshold_and_empty():
    # box(0) vs box(1) is 0.82: matched at 0.8, not at 0.9.
    assert box_f1([([box(0)], [box(1)])], iou_threshold=0.8) == pytest.approx(1.0)
    assert box_f1([([box(0)], [box(1)])], iou_threshold=0.9) == pytest.approx(0.0)
    assert box_f1([([], []), ([], [])]) is None
    assert box_f1([([], [box(0)])]) == pytest.approx(0.0)


# --- chi-square --------------------------------------------------------------------------------


def test_chi_square_by_hand_two_degrees_of_freedom():
    # Rows total 60 each, columns 30, 40, 50 of 120: expected 15, 20, 25 in both rows.
    # statistic = 2 * (5^2/15 + 0 + 5^2/25) = 2 * (5/3 + 1) = 16/3; with 2 degrees of freedom
    # the chi-square survival function is exactly exp(-x/2) = exp(-8/3) = 0.069483.
    statistic, dof, p = chi_square_homogeneity([[10, 20, 30], [20, 20, 20]])
    assert statistic == pytest.approx(16 / 3)
    assert dof == 2
    assert p == pytest.approx(math.exp(-8 / 3))
    assert p == pytest.approx(0.069483, abs=1e-6)


def test_chi_square_drops_empty_columns_and_rows():
    with_empty = [[10, 0, 20, 30], [20, 0, 20, 20], [0, 0, 0, 0]]
    assert chi_square_homogeneity(with_empty) == pytest.approx((16 / 3, 2, math.exp(-8 / 3)))


def test_chi_square_one_degree_of_freedom():
    # expected 15 in each cell: statistic = 4 * 25/15 = 20/3; for 1 degree of freedom the
    # survival function is erfc(sqrt(x/2)) = erfc(1.8257) = 0.009823.
    statistic, dof, p = chi_square_homogeneity([[10, 20], [20, 10]])
    assert (statistic, dof) == (pytest.approx(20 / 3), 1)
    assert p == pytest.approx(math.erfc(math.sqrt(10 / 3)))
    assert p == pytest.approx(0.009823, abs=1e-6)


def test_chi_square_identical_rows_and_nothing_to_test():
    assert chi_square_homogeneity([[5, 10], [10, 20]]) == (0.0, 1, 1.0)
    assert chi_square_homogeneity([[5, 0], [7, 0]]) == (0.0, 0, 1.0)  # one label used
    assert chi_square_homogeneity([[5, 7, 1]]) == (0.0, 0, 1.0)  # one batch
    with pytest.raises(ValueError):
        chi_square_homogeneity([[1, 2], [3]])
    with pytest.raises(ValueError):
        chi_square_homogeneity([[1, -2], [3, 4]])


@pytest.mark.parametrize(
    ("critical", "dof", "alpha"),
    [
        # Upper critical values from the chi-square table of the NIST/SEMATECH e-Handbook of
        # Statistical Methods (section 1.3.6.7.4), three decimals: the p-value at the
        # critical value is the column's alpha (to the rounding of the table).
        (3.841, 1, 0.05),
        (5.991, 2, 0.05),
        (11.345, 3, 0.01),
        (9.488, 4, 0.05),
        (11.070, 5, 0.05),
        (18.307, 10, 0.05),
        (29.588, 10, 0.001),
        (43.773, 30, 0.05),
    ],
)
def test_gamma_q_matches_the_chi_square_table(critical, dof, alpha):
    assert gamma_q(dof / 2, critical / 2) == pytest.approx(alpha, abs=1e-4)


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.5, 4.0, 10.0, 30.0, 80.0])
def test_gamma_q_closed_forms_on_both_branches(x):
    # Q(1/2, x/2) = erfc(sqrt(x/2)) and Q(1, x/2) = exp(-x/2); x/2 < a + 1 takes the series,
    # larger x the continued fraction.
    assert gamma_q(0.5, x / 2) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)
    assert gamma_q(1.0, x / 2) == pytest.approx(math.exp(-x / 2), rel=1e-10)


def test_gamma_q_domain():
    assert gamma_q(3.0, 0.0) == 1.0
    with pytest.raises(ValueError):
        gamma_q(0.0, 1.0)


# --- Spearman ----------------------------------------------------------------------------------


def test_spearman_wikipedia_example():
    # Wikipedia, "Spearman's rank correlation coefficient": IQ against hours of TV per week,
    # no ties, sum d^2 = 194, rho = 1 - 6 * 194 / (10 * 99) = -29/165 = -0.1758.
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert spearman(iq, tv) == pytest.approx(-29 / 165)


def test_spearman_with_ties_uses_average_ranks():
    # y = 1, 1, 2, 3 has ranks 1.5, 1.5, 3, 4; x ranks 1..4; deviations from 2.5:
    # x -1.5 -0.5 0.5 1.5, y -1 -1 0.5 1.5; sxy = 4.5, sxx = 5, syy = 4.5;
    # rho = 4.5 / sqrt(22.5) = 3 / sqrt(10) = 0.9487.
    assert spearman([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(3 / math.sqrt(10))


def test_spearman_edges():
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1], [2]) is None
    assert spearman([1, 2, 3], [5, 5, 5]) is None
    with pytest.raises(ValueError):
        spearman([1, 2], [1])
    with pytest.raises(ValueError):
        spearman([1.0, float("nan")], [1.0, 2.0])
