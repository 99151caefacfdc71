"""Writes of pay periods and their workflow: open → calculated → approved → closed.

Each step is a guarded update (``UPDATE … WHERE status = expected``) written in one transaction
with its ``PayPeriodStatusChange`` row (actor, reason, ledger hash, when), so of two racing
steps one wins and the other gets a 409. Approving issues the vendors' invoices. Approve and
close cannot be undone: the database's triggers refuse to move an approved period anywhere but
closed, or a closed one at all (migration ``0002_ledger_guards``).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone as django_timezone

from config.errors import Conflict, InvalidTransition, get_or_not_found
from payments.currency import quantum
from payments.ledger import ledger_hash as compute_ledger_hash
from payments.models import Invoice, LedgerLine, PayPeriod, PayPeriodStatusChange
from payments.services.rates import constraint_name
from workforce.models import Vendor

S = PayPeriod.Status
OVERLAP_CONSTRAINTS = ("payments_payperiod_no_overlap", "payments_payperiod_start_once")
_HASH_RE = re.compile(r"[0-9a-f]{64}")


# -- creating a period --------------------------------------------------------------------------


def bounds(cadence: str, starts_on: date, tz: str) -> tuple[datetime, datetime]:
    """The start and (exclusive) end, in UTC, of the month (``monthly``) or ISO week, from its
    Monday (``weekly``), that contains ``starts_on``: local midnights in the time zone ``tz``.
    A midnight that a clock change skips is the first instant of that day."""
    if cadence == PayPeriod.Cadence.MONTHLY:
        first = starts_on.replace(day=1)
        after = (first + timedelta(days=31)).replace(day=1)
    else:
        first = starts_on - timedelta(days=starts_on.weekday())
        after = first + timedelta(days=7)
    zone = zoneinfo.ZoneInfo(tz)
    return tuple(  # type: ignore[return-value]
        datetime.combine(day, time(), tzinfo=zone).astimezone(UTC) for day in (first, after)
    )


def _overlapping(starts_at: datetime, ends_at: datetime) -> PayPeriod | None:
    return (
        PayPeriod.objects.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)
        .order_by("starts_at")
        .first()
    )


def period_create(*, actor, cadence: str, starts_on: date, timezone: str = "UTC") -> PayPeriod:
    """A new open period: the month (``monthly``) or the ISO week (``weekly``) containing the
    date ``starts_on``, from local midnight to local midnight in ``timezone`` (an IANA name),
    stored as UTC.

    ValidationError naming each field at fault (``cadence``, ``starts_on``, ``timezone``), and
    on ``starts_on`` when the period would overlap an existing one (checked here, and by the
    exclusion constraint ``payments_payperiod_no_overlap`` against a concurrent create).
    """
    errors: dict[str, list[str]] = {}
    if cadence not in PayPeriod.Cadence.values:
        errors["cadence"] = [f"Must be one of {', '.join(PayPeriod.Cadence.values)}."]
    if isinstance(starts_on, datetime) or not isinstance(starts_on, date):
        errors["starts_on"] = ["Give a date."]
    if not isinstance(timezone, str) or timezone not in zoneinfo.available_timezones():
        errors["timezone"] = [f"Unknown time zone {timezone!r} (use an IANA name)."]
    if errors:
        raise ValidationError(errors)
    starts_at, ends_at = bounds(cadence, starts_on, timezone)
    with transaction.atomic():
        other = _overlapping(starts_at, ends_at)
        if other is not None:
            raise ValidationError(
                {"starts_on": [f"Overlaps pay period {other.label} ({other.status})."]}
            )
        period = PayPeriod(cadence=cadence, timezone=timezone, starts_at=starts_at, ends_at=ends_at)
        try:
            with transaction.atomic():
                period.save()
        except IntegrityError as exc:
            if constraint_name(exc) not in OVERLAP_CONSTRAINTS:
                raise
            raise ValidationError(
                {"starts_on": ["Overlaps a pay period created meanwhile."]}
            ) from None
    return period


# -- the workflow -------------------------------------------------------------------------------


def _step(
    period: PayPeriod, *, to_status: str, actor, reason: str, now: datetime, **fields
) -> PayPeriod:
    """Move ``period`` from the status (and ledger hash) it was read with to ``to_status``,
    setting ``fields``, and record the step. From here the caller's transaction holds the row
    lock. A step that lost a race is a 409: ``stale_hash`` when only the ledger changed
    meanwhile, ``stale_status`` otherwise."""
    updated = PayPeriod.objects.filter(
        pk=period.pk, status=period.status, ledger_hash=period.ledger_hash
    ).update(status=to_status, **fields)
    if not updated:
        current = PayPeriod.objects.filter(pk=period.pk).values_list("status", flat=True).first()
        if current == period.status:
            raise Conflict(
                f"The ledger of {period.label} changed meanwhile; review it again.",
                code="stale_hash",
            )
        raise Conflict(
            f"The status of {period.label} changed meanwhile; reload and try again.",
            code="stale_status",
        )
    PayPeriodStatusChange.objects.create(
        period=period,
        from_status=period.status,
        to_status=to_status,
        actor=actor,
        reason=reason or "",
        ledger_hash=fields.get("ledger_hash", period.ledger_hash),
        at=now,
    )
    period.status = to_status
    for name, value in fields.items():
        setattr(period, name, value)
    return period


def _require(period: PayPeriod, status: str, step: str) -> None:
    if period.status != status:
        article = "an" if status[:1] in "aeiou" else "a"
        raise InvalidTransition(
            f"Only {article} {status} period can be {step}; {period.label} is {period.status}."
        )


def period_mark_calculated(
    *, actor, period_id: int, ledger_hash: str, reason: str = ""
) -> PayPeriod:
    """Record that ``period_id``'s ledger was (re)calculated to ``ledger_hash``: open or
    calculated → calculated, ``calculated_at`` now. A status-change row is written when the
    status or the hash changes. NotFound for an unknown period; ValidationError on
    ``ledger_hash`` unless 64 lower-case hex digits; Conflict (``period_frozen``) for an
    approved or closed period, ``stale_status`` when it was approved meanwhile."""
    if not isinstance(ledger_hash, str) or not _HASH_RE.fullmatch(ledger_hash):
        raise ValidationError({"ledger_hash": ["Give a SHA-256 as 64 lower-case hex digits."]})
    with transaction.atomic():
        period = get_or_not_found(PayPeriod.objects.all(), pk=period_id)
        if period.is_frozen:
            raise Conflict(
                f"Period {period.label} is {period.status}: its ledger can no longer change.",
                code="period_frozen",
            )
        now = django_timezone.now()
        if period.status == S.CALCULATED and period.ledger_hash == ledger_hash:
            PayPeriod.objects.filter(pk=period.pk, status=S.CALCULATED).update(calculated_at=now)
            period.calculated_at = now
            return period
        return _step(
            period,
            to_status=S.CALCULATED,
            actor=actor,
            reason=reason or "Calculated",
            now=now,
            ledger_hash=ledger_hash,
            calculated_at=now,
        )


def period_approve(
    *, actor, period_id: int, reason: str = "", expected_hash: str | None = None
) -> PayPeriod:
    """Approve a calculated period whose time is over: its ledger is frozen from now on, and
    each vendor with lines in it gets an invoice (``Invoice``: the vendor's next number, with no
    gaps; totals per currency equal to the sum of the vendor's lines, fees included).

    ``expected_hash`` is the ledger hash the approver reviewed. NotFound for an unknown period;
    InvalidTransition (409) unless the period is calculated; Conflict ``period_not_ended`` (409)
    before its end; Conflict ``stale_hash`` (409) when ``expected_hash`` is not the period's
    hash, or the lines are no longer those the hash was computed over (a calculation running);
    Conflict ``stale_status`` (409) when another step won a race.
    """
    with transaction.atomic():
        period = get_or_not_found(PayPeriod.objects.all(), pk=period_id)
        _require(period, S.CALCULATED, "approved")
        if expected_hash is not None and expected_hash != period.ledger_hash:
            raise Conflict(
                f"The ledger of {period.label} changed since it was reviewed (its hash is "
                f"{period.ledger_hash}); review it again.",
                code="stale_hash",
            )
        now = django_timezone.now()
        if period.ends_at > now:
            raise Conflict(
                f"Period {period.label} runs until {period_end_text(period)}: "
                "work decided before then is still to be paid in it.",
                code="period_not_ended",
            )
        period = _step(period, to_status=S.APPROVED, actor=actor, reason=reason, now=now)
        # Under the row lock no calculation batch can write; one that wrote before its hash
        # did leaves lines the hash does not describe.
        if compute_ledger_hash(period.pk) != period.ledger_hash:
            raise Conflict(
                f"The lines of {period.label} are not those its hash was computed over (is a "
                "calculation running?); calculate it again.",
                code="stale_hash",
            )
        _issue_invoices(period, now)
    return period


def period_end_text(period: PayPeriod) -> str:
    """When ``period`` ends, as its people read it: ``2026-12-07 00:00 (Europe/Lisbon)``."""
    end = period.ends_at.astimezone(zoneinfo.ZoneInfo(period.timezone))
    return f"{end:%Y-%m-%d %H:%M} ({period.timezone})"


def _money_text(total: Decimal, code: str) -> str:
    """``total`` at its currency's minor unit when that loses nothing (lines are rounded to
    it), as it stands otherwise: the invoice total always equals the line sum."""
    at_minor = total.quantize(quantum(code))
    return str(at_minor if at_minor == total else total)


def _issue_invoices(period: PayPeriod, now: datetime) -> list[Invoice]:
    """One invoice per vendor with lines in ``period``, numbered max + 1 per vendor under the
    vendor's row lock (taken in vendor order, so concurrent approvals cannot deadlock): numbers
    have no gaps and no repeats, whatever approvals run at once."""
    sums = (
        LedgerLine.objects.filter(period=period, vendor__isnull=False)
        .values_list("vendor_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("vendor_id", "currency")
    )
    totals: dict[int, dict[str, str]] = {}
    for vendor_id, code, total in sums:
        totals.setdefault(vendor_id, {})[code] = _money_text(total, code)
    if not totals:
        return []
    list(
        Vendor.objects.select_for_update(no_key=True)
        .filter(pk__in=totals)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    numbers = dict(
        Invoice.objects.filter(vendor_id__in=totals)
        .values_list("vendor_id")
        .annotate(last=Max("number"))
        .order_by()
    )
    return Invoice.objects.bulk_create(
        Invoice(
            vendor_id=vendor_id,
            period=period,
            number=numbers.get(vendor_id, 0) + 1,
            totals=vendor_totals,
            issued_at=now,
        )
        for vendor_id, vendor_totals in totals.items()
    )


def period_close(*, actor, period_id: int, reason: str = "") -> PayPeriod:
    """Close an approved period (it has been paid). NotFound for an unknown period;
    InvalidTransition (409) unless approved; Conflict ``stale_status`` when another step won a
    race. A closed period never changes again (a database trigger)."""
    with transaction.atomic():
        period = get_or_not_found(PayPeriod.objects.all(), pk=period_id)
        _require(period, S.APPROVED, "closed")
        return _step(
            period,
            to_status=S.CLOSED,
            actor=actor,
            reason=reason,
            now=django_timezone.now(),
        )
