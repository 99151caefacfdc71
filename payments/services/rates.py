"""Writes of what work pays: pay rates, a project's pay policy and bonus tiers, vendor contracts
and exchange rates. One transaction each.

A rate is never edited: to change one, end it (``rate_end``) and create the next
(``rate_create``). Rates of one scope (project, scope, vendor, labeler) and family (work: per
accepted label, per submitted label, per active hour; review: per resolved review) never
overlap in time: checked here under the project's row lock, and refused by the exclusion
constraint ``payments_payrate_no_overlap`` on PostgreSQL (mapped to the same error). Changing a
rate never rewrites a period already paid: a rate may not be created, or ended, so that what it
pays changes inside an approved or closed period.

Bad input is a ``ValidationError`` naming each field at fault; money is a ``Decimal`` (a
floating-point number is refused, never converted).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q

from assignments.models import Project
from config.errors import Conflict, get_or_not_found
from config.services import save_unique
from payments import currency as currencies
from payments.models import (
    BonusTier,
    ExchangeRate,
    PayPeriod,
    PayPolicy,
    PayRate,
    VendorContract,
)
from workforce.models import Labeler, Vendor

Scope = PayRate.Scope
Unit = PayRate.Unit
FROZEN = (PayPeriod.Status.APPROVED, PayPeriod.Status.CLOSED)
OVERLAP_CONSTRAINT = "payments_payrate_no_overlap"
TIER_TAKEN = "The project has a tier with this lower bound and number of checks."
NOT_DECIMAL = "Give an exact decimal (money and fractions are never floating-point numbers)."
OVERLAP = (
    "Overlaps rate #{id} ({range}) of the same scope and family; end that rate first "
    "(rates of one scope and family never overlap in time)."
)
# Which of vendor and labeler each scope names (True: required, False: must be empty).
SCOPE_NAMES: dict[str, dict[str, bool]] = {
    Scope.PROJECT: {"vendor": False, "labeler": False},
    Scope.INTERNAL: {"vendor": False, "labeler": False},
    Scope.VENDOR: {"vendor": True, "labeler": False},
    Scope.LABELER: {"vendor": False, "labeler": True},
}


def family(unit: str) -> tuple[str, ...]:
    """The units paid as one family with ``unit``: a labeler is paid by one rate per family."""
    if unit == Unit.RESOLVED_REVIEW:
        return (Unit.RESOLVED_REVIEW,)
    return tuple(PayRate.WORK_UNITS)


# -- field checks (each adds its messages to ``errors`` under its field) ------------------------


def clean_decimal(
    errors: dict[str, list[str]],
    name: str,
    value: Any,
    *,
    model: type[models.Model],
    field: str | None = None,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    above_minimum: bool = False,
) -> Decimal | None:
    """``value`` as a Decimal that fits ``model.field`` (digits and decimals) and lies in
    ``[minimum, maximum]`` (``(minimum, maximum]`` with ``above_minimum``); None with its
    messages in ``errors[name]`` otherwise. An int is taken exactly; any other type (a string,
    a floating-point number) is refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        errors[name] = [NOT_DECIMAL]
        return None
    value = Decimal(value)
    if not value.is_finite():
        errors[name] = ["Give a finite number."]
        return None
    try:
        model._meta.get_field(field or name).run_validators(value)
    except ValidationError as exc:
        errors[name] = list(exc.messages)
        return None
    if minimum is not None and (value <= minimum if above_minimum else value < minimum):
        errors[name] = [f"Must be {'more than' if above_minimum else 'at least'} {minimum}."]
        return None
    if maximum is not None and value > maximum:
        errors[name] = [f"Must be at most {maximum}."]
        return None
    return value


def clean_currency(errors: dict[str, list[str]], name: str, code: Any) -> str | None:
    """``code`` if it is an ISO 4217 code (``payments.currency.validate``)."""
    try:
        return currencies.validate(code)
    except (ValidationError, TypeError):
        errors[name] = [f"{code!r} is not an ISO 4217 currency code."]
        return None


def _clean_moment(errors: dict[str, list[str]], name: str, value: Any) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        errors[name] = ["Give a date and time with its time zone."]


