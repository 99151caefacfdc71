"""Statements: what a labeler earned in a period and why, their earnings over periods, and the
statements of a vendor's labelers for its manager.

**Control tasks stay secret.** A control label's gold check is recorded when it is submitted,
while a real label waits for its task to be decided; a labeler who watched their earnings or
their pending count move right after a submit could tell the two apart. So every figure a
labeler sees of a period not yet approved is taken as of the start of the current day
(``qc.selectors.quality_facts.start_of_day``, the cut-off of their own scorecard): work
submitted today is pending whatever its state, and work counts as earned only if it was earned
before the start of the day. A bonus of such a period, which rests on the period's gold checks,
is shown only when the period was calculated before the start of the day. Nothing here reads
or returns whether a task is a control task, nor which assignment a line pays for.

An approved or closed period's statement is its ledger as frozen (its figures equal the
vendor's invoice). Pending work of a period is the labeler's submitted work of the period
(``starts_at <= submitted_at < ends_at``) not yet earned: no label outcome (a real task), no
gold check (a control task) and no paid item recorded before the cut-off.

Money is ``Decimal``; a statement's totals are the exact sums of its lines' amounts, each
rounded once to its currency's minor unit (``payments.currency.round_money``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from assignments.models import Assignment
from payments.currency import round_money
from payments.models import LedgerLine, PaidItem, PayPeriod
from payments.selectors.invoices import (
    FROZEN,
    PRICED,
    Priced,
    money_totals,
    pay_period_get_for,
)
from qc.models import GoldCheck, LabelOutcome
from qc.selectors.quality_facts import start_of_day
from workforce.models import Labeler, User, Vendor
from workforce.selectors import vendor_get_for

Kind = LedgerLine.Kind
SECONDS_PER_HOUR = Decimal(3600)
QUANTITY = Decimal("0.0001")
# Lines whose quantity counts paid items (work or reviews); the others rest on none.
ITEMISED = (Kind.TASK, Kind.HOURLY, Kind.REVIEW, Kind.ADJUSTMENT)


@dataclass(frozen=True)
class StatementLine(Priced):
    """A group of the labeler's lines on a project: one kind, basis, unit rate, currency and
    rule (the rule says why a bonus or an adjustment was made)."""

    kind: str
    basis: str
    rule: str


@dataclass(frozen=True)
class ProjectSection:
    project_id: int
    project: str
    lines: tuple[StatementLine, ...]
    totals: dict[str, Decimal]
    pending: int


@dataclass(frozen=True)
class Bonus:
    """The bonus tier reached on a project: ``percent`` of ``base`` (the task earnings), because
    the Wilson 95% interval of ``correct`` out of ``n`` gold checks, [``lower``, ``upper``],
    reached the tier's lower bound."""

    project_id: int
    project: str
    amount: Decimal
    currency: str
    percent: Decimal
    base: Decimal
    n: int
    correct: int
    lower: Decimal
    upper: Decimal
    tier: int
    rule: str


@dataclass(frozen=True)
class Adjustment(Priced):
    """An adjustment line: what it corrects (labels paid in ``corrects_period``) and why."""

    project_id: int
    project: str
    basis: str
    rule: str
    corrects_period: str


@dataclass(frozen=True)
class Statement:
    """A labeler's statement for a period. ``final``: the period is approved or closed and
    these are its frozen figures; otherwise they are as of ``as_of`` (the start of the day)."""

    public_code: str
    period_id: int
    period: str
    starts_at: datetime
    ends_at: datetime
    status: str
    final: bool
    as_of: datetime | None
    projects: tuple[ProjectSection, ...]
    totals: dict[str, Decimal]
    bonuses: tuple[Bonus, ...]
    adjustments: tuple[Adjustment, ...]
    pending: int


@dataclass(frozen=True)
class Earnings:
    """A labeler's statements: of approved and closed periods (``statements``, newest first)
    and of periods under way (``current``, as of the start of the day), and all their work
    still pending."""

    public_code: str
    as_of: datetime
    statements: tuple[Statement, ...]
    current: tuple[Statement, ...]
    pending: int


# -- a labeler's own -----------------------------------------------------------------------------


