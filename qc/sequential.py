"""Truncated, curtailed sequential probability ratio test (SPRT) for qualification quizzes.

Pure maths: plain numbers in, plain numbers out; no ORM. See docs/sequential-qualification.md
and the "Sequential qualification tests" section of BENCHMARKS.md.

Each answer is a Bernoulli trial with the labeler's unknown accuracy p. We test
H1: p >= p1 (the pass mark) against H0: p <= p0 (p0 < p1), with nominal error rates
alpha = P(pass | p = p0) and beta = P(fail | p = p1). After n answers with k correct the
log-likelihood ratio is

    llr(n, k) = k * ln(p1 / p0) + (n - k) * ln((1 - p1) / (1 - p0))

and Wald's boundaries are A = ln((1 - beta) / alpha) (pass) and B = ln(beta / (1 - alpha))
(fail). Three rules make the test usable in a quiz of at most ``n_max`` questions:

* the SPRT boundaries are only consulted from ``n_min`` answers on;
* truncation: at ``n_max`` answers the fixed-length rule decides (pass iff k / n_max >= p1);
* curtailment: the test also stops as soon as every way the remaining answers could go leads
  to the same verdict (a boundary crossing or the truncation rule). Curtailment is exact: for
  every sequence of answers the verdict is the one the test would reach without it; it only
  saves questions. It may stop before ``n_min``, because it is certain.

``recommended_params`` turns a pass mark and the length of the fixed test it replaces into the
defaults measured by ``bench/sequential_qualification.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache

# The default rule, chosen by the grid search in bench/sequential_qualification.py on the pooled
# labeler population of nine public crowdsourcing data sets (see BENCHMARKS.md):
#   p0     = pass mark - DEFAULT_P0_GAP
#   alpha  = DEFAULT_ALPHA_SCALE x P(the fixed test of N questions passes a labeler at p0)
#   beta   = DEFAULT_BETA_SCALE x P(the fixed test of N questions fails a labeler at the pass mark)
#   n_min  = DEFAULT_MIN_QUESTIONS
#   n_max  = ceil(DEFAULT_MAX_QUESTIONS_FACTOR x N)
# i.e. the sequential test is asked for the fixed test's own error rate at the pass mark and 90%
# of it at p0, and may ask up to half as many questions again before it must decide. Measured:
# about 40% fewer questions than the fixed test of N = 20 at pass marks 0.7-0.9, with a lower
# wrong-decision rate (BENCHMARKS.md, docs/sequential-qualification.md).
DEFAULT_P0_GAP = 0.1
DEFAULT_ALPHA_SCALE = 0.9
DEFAULT_BETA_SCALE = 1.0
DEFAULT_MIN_QUESTIONS = 5
DEFAULT_MAX_QUESTIONS_FACTOR = 1.5

# The quiz stores p0, alpha and beta with three decimals; the recommendation is rounded to that
# so what is measured is what gets stored.
_DECIMALS = 3
_SMALLEST_RATE = 0.001
_LARGEST_RATE = 0.499


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    CONTINUE = "continue"


@dataclass(frozen=True)
class SprtParams:
    p1: float  # the pass mark: accuracy at or above which a labeler should pass
    p0: float  # accuracy at or below which a labeler should fail
    alpha: float = 0.05  # nominal P(pass) for a labeler at p0
    beta: float = 0.05  # nominal P(fail) for a labeler at p1
    n_min: int = 5
    n_max: int = 20

    def __post_init__(self) -> None:
        # Quiz fields are Decimals; the maths is in floats (and the cache keys on floats).
        for name in ("p1", "p0", "alpha", "beta"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0.0 < self.p0 < self.p1 < 1.0:
            raise ValueError("need 0 < p0 < p1 < 1")
        if not (0.0 < self.alpha < 0.5 and 0.0 < self.beta < 0.5):
            raise ValueError("alpha and beta must lie in (0, 0.5)")
        if not 1 <= self.n_min <= self.n_max:
            raise ValueError("need 1 <= n_min <= n_max")

    @cached_property
    def _decisions(self) -> tuple[tuple[Decision, ...], ...]:
        return _decision_table(self)

    @cached_property
    def upper(self) -> float:
        return math.log((1.0 - self.beta) / self.alpha)

    @cached_property
    def lower(self) -> float:
        return math.log(self.beta / (1.0 - self.alpha))

    @cached_property
    def step_correct(self) -> float:
        return math.log(self.p1 / self.p0)

    @cached_property
    def step_wrong(self) -> float:
        return math.log((1.0 - self.p1) / (1.0 - self.p0))


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    llr: float
    reason: str  # "sprt_upper", "sprt_lower", "curtailed", "truncated", or "" while continuing


def llr(params: SprtParams, n: int, k: int) -> float:
    """Log-likelihood ratio of H1 against H0 after ``k`` correct of ``n``."""
    return k * params.step_correct + (n - k) * params.step_wrong


def fixed_passes(k: int, n: int, pass_mark: float) -> bool:
    """The fixed-length rule: pass iff the fraction correct reaches the pass mark. Computed in
    integers so 0.8 * 20 is exactly 16."""
    return k * 10**9 >= math.ceil(round(pass_mark * n * 10**9, 3))


@lru_cache(maxsize=1024)
def min_correct_to_pass(n: int, pass_mark: float) -> int:
    """Smallest k with k / n >= pass_mark."""
    for k in range(n + 1):
        if fixed_passes(k, n, pass_mark):
            return k
    return n + 1


def _sprt_verdict(params: SprtParams, n: int, k: int) -> Verdict:
    """Whether Wald's boundaries stop the test at (n, k), for n < n_max."""
    if n >= params.n_min:
        value = llr(params, n, k)
        if value >= params.upper:
            return Verdict.PASS
        if value <= params.lower:
            return Verdict.FAIL
    return Verdict.CONTINUE


