"""Pay: rates, pay periods, the append-only ledger and its provenance, vendor invoices.

Money is ``Decimal`` everywhere (``DecimalField`` here, ``numeric`` in the database). A ledger
line's ``amount`` is ``quantity * unit_rate`` rounded once, half away from zero, to the minor
unit of its currency (``payments.currency``). What a line pays for is recorded item by item in
``PaidItem``: the exact assignment or review, each paid at most once across all periods (a
partial unique index), so every cent traces to its work.

Lines and items of an approved or closed period can be neither changed nor deleted, nor can
lines be added to such a period: a trigger in the database refuses it (migration
``0002_ledger_guards``), whatever path the statement comes from.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from assignments.models import Assignment, Project, Review
from payments.currency import money_text, plain, rate_text
from workforce.models import Labeler, Vendor

CURRENCY_HELP = "ISO 4217 code, e.g. EUR."
ISO_4217 = Q(currency__regex=r"^[A-Z]{3}$")


def _currency_field(**kwargs) -> models.CharField:
    return models.CharField(max_length=3, help_text=CURRENCY_HELP, **kwargs)


def _money(**kwargs) -> models.DecimalField:
    """An amount of money: up to 12 integer digits and 6 decimals (rates may be fractions of
    the minor unit, e.g. 0.004 EUR a label; amounts are rounded to the minor unit)."""
    return models.DecimalField(max_digits=18, decimal_places=6, **kwargs)


class PayRate(models.Model):
    """What one unit of work pays on a project, for a scope, from a time.

    Scopes, most specific first: one labeler, a vendor's labelers, internal staff, everyone on
    the project. For a labeler, each *family* of units is paid at the rate of the most specific
    scope that has a rate of that family in effect: the work family (per accepted label, per
    submitted label, per active hour — one way of paying for work at a time) and the review
    family (per resolved review). Rates of one scope and family never overlap in time (an
    exclusion constraint on PostgreSQL, and ``payments.services.rates`` everywhere).
    """

    class Unit(models.TextChoices):
        ACCEPTED_LABEL = "accepted_label", "Per accepted label"
        SUBMITTED_LABEL = "submitted_label", "Per submitted label"
        ACTIVE_HOUR = "active_hour", "Per active hour"
        RESOLVED_REVIEW = "resolved_review", "Per resolved review"

    class Scope(models.TextChoices):
        PROJECT = "project", "Everyone on the project"
        INTERNAL = "internal", "Internal staff"
        VENDOR = "vendor", "A vendor's labelers"
        LABELER = "labeler", "One labeler"

    WORK_UNITS = (Unit.ACCEPTED_LABEL, Unit.SUBMITTED_LABEL, Unit.ACTIVE_HOUR)

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="pay_rates")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PROJECT)
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, null=True, blank=True, related_name="pay_rates"
    )
    labeler = models.ForeignKey(
        Labeler, on_delete=models.PROTECT, null=True, blank=True, related_name="pay_rates"
    )
    unit = models.CharField(max_length=24, choices=Unit.choices)
    amount = _money(help_text="Per unit, in the currency below.")
    currency = _currency_field()
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(
        null=True, blank=True, help_text="Exclusive; empty while the rate is current."
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "scope", "unit", "-effective_from"]
        indexes = [models.Index(fields=["project", "unit"], name="payments_payrate_project")]
        constraints = [
            models.CheckConstraint(condition=ISO_4217, name="payments_payrate_currency_iso4217"),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="payments_payrate_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="payments_payrate_range",
            ),
            models.CheckConstraint(
                condition=(
                    Q(scope="project", vendor__isnull=True, labeler__isnull=True)
                    | Q(scope="internal", vendor__isnull=True, labeler__isnull=True)
                    | Q(scope="vendor", vendor__isnull=False, labeler__isnull=True)
                    | Q(scope="labeler", vendor__isnull=True, labeler__isnull=False)
                ),
                name="payments_payrate_scope",
            ),
        ]

    def __str__(self) -> str:
        amount = rate_text(self.amount, self.currency)
        return f"{amount} {self.currency} {self.get_unit_display().lower()} ({self.scope})"


class PayPolicy(models.Model):
    """A project's pay policy: what rejected work earns, and whether a decision overturned
    after its period closed may take money back."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="pay_policy")
    rejected_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=0,
        help_text=(
            "What a rejected label earns, as a fraction of the rate (0 = unpaid). A label is "
            "rejected when it lost to the final answer, failed review or failed a gold check."
        ),
    )
    clawback = models.BooleanField(
        default=True,
        help_text="Off: a decision overturned after its period closed only ever adds money.",
    )

    class Meta:
        verbose_name_plural = "pay policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(rejected_fraction__gte=0, rejected_fraction__lte=1),
                name="payments_paypolicy_fraction_range",
            )
        ]

    def __str__(self) -> str:
        return f"Pay policy of {self.project}"