def constraint_name(exc: IntegrityError) -> str:
    """The name of the constraint an IntegrityError broke (PostgreSQL; '' when unknown)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _range_text(start: datetime, end: datetime | None) -> str:
    return f"from {start.isoformat()}" + (f" to {end.isoformat()}" if end else ", open-ended")


def _lock_frozen(start: datetime, end: datetime | None) -> list[PayPeriod]:
    """The approved or closed periods that meet ``[start, end)``, read under a row lock on every
    period meeting it, so that none of them is approved while the caller's transaction runs."""
    meeting = PayPeriod.objects.filter(ends_at__gt=start)
    if end is not None:
        meeting = meeting.filter(starts_at__lt=end)
    return [p for p in meeting.select_for_update().order_by("starts_at") if p.status in FROZEN]


# -- rates --------------------------------------------------------------------------------------


def _check_scope(
    errors: dict[str, list[str]], *, scope: str, unit: str, vendor: Any, labeler: Any
) -> None:
    given = {"vendor": vendor, "labeler": labeler}
    types = {"vendor": Vendor, "labeler": Labeler}
    for name, required in SCOPE_NAMES[scope].items():
        value = given[name]
        if required and not isinstance(value, types[name]):
            errors[name] = [f"A {scope} rate names its {name}."]
        elif not required and value is not None:
            errors[name] = [f"A {scope} rate names no {name}."]
    if unit != Unit.ACTIVE_HOUR or "labeler" in errors:
        return
    internal_labeler = (
        scope == Scope.LABELER and labeler is not None and labeler.kind == Labeler.Kind.INTERNAL
    )
    if scope != Scope.INTERNAL and not internal_labeler:
        errors["unit"] = [
            "Hourly pay is for internal staff: an active-hour rate is for the internal scope or "
            "one internal labeler."
        ]


def _overlapping(
    *, project: Project, scope: str, vendor, labeler, unit: str, start: datetime, end
) -> PayRate | None:
    """A rate of the same scope and family as the one described whose range meets
    ``[start, end)``."""
    rates = PayRate.objects.filter(
        project=project,
        scope=scope,
        vendor=vendor,
        labeler=labeler,
        unit__in=family(unit),
    ).filter(Q(effective_to__isnull=True) | Q(effective_to__gt=start))
    if end is not None:
        rates = rates.filter(effective_from__lt=end)
    return rates.order_by("effective_from").first()


