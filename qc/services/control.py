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
import operator
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


# -- the rule, written once ---------------------------------------------------------------------
#
# The rate is computed in Python (``adaptive_rate``: the rebuild, a rule's reversal, the
# simulation) and in SQL (``control_rate_update``: one upsert in the grading transaction, which
# must compute the rate from the row it locked). Both come from one definition, ``_rule``: named
# steps built of ``_Term``s, which Python evaluates and which are written out as SQL, in the
# same order of operations (so the two agree to the last bit, not merely closely). Terms use
# only + - * /, sqrt, comparisons and CASE, so PostgreSQL and SQLite (the demo) both run them.


@dataclass(frozen=True)
class _Term:
    """A term of the rule: ``op`` over ``args`` (terms, or the constant / name of a leaf)."""

    op: str
    args: tuple


def _term(value) -> _Term:
    return value if isinstance(value, _Term) else _Term("const", (value,))


def _name(name: str) -> _Term:
    return _Term("name", (name,))


def _sqrt(x) -> _Term:
    return _Term("sqrt", (_term(x),))


def _case(condition: _Term, then, otherwise) -> _Term:
    """``then`` if ``condition`` holds, else ``otherwise`` (only the branch taken is evaluated)."""
    return _Term("case", (condition, _term(then), _term(otherwise)))


def _known(x: _Term) -> _Term:
    """``x`` is not None (not NULL)."""
    return _Term("known", (x,))


# A term's operators, written in the rule as Python's: SQL's operator, the Python one.
_PY_OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _operator(op: str, *, reflected: bool = False):
    def method(self: _Term, other) -> _Term:
        return _Term(op, (_term(other), self) if reflected else (self, _term(other)))

    return method


for _op, _python_op in _PY_OPS.items():
    _dunder = _python_op.__name__.strip("_")  # add, sub, …, lt, ge
    setattr(_Term, f"__{_dunder}__", _operator(_op))
    if _op in "+-*/":  # 1.0 - x, 2.0 * x: the constant on the left
        setattr(_Term, f"__r{_dunder}__", _operator(_op, reflected=True))
del _op, _python_op, _dunder


def _python(term: _Term):
    """The term as a Python function of ``env`` (the named values), built once per term."""
    op, args = term.op, term.args
    if op == "const":
        value = args[0]
        return lambda env: value
    if op == "name":
        return operator.itemgetter(args[0])
    inner = [_python(a) for a in args]
    if op == "known":
        return lambda env: inner[0](env) is not None
    if op == "case":
        condition, then, otherwise = inner
        return lambda env: then(env) if condition(env) else otherwise(env)
    if op == "sqrt":
        return lambda env: math.sqrt(inner[0](env))
    apply, left, right = _PY_OPS[op], inner[0], inner[1]
    return lambda env: apply(left(env), right(env))


def _sql(term: _Term, column) -> str:
    """The term as SQL; ``column(name)`` writes a reference to a named value."""
    op, args = term.op, term.args
    if op == "const":
        value = args[0]
        if isinstance(value, str):  # a reason: a constant of this module
            return "'" + value.replace("'", "''").replace("%", "%%") + "'"
        return f"({float(value)!r})"
    if op == "name":
        return column(args[0])
    if op == "known":
        return f"({_sql(args[0], column)} IS NOT NULL)"
    if op == "case":
        condition, then, otherwise = (_sql(a, column) for a in args)
        return f"CASE WHEN {condition} THEN {then} ELSE {otherwise} END"
    if op == "sqrt":
        return f"sqrt({_sql(args[0], column)})"
    return f"({_sql(args[0], column)} {op} {_sql(args[1], column)})"


#: The rule's inputs: checks, correct, recent accuracy (None before the first check), the
#: project's ratio and floor.
_INPUTS = ("n", "k", "recent", "ratio", "floor_given")


@cache
@dataclass(frozen=True)
class Tuning:
    """The rule's constants: the module's (the simulation's choice) unless a study tries
    others. Raises ValueError unless ``0 < target < wide`` and ``drift_start < drift_z``."""

    wide: float = WIDE_WIDTH
    target: float = TARGET_WIDTH
    z: float = Z
    lam: float = EWMA_LAMBDA
    drift_start: float = DRIFT_START
    drift_z: float = DRIFT_Z

    def __post_init__(self):
        if not 0 < self.target < self.wide or not self.drift_start < self.drift_z:
            raise ValueError("Need 0 < target < wide and drift_start < drift_z.")