# Codes of the verdict table: what decide() answers at (n, k), and why.
_CONTINUE, _SPRT_PASS, _SPRT_FAIL, _CURTAIL_PASS, _CURTAIL_FAIL, _TRUNC_PASS, _TRUNC_FAIL = range(7)
_CODES = {
    _CONTINUE: (Verdict.CONTINUE, ""),
    _SPRT_PASS: (Verdict.PASS, "sprt_upper"),
    _SPRT_FAIL: (Verdict.FAIL, "sprt_lower"),
    _CURTAIL_PASS: (Verdict.PASS, "curtailed"),
    _CURTAIL_FAIL: (Verdict.FAIL, "curtailed"),
    _TRUNC_PASS: (Verdict.PASS, "truncated"),
    _TRUNC_FAIL: (Verdict.FAIL, "truncated"),
}
_CAN_PASS, _CAN_FAIL = 1, 2


@lru_cache(maxsize=512)
def _verdict_table(params: SprtParams) -> tuple[tuple[int, ...], ...]:
    """The code of decide() at every (n, k), built once per parameter set in O(n_max^2).

    Curtailment by backward induction: ``reach`` is the set of verdicts (bits _CAN_PASS,
    _CAN_FAIL) the truncated SPRT without curtailment can still reach from (n, k); where it
    holds a single verdict, the curtailed test stops there with it."""
    need = min_correct_to_pass(params.n_max, params.p1)
    last = tuple(_TRUNC_PASS if k >= need else _TRUNC_FAIL for k in range(params.n_max + 1))
    reach = [_CAN_PASS if k >= need else _CAN_FAIL for k in range(params.n_max + 1)]
    rows = [last]
    for n in range(params.n_max - 1, -1, -1):
        row = []
        new_reach = []
        for k in range(n + 1):
            verdict = _sprt_verdict(params, n, k)
            if verdict is Verdict.PASS:
                row.append(_SPRT_PASS)
                new_reach.append(_CAN_PASS)
                continue
            if verdict is Verdict.FAIL:
                row.append(_SPRT_FAIL)
                new_reach.append(_CAN_FAIL)
                continue
            can = reach[k] | reach[k + 1]
            new_reach.append(can)
            if can == _CAN_PASS:
                row.append(_CURTAIL_PASS)
            elif can == _CAN_FAIL:
                row.append(_CURTAIL_FAIL)
            else:
                row.append(_CONTINUE)
        reach = new_reach
        rows.append(tuple(row))
    return tuple(reversed(rows))


@lru_cache(maxsize=256)
def _decision_table(params: SprtParams) -> tuple[tuple[Decision, ...], ...]:
    """decide() for every (n, k), from the verdict table."""
    table = []
    for n, codes in enumerate(_verdict_table(params)):
        row = []
        for k, code in enumerate(codes):
            verdict, reason = _CODES[code]
            row.append(Decision(verdict, llr(params, n, k), reason))
        table.append(tuple(row))
    return tuple(table)


def decide(params: SprtParams, n: int, k: int) -> Decision:
    """The verdict after ``k`` correct answers out of ``n`` given so far (the test having
    continued until now). Never CONTINUE at ``n_max``; a curtailed verdict is always the one the
    uncurtailed test would reach. Raises ValueError for impossible counts."""
    if not 0 <= k <= n <= params.n_max:
        raise ValueError("need 0 <= k <= n <= n_max")
    return params._decisions[n][k]


