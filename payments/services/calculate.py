"""The calculation of a pay period's ledger: set-based, idempotent, batch by batch.

What a period pays (the semantics, stated once; docs/payments.md explains them to ops):

* **Task lines.** A label on a real task is earned when its task is decided (qc's label outcome,
  ``decided_at``; accepted when it agrees with the final answer); a label on a control task when
  its gold check is recorded (accepted when right, or when the check does not count). Control
  and real labels go into the same lines: nothing in pay tells them apart.
* **Hourly lines.** A labeler whose work is paid per active hour earns each submitted
  assignment's ``active_seconds`` when it is submitted.
* **Review lines.** A resolved review earns its reviewer the review rate when it is resolved.
* **Rates.** For a labeler and a time, each family of units (work; review) is paid at the rate
  of the most specific scope with a rate of that family in effect: labeler, vendor, internal
  staff, project. Work without a rate is not paid (and is counted on the calculation).
* **Rejected labels** earn the rate times the project's ``rejected_fraction`` (0 by default).
* **Adjustments.** When the verdict on a label paid in an approved or closed period changes, the
  earliest open or calculated period starting after that period gets an adjustment line for
  the difference, at the rate first applied; with ``clawback`` off only increases are paid.
* **Bonus lines**, per labeler, project and currency, from the project's bonus tiers and the
  Wilson interval of the labeler's gold accuracy on the project in the period.
* **Vendor fee lines**, per vendor, project and currency, from the vendor's contract.

Every piece of work is paid at most once across all periods (a unique index on paid items) and
each line's amount is rounded once (``payments.currency.round_money``).

How: one batch per project, each one transaction that locks the period row, computes the
project's desired items in SQL into a temporary table (``CREATE TEMP TABLE … AS SELECT``), groups
them into lines, and — unless the stored items of the project already equal the desired ones —
replaces the project's lines and items (``INSERT … SELECT``; no Python loop over work). Lines
without items (bonus, fees) are always rewritten. Then the ledger hash is written. A run killed
between batches leaves finished batches in place; the next run recomputes every batch and ends
at the same ledger and hash. Two runs at once serialize batch by batch on the period row and
leave one ledger.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from config.errors import Conflict
from payments.currency import plain, rate_text, round_money
from payments.ledger import ledger_hash
from payments.models import (
    BonusTier,
    Calculation,
    LedgerLine,
    PayPeriod,
    PayRate,
    VendorContract,
)
from payments.services import periods
from qc.models import GoldCheck
from qc.stats import wilson

log = logging.getLogger(__name__)

Kind = LedgerLine.Kind
Unit = PayRate.Unit
FROZEN = (PayPeriod.Status.APPROVED, PayPeriod.Status.CLOSED)
HUNDRED = Decimal(100)
SECONDS_PER_HOUR = Decimal(3600)

# Called after each committed batch with (calculation, project_id); tests replace it to stop a
# run between batches, as a killed worker would.
after_batch: Callable[[Calculation, int], None] = lambda calculation, project_id: None  # noqa: E731

# Why an adjustment was made, as its line says.
RULE_REVIEW = "A review overturned the decision"
RULE_REDECIDED = "The task was decided again"
RULE_REGRADED = "The gold check was re-graded (gold corrected or a contest upheld)"


def _units(units) -> str:
    return ", ".join(f"'{unit}'" for unit in units)


WORK = _units(PayRate.WORK_UNITS)
LABEL_UNITS = _units((Unit.ACCEPTED_LABEL, Unit.SUBMITTED_LABEL))
REVIEW = _units((Unit.RESOLVED_REVIEW,))
FROZEN_SQL = _units(FROZEN)
OPEN_SQL = _units((PayPeriod.Status.OPEN, PayPeriod.Status.CALCULATED))


def _with_rate(source: str, family: str) -> str:
    """``source`` (rows with labeler_id and earned_at) with the winning rate of ``family``: the
    most specific scope whose rate is in effect at earned_at. The exclusion constraint on rates
    leaves at most one match per scope, so each join adds no row."""
    scopes = {
        "rl": "rl.scope = 'labeler' AND rl.labeler_id = s.labeler_id",
        "rv": "rv.scope = 'vendor' AND rv.vendor_id = l.vendor_id",
        "ri": "ri.scope = 'internal' AND l.kind = 'internal'",
        "rp": "rp.scope = 'project'",
    }
    joins = "\n".join(
        f"LEFT JOIN payments_payrate {a} ON {a}.project_id = %(project)s AND {cond} "
        f"AND {a}.unit IN ({family}) AND {a}.effective_from <= s.earned_at "
        f"AND ({a}.effective_to IS NULL OR {a}.effective_to > s.earned_at)"
        for a, cond in scopes.items()
    )

    def pick(column: str) -> str:
        return f"COALESCE({', '.join(f'{a}.{column}' for a in scopes)})"

    return f"""
        SELECT s.*, COALESCE(l.vendor_id, 0) AS vendor_id, {pick("id")} AS rate_id,
               {pick("unit")} AS unit, {pick("amount")} AS amount, {pick("currency")} AS currency
        FROM ({source}) s
        JOIN workforce_labeler l ON l.id = s.labeler_id
        {joins}
    """


# The verdict on each label of the project as it stands: real labels from their outcome,
# control labels from their gold check.
VERDICTS = """
    SELECT o.assignment_id, o.labeler_id, o.decided_at AS earned_at,
           CASE WHEN o.agrees_final THEN 1 ELSE 0 END AS ok,
           CASE WHEN o.decided_by = 'review' THEN '{review}' ELSE '{redecided}' END AS why
    FROM qc_labeloutcome o WHERE o.project_id = %(project)s {window_o}
    UNION ALL
    SELECT g.assignment_id, g.labeler_id, g.checked_at AS earned_at,
           CASE WHEN g.correct OR NOT g.counted THEN 1 ELSE 0 END AS ok, '{regraded}' AS why
    FROM qc_goldcheck g WHERE g.project_id = %(project)s {window_g}