def statement_for(*, labeler: Labeler, period: PayPeriod, now: datetime | None = None) -> Statement:
    """The labeler's statement for ``period`` (figures of a period not yet approved as of the
    start of ``now``'s day)."""
    return _statements(labeler, [period], now or timezone.now())[0]


def earnings_for(*, labeler: Labeler, now: datetime | None = None) -> Earnings:
    """The labeler's statements of approved and closed periods in which they have lines (newest
    first), the periods begun and not yet approved (as of the start of the day) and all their
    pending work. A constant number of queries whatever the number of periods."""
    now = now or timezone.now()
    frozen = PayPeriod.objects.filter(
        status__in=FROZEN, pk__in=LedgerLine.objects.filter(labeler=labeler).values("period_id")
    )
    current = PayPeriod.objects.exclude(status__in=FROZEN).filter(starts_at__lte=now)
    periods = sorted([*frozen, *current], key=lambda p: p.starts_at, reverse=True)
    statements = _statements(labeler, periods, now)
    cutoff = start_of_day(now)
    return Earnings(
        public_code=labeler.public_code,
        as_of=cutoff,
        statements=tuple(s for s in statements if s.final),
        current=tuple(s for s in statements if not s.final),
        pending=_pending(labeler, cutoff).count(),
    )


@dataclass(frozen=True)
class EarningsSummary:
    """The headline of a labeler's ``Earnings``: ``approved``, the totals per currency of their
    statements of approved and closed periods, and ``pending``, all their work not yet earned
    as of ``as_of`` (the start of the day)."""

    as_of: datetime
    approved: dict[str, Decimal]
    pending: int


def earnings_summary_for(*, labeler: Labeler, now: datetime | None = None) -> EarningsSummary:
    """What ``earnings_for`` says in two figures, for a page that only summarises: the sum per
    currency of the totals of ``earnings_for(...).statements`` (a frozen statement's totals are
    the exact sums of its ledger lines, so the lines of the labeler's approved and closed
    periods are summed in SQL) and ``earnings_for(...).pending``. Two queries."""
    now = now or timezone.now()
    cutoff = start_of_day(now)
    approved = (
        LedgerLine.objects.filter(labeler=labeler, period__status__in=FROZEN)
        .values("currency")
        .annotate(total=Sum("amount"))
        .values_list("currency", "total")
        .order_by()
    )
    return EarningsSummary(
        as_of=cutoff,
        approved=money_totals(approved),
        pending=_pending(labeler, cutoff).count(),
    )


def _pending(labeler: Labeler, cutoff: datetime):
    """The labeler's submitted assignments not earned as of ``cutoff``: submitted since, or
    with neither a label outcome nor a gold check recorded before it, nor an item paying for
    it earned before it (a label paid whose task a review decided again since keeps its outcome
    row, with the review's time)."""
    earned = (
        Exists(LabelOutcome.objects.filter(assignment_id=OuterRef("pk"), decided_at__lt=cutoff))
        | Exists(GoldCheck.objects.filter(assignment_id=OuterRef("pk"), checked_at__lt=cutoff))
        | Exists(PaidItem.objects.filter(assignment_id=OuterRef("pk"), earned_at__lt=cutoff))
    )
    return Assignment.objects.filter(labeler=labeler, status=Assignment.Status.SUBMITTED).filter(
        Q(submitted_at__gte=cutoff) | ~earned
    )


def _statements(labeler: Labeler, periods: list[PayPeriod], now: datetime) -> list[Statement]:
    if not periods:
        return []
    cutoff = start_of_day(now)
    live = {p.pk for p in periods if not p.is_frozen}
    rows = list(
        LedgerLine.objects.filter(labeler=labeler, period__in=periods)
        .values(
            "id",
            "period_id",
            "project_id",
            "project__name",
            "kind",
            "basis",
            "rule",
            "detail",
            *PRICED,
        )
        .order_by("project__name", "project_id", "kind", "basis", "id")
    )
    counted = _counted_items(labeler, live, cutoff) if live else {}
    calculated_before = {
        p.pk for p in periods if p.calculated_at is not None and p.calculated_at < cutoff
    }
    by_period: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["period_id"] in live:
            row = _as_of(row, counted.get(row["id"]), bonus=row["period_id"] in calculated_before)
            if row is None:
                continue
        by_period[row["period_id"]].append(row)
    pending = _pending_by_period(labeler, periods, cutoff)
    corrected = {
        row["detail"]["corrects_period"]
        for row in rows
        if row["kind"] == Kind.ADJUSTMENT and row["detail"].get("corrects_period")
    }
    labels = (
        {p.pk: p.label for p in PayPeriod.objects.filter(pk__in=corrected)} if corrected else {}
    )
    return [
        _statement(labeler, p, by_period[p.pk], pending.get(p.pk, {}), labels, cutoff)
        for p in periods
    ]


