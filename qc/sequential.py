"""Truncated sequential probability ratio test (SPRT) for qualification quizzes.

Pure maths: plain numbers in, plain numbers out; no ORM. See docs/sequential-qualification.md.

Each answer is a Bernoulli trial with the labeler's unknown accuracy p. We test
H1: p >= p1 (the pass mark) against H0: p <= p0 (p0 < p1), with error rates
alpha = P(pass | p = p0) and beta = P(fail | p = p1). After n answers with k correct the
log-likelihood ratio is

    llr(n, k) = k * ln(p1 / p0) + (n - k) * ln((1 - p1) / (1 - p0))

and Wald's boundaries are A = ln((1 - beta) / alpha) (pass) and B = ln(beta / (1 - alpha))
(fail). The test is truncated at ``n_max`` questions, where it falls back to the fixed-length
rule (pass iff k / n_max >= pass mark), and it is curtailed: it also stops as soon as the
fixed-length rule's verdict at ``n_max`` can no longer change whatever the remaining answers
are. No decision is taken before ``n_min`` answers, except by curtailment, which is certain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    CONTINUE = "continue"


@dataclass(frozen=True)
class SprtParams:
    p1: float  # the pass mark: accuracy at or above which a labeler should pass
    p0: float  # accuracy at or below which a labeler should fail
    alpha: float = 0.05  # P(pass) for a labeler at p0
    beta: float = 0.05  # P(fail) for a labeler at p1
    n_min: int = 5
    n_max: int = 20

    def __post_init__(self) -> None:
        if not 0.0 < self.p0 < self.p1 < 1.0:
            raise ValueError("need 0 < p0 < p1 < 1")
        if not (0.0 < self.alpha < 0.5 and 0.0 < self.beta < 0.5):
            raise ValueError("alpha and beta must lie in (0, 0.5)")
        if not 1 <= self.n_min <= self.n_max:
            raise ValueError("need 1 <= n_min <= n_max")

    @property
    def upper(self) -> float:
        return math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def step_correct(self) -> float:
        return math.log(self.p1 / self.p0)

    @property
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


def min_correct_to_pass(n: int, pass_mark: float) -> int:
    """Smallest k with k / n >= pass_mark."""
    for k in range(n + 1):
        if fixed_passes(k, n, pass_mark):
            return k
    return n + 1


def decide(params: SprtParams, n: int, k: int) -> Decision:
    """The verdict after ``k`` correct answers out of ``n`` given so far."""
    if not 0 <= k <= n <= params.n_max:
        raise ValueError("need 0 <= k <= n <= n_max")
    value = llr(params, n, k)
    need = min_correct_to_pass(params.n_max, params.p1)
    remaining = params.n_max - n
    if n == params.n_max:
        verdict = Verdict.PASS if k >= need else Verdict.FAIL
        return Decision(verdict, value, "truncated")
    if k >= need:
        return Decision(Verdict.PASS, value, "curtailed")
    if k + remaining < need:
        return Decision(Verdict.FAIL, value, "curtailed")
    if n >= params.n_min:
        if value >= params.upper:
            return Decision(Verdict.PASS, value, "sprt_upper")
        if value <= params.lower:
            return Decision(Verdict.FAIL, value, "sprt_lower")
    return Decision(Verdict.CONTINUE, value, "")


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