"""


def _verdicts(window_o: str = "", window_g: str = "") -> str:
    return VERDICTS.format(
        window_o=window_o,
        window_g=window_g,
        review=RULE_REVIEW,
        redecided=RULE_REDECIDED,
        regraded=RULE_REGRADED,
    )


IN_PERIOD = "AND {col} >= %(start)s AND {col} < %(end)s"
FRACTION = (
    "COALESCE((SELECT pol.rejected_fraction FROM payments_paypolicy pol "
    "WHERE pol.project_id = %(project)s), 0)"
)
CLAWBACK = (
    "COALESCE((SELECT pol.clawback FROM payments_paypolicy pol "
    "WHERE pol.project_id = %(project)s), 1 = 1)"
)


def _never_paid(kind: str, column: str, ref: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM payments_paiditem p WHERE p.kind = '{kind}' "
        f"AND p.{column} = {ref} AND p.corrects_id IS NULL AND p.period_id <> %(period)s)"
    )


TASK_ORIGINALS = f"""
    SELECT 'task' AS item_kind, w.assignment_id, CAST(NULL AS BIGINT) AS review_id,
           w.labeler_id, w.vendor_id,
           w.earned_at, w.rate_id, w.currency,
           CASE WHEN w.unit = 'submitted_label' THEN 'submitted'
                WHEN w.ok = 1 THEN 'accepted' ELSE 'rejected' END AS basis,
           ROUND(CASE WHEN w.unit = 'submitted_label' OR w.ok = 1 THEN w.amount
                      ELSE w.amount * {FRACTION} END, 6) AS unit_value,
           CAST(NULL AS BIGINT) AS corrects_id, 0 AS corrects_period,
           'task' AS line_kind, '' AS rule,
           0 AS seconds, w.amount AS rate_amount, 0 AS old_value
    FROM ({
    _with_rate(
        _verdicts(IN_PERIOD.format(col="o.decided_at"), IN_PERIOD.format(col="g.checked_at")), WORK
    )
}) w
    WHERE w.unit IN ({LABEL_UNITS}) AND {_never_paid("task", "assignment_id", "w.assignment_id")}