def _counted_items(labeler: Labeler, period_ids: set[int], cutoff: datetime) -> dict[int, dict]:
    """Per line of the periods under way: the items earned before ``cutoff`` on work submitted
    before it (their number and active seconds)."""
    items = (
        PaidItem.objects.filter(
            line__labeler=labeler, line__period_id__in=period_ids, earned_at__lt=cutoff
        )
        .filter(Q(assignment__isnull=True) | Q(assignment__submitted_at__lt=cutoff))
        .values("line_id")
        .annotate(n=Count("pk"), seconds=Sum("assignment__active_seconds"))
    )
    return {row["line_id"]: row for row in items}


def _as_of(row: dict[str, Any], items: dict | None, *, bonus: bool) -> dict[str, Any] | None:
    """A line of a period under way as of the cut-off: its quantity and amount from the items
    earned before it; a bonus only if the period was calculated before it; a line of no items
    (a deduction) as it is; None when nothing of the line is earned yet."""
    if row["kind"] == Kind.BONUS:
        return row if bonus else None
    if row["kind"] not in ITEMISED:  # a line set by hand (a deduction) rests on no work
        return row
    if items is None:
        return None
    currency, unit_rate = row["currency"], row["unit_rate"]
    if row["kind"] == Kind.HOURLY:
        seconds = Decimal(items["seconds"] or 0)
        quantity = (seconds / SECONDS_PER_HOUR).quantize(QUANTITY)
        amount = round_money(seconds * unit_rate / SECONDS_PER_HOUR, currency)
    else:
        quantity = Decimal(items["n"])
        amount = round_money(quantity * unit_rate, currency)
    return {**row, "quantity": quantity, "amount": amount}


def _pending_by_period(
    labeler: Labeler, periods: list[PayPeriod], cutoff: datetime
) -> dict[int, dict[tuple[int, str], int]]:
    """Pending work per period (by submission time) and project: ``{period: {(project id,
    name): n}}``, one query."""
    period_of = PayPeriod.objects.filter(
        pk__in=[p.pk for p in periods],
        starts_at__lte=OuterRef("submitted_at"),
        ends_at__gt=OuterRef("submitted_at"),
    ).values("pk")[:1]
    rows = (
        _pending(labeler, cutoff)
        .filter(
            submitted_at__gte=min(p.starts_at for p in periods),
            submitted_at__lt=max(p.ends_at for p in periods),
        )
        .annotate(period_id=Subquery(period_of))
        .filter(period_id__isnull=False)
        .values("period_id", "project_id", "project__name")
        .annotate(n=Count("pk"))
    )
    out: dict[int, dict[tuple[int, str], int]] = defaultdict(dict)
    for row in rows:
        out[row["period_id"]][row["project_id"], row["project__name"]] = row["n"]
    return out


def _merge(rows: list[dict[str, Any]]) -> tuple[StatementLine, ...]:
    """The rows of one project merged by kind, basis, unit rate, currency and rule."""
    groups: dict[tuple, list[Decimal]] = {}
    for row in rows:
        key = (row["kind"], row["basis"], row["unit_rate"], row["currency"], row["rule"])
        sums = groups.setdefault(key, [Decimal(0), Decimal(0)])
        sums[0] += row["quantity"]
        sums[1] += row["amount"]
    return tuple(
        StatementLine(
            kind=kind,
            basis=basis,
            quantity=quantity,
            unit_rate=unit_rate,
            amount=amount,
            currency=currency,
            rule=rule,
        )
        for (kind, basis, unit_rate, currency, rule), (quantity, amount) in groups.items()
    )


