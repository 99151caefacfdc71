"""The truncated, curtailed SPRT of qualification quizzes (qc/sequential.py): hand-checked
values, no database."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest

from qc import sequential
from qc.sequential import (
    SprtParams,
    Verdict,
    decide,
    fixed_operating_point,
    fixed_passes,
    llr,
    min_correct_to_pass,
    operating_point,
    operating_points,
    recommended_params,
    rule_params,
    stopping_points,
)

# Pass mark 0.8 against p0 = 0.6, Wald's 5% / 5%: a right answer adds ln(4/3) = 0.2877, a wrong
# one adds ln(1/2) = -0.6931; A = ln 19 = 2.9444, B = -ln 19.
WALD = SprtParams(p1=0.8, p0=0.6, alpha=0.05, beta=0.05, n_min=5, n_max=20)


def binomial_tail(n: int, p: float, at_least: int) -> float:
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(at_least, n + 1))


# --- llr and boundaries ----------------------------------------------------------------------


def test_llr_steps_by_hand():
    assert WALD.step_correct == pytest.approx(math.log(4 / 3))
    assert WALD.step_wrong == pytest.approx(math.log(0.5))
    assert llr(WALD, 0, 0) == 0.0
    # 8 right, 2 wrong: ln((4/3)**8 / 2**2) = ln(16384 / 6561) = 0.91516
    assert llr(WALD, 10, 8) == pytest.approx(math.log(16384 / 6561))
    assert llr(WALD, 10, 8) == pytest.approx(0.915163, abs=1e-6)
    assert llr(WALD, 3, 0) == pytest.approx(3 * math.log(0.5))


def test_wald_boundaries():
    assert WALD.upper == pytest.approx(math.log(19))
    assert WALD.lower == pytest.approx(-math.log(19))
    asymmetric = SprtParams(p1=0.8, p0=0.7, alpha=0.2, beta=0.4)
    assert asymmetric.upper == pytest.approx(math.log(0.6 / 0.2))
    assert asymmetric.lower == pytest.approx(math.log(0.4 / 0.8))


def test_fixed_rule_is_exact_in_integers():
    assert fixed_passes(16, 20, 0.8)
    assert not fixed_passes(15, 20, 0.8)
    assert fixed_passes(21, 30, 0.7)
    assert not fixed_passes(20, 30, 0.7)
    assert fixed_passes(16, 20, Decimal("0.800"))
    assert min_correct_to_pass(20, 0.8) == 16
    assert min_correct_to_pass(10, 0.75) == 8
    assert min_correct_to_pass(30, 0.7) == 21
    assert min_correct_to_pass(5, 1.0) == 5


# --- decide --------------------------------------------------------------------------------


def test_passes_on_the_upper_boundary():
    # 10 straight right: 2.877 < A, and a run of wrong answers could still fail (SPRT at 19).
    assert decide(WALD, 10, 10).verdict is Verdict.CONTINUE
    # 11 straight right: 11 * 0.2877 = 3.1645 >= A = 2.9444.
    d = decide(WALD, 11, 11)
    assert (d.verdict, d.reason) == (Verdict.PASS, "sprt_upper")
    assert d.llr == pytest.approx(11 * math.log(4 / 3))


def test_fails_on_the_lower_boundary_only_from_n_min():
    # 4 wrong: -2.773 > B, and 16 right in a row would still pass at 20.
    assert decide(WALD, 4, 0).verdict is Verdict.CONTINUE
    d = decide(WALD, 5, 0)
    assert (d.verdict, d.reason) == (Verdict.FAIL, "sprt_lower")
    assert d.llr == pytest.approx(5 * math.log(0.5))


def test_n_min_holds_back_the_boundaries():
    # alpha = beta = 0.25: B = ln(1/3) = -1.0986; two wrong answers give -1.386 <= B.
    held = SprtParams(p1=0.8, p0=0.6, alpha=0.25, beta=0.25, n_min=5, n_max=20)
    assert llr(held, 2, 0) < held.lower
    assert decide(held, 2, 0).verdict is Verdict.CONTINUE
    eager = SprtParams(p1=0.8, p0=0.6, alpha=0.25, beta=0.25, n_min=1, n_max=20)
    assert decide(eager, 2, 0).verdict is Verdict.FAIL
    assert decide(eager, 2, 0).reason == "sprt_lower"


def test_curtailed_fail_when_the_pass_mark_is_out_of_reach():
    # 5 of 10: at most 15 of 20 < 16, and the best continuation (15 of 20, llr 0.85) stays
    # below A.
    d = decide(WALD, 10, 5)
    assert (d.verdict, d.reason) == (Verdict.FAIL, "curtailed")
    assert llr(WALD, 10, 5) > WALD.lower  # not the SPRT: curtailment
    assert decide(WALD, 9, 4).reason == "curtailed"


def test_curtailed_pass_when_the_pass_mark_is_reached():
    # 16 of 19: llr 2.523 < A, but 16 of 20 already passes at truncation.
    d = decide(WALD, 19, 16)
    assert (d.verdict, d.reason) == (Verdict.PASS, "curtailed")
    assert d.llr == pytest.approx(16 * math.log(4 / 3) + 3 * math.log(0.5))
    # 16 of 18 is past A (3.217): the SPRT's own verdict.
    assert decide(WALD, 18, 16).reason == "sprt_upper"


def test_truncation_decides_by_the_fixed_rule_at_n_max():
    assert decide(WALD, 20, 16).verdict is Verdict.PASS
    assert decide(WALD, 20, 16).reason == "truncated"
    # 15 of 20: the llr (0.85) favours H1, but 0.75 < 0.8.
    d = decide(WALD, 20, 15)
    assert (d.verdict, d.reason) == (Verdict.FAIL, "truncated")
    assert d.llr > 0


@pytest.mark.parametrize(
    "params",
    [
        WALD,
        SprtParams(p1=0.9, p0=0.7, alpha=0.3, beta=0.45, n_min=1, n_max=7),
        SprtParams(p1=0.7, p0=0.69, alpha=0.001, beta=0.001, n_min=3, n_max=13),
        recommended_params(0.8, 20),
    ],
)
def test_never_continues_at_n_max(params):
    for k in range(params.n_max + 1):
        assert decide(params, params.n_max, k).verdict is not Verdict.CONTINUE


def test_curtailment_waits_while_the_sprt_can_still_pass():
    # n_max 45 needs 36 right. After 17 of 27 even 18 more right give only 35 of 45, which the
    # fixed rule fails — but the SPRT (A = ln 9) passes at 32 of 42 on the way there, so the test
    # must go on; the verdict is the SPRT's, not a premature "curtailed" fail.
    long = SprtParams(p1=0.8, p0=0.6, alpha=0.1, beta=0.1, n_min=5, n_max=45)
    assert min_correct_to_pass(45, 0.8) == 36
    assert decide(long, 27, 17).verdict is Verdict.CONTINUE
    d = decide(long, 42, 32)
    assert (d.verdict, d.reason) == (Verdict.PASS, "sprt_upper")


def test_curtailment_may_stop_before_n_min_when_certain():
    # The recommended test for pass mark 0.8 replacing 20 questions: p0 0.7, n_min 5, B = -0.753.
    params = SprtParams(p1=0.8, p0=0.7, alpha=0.214, beta=0.37, n_min=5, n_max=30)
    # Three wrong: at question 5 the best case is 2 of 5, llr -0.949 <= B — the fail is certain.
    assert llr(params, 5, 2) <= params.lower
    assert decide(params, 3, 0).verdict is Verdict.FAIL
    assert decide(params, 3, 0).reason == "curtailed"
    # Two wrong: 3 of 5 (llr -0.410) would still be inside, so the test goes on.
    assert decide(params, 2, 0).verdict is Verdict.CONTINUE


def _uncurtailed_verdict(params: SprtParams, answers: tuple[int, ...]) -> tuple[Verdict, int]:
    """The plain truncated SPRT, written out independently: boundaries from n_min, the fixed
    rule at n_max, no curtailment."""
    k = 0
    for n, right in enumerate(answers, start=1):
        k += right
        if n == params.n_max:
            return (Verdict.PASS if fixed_passes(k, n, params.p1) else Verdict.FAIL), n
        if n >= params.n_min:
            value = k * math.log(params.p1 / params.p0) + (n - k) * math.log(
                (1 - params.p1) / (1 - params.p0)
            )
            if value >= math.log((1 - params.beta) / params.alpha):
                return Verdict.PASS, n
            if value <= math.log(params.beta / (1 - params.alpha)):
                return Verdict.FAIL, n
    raise AssertionError("ran out of answers")


@pytest.mark.parametrize(
    "params",
    [
        SprtParams(p1=0.8, p0=0.6, alpha=0.1, beta=0.1, n_min=3, n_max=12),
        SprtParams(p1=0.7, p0=0.5, alpha=0.2, beta=0.4, n_min=1, n_max=12),
        SprtParams(p1=0.9, p0=0.75, alpha=0.05, beta=0.3, n_min=5, n_max=12),
        # A wide gap: curtailing on the fixed rule alone would fail sequences the SPRT passes.
        SprtParams(p1=0.7, p0=0.3, alpha=0.3, beta=0.3, n_min=3, n_max=8),
    ],
)
def test_curtailment_never_changes_a_verdict(params):
    """Every answer sequence (2**n_max of them): the curtailed test stops no later than the
    plain one, with the same verdict."""
    for answers in itertools.product((0, 1), repeat=params.n_max):
        expected, plain_length = _uncurtailed_verdict(params, answers)
        k = 0
        for n, right in enumerate(answers, start=1):
            k += right
            d = decide(params, n, k)
            if d.verdict is not Verdict.CONTINUE:
                break
        assert d.verdict is expected, answers
        assert n <= plain_length


def test_decide_rejects_impossible_counts():
    for n, k in ((3, 4), (21, 10), (-1, 0), (5, -1)):
        with pytest.raises(ValueError):
            decide(WALD, n, k)


# --- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p1": 0.8, "p0": 0.8},  # p0 must lie below the pass mark
        {"p1": 0.8, "p0": 0.9},
        {"p1": 1.0, "p0": 0.9},
        {"p1": 0.8, "p0": 0.0},
        {"p1": 0.8, "p0": 0.6, "alpha": 0.0},
        {"p1": 0.8, "p0": 0.6, "alpha": 0.5},
        {"p1": 0.8, "p0": 0.6, "beta": 0.0},
        {"p1": 0.8, "p0": 0.6, "beta": 0.6},
        {"p1": 0.8, "p0": 0.6, "n_min": 0},
        {"p1": 0.8, "p0": 0.6, "n_min": 21, "n_max": 20},
    ],
)
def test_invalid_params_raise(kwargs):
    with pytest.raises(ValueError):
        SprtParams(**kwargs)


def test_decimal_quiz_fields_are_accepted():
    params = SprtParams(
        p1=Decimal("0.800"), p0=Decimal("0.700"), alpha=Decimal("0.214"), beta=Decimal("0.370")
    )
    assert params == SprtParams(p1=0.8, p0=0.7, alpha=0.214, beta=0.37)
    assert isinstance(params.p1, float)


def test_recommended_params_for_pass_mark_08_and_20_questions():
    # P(Bin(20, 0.7) >= 16) = 0.2375 -> alpha = 0.9 x 0.2375 = 0.214;
    # P(Bin(20, 0.8) < 16) = 0.3704 -> beta = 1.0 x 0.3704 = 0.370; n_max = 1.5 x 20.
    assert binomial_tail(20, 0.7, 16) == pytest.approx(0.23751, abs=1e-5)
    assert 1 - binomial_tail(20, 0.8, 16) == pytest.approx(0.37035, abs=1e-5)
    assert recommended_params(0.8, 20) == SprtParams(
        p1=0.8, p0=0.7, alpha=0.214, beta=0.37, n_min=5, n_max=30
    )


@pytest.mark.parametrize(("pass_mark", "n"), [(0.7, 10), (0.9, 30), (0.75, 15), (0.6, 7)])
def test_recommended_params_follow_the_documented_rule(pass_mark, n):
    params = recommended_params(pass_mark, n)
    p0 = round(pass_mark - sequential.DEFAULT_P0_GAP, 3)
    need = math.ceil(round(pass_mark * n, 9))
    assert params.p1 == pass_mark
    assert params.p0 == p0
    alpha = round(sequential.DEFAULT_ALPHA_SCALE * binomial_tail(n, p0, need), 3)
    beta = round(sequential.DEFAULT_BETA_SCALE * (1 - binomial_tail(n, pass_mark, need)), 3)
    # 0.75 x 15 and 0.6 x 7 are not whole: the fixed test really asks 12/15 = 0.8 and 5/7 = 0.71
    # and fails more than half the labelers at the mark; beta is kept below one half.
    assert params.alpha == min(alpha, 0.499)
    assert params.beta == min(beta, 0.499)
    assert params.n_max == math.ceil(sequential.DEFAULT_MAX_QUESTIONS_FACTOR * n)
    assert params.n_min == min(sequential.DEFAULT_MIN_QUESTIONS, params.n_max)


def test_rule_params_keeps_rates_storable():
    # A tiny fixed-test alpha is kept at 0.001, not rounded to 0; a beta near one half at 0.499.
    params = rule_params(
        0.9,
        40,
        p0_gap=0.4,
        alpha_scale=1.0,
        beta_scale=2.0,
        min_questions=5,
        max_questions_factor=1.0,
    )
    assert params.alpha == 0.001
    assert params.beta == 0.499
    assert params.n_max == 40


@pytest.mark.parametrize(("pass_mark", "n"), [(0.05, 20), (0.1, 20), (1.0, 20), (0.8, 0)])
def test_recommended_params_refuse_what_the_rule_cannot_serve(pass_mark, n):
    with pytest.raises(ValueError):
        recommended_params(pass_mark, n)


# --- operating characteristics --------------------------------------------------------------


def test_operating_point_at_the_extremes():
    never = operating_point(WALD, 0.0)
    assert never.pass_probability == 0.0
    assert never.expected_questions == 5.0  # five wrong: llr -3.47 <= B at n_min
    always = operating_point(WALD, 1.0)
    assert always.pass_probability == 1.0
    assert always.expected_questions == 11.0  # eleven right: llr 3.16 >= A


def test_operating_point_is_the_fixed_tests_where_the_sprt_never_fires():
    # |llr| <= 20 * ln(0.25 / 0.2) = 4.46 < A = ln 999 = 6.9: only curtailment and truncation act,
    # so P(pass) is exactly the fixed 20-question test's, with fewer questions.
    quiet = SprtParams(p1=0.8, p0=0.75, alpha=0.001, beta=0.001, n_min=1, n_max=20)
    assert 20 * abs(math.log(0.2 / 0.25)) < quiet.upper
    for p in (0.3, 0.6, 0.75, 0.8, 0.9):
        op = operating_point(quiet, p)
        assert op.pass_probability == pytest.approx(
            fixed_operating_point(20, 0.8, p).pass_probability
        )
        assert op.pass_probability == pytest.approx(binomial_tail(20, p, 16))
        assert op.expected_questions < 20
    assert operating_point(quiet, 1.0).expected_questions == 16.0  # 16 right: curtailed pass
    assert operating_point(quiet, 0.0).expected_questions == 5.0  # 5 wrong: 16 out of reach


def test_fixed_operating_point_by_hand():
    # Pass mark 0.8 over 5 questions needs 4: P = 5 p^4 (1 - p) + p^5.
    op = fixed_operating_point(5, 0.8, 0.5)
    assert op.pass_probability == pytest.approx(6 / 32)
    assert op.expected_questions == 5.0


@pytest.mark.parametrize("params", [WALD, recommended_params(0.9, 20)])
def test_stopping_points_give_the_same_operating_points(params):
    points = stopping_points(params)
    accuracies = (0.0, 0.35, 0.6, 0.8, 0.93, 1.0)
    for op, p in zip(operating_points(params, accuracies, points), accuracies, strict=True):
        reference = operating_point(params, p)
        assert op.pass_probability == pytest.approx(reference.pass_probability, abs=1e-12)
        assert op.expected_questions == pytest.approx(reference.expected_questions, abs=1e-9)
    # The stopping points partition every answer sequence: path counts weigh 2**-n to 1.
    assert sum(pt.paths / 2**pt.n for pt in points) == pytest.approx(1.0)
    assert all(pt.verdict is not Verdict.CONTINUE for pt in points)


def test_stopping_points_refuse_a_rule_that_never_decides():
    def undecided(params, n, k):
        return sequential.Decision(Verdict.CONTINUE, 0.0, "")

    with pytest.raises(ValueError):
        stopping_points(WALD, undecided)