"""

HOURLY = f"""
    SELECT 'hourly' AS item_kind, w.assignment_id, CAST(NULL AS BIGINT) AS review_id,
           w.labeler_id, w.vendor_id,
           w.earned_at, w.rate_id, w.currency, '' AS basis,
           ROUND(w.amount * w.seconds / 3600.0, 6) AS unit_value,
           CAST(NULL AS BIGINT) AS corrects_id, 0 AS corrects_period,
           'hourly' AS line_kind, '' AS rule,
           w.seconds, w.amount AS rate_amount, 0 AS old_value
    FROM ({
    _with_rate(
        f'''
        SELECT a.id AS assignment_id, a.labeler_id, a.submitted_at AS earned_at,
               a.active_seconds AS seconds
        FROM assignments_assignment a
        WHERE a.project_id = %(project)s AND a.status = 'submitted' AND a.active_seconds > 0
        {IN_PERIOD.format(col="a.submitted_at")}
    ''',
        WORK,
    )
}) w
    WHERE w.unit = 'active_hour' AND {_never_paid("hourly", "assignment_id", "w.assignment_id")}
"""

REVIEWS = f"""
    SELECT 'review' AS item_kind, CAST(NULL AS BIGINT) AS assignment_id, w.review_id,
           w.labeler_id, w.vendor_id,
           w.earned_at, w.rate_id, w.currency, '' AS basis, w.amount AS unit_value,
           CAST(NULL AS BIGINT) AS corrects_id, 0 AS corrects_period,
           'review' AS line_kind, '' AS rule,
           0 AS seconds, w.amount AS rate_amount, 0 AS old_value
    FROM ({
    _with_rate(
        f'''
        SELECT r.id AS review_id, r.reviewer_id AS labeler_id, r.resolved_at AS earned_at
        FROM assignments_review r
        WHERE r.project_id = %(project)s AND r.status = 'resolved'
          AND r.reviewer_id IS NOT NULL {IN_PERIOD.format(col="r.resolved_at")}
    ''',
        REVIEW,
    )
}) w
    WHERE w.rate_id IS NOT NULL AND {_never_paid("review", "review_id", "w.review_id")}
"""

# The head of each label's chain of paid items in frozen periods (the item no frozen item
# corrects), whose period's adjustments land in this period, priced again from today's verdict
# at the rate first applied.
ADJUSTMENTS = f"""
    SELECT 'task' AS item_kind, x.assignment_id, CAST(NULL AS BIGINT) AS review_id,
           x.labeler_id, x.vendor_id,
           x.earned_at, x.rate_id, x.currency, x.basis, x.unit_value, x.corrects_id,
           x.corrects_period, 'adjustment' AS line_kind, x.why AS rule, 0 AS seconds,
           x.rate_amount, x.old_value
    FROM (
        SELECT h.assignment_id, hl.labeler_id, COALESCE(hl.vendor_id, 0) AS vendor_id,
               v.earned_at, hl.rate_id, hl.currency,
               CASE WHEN v.ok = 1 THEN 'accepted' ELSE 'rejected' END AS basis,
               ROUND(CASE WHEN v.ok = 1 THEN r.amount ELSE r.amount * {FRACTION} END, 6)
                   AS unit_value,
               r.amount AS rate_amount, h.unit_value AS old_value, h.id AS corrects_id,
               hp.id AS corrects_period, v.why
        FROM payments_paiditem h
        JOIN payments_payperiod hp ON hp.id = h.period_id AND hp.status IN ({FROZEN_SQL})
        JOIN payments_ledgerline hl ON hl.id = h.line_id AND hl.project_id = %(project)s
        JOIN payments_payrate r ON r.id = hl.rate_id AND r.unit = 'accepted_label'
        JOIN ({_verdicts()}) v ON v.assignment_id = h.assignment_id
        WHERE h.kind = 'task'
          AND NOT EXISTS (
              SELECT 1 FROM payments_paiditem c
              JOIN payments_payperiod cp ON cp.id = c.period_id AND cp.status IN ({FROZEN_SQL})
              WHERE c.corrects_id = h.id)
          AND (SELECT p2.id FROM payments_payperiod p2
               WHERE p2.status IN ({OPEN_SQL}) AND p2.starts_at >= hp.ends_at
               ORDER BY p2.starts_at LIMIT 1) = %(period)s
    ) x
    WHERE x.unit_value <> x.old_value AND ({CLAWBACK} OR x.unit_value > x.old_value)
"""

DESIRED = f"""
    CREATE TEMP TABLE pay_desired AS
    SELECT d.*, CASE WHEN d.line_kind = 'hourly' THEN d.rate_amount
                     ELSE d.unit_value - d.old_value END AS line_unit
    FROM ({TASK_ORIGINALS} UNION ALL {HOURLY} UNION ALL {REVIEWS} UNION ALL {ADJUSTMENTS}) d
