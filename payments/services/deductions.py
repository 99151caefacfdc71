"""Deductions: an amount ops take off a labeler's pay in a period, with the reason, as a line.

A deduction is a ledger line of kind ``deduction`` that rests on no work: quantity 1, unit rate
and amount the negative of what is deducted, the reason as its rule, the labeler's vendor as
its vendor (so it is on the vendor's invoice), the actor in its detail. It is written into an
open or calculated period only (the ledger's guards refuse any other); a calculation keeps it
as it is. Adding or removing one in a calculated period moves the period's ledger hash to the
new lines, recorded as a step with the actor and the reason, so an approval must review the
ledger again (``stale_hash``). Not a clawback of work: adjustments do that, with provenance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from assignments.models import Project
from config.errors import Conflict, get_or_not_found
from payments.currency import quantum
from payments.ledger import ledger_hash
from payments.models import LedgerLine, PayPeriod
from payments.services import periods
from payments.services.rates import clean_currency, clean_decimal
from workforce.models import Labeler

Kind = LedgerLine.Kind
REASON_MAX = LedgerLine._meta.get_field("rule").max_length


def _open_period(period_id: int) -> PayPeriod:
    """The period, locked (a calculation batch locks it too, so neither sees half the other);
    409 ``period_frozen`` when it is approved or closed."""
    period = get_or_not_found(PayPeriod.objects.select_for_update(), pk=period_id)
    if period.is_frozen:
        raise Conflict(
            f"Period {period.label} is {period.status}: its ledger can no longer change.",
            code="period_frozen",
        )
    return period


def _rehash(period: PayPeriod, *, actor, reason: str) -> None:
    """A calculated period's hash follows its lines: the new hash, recorded as a step."""
    if period.status == PayPeriod.Status.CALCULATED:
        periods.period_mark_calculated(
            actor=actor, period_id=period.pk, ledger_hash=ledger_hash(period.pk), reason=reason
        )


def deduction_add(
    *,
    actor,
    period_id: int,
    labeler_id: Any,
    project_id: Any,
    amount: Any,
    currency: Any,
    reason: Any,
) -> LedgerLine:
    """Deduct ``amount`` (a Decimal, more than 0, in ``currency``'s minor unit at most) of
    ``currency`` from the labeler's pay in the period, for ``project``, saying why.

    ValidationError naming each field at fault: an unknown labeler or project, an amount that
    is not a Decimal, not positive, or finer than the currency's minor unit (JPY 0 decimals,
    EUR 2, KWD 3), a code that is not ISO 4217, a reason missing or over 200 characters.
    NotFound for an unknown period; Conflict ``period_frozen`` (409) for an approved or closed
    one. Returns the line."""
    errors: dict[str, list[str]] = {}
    labeler = Labeler.objects.filter(pk=labeler_id).first() if _is_id(labeler_id) else None
    if labeler is None:
        errors["labeler"] = ["No such labeler."]
    project = Project.objects.filter(pk=project_id).first() if _is_id(project_id) else None
    if project is None:
        errors["project"] = ["No such project."]
    code = clean_currency(errors, "currency", currency)
    value = clean_decimal(
        errors, "amount", amount, model=LedgerLine, minimum=Decimal(0), above_minimum=True
    )
    if value is not None and code is not None and value != value.quantize(quantum(code)):
        errors["amount"] = [f"{code} amounts have at most {_places(code)} decimal places."]
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        errors["reason"] = ["Say why the amount is deducted."]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"At most {REASON_MAX} characters."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        period = _open_period(period_id)
        line = LedgerLine.objects.create(
            period=period,
            project=project,
            labeler=labeler,
            vendor_id=labeler.vendor_id,
            kind=Kind.DEDUCTION,
            quantity=Decimal(1),
            unit_rate=-value,
            amount=-value,
            currency=code,
            rule=reason,
            detail={"by": getattr(actor, "username", "")},
        )
        _rehash(period, actor=actor, reason=f"Deduction added: {reason}")
    return line


def deduction_remove(*, actor, period_id: int, line_id: int, reason: Any) -> None:
    """Remove a deduction from an open or calculated period, saying why (a deduction made in
    error). NotFound unless ``line_id`` is a deduction of the period; ValidationError on
    ``reason`` when it is missing; Conflict ``period_frozen`` (409) for an approved or closed
    period."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError({"reason": ["Say why the deduction is removed."]})
    with transaction.atomic():
        period = _open_period(period_id)
        line = get_or_not_found(
            LedgerLine.objects.filter(period=period, kind=Kind.DEDUCTION), pk=line_id
        )
        line.delete()
        _rehash(period, actor=actor, reason=f"Deduction removed: {reason}")


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _places(code: str) -> int:
    return -quantum(code).as_tuple().exponent