def rate_create(
    *,
    actor,
    project: Project,
    unit: str,
    amount: Decimal,
    currency: str,
    scope: str = Scope.PROJECT,
    vendor: Vendor | None = None,
    labeler: Labeler | None = None,
    effective_from: datetime,
    effective_to: datetime | None = None,
    note: str = "",
) -> PayRate:
    """A new rate of ``project``: ``amount`` (a Decimal, at least 0) of ``currency`` per
    ``unit`` for ``scope`` (project; internal staff; ``vendor``'s labelers; one ``labeler``),
    in effect over ``[effective_from, effective_to)`` (open-ended without ``effective_to``).

    Raises ValidationError naming each field at fault: an unknown unit or scope, a code that
    is not ISO 4217, an amount that is not a Decimal, negative or has more than 6 decimals, a vendor
    or labeler the scope does not name (or lacks), an active-hour rate outside internal staff
    (hourly pay is for them), a range that is empty or not time-zone aware; on
    ``effective_from``, a range that overlaps a rate of the same scope and family, or meets
    an approved or closed pay period (it would change what that period paid).
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(project, Project):
        errors["project"] = ["Give the project."]
    if unit not in Unit.values:
        errors["unit"] = [f"Must be one of {', '.join(Unit.values)}."]
    if scope not in Scope.values:
        errors["scope"] = [f"Must be one of {', '.join(Scope.values)}."]
    currency = clean_currency(errors, "currency", currency)
    amount = clean_decimal(errors, "amount", amount, model=PayRate, minimum=Decimal(0))
    if scope in Scope.values:
        _check_scope(errors, scope=scope, unit=unit, vendor=vendor, labeler=labeler)
    _clean_moment(errors, "effective_from", effective_from)
    if effective_to is not None:
        _clean_moment(errors, "effective_to", effective_to)
        dated = "effective_from" not in errors and "effective_to" not in errors
        if dated and effective_to <= effective_from:
            errors["effective_to"] = ["Must be after effective_from."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # One rate of a scope and family at a time: creations on a project are serialized
        # (NO KEY: ledger lines may still be written referencing the project meanwhile).
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        frozen = _lock_frozen(effective_from, effective_to)
        if frozen:
            raise ValidationError(
                {
                    "effective_from": [
                        f"This rate would apply in pay period {frozen[-1].label}, which is "
                        f"{frozen[-1].status}: start it at or after "
                        f"{frozen[-1].ends_at.isoformat()}."
                    ]
                }
            )
        other = _overlapping(
            project=project,
            scope=scope,
            vendor=vendor,
            labeler=labeler,
            unit=unit,
            start=effective_from,
            end=effective_to,
        )
        if other is not None:
            raise ValidationError(
                {
                    "effective_from": [
                        OVERLAP.format(
                            id=other.pk,
                            range=_range_text(other.effective_from, other.effective_to),
                        )
                    ]
                }
            )
        rate = PayRate(
            project=project,
            scope=scope,
            vendor=vendor,
            labeler=labeler,
            unit=unit,
            amount=amount,
            currency=currency,
            effective_from=effective_from,
            effective_to=effective_to,
            note=note or "",
            created_by=actor,
        )
        try:
            with transaction.atomic():
                rate.save()
        except IntegrityError as exc:
            # The database's own guard (a write that bypassed the project lock).
            if constraint_name(exc) != OVERLAP_CONSTRAINT:
                raise
            raise ValidationError(
                {"effective_from": ["Overlaps a rate of the same scope and family."]}
            ) from None
    return rate


def rate_end(*, actor, rate_id: int, effective_to: datetime) -> PayRate:
    """End the current (open-ended) rate ``rate_id`` at ``effective_to`` (exclusive): from then
    on it pays nothing, and the next rate may start there.

    NotFound when there is no such rate; Conflict (``rate_ended``) when the rate has an end
    already. ValidationError on ``effective_to`` when it is not time-zone aware, not after the
    rate's start, or before the end of an approved or closed period the rate paid in (ending
    it there would change what that period paid).
    """
    errors: dict[str, list[str]] = {}
    _clean_moment(errors, "effective_to", effective_to)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rate = get_or_not_found(PayRate.objects.select_for_update(no_key=True), pk=rate_id)
        if rate.effective_to is not None:
            raise Conflict(
                f"Rate #{rate.pk} already ends at {rate.effective_to.isoformat()}.",
                code="rate_ended",
            )
        if effective_to <= rate.effective_from:
            raise ValidationError(
                {"effective_to": [f"Must be after the rate's start, {rate.effective_from}."]}
            )
        # What changes is [effective_to, ∞): no frozen period may meet it.
        frozen = _lock_frozen(effective_to, None)
        if frozen:
            raise ValidationError(
                {
                    "effective_to": [
                        f"The rate paid in pay period {frozen[-1].label}, which is "
                        f"{frozen[-1].status}: end it at or after "
                        f"{frozen[-1].ends_at.isoformat()}."
                    ]
                }
            )
        rate.effective_to = effective_to
        rate.save(update_fields=["effective_to"])
    return rate


# -- policy, bonus tiers, contracts, exchange rates ----------------------------------------------


def _fraction(errors, name: str, value: Any, model: type[models.Model]) -> Decimal | None:
    return clean_decimal(errors, name, value, model=model, minimum=Decimal(0), maximum=Decimal(1))


def policy_set(*, actor, project: Project, rejected_fraction: Decimal, clawback: bool) -> PayPolicy:
    """Set ``project``'s pay policy: what a rejected label earns as a fraction of the rate
    (a Decimal in [0, 1], 0 = unpaid) and whether an overturned decision may take money back.
    ValidationError on ``rejected_fraction`` or ``clawback`` when out of range or not of their
    type."""
    errors: dict[str, list[str]] = {}
    rejected_fraction = _fraction(errors, "rejected_fraction", rejected_fraction, PayPolicy)
    if not isinstance(clawback, bool):
        errors["clawback"] = ["Give true or false."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        policy, _ = PayPolicy.objects.update_or_create(
            project=project,
            defaults={"rejected_fraction": rejected_fraction, "clawback": clawback},
        )
    return policy


def bonus_tier_create(
    *, actor, project: Project, min_lower_bound: Decimal, min_checks: int, percent: Decimal
) -> BonusTier:
    """A bonus tier of ``project``: ``percent`` (> 0) of task earnings when the lower bound of
    the Wilson interval of gold accuracy is at least ``min_lower_bound`` (in [0, 1]) over at
    least ``min_checks`` (≥ 1) gold checks. ValidationError naming each field at fault, and on
    ``min_lower_bound`` when the project has a tier with the same bound and number of checks."""
    errors: dict[str, list[str]] = {}
    min_lower_bound = _fraction(errors, "min_lower_bound", min_lower_bound, BonusTier)
    percent = clean_decimal(
        errors, "percent", percent, model=BonusTier, minimum=Decimal(0), above_minimum=True
    )
    if isinstance(min_checks, bool) or not isinstance(min_checks, int) or min_checks < 1:
        errors["min_checks"] = ["Give a whole number of checks, at least 1."]
    if errors:
        raise ValidationError(errors)
    tier = BonusTier(
        project=project, min_lower_bound=min_lower_bound, min_checks=min_checks, percent=percent
    )
    with transaction.atomic():
        if BonusTier.objects.filter(
            project=project, min_lower_bound=min_lower_bound, min_checks=min_checks
        ).exists():
            raise ValidationError({"min_lower_bound": [TIER_TAKEN]})
        save_unique(tier, field="min_lower_bound", message=TIER_TAKEN)
    return tier


def contract_set(
    *, actor, vendor: Vendor, fee_percent: Decimal, fee_per_label: Decimal
) -> VendorContract:
    """Set ``vendor``'s fee: ``fee_percent`` of its labelers' earnings (per currency) and
    ``fee_per_label`` per paid label in the contract currency, the vendor's
    ``default_currency``. Both Decimals, at least 0. ValidationError naming each field at
    fault, and on ``vendor`` when its currency is not ISO 4217."""
    errors: dict[str, list[str]] = {}
    clean_currency(errors, "vendor", vendor.default_currency)
    fee_percent = clean_decimal(
        errors, "fee_percent", fee_percent, model=VendorContract, minimum=Decimal(0)
    )
    fee_per_label = clean_decimal(
        errors, "fee_per_label", fee_per_label, model=VendorContract, minimum=Decimal(0)
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        contract, _ = VendorContract.objects.update_or_create(
            vendor=vendor,
            defaults={"fee_percent": fee_percent, "fee_per_label": fee_per_label},
        )
    return contract


def exchange_rate_set(
    *, actor, base: str, quote: str, rate: Decimal, effective_from: date
) -> ExchangeRate:
    """One ``base`` is worth ``rate`` (a Decimal > 0) ``quote`` from ``effective_from`` (a
    date) until the pair's next row; setting a pair's rate on a date it has replaces it.
    Reporting only: what is owed is never converted. ValidationError naming each field at
    fault (a code that is not ISO 4217, the same code twice — on ``quote``)."""
    errors: dict[str, list[str]] = {}
    base = clean_currency(errors, "base", base)
    quote = clean_currency(errors, "quote", quote)
    if base and base == quote:
        errors["quote"] = ["Must differ from base."]
    rate = clean_decimal(
        errors, "rate", rate, model=ExchangeRate, minimum=Decimal(0), above_minimum=True
    )
    if isinstance(effective_from, datetime) or not isinstance(effective_from, date):
        errors["effective_from"] = ["Give a date."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row, _ = ExchangeRate.objects.update_or_create(
            base=base, quote=quote, effective_from=effective_from, defaults={"rate": rate}
        )
    return row