"""
# ``line_unit`` is the line's unit rate: the item's value, for an adjustment the difference it
# pays, for hourly work the rate per hour.

LINE_COLUMNS = (
    "line_kind",
    "labeler_id",
    "vendor_id",
    "basis",
    "rate_id",
    "currency",
    "line_unit",
    "rule",
    "corrects_period",
)
GROUPS = f"""
    CREATE TEMP TABLE pay_groups AS
    SELECT ROW_NUMBER() OVER (ORDER BY {", ".join(LINE_COLUMNS)}) AS g, {", ".join(LINE_COLUMNS)},
           COUNT(*) AS n, SUM(seconds) AS seconds
    FROM pay_desired GROUP BY {", ".join(LINE_COLUMNS)}
"""
ITEMS_INSERT = f"""
    INSERT INTO payments_paiditem
        (line_id, period_id, kind, assignment_id, review_id, basis, unit_value, earned_at,
         corrects_id)
    SELECT pl.line_id, %(period)s, d.item_kind, d.assignment_id, d.review_id, d.basis,
           d.unit_value, d.earned_at, d.corrects_id
    FROM pay_desired d
    JOIN pay_groups gr ON {" AND ".join(f"gr.{c} = d.{c}" for c in LINE_COLUMNS)}
    JOIN pay_lines pl ON pl.g = gr.g
"""
# The stored items of the project in this period, as the desired ones are written.
STORED = """
    SELECT i.kind, i.assignment_id, i.review_id, i.basis, i.unit_value, i.corrects_id,
           l.labeler_id, COALESCE(l.vendor_id, 0), l.rate_id, l.rule
    FROM payments_paiditem i JOIN payments_ledgerline l ON l.id = i.line_id
    WHERE i.period_id = %(period)s AND l.project_id = %(project)s
"""
DESIRED_AS_STORED = """
    SELECT item_kind, assignment_id, review_id, basis, unit_value, corrects_id,
           labeler_id, vendor_id, rate_id, rule
    FROM pay_desired
"""
DELETE_ITEMS = """
    DELETE FROM payments_paiditem WHERE period_id = %(period)s AND line_id IN (
        SELECT id FROM payments_ledgerline
        WHERE period_id = %(period)s AND project_id = %(project)s)
"""
DELETE_LINES = """
    DELETE FROM payments_ledgerline
    WHERE period_id = %(period)s AND project_id = %(project)s AND kind IN ({kinds})
"""
EMPTY_LINE_MAP = "CREATE TEMP TABLE pay_lines AS SELECT g, g AS line_id FROM pay_groups WHERE 1 = 0"
GROUP_ROWS = f"SELECT g, {', '.join(LINE_COLUMNS)}, n, seconds FROM pay_groups ORDER BY g"


@dataclass
class _Group:
    """One line-to-be of items."""

    g: int
    kind: str
    labeler_id: int
    vendor_id: int | None
    basis: str
    rate_id: int
    currency: str
    unit: Decimal
    rule: str
    corrects_period: int
    n: int
    seconds: int


def _execute(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.rowcount


def _fetch(sql: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchall()


# The tables a calculation reads, whose statistics its plans rest on.
READ_TABLES = (
    "qc_labeloutcome",
    "qc_goldcheck",
    "assignments_assignment",
    "assignments_review",
    "workforce_labeler",
    "payments_payrate",
    "payments_paiditem",
    "payments_ledgerline",
)
# Those autovacuum would analyze now: never analyzed, or changed by more than its default
# threshold (50 rows and 10 % of the table) since they were.
STALE_STATISTICS = """
    SELECT relname FROM pg_stat_user_tables
    WHERE relname = ANY(%(tables)s)
      AND (COALESCE(last_analyze, last_autoanalyze) IS NULL
           OR n_mod_since_analyze > 50 + 0.1 * n_live_tup)
    ORDER BY relname