DEFAULT = Tuning()


@cache
def _rule(tuning: Tuning = DEFAULT) -> tuple[tuple[str, _Term], ...]:
    """The rate rule as named steps, each over the inputs and the steps before it (``n > 0``);
    the last two are ``rate`` and ``reason``. The module docstring explains each signal."""
    wide, target, z, lam = tuning.wide, tuning.target, tuning.z, tuning.lam
    drift_start, drift_z = tuning.drift_start, tuning.drift_z
    n, k, recent, ratio, floor_given = (_name(x) for x in _INPUTS)
    floor, half, w, d = _name("floor"), _name("half"), _name("w"), _name("d")
    p, den, sm, share = _name("p"), _name("den"), _name("sm"), _name("share")
    w_rate, d_rate, best = _name("w_rate"), _name("d_rate"), _name("best")
    zz = z * z
    return (
        ("floor", _case(floor_given < ratio, floor_given, ratio)),  # above the ratio: the ratio
        ("p", k / n),
        ("den", 1.0 + zz / n),
        ("sm", (k + 1.0) / (n + 2.0)),  # p~: keeps the drift's s above 0 at 0/n and n/n
        # Half the Wilson interval's width: centre ± half stays inside [0, 1] unclamped.
        ("half", z / den * _sqrt(p * (1.0 - p) / n + zz / (4.0 * n * n))),
        ("w", 2.0 * half),
        # The drift in standard deviations; an unknown recent accuracy sits at the drift's
        # start, so it raises nothing.
        (
            "d",
            _case(
                _known(recent),
                (p - recent) / _sqrt((lam / (2.0 - lam) + 1.0 / n) * sm * (1.0 - sm)),
                drift_start,
            ),
        ),
        ("share", (d - drift_start) / (drift_z - drift_start)),
        (
            "w_rate",
            _case(
                w >= wide,
                ratio,
                _case(w <= target, floor, floor + (ratio - floor) * (w - target) / (wide - target)),
            ),
        ),
        (
            "d_rate",
            floor + (ratio - floor) * _case(share <= 0.0, 0.0, _case(share >= 1.0, 1.0, share)),
        ),
        ("best", _case(d_rate > w_rate, d_rate, w_rate)),  # the stronger signal
        ("rate", _case(best > ratio, ratio, best)),
        (
            "reason",
            _case(
                d_rate > w_rate,
                _case(d >= drift_z, "adaptive:drift", "adaptive:dip"),
                _case(
                    w >= wide,
                    "adaptive:wide",
                    _case(w <= target, "adaptive:narrow", "adaptive:narrowing"),
                ),
            ),
        ),
    )


@cache
def _rule_in_python(tuning: Tuning) -> tuple:
    return tuple((name, _python(term)) for name, term in _rule(tuning))


def _evaluate(env: dict, tuning: Tuning = DEFAULT, until: str | None = None) -> dict:
    """Run ``_rule(tuning)`` in Python over ``env`` (the inputs); stops after step ``until``.
    Returns every named value."""
    env = dict(env)
    for name, step in _rule_in_python(tuning):
        env[name] = step(env)
        if name == until:
            break
    return env


def wilson_half_width(correct: int, n: int, z: float = Z) -> float:
    """Half the width of the Wilson interval (the rule's ``half``). For every
    ``0 <= correct <= n`` (n > 0) the interval is ``centre ± half`` and stays inside [0, 1]
    without clamping (at 0/n the lower bound is exactly 0, at n/n the upper bound exactly 1), so
    the width is ``2 * half``."""
    env = {"n": n, "k": correct, "recent": None, "ratio": 0.0, "floor_given": 0.0}
    return _evaluate(env, DEFAULT if z == Z else Tuning(z=z), until="half")["half"]


def _ewma(lam: float = EWMA_LAMBDA) -> _Term:
    """The recent accuracy after one more check of ``value`` (0 or 1), from ``recent`` (None
    before the first check, which starts it at the value)."""
    recent, value = _name("recent"), _name("value")
    return _case(_known(recent), (1.0 - lam) * recent + lam * value, value)


@cache
def _ewma_in_python(lam: float):
    return _python(_ewma(lam))