@dataclass(frozen=True)
class OperatingPoint:
    """Exact behaviour of a test for one true accuracy."""

    p: float
    pass_probability: float
    expected_questions: float


def operating_point(params: SprtParams, p: float) -> OperatingPoint:
    """P(pass) and E[questions] for a labeler of true accuracy ``p``, computed exactly by
    dynamic programming over (questions asked, correct so far) — no simulation noise."""
    alive = {0: 1.0}  # k -> probability of still running after n answers with k correct
    pass_prob = 0.0
    expected = 0.0
    for n in range(1, params.n_max + 1):
        nxt: dict[int, float] = {}
        for k, mass in alive.items():
            for dk, q in ((1, p), (0, 1.0 - p)):
                if q == 0.0:
                    continue
                nxt[k + dk] = nxt.get(k + dk, 0.0) + mass * q
        alive = {}
        for k, mass in nxt.items():
            d = decide(params, n, k)
            if d.verdict is Verdict.CONTINUE:
                alive[k] = mass
            else:
                expected += n * mass
                if d.verdict is Verdict.PASS:
                    pass_prob += mass
    return OperatingPoint(p, pass_prob, expected)


def fixed_operating_point(n: int, pass_mark: float, p: float) -> OperatingPoint:
    """P(pass) of the fixed-length test with ``n`` questions, for true accuracy ``p``."""
    need = min_correct_to_pass(n, pass_mark)
    prob = sum(math.comb(n, k) * p**k * (1.0 - p) ** (n - k) for k in range(need, n + 1))
    return OperatingPoint(p, prob, float(n))


# --- Many accuracies at once --------------------------------------------------------------


@dataclass(frozen=True)
class StopPoint:
    """A point where the test stops: after ``n`` answers with ``k`` correct, reached by
    ``paths`` distinct answer sequences that never stopped earlier. A labeler of accuracy p
    stops there with probability paths * p**k * (1 - p)**(n - k)."""

    n: int
    k: int
    verdict: Verdict
    paths: int


def stopping_points(
    params: SprtParams, rule: Callable[[SprtParams, int, int], Decision] = decide
) -> tuple[StopPoint, ...]:
    """Every stopping point of the test given by ``rule`` (``decide`` unless another rule is
    studied), with exact integer path counts. The table does not depend on the labeler, so one
    table serves any number of accuracies: see ``operating_points``."""
    if rule is decide:
        table = _verdict_table(params)

        def verdict_at(n: int, k: int) -> Verdict:
            return _CODES[table[n][k]][0]
    else:

        def verdict_at(n: int, k: int) -> Verdict:
            return rule(params, n, k).verdict

    alive = {0: 1}
    points: list[StopPoint] = []
    for n in range(1, params.n_max + 1):
        nxt: dict[int, int] = {}
        for k, count in alive.items():
            nxt[k] = nxt.get(k, 0) + count
            nxt[k + 1] = nxt.get(k + 1, 0) + count
        alive = {}
        for k in sorted(nxt):
            verdict = verdict_at(n, k)
            if verdict is Verdict.CONTINUE:
                if n == params.n_max:
                    raise ValueError("the rule must decide at n_max")
                alive[k] = nxt[k]
            else:
                points.append(StopPoint(n, k, verdict, nxt[k]))
    return tuple(points)


def operating_points(
    params: SprtParams, accuracies: Iterable[float], points: tuple[StopPoint, ...] | None = None
) -> list[OperatingPoint]:
    """``operating_point`` for many accuracies, from one table of stopping points."""
    points = stopping_points(params) if points is None else points
    out = []
    for p in accuracies:
        pass_prob = 0.0
        expected = 0.0
        for point in points:
            mass = point.paths * p**point.k * (1.0 - p) ** (point.n - point.k)
            expected += point.n * mass
            if point.verdict is Verdict.PASS:
                pass_prob += mass
        out.append(OperatingPoint(p, pass_prob, expected))
    return out


# --- Recommended defaults -----------------------------------------------------------------


