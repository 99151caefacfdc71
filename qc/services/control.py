"""Adaptive control rate: each labeler's share of control (gold) tasks on a project follows how
much we still need to learn about them. See docs/adaptive-control.md for the method and the
simulation behind the constants.

Two signals, and the rate follows the stronger one:

* **width** — the width of the Wilson 95% interval of the labeler's gold accuracy on the
  project (``n = checks``, ``k = correct``). At or above ``WIDE_WIDTH`` (0.15) the labeler gets
  the project's ratio; at or below ``TARGET_WIDTH`` (0.10) the floor; in between the rate goes
  down linearly with the width. (The gold it takes to reach a width does not depend on the
  rate, so sampling slowly while the interval is still wide would only delay certainty: the
  ramp is short, and is there so a rate near the target does not flip between ratio and floor
  on every answer.)
* **drift** — ``recent``, an exponentially weighted moving average of the labeler's last
  answers on gold (weight ``EWMA_LAMBDA`` = 0.1 on the newest, about the last 19 checks), as in
  an EWMA control chart: ``d = (k / n - recent) / s``, how far it sits below the long-run
  accuracy in standard deviations of the difference,
  ``s = sqrt((lambda / (2 - lambda) + 1 / n) * p~ (1 - p~))`` with ``p~ = (k + 1) / (n + 2)``
  (the EWMA's own variance plus the long-run rate's; ``p~`` keeps it above 0 at 0/n and n/n).
  The drift rate rises linearly from the floor at ``d = DRIFT_START`` (0) to the ratio at
  ``d = DRIFT_Z`` (2.0, the drift alarm), so a dip is sampled more densely before it is a drift,
  and a drift is confirmed or cleared quickly. (Comparing ``recent`` with the long-run
  interval's *lower bound* instead was tried: that bound closes in on the rate as checks
  accumulate while the EWMA's noise does not shrink, so false alarms grow with tenure.)

``rate = min(ratio, max(width_rate, drift_rate))``; a floor above the ratio is read as the
ratio. The reason stored with the rate says which signal won: ``adaptive:new`` (no checks),
``adaptive:wide``, ``adaptive:narrowing``, ``adaptive:narrow``, ``adaptive:dip`` (the drift
signal raised the rate), ``adaptive:drift`` (``d >= DRIFT_Z``: the drift alarm).

Precedence of a quality rule: a rule's ``lower_control_rate`` action writes the row with a
reason starting with ``rule:``. While it is there, ``control_rate_update`` keeps counting
(checks, correct, recent) but leaves ``rate`` and ``reason`` alone: the rule was set by ops on
evidence of its own and is reversed by ops or cleared by the rules engine, which then calls
``control_rate_refresh`` to put the adaptive rate back from the state kept meanwhile.

The counters here steer sampling only; scores are computed from ``GoldCheck`` rows. A check
later voided by a quarantine stays in these counters (a slight over-confidence until
``control_rates_rebuild`` recounts a project from the counted checks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection, transaction

Z = 1.959963984540054  # two-sided 95%
WIDE_WIDTH = 0.15
TARGET_WIDTH = 0.10
EWMA_LAMBDA = 0.1
DRIFT_START = 0.0
DRIFT_Z = 2.0
RULE_PREFIX = "rule:"


def wilson_half_width(correct: int, n: int, z: float = Z) -> float:
    """Half the width of the Wilson interval. For every ``0 <= correct <= n`` (n > 0) the
    interval is ``centre ± half`` and stays inside [0, 1] without clamping (at 0/n the lower
    bound is exactly 0, at n/n the upper bound exactly 1), so the width is ``2 * half``."""
    p = correct / n
    zz = z * z
    denominator = 1.0 + zz / n
    return z / denominator * math.sqrt(p * (1.0 - p) / n + zz / (4.0 * n * n))


def ewma_next(recent: float | None, correct: bool, lam: float = EWMA_LAMBDA) -> float:
    """The recent accuracy after one more check: the first check starts it at 0 or 1."""
    value = 1.0 if correct else 0.0
    return value if recent is None else (1.0 - lam) * recent + lam * value


def adaptive_rate(
    *,
    checks: int,
    correct: int,
    recent: float | None,
    ratio: float,
    floor: float,
    wide: float = WIDE_WIDTH,
    target: float = TARGET_WIDTH,
    z: float = Z,
    lam: float = EWMA_LAMBDA,
    drift_start: float = DRIFT_START,
    drift_z: float = DRIFT_Z,
) -> tuple[float, str]:
    """The control rate for a labeler with ``correct`` of ``checks`` right on gold and recent
    accuracy ``recent``, on a project with ``ratio`` (the dense rate) and ``floor``; returns
    ``(rate, reason)`` (see the module docstring). Pure. Raises ValueError on impossible counts
    or ``target >= wide``."""
    if checks < 0 or not 0 <= correct <= checks:
        raise ValueError(f"Need 0 <= correct <= checks, got {correct} of {checks}.")
    if not 0 < target < wide or not drift_start < drift_z:
        raise ValueError("Need 0 < target < wide and drift_start < drift_z.")
    ratio = float(ratio)
    floor = min(float(floor), ratio)
    if checks == 0:
        return ratio, "adaptive:new"
    width = 2.0 * wilson_half_width(correct, checks, z)
    if width >= wide:
        width_rate = ratio
    elif width <= target:
        width_rate = floor
    else:
        width_rate = floor + (ratio - floor) * (width - target) / (wide - target)
    drift_rate, d = floor, -math.inf
    if recent is not None:
        smoothed = (correct + 1) / (checks + 2)
        sigma = math.sqrt((lam / (2.0 - lam) + 1.0 / checks) * smoothed * (1.0 - smoothed))
        d = (correct / checks - recent) / sigma
        share = (d - drift_start) / (drift_z - drift_start)
        drift_rate = floor + (ratio - floor) * min(max(share, 0.0), 1.0)
    if drift_rate > width_rate:
        return min(ratio, drift_rate), "adaptive:drift" if d >= drift_z else "adaptive:dip"
    if width >= wide:
        reason = "adaptive:wide"
    elif width <= target:
        reason = "adaptive:narrow"
    else:
        reason = "adaptive:narrowing"
    return min(ratio, width_rate), reason


# -- the same in SQL ----------------------------------------------------------------------------
#
# ``control_rate_update`` runs in the grading transaction of a control answer (after the submit
# commits), possibly beside other gradings of the same labeler: it is one INSERT … ON CONFLICT
# DO UPDATE whose SET computes the new counters and the rate from the row it locked. A
# read-then-write would be two statements and, without a lock between them, would lose a
# concurrent update. The expressions below mirror
# ``adaptive_rate`` term by term; they use only + - * /, sqrt and CASE, so PostgreSQL and SQLite
# (the demo) both run them. Every value is cast to double precision: integer division would
# truncate on either database.


def _f(sql: str) -> str:
    return f"CAST(({sql}) AS DOUBLE PRECISION)"


def _rate_select_sql(n: str, k: str, recent: str, ratio: str, floor: str) -> str:
    """A SELECT of one row ``(rate, reason)`` computing ``adaptive_rate`` from SQL expressions
    of its inputs (``n`` > 0 here; ``recent`` is never NULL after a check). Layered derived
    tables name each intermediate value once, so the statement stays short."""
    z, zz = repr(Z), repr(Z * Z)
    wide, target = repr(WIDE_WIDTH), repr(TARGET_WIDTH)
    d0, dz, dspan = repr(DRIFT_START), repr(DRIFT_Z), repr(DRIFT_Z - DRIFT_START)
    ewma_var = repr(EWMA_LAMBDA / (2.0 - EWMA_LAMBDA))
    return f"""
        SELECT CASE WHEN s4.best > s4.ratio THEN s4.ratio ELSE s4.best END AS rate,
               CASE WHEN s4.d_rate > s4.w_rate AND s4.d >= {dz} THEN 'adaptive:drift'
                    WHEN s4.d_rate > s4.w_rate THEN 'adaptive:dip'
                    WHEN s4.w >= {wide} THEN 'adaptive:wide'
                    WHEN s4.w <= {target} THEN 'adaptive:narrow'
                    ELSE 'adaptive:narrowing' END AS reason
        FROM (SELECT s3.*, CASE WHEN s3.d_rate > s3.w_rate THEN s3.d_rate
                                ELSE s3.w_rate END AS best
        FROM (SELECT s2.w, s2.ratio, s2.d,
                     CASE WHEN s2.w >= {wide} THEN s2.ratio
                          WHEN s2.w <= {target} THEN s2.floor
                          ELSE s2.floor + (s2.ratio - s2.floor) * (s2.w - {target})
                               / ({wide} - {target}) END AS w_rate,
                     s2.floor + (s2.ratio - s2.floor)
                       * CASE WHEN s2.d <= {d0} THEN 0.0 WHEN s2.d >= {dz} THEN 1.0
                              ELSE (s2.d - {d0}) / {dspan} END AS d_rate
        FROM (SELECT 2.0 * {z} / s0.den * sqrt(s0.p * (1.0 - s0.p) / s0.n
                       + {zz} / (4.0 * s0.n * s0.n)) AS w,
                     (s0.p - s0.r) / sqrt(({ewma_var} + 1.0 / s0.n) * s0.sm * (1.0 - s0.sm)) AS d,
                     s0.ratio, s0.floor
        FROM (SELECT v.k / v.n AS p, 1.0 + {zz} / v.n AS den, (v.k + 1.0) / (v.n + 2.0) AS sm,
                     v.n, v.r, v.ratio,
                     CASE WHEN v.floor < v.ratio THEN v.floor ELSE v.ratio END AS floor
        FROM (SELECT {_f(n)} AS n, {_f(k)} AS k, {_f(recent)} AS r, {_f(ratio)} AS ratio,
                     {_f(floor)} AS floor) v) s0) s2) s3) s4
    """  # noqa: S608 (constants of this module and SQL fragments; values are parameters)


@cache
def _upsert_sql() -> str:
    from qc.models import ControlRate  # here, so the pure maths above imports without Django

    table = connection.ops.quote_name(ControlRate._meta.db_table)
    t = table
    c = "%(c)s"
    new_n = f"{t}.checks + 1"
    new_k = f"{t}.correct + {c}"
    new_recent = (
        f"CASE WHEN {t}.checks = 0 OR {t}.recent IS NULL THEN {_f(c)}"
        f" ELSE {1.0 - EWMA_LAMBDA!r} * {t}.recent + {EWMA_LAMBDA!r} * {_f(c)} END"
    )
    first = _rate_select_sql("1", c, c, "%(ratio)s", "%(floor)s")
    later = _rate_select_sql(new_n, new_k, new_recent, "%(ratio)s", "%(floor)s")
    # A row a quality rule holds keeps its rate and reason (the counters still move).
    held = f"{t}.reason LIKE '{RULE_PREFIX}%%'"
    # ``WHERE 1 = 1``: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT.
    return f"""
        INSERT INTO {t} (labeler_id, project_id, rate, checks, correct, recent, reason,
                         updated_at)
        SELECT %(labeler)s, %(project)s, fr.rate, 1, {c}, {_f(c)}, fr.reason, %(now)s
          FROM ({first}) fr WHERE 1 = 1
        ON CONFLICT (project_id, labeler_id) DO UPDATE SET
          (rate, reason) = (
            SELECT CASE WHEN {held} THEN {t}.rate ELSE lr.rate END,
                   CASE WHEN {held} THEN {t}.reason ELSE lr.reason END
              FROM ({later}) lr),
          checks = {new_n},
          correct = {new_k},
          recent = {new_recent},
          updated_at = %(now)s
        RETURNING rate, reason, checks, correct, recent
    """  # noqa: S608 (identifiers from model metadata, constants of this module; values are parameters)


@dataclass(frozen=True)
class ControlRateRow:
    rate: float
    reason: str
    checks: int
    correct: int
    recent: float | None


def control_rate_update(
    *,
    labeler_id: int,
    project_id: int,
    correct: bool,
    ratio: float,
    floor: float,
    now: datetime,
) -> ControlRateRow:
    """Count one graded control answer and store the labeler's new control rate on the project.

    Contract for the caller (``assignments.services.submit.control_answer_grade``): call it in
    the grading transaction, right after ``gold_check_record``, once for every control answer
    whose check counts (the gold item is active), with the project's ``control_ratio`` and
    ``control_floor`` as floats — whether or not the project adapts, so the state is warm when
    it starts to. It is exactly ONE SQL statement (an INSERT … ON CONFLICT (project_id,
    labeler_id) DO UPDATE … RETURNING): it takes the ControlRate row's lock until the
    transaction ends (the labeler's own row; submits of other labelers do not wait) and
    computes the counters and the rate from the locked row, so concurrent submits of the same
    labeler never lose a count. Never raises on valid input.

    A row whose reason starts with ``rule:`` (a quality rule lowered the rate) keeps its rate
    and reason; only the counters move. What the claim gate reads: ``ControlRate.rate`` for
    (labeler, project) when ``project.adaptive_control`` is on or the reason starts with
    ``rule:``, else the project's ``control_ratio`` (``assignments.selectors.gate``). Returns
    the row as written.
    """
    params = {
        "labeler": labeler_id,
        "project": project_id,
        "ratio": float(ratio),
        "floor": float(floor),
        "now": now,
        "c": 1 if correct else 0,
    }
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), params)
        rate, reason, checks, n_correct, recent = cursor.fetchone()
    return ControlRateRow(float(rate), reason, int(checks), int(n_correct), recent)


def control_rate_refresh(
    *, labeler_id: int, project_id: int, ratio: float, floor: float, now: datetime
) -> ControlRateRow | None:
    """Put the adaptive rate back on a labeler's row from its kept state — for the rules engine
    when it clears or reverses a ``lower_control_rate`` firing (the ``rule:`` reason goes), or
    after the project's ratio or floor changed. Locks the row. Returns None when there is no
    row (the claim then uses the project's ratio)."""
    from qc.models import ControlRate

    with transaction.atomic():
        row = (
            ControlRate.objects.select_for_update()
            .filter(labeler_id=labeler_id, project_id=project_id)
            .first()
        )
        if row is None:
            return None
        row.rate, row.reason = adaptive_rate(
            checks=row.checks, correct=row.correct, recent=row.recent, ratio=ratio, floor=floor
        )
        row.updated_at = now
        row.save(update_fields=["rate", "reason", "updated_at"])
    return ControlRateRow(row.rate, row.reason, row.checks, row.correct, row.recent)


def control_rates_rebuild(*, project_id: int, ratio: float, floor: float, now: datetime) -> int:
    """Recount every labeler's state on a project from its counted gold checks (oldest first,
    so ``recent`` is replayed) and store the adaptive rate — after a quarantine voided checks or
    a correction re-graded them. Rows held by a rule keep their rate and reason. One
    transaction; reads the checks once. Returns how many rows it wrote."""
    from qc.models import ControlRate, GoldCheck

    states: dict[int, list] = {}
    rows = (
        GoldCheck.objects.filter(project_id=project_id, counted=True)
        .order_by("checked_at", "id")
        .values_list("labeler_id", "correct")
    )
    with transaction.atomic():
        for labeler_id, ok in rows.iterator(chunk_size=5000):
            state = states.setdefault(labeler_id, [0, 0, None])
            state[0] += 1
            state[1] += int(ok)
            state[2] = ewma_next(state[2], ok)
        existing = {
            r.labeler_id: r
            for r in ControlRate.objects.select_for_update().filter(project_id=project_id)
        }
        new, changed = [], []
        for labeler_id in existing.keys() | states.keys():
            checks, n_correct, recent = states.get(labeler_id, [0, 0, None])
            rate, reason = adaptive_rate(
                checks=checks, correct=n_correct, recent=recent, ratio=ratio, floor=floor
            )
            row = existing.get(labeler_id)
            if row is None:
                new.append(
                    ControlRate(
                        project_id=project_id,
                        labeler_id=labeler_id,
                        rate=rate,
                        checks=checks,
                        correct=n_correct,
                        recent=recent,
                        reason=reason,
                        updated_at=now,
                    )
                )
                continue
            row.checks, row.correct, row.recent, row.updated_at = checks, n_correct, recent, now
            if not row.reason.startswith(RULE_PREFIX):
                row.rate, row.reason = rate, reason
            changed.append(row)
        ControlRate.objects.bulk_create(new, batch_size=1000)
        ControlRate.objects.bulk_update(
            changed,
            ["checks", "correct", "recent", "rate", "reason", "updated_at"],
            batch_size=1000,
        )
    return len(new) + len(changed)


__all__ = [
    "DRIFT_START",
    "DRIFT_Z",
    "EWMA_LAMBDA",
    "TARGET_WIDTH",
    "WIDE_WIDTH",
    "ControlRateRow",
    "adaptive_rate",
    "control_rate_refresh",
    "control_rate_update",
    "control_rates_rebuild",
    "ewma_next",
    "wilson_half_width",
]