class BonusTier(models.Model):
    """A quality bonus: ``percent`` of a labeler's task earnings on the project in a period,
    when the lower bound of the Wilson 95% interval of their gold accuracy in that period is
    at least ``min_lower_bound`` over at least ``min_checks`` gold checks. The highest tier
    reached pays; the statement states the n and the interval."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bonus_tiers")
    min_lower_bound = models.DecimalField(max_digits=5, decimal_places=4)
    min_checks = models.PositiveIntegerField(default=30)
    percent = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["project_id", "-min_lower_bound"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "min_lower_bound", "min_checks"], name="payments_bonustier_once"
            ),
            models.CheckConstraint(
                condition=Q(min_lower_bound__gte=0, min_lower_bound__lte=1, percent__gt=0),
                name="payments_bonustier_range",
            ),
        ]

    def __str__(self) -> str:
        bound, percent = plain(self.min_lower_bound), plain(self.percent)
        return f"+{percent}% at lower bound ≥ {bound} (n ≥ {self.min_checks})"


class VendorContract(models.Model):
    """A vendor's fee on top of its labelers' pay, in its contract currency
    (``Vendor.default_currency``): a percentage of their earnings and/or an amount per paid
    label. It appears as its own lines on the vendor's invoice."""

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, related_name="contract")
    fee_percent = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    fee_per_label = _money(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_percent__gte=0, fee_per_label__gte=0),
                name="payments_vendorcontract_fee_gte_0",
            )
        ]

    def __str__(self) -> str:
        return f"Contract of {self.vendor}"