def rule_params(
    pass_mark: float,
    fixed_questions: int,
    *,
    p0_gap: float,
    alpha_scale: float,
    beta_scale: float,
    min_questions: int,
    max_questions_factor: float,
) -> SprtParams:
    """The sequential test that replaces a fixed test of ``fixed_questions`` questions at
    ``pass_mark``, by the rule described at the top of this module: p0 = pass mark - p0_gap;
    alpha and beta are the fixed test's own error rates at p0 and at the pass mark, times
    ``alpha_scale`` and ``beta_scale``; n_max = ceil(max_questions_factor x fixed_questions).
    p0, alpha and beta are rounded to three decimals (what a quiz stores); alpha and beta are
    kept within [0.001, 0.499]. Raises ValueError when the pass mark leaves no room for p0
    (pass mark <= p0_gap) or is 1 or more, or when ``fixed_questions`` < 1."""
    pass_mark = float(pass_mark)
    if fixed_questions < 1:
        raise ValueError("need at least one question")
    p0 = round(pass_mark - p0_gap, _DECIMALS)
    if not 0.0 < p0 < pass_mark < 1.0:
        raise ValueError(f"need {p0_gap} < pass mark < 1")

    def rate(value: float) -> float:
        return min(_LARGEST_RATE, max(_SMALLEST_RATE, round(value, _DECIMALS)))

    fixed_alpha = fixed_operating_point(fixed_questions, pass_mark, p0).pass_probability
    fixed_beta = 1.0 - fixed_operating_point(fixed_questions, pass_mark, pass_mark).pass_probability
    n_max = max(fixed_questions, math.ceil(round(max_questions_factor * fixed_questions, 9)))
    return SprtParams(
        p1=pass_mark,
        p0=p0,
        alpha=rate(alpha_scale * fixed_alpha),
        beta=rate(beta_scale * fixed_beta),
        n_min=min(min_questions, n_max),
        n_max=n_max,
    )


def recommended_params(pass_mark: float, fixed_questions: int) -> SprtParams:
    """The default sequential test to use in place of a fixed test of ``fixed_questions``
    questions at ``pass_mark`` (``rule_params`` with the DEFAULT_* constants; measured in
    BENCHMARKS.md). The quiz's ``num_questions`` becomes ``n_max``, ``seq_p0``, ``seq_alpha``,
    ``seq_beta`` and ``seq_min_questions`` the other fields. Raises ValueError as
    ``rule_params`` does."""
    return rule_params(
        pass_mark,
        fixed_questions,
        p0_gap=DEFAULT_P0_GAP,
        alpha_scale=DEFAULT_ALPHA_SCALE,
        beta_scale=DEFAULT_BETA_SCALE,
        min_questions=DEFAULT_MIN_QUESTIONS,
        max_questions_factor=DEFAULT_MAX_QUESTIONS_FACTOR,
    )


# --- Monitoring a labeler: the sequential quality rule ------------------------------------
#
# A quality rule with ``test = sequential`` watches a labeler's stream of observations (gold
# checks, or agreement with final labels), one Bernoulli trial each with the labeler's unknown
# accuracy p, and must tell H0: p >= t (the threshold: do not pause) from H1: p <= t - delta.
# The score is Wald's log-likelihood ratio of H1 against H0, on a grid of SCORE_UNIT nats:
#
#     a wrong answer adds  up   = round(ln((1 - t + delta) / (1 - t)) / SCORE_UNIT)
#     a right answer takes down = round(ln(t / (t - delta)) / SCORE_UNIT)
#
# from 0, never below ``floor`` = round(ln(beta / (1 - alpha)) / SCORE_UNIT) (Wald's accept
# boundary: a long good history counts for as much as an accepted test, no more, so a labeler
# who turns bad later is caught about as fast as a new one). The rule pauses the first time the
# score reaches ``boundary``. The boundary is not Wald's ln((1 - beta) / alpha): with the floor
# the test never stops in the labeler's favour, so it is computed exactly (``pause_probability``,
# a dynamic programme over the integer scores — the scores are integers so that it is exact for
# the test as run) as the lowest boundary at which a labeler of accuracy exactly t is paused
# within the first ``horizon`` observations with probability at most alpha. A labeler above t
# is paused less often; beyond the horizon the chance grows by roughly alpha per horizon.
#
# The decision depends only on the sequence of observations, never on when it is looked at:
# ``monitor`` replays the sequence and reports the first crossing, so evaluating after every
# observation, hourly or daily pauses the same labelers (a daily look pauses them later).

SCORE_UNIT = 0.005  # nats per score point
DEFAULT_HORIZON = 1000  # observations over which alpha is stated