def ewma_next(recent: float | None, correct: bool, lam: float = EWMA_LAMBDA) -> float:
    """The recent accuracy after one more check: the first check starts it at 0 or 1."""
    return _ewma_in_python(lam)({"recent": recent, "value": 1.0 if correct else 0.0})


def adaptive_rate(
    *,
    checks: int,
    correct: int,
    recent: float | None,
    ratio: float,
    floor: float,
    tuning: Tuning = DEFAULT,
) -> tuple[float, str]:
    """The control rate for a labeler with ``correct`` of ``checks`` right on gold and recent
    accuracy ``recent``, on a project with ``ratio`` (the dense rate) and ``floor``; returns
    ``(rate, reason)`` (see the module docstring; the steps are ``_rule``'s). Pure. Raises
    ValueError on impossible counts."""
    if checks < 0 or not 0 <= correct <= checks:
        raise ValueError(f"Need 0 <= correct <= checks, got {correct} of {checks}.")
    if checks == 0:  # before the first check (the SQL never sees this: it runs after one)
        return float(ratio), "adaptive:new"
    env = {
        "n": checks,
        "k": correct,
        "recent": recent,
        "ratio": float(ratio),
        "floor_given": float(floor),
    }
    out = _evaluate(env, tuning)
    return out["rate"], out["reason"]


# -- the same in SQL ----------------------------------------------------------------------------
#
# ``control_rate_update`` runs in the grading transaction of a control answer (after the submit
# commits), possibly beside other gradings of the same labeler: it is one INSERT … ON CONFLICT
# DO UPDATE whose SET computes the new counters and the rate from the row it locked. A
# read-then-write would be two statements and, without a lock between them, would lose a
# concurrent update. The rate is ``_rule`` written out; every input is cast to double precision
# (integer division would truncate on either database).


def _f(sql: str) -> str:
    return f"CAST(({sql}) AS DOUBLE PRECISION)"


def _rate_select_sql(n: str, k: str, recent: str, ratio: str, floor: str) -> str:
    """A SELECT of one row ``(rate, reason)`` computing ``_rule`` from SQL expressions of its
    inputs (``n`` > 0 here). Each step becomes a column of a derived table, one layer per depth
    of the steps it reads, so each intermediate value is named once and the statement stays
    short."""
    given = dict(zip(_INPUTS, (n, k, recent, ratio, floor), strict=True))
    depth = dict.fromkeys(_INPUTS, 0)
    layers: list[list[tuple[str, _Term]]] = []
    for name, term in _rule():
        depth[name] = 1 + max(depth[x] for x in _names(term))
        if depth[name] > len(layers):
            layers.append([])
        layers[depth[name] - 1].append((name, term))
    inputs = ", ".join(f"{_f(sql)} AS {name}" for name, sql in given.items())
    sql = f"SELECT {inputs}"
    for i, layer in enumerate(layers):
        alias = f"s{i}"
        columns = ", ".join(
            f"{_sql(term, lambda x, a=alias: f'{a}.{x}')} AS {name}" for name, term in layer
        )
        sql = f"SELECT {alias}.*, {columns} FROM ({sql}) {alias}"  # noqa: S608 (our constants)
    return f"SELECT v.rate, v.reason FROM ({sql}) v"  # noqa: S608 (our constants)


def _names(term: _Term) -> set[str]:
    """The named values a term reads."""
    if term.op == "name":
        return {term.args[0]}
    if term.op == "const":
        return set()
    return set().union(*(_names(a) for a in term.args))


@cache
def _upsert_sql() -> str:
    from qc.models import ControlRate  # here, so the pure maths above imports without Django

    table = connection.ops.quote_name(ControlRate._meta.db_table)
    t = table
    c = "%(c)s"
    new_n = f"{t}.checks + 1"
    new_k = f"{t}.correct + {c}"
    # A row a rule wrote before any check has no recent accuracy yet, whatever it holds.
    stored = {"recent": f"CASE WHEN {t}.checks = 0 THEN NULL ELSE {t}.recent END", "value": _f(c)}
    new_recent = _sql(_ewma(), stored.__getitem__)
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
    "Tuning",
    "adaptive_rate",
    "control_rate_refresh",
    "control_rate_update",
    "control_rates_rebuild",
    "ewma_next",
    "wilson_half_width",
]