def _statement(
    labeler: Labeler,
    period: PayPeriod,
    rows: list[dict[str, Any]],
    pending: dict[tuple[int, str], int],
    period_labels: dict[int, str],
    cutoff: datetime,
) -> Statement:
    by_project: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_project[row["project_id"], row["project__name"]].append(row)
    projects = tuple(
        ProjectSection(
            project_id=project_id,
            project=name,
            lines=_merge(by_project.get((project_id, name), [])),
            totals=money_totals(
                (r["currency"], r["amount"]) for r in by_project.get((project_id, name), [])
            ),
            pending=pending.get((project_id, name), 0),
        )
        for project_id, name in sorted({*by_project, *pending}, key=lambda k: (k[1], k[0]))
    )
    return Statement(
        public_code=labeler.public_code,
        period_id=period.pk,
        period=period.label,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        status=period.status,
        final=period.is_frozen,
        as_of=None if period.is_frozen else cutoff,
        projects=projects,
        totals=money_totals((r["currency"], r["amount"]) for r in rows),
        bonuses=tuple(_bonus(r) for r in rows if r["kind"] == Kind.BONUS),
        adjustments=tuple(
            _adjustment(r, period_labels) for r in rows if r["kind"] == Kind.ADJUSTMENT
        ),
        pending=sum(pending.values()),
    )


def _bonus(row: dict[str, Any]) -> Bonus:
    detail = row["detail"]
    return Bonus(
        project_id=row["project_id"],
        project=row["project__name"],
        amount=row["amount"],
        currency=row["currency"],
        percent=Decimal(detail["percent"]),
        base=Decimal(detail["base"]),
        n=int(detail["n"]),
        correct=int(detail["correct"]),
        lower=Decimal(detail["lower"]),
        upper=Decimal(detail["upper"]),
        tier=int(detail["tier"]),
        rule=row["rule"],
    )


def _adjustment(row: dict[str, Any], period_labels: dict[int, str]) -> Adjustment:
    return Adjustment(
        project_id=row["project_id"],
        project=row["project__name"],
        basis=row["basis"],
        quantity=row["quantity"],
        unit_rate=row["unit_rate"],
        amount=row["amount"],
        currency=row["currency"],
        rule=row["rule"],
        corrects_period=period_labels.get(row["detail"].get("corrects_period"), ""),
    )


# -- a vendor's labelers ------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelerTotals:
    """One of a vendor's labelers in a period, by public code only: their earnings per kind
    (``{kind: {currency: amount}}``) and per currency."""

    public_code: str
    by_kind: dict[str, dict[str, Decimal]]
    totals: dict[str, Decimal]


@dataclass(frozen=True)
class VendorStatements:
    vendor: Vendor
    period: PayPeriod
    labelers: tuple[LabelerTotals, ...]
    fees: dict[str, Decimal]
    totals: dict[str, Decimal]


def vendor_statements_for(*, actor: User, vendor_id: int, period_id: int) -> VendorStatements:
    """The statements of a vendor's labelers for a period, for its manager or ops: each labeler
    by public code (never a name, username or email) with their earnings per kind and currency,
    the vendor's fees and the totals (labelers' lines and fees, per currency). ``NotFound`` for
    a vendor the caller may not read or a period they may not see. A constant number of queries
    whatever the number of labelers: the lines are summed in SQL, grouped by labeler."""
    vendor = vendor_get_for(actor=actor, pk=vendor_id)
    period = pay_period_get_for(actor=actor, period_id=period_id)
    rows = (
        LedgerLine.objects.filter(period=period, vendor=vendor)
        .values("labeler__public_code", "kind", "currency")
        .annotate(amount=Sum("amount"))
        .order_by("labeler__public_code", "kind", "currency")
    )
    labelers: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(dict)
    fees: list[tuple[str, Decimal]] = []
    for row in rows:
        if row["labeler__public_code"] is None:
            fees.append((row["currency"], row["amount"]))
        else:
            labelers[row["labeler__public_code"]].setdefault(row["kind"], {})[row["currency"]] = (
                row["amount"]
            )
    statements = tuple(
        LabelerTotals(
            public_code=code,
            by_kind=by_kind,
            totals=money_totals(pair for amounts in by_kind.values() for pair in amounts.items()),
        )
        for code, by_kind in labelers.items()
    )
    return VendorStatements(
        vendor=vendor,
        period=period,
        labelers=statements,
        fees=money_totals(fees),
        totals=money_totals([*fees, *(pair for s in statements for pair in s.totals.items())]),
    )