@dataclass(frozen=True)
class MonitorParams:
    threshold: float  # t: accuracy at or above which a labeler must not be paused
    delta: float  # the test tells t from t - delta
    alpha: float = 0.05  # P(paused within the horizon) for a labeler at exactly t
    beta: float = 0.1  # sets the floor (Wald's accept boundary)
    horizon: int = DEFAULT_HORIZON

    def __post_init__(self) -> None:
        for name in ("threshold", "delta", "alpha", "beta"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0.0 < self.threshold - self.delta < self.threshold < 1.0:
            raise ValueError("need 0 < threshold - delta < threshold < 1")
        if not (0.0 < self.alpha < 0.5 and 0.0 < self.beta < 0.5):
            raise ValueError("alpha and beta must lie in (0, 0.5)")
        if self.horizon < 1:
            raise ValueError("need a horizon of at least one observation")

    @cached_property
    def up(self) -> int:
        t, d = self.threshold, self.delta
        return max(1, round(math.log((1.0 - t + d) / (1.0 - t)) / SCORE_UNIT))

    @cached_property
    def down(self) -> int:
        t, d = self.threshold, self.delta
        return max(1, round(math.log(t / (t - d)) / SCORE_UNIT))

    @cached_property
    def floor(self) -> int:
        return min(-1, round(math.log(self.beta / (1.0 - self.alpha)) / SCORE_UNIT))

    @cached_property
    def wald_boundary(self) -> int:
        """Wald's pause boundary ln((1 - beta) / alpha), in score points (for comparison)."""
        return round(math.log((1.0 - self.beta) / self.alpha) / SCORE_UNIT)

    @cached_property
    def boundary(self) -> int:
        return calibrated_boundary(self)


def pause_probability(params: MonitorParams, p: float, boundary: int, horizon: int) -> float:
    """P(the score reaches ``boundary`` within ``horizon`` observations) for a labeler of
    accuracy ``p``, exactly (up to float rounding): the distribution over the scores floor ..
    boundary - 1 is carried forward one observation at a time."""
    import numpy as np

    width = boundary - params.floor  # states floor .. boundary - 1
    if width <= 0:
        return 1.0
    up, down = params.up, params.down
    dist = np.zeros(width)
    dist[-params.floor] = 1.0  # the score starts at 0
    paused = 0.0
    for _ in range(horizon):
        nxt = np.zeros(width)
        # a right answer: down points, piling up at the floor
        if down < width:
            nxt[: width - down] += p * dist[down:]
            nxt[0] += p * dist[:down].sum()
        else:
            nxt[0] += p * dist.sum()
        # a wrong answer: up points; what reaches the boundary is paused
        if up < width:
            nxt[up:] += (1.0 - p) * dist[: width - up]
            paused += (1.0 - p) * dist[width - up :].sum()
        else:
            paused += (1.0 - p) * dist.sum()
        dist = nxt
        if dist.sum() < 1e-15:
            break
    return paused


@lru_cache(maxsize=256)
def calibrated_boundary(params: MonitorParams) -> int:
    """The lowest boundary (score points) at which a labeler of accuracy exactly
    ``params.threshold`` is paused within ``params.horizon`` observations with probability at
    most ``params.alpha`` — by bisection on ``pause_probability``, which falls as the boundary
    rises. Cached per parameter set (a few tens of milliseconds each)."""
    t, alpha, horizon = params.threshold, params.alpha, params.horizon
    lo, hi = 1, max(2, params.wald_boundary)
    while pause_probability(params, t, hi, horizon) > alpha:
        lo, hi = hi, hi * 2
    while lo < hi:  # invariant: hi is admissible
        mid = (lo + hi) // 2
        if pause_probability(params, t, mid, horizon) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass(frozen=True)
class MonitorResult:
    n: int  # observations read (up to and including the crossing, if any)
    successes: int
    score: int  # the score after them
    paused_at: int | None  # 1-based index of the observation that reached the boundary


def monitor(
    params: MonitorParams, observations: Iterable[bool], *, watch_from: int = 0
) -> MonitorResult:
    """Replay a labeler's observations in order (True: right) and stop at the first one whose
    score reaches the boundary. The same sequence always gives the same result, however it was
    looked at along the way.

    ``watch_from``: the number of observations made before the rule watched (its creation).
    They set the score but a crossing among them does not count, unless the score is still at
    or over the boundary after the last of them (the labeler is beyond it when the rule starts).
    A labeler who was bad long ago and good since is not paused by a rule made today."""
    boundary, up, down, floor = params.boundary, params.up, params.down, params.floor
    score = n = k = 0
    for ok in observations:
        n += 1
        if ok:
            k += 1
            score = max(floor, score - down)
        else:
            score += up
        if score >= boundary and n >= watch_from:
            return MonitorResult(n, k, score, n)
    return MonitorResult(n, k, score, None)
