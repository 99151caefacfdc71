"""Reads of pay periods and vendor invoices, scoped to the caller.

* Pay periods: operations managers see every period; anyone else only approved and closed ones
  (a period still open or being calculated is not final, so it is not theirs to see).
* Invoices: an operations manager reads every vendor's; a vendor manager their vendors' only;
  a labeler none. Another vendor's invoice, or a vendor the caller does not manage, is a 404
  (``config.errors.NotFound``), never a 403 that would confirm it exists.

An invoice view names labelers by their public code only, never by name, username or email,
and its totals are the exact sums of its lines (the amounts are already rounded, once per line,
to the currency's minor unit), so they equal the totals frozen on the invoice at issue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, QuerySet, Sum

from config.errors import get_or_not_found
from payments.models import Invoice, LedgerLine, PayPeriod
from workforce.models import User, Vendor
from workforce.selectors import is_ops, vendor_get_for

FROZEN = (PayPeriod.Status.APPROVED, PayPeriod.Status.CLOSED)


def pay_periods_list_for(*, actor: User) -> QuerySet[PayPeriod]:
    """The periods ``actor`` may see, newest first: all for ops, approved and closed ones for
    anyone else."""
    periods = PayPeriod.objects.order_by("-starts_at")
    return periods if is_ops(actor) else periods.filter(status__in=FROZEN)


def pay_period_get_for(*, actor: User, period_id: int) -> PayPeriod:
    """One period of ``pay_periods_list_for``, or ``NotFound``."""
    return get_or_not_found(pay_periods_list_for(actor=actor), pk=period_id)


def deductions_list_for(*, actor: User, period_id: int) -> QuerySet[LedgerLine]:
    """The deductions of a period ``actor`` may read (``pay_period_get_for``), oldest first."""
    period = pay_period_get_for(actor=actor, period_id=period_id)
    return (
        LedgerLine.objects.filter(period=period, kind=LedgerLine.Kind.DEDUCTION)
        .select_related("labeler", "project")
        .order_by("id")
    )


def invoices_list_for(*, actor: User, vendor_id: int) -> QuerySet[Invoice]:
    """The invoices of a vendor ``actor`` may read (ops: any; a vendor manager: theirs),
    newest number first; ``NotFound`` for a vendor they may not read."""
    vendor = vendor_get_for(actor=actor, pk=vendor_id)
    return (
        Invoice.objects.filter(vendor=vendor).select_related("vendor", "period").order_by("-number")
    )


# The fields of a priced row, in the order files write them.
PRICED = ("quantity", "unit_rate", "amount", "currency")


@dataclass(frozen=True)
class Priced:
    """``quantity`` units at ``unit_rate`` make ``amount`` in ``currency`` (rounded once per
    ledger line; a sum of lines is a sum of their amounts)."""

    quantity: Decimal
    unit_rate: Decimal
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class InvoiceLine(Priced):
    """A labeler's lines on a project of one kind, basis, unit rate and currency, summed."""

    public_code: str
    project_id: int
    project: str
    kind: str
    basis: str


@dataclass(frozen=True)
class FeeLine(Priced):
    """One vendor fee line: ``quantity`` (what the fee is on: earnings or paid labels) times
    ``unit_rate`` (the fee's fraction or the amount per label); ``rule`` says which."""

    project_id: int
    project: str
    rule: str


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    vendor: Vendor
    period: PayPeriod
    lines: tuple[InvoiceLine, ...]
    fees: tuple[FeeLine, ...]
    totals: dict[str, Decimal]

    @property
    def reference(self) -> str:
        return self.invoice.reference

    @property
    def ledger_hash(self) -> str:
        return self.period.ledger_hash

    @property
    def issued_totals(self) -> dict[str, Decimal]:
        """The totals frozen on the invoice when it was issued, as decimals."""
        return {currency: Decimal(amount) for currency, amount in self.invoice.totals.items()}


def money_totals(pairs: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """``(currency, amount)`` pairs summed per currency, in currency order (exact decimals)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in pairs:
        totals[currency] += amount
    return dict(sorted(totals.items()))


def invoice_get_for(*, actor: User, vendor_id: int, invoice_id: int) -> InvoiceView:
    """One invoice of a vendor ``actor`` may read, with its lines by labeler public code and
    project, its fee lines and its totals per currency; ``NotFound`` otherwise. A constant
    number of queries whatever the vendor's size: the lines are summed in SQL."""
    invoice = get_or_not_found(invoices_list_for(actor=actor, vendor_id=vendor_id), pk=invoice_id)
    vendor_lines = LedgerLine.objects.filter(
        period_id=invoice.period_id, vendor_id=invoice.vendor_id
    )
    labeler_rows = (
        vendor_lines.filter(labeler__isnull=False)
        .values("kind", "basis", "unit_rate", "currency", "project_id")
        .annotate(
            public_code=F("labeler__public_code"),
            project=F("project__name"),
            quantity=Sum("quantity"),
            amount=Sum("amount"),
        )
        .order_by("public_code", "project", "project_id", "kind", "basis", "currency", "unit_rate")
    )
    fee_rows = (
        vendor_lines.filter(kind=LedgerLine.Kind.VENDOR_FEE)
        .values("project_id", "rule", *PRICED)
        .annotate(project=F("project__name"))
        .order_by("project", "project_id", "currency", "rule")
    )
    lines = tuple(InvoiceLine(**row) for row in labeler_rows)
    fees = tuple(FeeLine(**row) for row in fee_rows)
    return InvoiceView(
        invoice=invoice,
        vendor=invoice.vendor,
        period=invoice.period,
        lines=lines,
        fees=fees,
        totals=money_totals((line.currency, line.amount) for line in (*lines, *fees)),
    )