"""
# pg_try_advisory_xact_lock key: one calculation at a time analyzes (two ANALYZEs of one table
# at once can fail updating pg_statistic); the other goes on with what the first leaves.
ANALYZE_LOCK = 0x7061795F616E  # "pay_an"


def _refresh_statistics() -> list[str]:
    """ANALYZE the tables the calculation reads whose statistics are stale, on PostgreSQL;
    returns their names. A calculation often follows a bulk import or a month of work that
    autovacuum has not caught up with (or that a server without autovacuum never will): on no
    statistics the planner expects one row from each table, and the 'never paid before' check
    turns quadratic in the period's size."""
    if connection.vendor != "postgresql":
        return []
    with transaction.atomic():
        if not _fetch("SELECT pg_try_advisory_xact_lock(%(key)s)", {"key": ANALYZE_LOCK})[0][0]:
            return []
        stale = [row[0] for row in _fetch(STALE_STATISTICS, {"tables": list(READ_TABLES)})]
        if stale:
            _execute("ANALYZE " + ", ".join(stale))
    return stale


def _analyze_temp_tables() -> None:
    """Temporary tables are never analyzed by autovacuum: without this the items insert joins
    a million desired items to their groups on a guess of a thousand rows each."""
    if connection.vendor == "postgresql":
        _execute("ANALYZE pay_desired, pay_groups, pay_lines")


def _drop_temp_tables() -> None:
    for table in ("pay_desired", "pay_groups", "pay_lines"):
        _execute(f"DROP TABLE IF EXISTS {table}")


def _line(period: PayPeriod, project_id: int, group: _Group) -> LedgerLine:
    """The line of a group of items: quantity times unit rate, rounded once."""
    unit_rate = Decimal(group.unit)
    if group.kind == Kind.HOURLY:
        seconds = Decimal(group.seconds)
        quantity = (seconds / SECONDS_PER_HOUR).quantize(Decimal("0.0001"))
        amount = round_money(seconds * unit_rate / SECONDS_PER_HOUR, group.currency)
    else:
        quantity = Decimal(group.n)
        amount = round_money(quantity * unit_rate, group.currency)
    detail = {"corrects_period": group.corrects_period} if group.corrects_period else {}
    return LedgerLine(
        period=period,
        project_id=project_id,
        labeler_id=group.labeler_id,
        vendor_id=group.vendor_id or None,
        kind=group.kind,
        basis=group.basis,
        quantity=quantity,
        unit_rate=unit_rate,
        amount=amount,
        currency=group.currency,
        rate_id=group.rate_id,
        rule=group.rule,
        detail=detail,
        item_count=group.n,
    )