class ExchangeRate(models.Model):
    """One unit of ``base`` is worth ``rate`` units of ``quote`` from ``effective_from`` until
    the next row of the pair. Used only to report across currencies; what is owed is never
    converted."""

    base = models.CharField(max_length=3, help_text=CURRENCY_HELP)
    quote = models.CharField(max_length=3, help_text=CURRENCY_HELP)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    effective_from = models.DateField()

    class Meta:
        ordering = ["base", "quote", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["base", "quote", "effective_from"], name="payments_exchangerate_once"
            ),
            models.CheckConstraint(
                condition=Q(base__regex=r"^[A-Z]{3}$", quote__regex=r"^[A-Z]{3}$", rate__gt=0)
                & ~Q(base=F("quote")),
                name="payments_exchangerate_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {plain(self.rate)} {self.quote} from {self.effective_from}"


class PayPeriod(models.Model):
    """A span of time whose decided work is paid together: open → calculated → approved →
    closed, each step by operations through ``payments.services.periods`` with actor and
    reason. Periods never overlap. ``ledger_hash`` is the SHA-256 of the period's lines in
    canonical order (``payments.ledger.ledger_hash``), written by each calculation."""

    class Cadence(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CALCULATED = "calculated", "Calculated"
        APPROVED = "approved", "Approved"
        CLOSED = "closed", "Closed"

    cadence = models.CharField(max_length=8, choices=Cadence.choices)
    timezone = models.CharField(max_length=64, default="UTC")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="Exclusive.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    ledger_hash = models.CharField(max_length=64, blank=True)
    calculated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="payments_payperiod_range"
            ),
            models.UniqueConstraint(fields=["starts_at"], name="payments_payperiod_start_once"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """``2026-11`` for a month, ``2026-W47`` for a week (in the period's time zone)."""
        start = self.starts_at.astimezone(zoneinfo.ZoneInfo(self.timezone))
        if self.cadence == self.Cadence.MONTHLY:
            return f"{start:%Y-%m}"
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def is_frozen(self) -> bool:
        return self.status in (self.Status.APPROVED, self.Status.CLOSED)


class PayPeriodStatusChange(models.Model):
    """One step of a period's workflow: who, when, why, and the ledger hash at that step."""

    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=PayPeriod.Status.choices)
    to_status = models.CharField(max_length=12, choices=PayPeriod.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    ledger_hash = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.period}: {self.from_status} → {self.to_status}"


class Calculation(models.Model):
    """One run of a period's calculation (a Celery task or a direct call): its progress in
    batches (one batch per project), its result and its error. The admin shows the latest."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    period = models.ForeignKey(PayPeriod, on_delete=models.CASCADE, related_name="calculations")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    ledger_hash = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]

    def __str__(self) -> str:
        return f"Calculation of {self.period} ({self.status})"


class LedgerLine(models.Model):
    """One line of a period's ledger: ``quantity`` units at ``unit_rate`` make ``amount``.

    Labeler lines (task, hourly, review, bonus, deduction, adjustment) name the labeler and the
    vendor they belonged to when calculated; vendor fee lines name only the vendor. ``rate`` is
    the rate row applied (none for a bonus or a fee); ``rule`` says in words which rule made
    the line; ``detail`` holds what a bonus rests on (n, correct, the interval, the tier) or
    what an adjustment corrects.
    """

    class Kind(models.TextChoices):
        TASK = "task", "Task"
        HOURLY = "hourly", "Hourly"
        REVIEW = "review", "Review"
        BONUS = "bonus", "Bonus"
        DEDUCTION = "deduction", "Deduction"
        ADJUSTMENT = "adjustment", "Adjustment"
        VENDOR_FEE = "vendor_fee", "Vendor fee"

    class Basis(models.TextChoices):
        NONE = "", "—"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SUBMITTED = "submitted", "Submitted"

    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="lines")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    labeler = models.ForeignKey(
        Labeler, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_lines"
    )
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_lines"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    basis = models.CharField(max_length=12, choices=Basis.choices, blank=True, default="")
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit_rate = _money()
    amount = _money()
    currency = _currency_field()
    rate = models.ForeignKey(
        PayRate, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    rule = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # How many paid items hang on the line (0 for a bonus, a fee or a deduction): an hourly
    # line's quantity is hours, so the count is kept, and a recalculation compares it.
    item_count = models.PositiveIntegerField(db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period_id", "project_id", "labeler_id", "kind", "id"]
        indexes = [
            models.Index(fields=["period", "vendor"], name="payments_line_vendor"),
            models.Index(fields=["period", "labeler"], name="payments_line_labeler"),
            models.Index(fields=["period", "project"], name="payments_line_project"),
        ]
        constraints = [
            models.CheckConstraint(condition=ISO_4217, name="payments_ledgerline_currency_iso4217"),
            models.CheckConstraint(
                condition=Q(kind="vendor_fee", labeler__isnull=True, vendor__isnull=False)
                | (~Q(kind="vendor_fee") & Q(labeler__isnull=False)),
                name="payments_ledgerline_payee",
            ),
        ]

    def __str__(self) -> str:
        code = self.currency
        return (
            f"{self.get_kind_display()} {plain(self.quantity)} x "
            f"{rate_text(self.unit_rate, code)} = {money_text(self.amount, code)} {code}"
        )


class PaidItem(models.Model):
    """What a ledger line pays for, one piece of work each: an assignment (task and hourly
    lines) or a review (review lines).

    ``unit_value`` is what the piece is worth in total after this item (before rounding, in the
    line's currency); an adjustment item ``corrects`` the piece's latest item and its line's
    unit rate is the difference. Each piece is paid at most once across all periods, and an
    item is corrected at most once: partial unique indexes, not a check in Python.
    """

    class Kind(models.TextChoices):
        TASK = "task", "Task"
        HOURLY = "hourly", "Hourly"
        REVIEW = "review", "Review"

    # A period pays up to millions of items, each written once by INSERT … SELECT: every index
    # is paid for on each row, so none is kept twice (period leads payments_item_period_line)
    # and the sparse columns (review, corrects) are indexed only where they are set.
    line = models.ForeignKey(LedgerLine, on_delete=models.PROTECT, related_name="items")
    period = models.ForeignKey(
        PayPeriod, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    assignment = models.ForeignKey(
        Assignment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review = models.ForeignKey(
        Review, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    basis = models.CharField(max_length=12, choices=LedgerLine.Basis.choices, blank=True)
    unit_value = _money()
    earned_at = models.DateTimeField()
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrected_by",
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["period", "line"], name="payments_item_period_line"),
            models.Index(
                fields=["review"], condition=Q(review__isnull=False), name="payments_item_review"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["corrects"],
                condition=Q(corrects__isnull=False),
                name="payments_paiditem_corrected_once",
            ),
            models.UniqueConstraint(
                fields=["kind", "assignment"],
                condition=Q(corrects__isnull=True, assignment__isnull=False),
                name="payments_paiditem_assignment_once",
            ),
            models.UniqueConstraint(
                fields=["review"],
                condition=Q(corrects__isnull=True, review__isnull=False),
                name="payments_paiditem_review_once",
            ),
            models.CheckConstraint(
                condition=Q(kind="review", review__isnull=False, assignment__isnull=True)
                | (~Q(kind="review") & Q(assignment__isnull=False, review__isnull=True)),
                name="payments_paiditem_work",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} item of line {self.line_id}"


class Invoice(models.Model):
    """A vendor's invoice for a period, issued when the period is approved: numbered in
    sequence per vendor with no gaps (``number``), its totals per currency frozen at issue
    (they equal the sum of its lines, to the minor unit)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="invoices")
    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="invoices")
    number = models.PositiveIntegerField()
    totals = models.JSONField(default=dict, help_text='Per currency, e.g. {"EUR": "1520.40"}.')
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["vendor_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "number"], name="payments_invoice_number"),
            models.UniqueConstraint(fields=["vendor", "period"], name="payments_invoice_period"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """The invoice number as printed: the vendor's slug and a zero-padded sequence."""
        return f"{self.vendor.slug.upper()}-{self.number:05d}"