def _bonus_lines(period: PayPeriod, project_id: int, lines: list[LedgerLine]) -> list[LedgerLine]:
    """Bonus lines of the project: per labeler and currency, the highest tier whose Wilson lower
    bound and n the labeler's gold checks on the project in the period reach."""
    tiers = list(BonusTier.objects.filter(project_id=project_id).order_by("-percent"))
    if not tiers:
        return []
    base: dict[tuple[int, int | None, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.kind == Kind.TASK:
            base[line.labeler_id, line.vendor_id, line.currency] += line.amount
    checks = {
        row["labeler_id"]: row
        for row in GoldCheck.objects.filter(
            project_id=project_id,
            counted=True,
            checked_at__gte=period.starts_at,
            checked_at__lt=period.ends_at,
        )
        .values("labeler_id")
        .annotate(n=Count("pk"), correct=Count("pk", filter=Q(correct=True)))
    }
    bonuses = []
    for (labeler_id, vendor_id, currency), amount in sorted(
        base.items(), key=lambda kv: (kv[0][0], kv[0][2])
    ):
        row = checks.get(labeler_id)
        if row is None or amount <= 0:
            continue
        interval = wilson(row["correct"], row["n"])
        lower = Decimal(str(round(interval.low, 6)))
        reached = [t for t in tiers if row["n"] >= t.min_checks and lower >= t.min_lower_bound]
        if not reached:
            continue
        tier = reached[0]
        rate = tier.percent / HUNDRED
        bonuses.append(
            LedgerLine(
                period=period,
                project_id=project_id,
                labeler_id=labeler_id,
                vendor_id=vendor_id,
                kind=Kind.BONUS,
                quantity=amount,
                unit_rate=rate,
                amount=round_money(amount * rate, currency),
                currency=currency,
                rule=f"Quality bonus: +{tier.percent}% of task earnings at a gold accuracy "
                f"lower bound of at least {tier.min_lower_bound} over at least "
                f"{tier.min_checks} checks",
                detail={
                    "tier": tier.pk,
                    "percent": str(tier.percent),
                    "n": row["n"],
                    "correct": row["correct"],
                    "lower": str(lower),
                    "upper": str(Decimal(str(round(interval.high, 6)))),
                    "base": str(round_money(amount, currency)),
                },
            )
        )
    return bonuses


def _fee_lines(period: PayPeriod, project_id: int, lines: list[LedgerLine]) -> list[LedgerLine]:
    """Vendor fee lines of the project: a percentage of the vendor's labelers' lines per
    currency, and an amount per paid label in the vendor's contract currency."""
    by_vendor: dict[int, list[LedgerLine]] = defaultdict(list)
    for line in lines:
        if line.vendor_id:
            by_vendor[line.vendor_id].append(line)
    contracts = VendorContract.objects.select_related("vendor").in_bulk(
        list(by_vendor), field_name="vendor_id"
    )
    fees = []
    for vendor_id in sorted(by_vendor):
        contract = contracts.get(vendor_id)
        if contract is None:
            continue
        if contract.fee_percent:
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for line in by_vendor[vendor_id]:
                totals[line.currency] += line.amount
            rate = contract.fee_percent / HUNDRED
            for currency in sorted(totals):
                fees.append(
                    _fee(
                        period,
                        project_id,
                        vendor_id,
                        totals[currency],
                        rate,
                        currency,
                        f"Vendor fee: {plain(contract.fee_percent)}% of its labelers' earnings",
                    )
                )
        # A label that earns nothing (rejected, with no pay for rejected work) is not paid,
        # so it carries no fee either.
        labels = sum(
            (
                line.quantity
                for line in by_vendor[vendor_id]
                if line.kind == Kind.TASK and line.unit_rate > 0
            ),
            Decimal(0),
        )
        if contract.fee_per_label and labels:
            currency = contract.vendor.default_currency
            fees.append(
                _fee(
                    period,
                    project_id,
                    vendor_id,
                    labels,
                    contract.fee_per_label,
                    currency,
                    f"Vendor fee: {rate_text(contract.fee_per_label, currency)} {currency} "
                    "per paid label",
                )
            )
    return fees


def _fee(period, project_id, vendor_id, quantity, rate, currency, rule) -> LedgerLine:
    return LedgerLine(
        period=period,
        project_id=project_id,
        vendor_id=vendor_id,
        kind=Kind.VENDOR_FEE,
        quantity=quantity,
        unit_rate=rate,
        amount=round_money(quantity * rate, currency),
        currency=currency,
        rule=rule,
    )


def _project_batch(period: PayPeriod, project_id: int) -> tuple[int, int]:
    """Bring the project's part of the period's ledger to what its work says now. Runs inside
    the batch's transaction with the period row locked. Returns (lines, items) written."""
    params = {
        "project": project_id,
        "period": period.pk,
        "start": period.starts_at,
        "end": period.ends_at,
    }
    _drop_temp_tables()
    _execute(DESIRED, params)
    _execute(GROUPS)
    groups = [_Group(*row) for row in _fetch(GROUP_ROWS)]
    # The project's lines as they stand, by whether items hang on them.
    stored = LedgerLine.objects.filter(period=period, project_id=project_id)
    stored_items = stored.aggregate(n=Sum("item_count"))["n"] or 0
    unchanged = stored_items == sum(g.n for g in groups) and not _fetch(
        f"SELECT 1 FROM ({DESIRED_AS_STORED} EXCEPT {STORED}) x LIMIT 1", params
    )
    if unchanged:
        item_lines = list(stored.exclude(kind__in=(Kind.BONUS, Kind.VENDOR_FEE, Kind.DEDUCTION)))
        _execute(DELETE_LINES.format(kinds=_units((Kind.BONUS, Kind.VENDOR_FEE))), params)
        written_items = 0
    else:
        # Plain DELETEs: the ORM's would load every item to look for what protects it.
        _execute(DELETE_ITEMS, params)
        _execute(DELETE_LINES.format(kinds=_units(set(Kind) - {Kind.DEDUCTION})), params)
        item_lines = LedgerLine.objects.bulk_create(
            [_line(period, project_id, group) for group in groups], batch_size=5000
        )
        _execute(
            "CREATE TEMP TABLE pay_lines AS SELECT g, g AS line_id FROM pay_groups WHERE 1 = 0"
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pay_lines (g, line_id) VALUES (%s, %s)",
                [(group.g, line.pk) for group, line in zip(groups, item_lines, strict=True)],
            )
        _analyze_temp_tables()
        written_items = _execute(ITEMS_INSERT, params)
    extra = _bonus_lines(period, project_id, item_lines)
    extra += _fee_lines(period, project_id, item_lines + extra)
    LedgerLine.objects.bulk_create(extra)
    _drop_temp_tables()
    return (0 if unchanged else len(item_lines)) + len(extra), written_items


def _projects(period: PayPeriod) -> list[int]:
    """Projects that may owe something in the period: those with a rate, and those with lines
    in it already (their lines may have to go)."""
    with_rates = set(PayRate.objects.values_list("project_id", flat=True).distinct())
    with_lines = set(
        LedgerLine.objects.filter(period=period).values_list("project_id", flat=True).distinct()
    )
    return sorted(with_rates | with_lines)


def _lock_open(period_id: int) -> PayPeriod:
    period = PayPeriod.objects.select_for_update().get(pk=period_id)
    if period.is_frozen:
        raise Conflict(
            f"Period {period.label} is {period.status}: its ledger can no longer change.",
            code="period_frozen",
        )
    return period


def period_calculate(*, actor, period_id: int, calculation_id: int | None = None) -> Calculation:
    """Calculate (or recalculate) the ledger of an open or calculated period and move it to
    calculated, writing its ledger hash. Idempotent: the same work gives the same lines and
    hash. Records its progress on a ``Calculation`` (``calculation_id``, or a new one). A frozen
    period is a 409 ``period_frozen``; an error marks the calculation failed and is raised."""
    if calculation_id is None:
        calculation = Calculation.objects.create(period_id=period_id, actor=actor)
    else:
        calculation = Calculation.objects.get(pk=calculation_id)
    period = PayPeriod.objects.get(pk=period_id)
    if period.is_frozen:
        _finish(calculation, Calculation.Status.FAILED, error=f"Period is {period.status}.")
        raise Conflict(
            f"Period {period.label} is {period.status}: its ledger can no longer change.",
            code="period_frozen",
        )
    _refresh_statistics()
    projects = _projects(period)
    # A retried task reruns its calculation from the start: counts begin again.
    calculation.status = Calculation.Status.RUNNING
    calculation.started_at = timezone.now()
    calculation.batches_total = len(projects)
    calculation.batches_done = calculation.lines = calculation.items = 0
    calculation.error = ""
    calculation.save(
        update_fields=[
            "status",
            "started_at",
            "batches_total",
            "batches_done",
            "lines",
            "items",
            "error",
        ]
    )
    try:
        for project_id in projects:
            with transaction.atomic():
                period = _lock_open(period_id)
                lines, items = _project_batch(period, project_id)
            calculation.batches_done += 1
            calculation.lines += lines
            calculation.items += items
            calculation.save(update_fields=["batches_done", "lines", "items"])
            after_batch(calculation, project_id)
        with transaction.atomic():
            period = _lock_open(period_id)
            digest = ledger_hash(period_id)
            periods.period_mark_calculated(actor=actor, period_id=period_id, ledger_hash=digest)
    except Exception as exc:
        _finish(calculation, Calculation.Status.FAILED, error=str(exc) or type(exc).__name__)
        raise
    _finish(calculation, Calculation.Status.DONE, digest=digest)
    return calculation


def _finish(calculation: Calculation, status: str, *, digest: str = "", error: str = "") -> None:
    calculation.status = status
    calculation.ledger_hash = digest
    calculation.error = error[:2000]
    calculation.finished_at = timezone.now()
    calculation.save(update_fields=["status", "ledger_hash", "error", "finished_at"])


def calculation_queue(*, actor, period_id: int) -> Calculation:
    """Queue a calculation of the period for the Celery worker (sent once the transaction
    commits). A frozen period is a 409 ``period_frozen``."""
    from payments import tasks

    with transaction.atomic():
        _lock_open(period_id)
        calculation = Calculation.objects.create(period_id=period_id, actor=actor)
        transaction.on_commit(lambda: tasks.period_calculate_task.delay(calculation.pk))
    return calculation
