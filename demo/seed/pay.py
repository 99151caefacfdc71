"""The demo's pay: what the half-done project pays, week by week.

Rates for the project "poles-north" (``demo.seed.work``): a project rate per accepted label in
USD, overridden for each vendor's labelers in their contract currency (Northwind EUR, Kestrel
INR), an hourly rate for internal staff, a rate per resolved review (only seniors review). Its
pay policy pays a rejected label a quarter of the rate and claws back; a bonus tier; the
vendors' contracts (Northwind a percentage, Kestrel an amount per label); exchange rates to USD
for reporting. Weekly pay periods in UTC cover the work: the past weeks are calculated, approved
(which issues the vendors' invoices) and closed; this week a labeler flags a label and the
senior labeler resolves the flag (a review, paid); then operations correct a control photo's gold
answer, which re-grades labels paid as rejected in a closed week, so calculating the current
week (left calculated, not approved: it has not ended) adds adjustment lines pointing at it.

Everything goes through the services of ``payments``, ``assignments`` and ``qc``. Idempotent:
rates, policy, tier, contracts and exchange rates are found by their natural keys, periods by
their start; a period moves only from where an earlier run left it; the flag is found by its
question and the gold correction by its status-history row, so a second run creates nothing and
prints the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.db.models import Min
from django.utils import timezone

from assignments.models import Assignment, Project, Review
from assignments.services import review as reviews
from demo.seed.work import DEMO_PROJECT
from payments.currency import quantum
from payments.models import (
    BonusTier,
    ExchangeRate,
    Invoice,
    LedgerLine,
    PaidItem,
    PayPeriod,
    PayPolicy,
    PayRate,
    VendorContract,
)
from payments.services import calculate, periods, rates
from qc.models import GoldCheck, GoldItemStatusChange
from qc.services import gold_health
from workforce.models import Labeler

if TYPE_CHECKING:
    from demo.seed import DemoSeed

Unit = PayRate.Unit
Scope = PayRate.Scope
Status = PayPeriod.Status


@dataclass(frozen=True)
class DemoRate:
    scope: str
    vendor: str | None  # a vendor slug for a vendor rate
    unit: str
    amount: Decimal
    currency: str
    note: str


# The project's rates. Each family of units (work; reviews) is paid at the most specific scope
# with a rate in effect (payments.models.PayRate): vendor labelers at their vendor's rate,
# internal staff by the hour, anyone else at the project rate.
RATES = (
    DemoRate(
        Scope.PROJECT, None, Unit.ACCEPTED_LABEL, Decimal("0.40"), "USD", "Standard label rate."
    ),
    DemoRate(
        Scope.VENDOR,
        "northwind",
        Unit.ACCEPTED_LABEL,
        Decimal("0.36"),
        "EUR",
        "Northwind's contract rate, in euros.",
    ),
    DemoRate(
        Scope.VENDOR,
        "kestrel",
        Unit.ACCEPTED_LABEL,
        Decimal("30.00"),
        "INR",
        "Kestrel's contract rate, in rupees.",
    ),
    DemoRate(
        Scope.INTERNAL,
        None,
        Unit.ACTIVE_HOUR,
        Decimal("24.00"),
        "USD",
        "Internal staff are paid for their active time, not per label.",
    ),
    DemoRate(
        Scope.PROJECT,
        None,
        Unit.RESOLVED_REVIEW,
        Decimal("1.00"),
        "USD",
        "Per review resolved (only senior labelers review).",
    ),
)
REJECTED_FRACTION = Decimal("0.25")
CLAWBACK = True
# The quality bonus: +5% at a Wilson lower bound of 0.5 over at least 4 gold checks in the week.
# Weekly volumes are small in the demo (a few control tasks a week each), so the tier asks for
# little; a real project would ask more, e.g. a lower bound of 0.95 over 30 checks.
BONUS_LOWER_BOUND, BONUS_CHECKS, BONUS_PERCENT = Decimal("0.5"), 4, Decimal("5")
# A vendor's fee: (percent of its labelers' earnings, amount per paid label in its currency).
CONTRACTS = {"northwind": (Decimal("8"), Decimal("0")), "kestrel": (Decimal("0"), Decimal("1.50"))}
# One unit of the base currency in USD, for the reports across currencies; what is owed is
# never converted.
EXCHANGE_RATES = (("EUR", "USD", Decimal("1.0850")), ("INR", "USD", Decimal("0.0119")))

APPROVE_REASON = "Checked the week's totals against the project's progress."
CLOSE_REASON = "Paid: the labelers' payroll and the vendors' invoices are settled."
# This week's flag, and the senior labeler's answer to it (and to any review before it).
SENIOR = "senior"
FLAG_QUESTION = (
    "The pole has surface rust and a hairline crack near the base: which does the guide rank first?"
)
REVIEW_NOTE = "Checked against the guide's severity order (1.1): this answer stands."
# The gold correction that overturns verdicts paid in a closed week; its status-history row
# carries this text, so a second run finds it made.
CORRECTION_REASON = (
    "Re-examined after the week closed: the photo shows this defect as plainly as the one "
    "first accepted, so both answers are right."
)


def _week_start(day: date) -> datetime:
    """Monday 00:00 UTC of the ISO week containing ``day``."""
    return datetime.combine(day - timedelta(days=day.weekday()), time.min, tzinfo=UTC)


def _project() -> Project | None:
    return Project.objects.filter(slug=DEMO_PROJECT).first()


def _first_week(project: Project, now: datetime) -> datetime:
    """Monday 00:00 UTC of the week of the project's first label (this week's without one):
    where the rates start and the first pay period begins."""
    first = Assignment.objects.filter(project=project).aggregate(at=Min("submitted_at"))["at"]
    return _week_start((first or now).date())


def _ensure(seed: DemoSeed, what: str, model, create, key: dict, **values) -> None:
    """The ``model`` row with ``key`` (its natural key) if an earlier run made it, else
    ``create(actor=ops, **key, **values)``: every key is also an argument of the service."""
    seed.ensure(
        what,
        model.objects.filter(**key).first(),
        partial(create, actor=seed.ops, **key, **values),
    )


def seed_rates(seed: DemoSeed) -> None:
    """The project's rates, pay policy and bonus tier, the vendors' contracts and the exchange
    rates, each from the start of the week of the project's first label."""
    project = _project()
    if project is None:
        return
    since = _first_week(project, timezone.now())
    for spec in RATES:
        key = {
            "project": project,
            "scope": spec.scope,
            "vendor": seed.vendors[spec.vendor] if spec.vendor else None,
            "unit": spec.unit,
        }
        _ensure(
            seed,
            "pay rates",
            PayRate,
            rates.rate_create,
            key,
            amount=spec.amount,
            currency=spec.currency,
            effective_from=since,
            note=spec.note,
        )
    _ensure(
        seed,
        "pay policies",
        PayPolicy,
        rates.policy_set,
        {"project": project},
        rejected_fraction=REJECTED_FRACTION,
        clawback=CLAWBACK,
    )
    _ensure(
        seed,
        "bonus tiers",
        BonusTier,
        rates.bonus_tier_create,
        {"project": project, "min_lower_bound": BONUS_LOWER_BOUND, "min_checks": BONUS_CHECKS},
        percent=BONUS_PERCENT,
    )
    for slug, (fee_percent, fee_per_label) in CONTRACTS.items():
        _ensure(
            seed,
            "vendor contracts",
            VendorContract,
            rates.contract_set,
            {"vendor": seed.vendors[slug]},
            fee_percent=fee_percent,
            fee_per_label=fee_per_label,
        )
    for base, quote, rate in EXCHANGE_RATES:
        key = {"base": base, "quote": quote, "effective_from": since.date()}
        _ensure(seed, "exchange rates", ExchangeRate, rates.exchange_rate_set, key, rate=rate)


def _weeks(project: Project, now: datetime) -> list[datetime]:
    """The Mondays (UTC) of the weeks from the project's first label to now, oldest first."""
    start, current = _first_week(project, now), _week_start(now.date())
    return [start + timedelta(weeks=n) for n in range((current - start).days // 7 + 1)]


def _period(seed: DemoSeed, starts_at: datetime) -> PayPeriod:
    return seed.ensure(
        "pay periods",
        PayPeriod.objects.filter(starts_at=starts_at).first(),
        partial(
            periods.period_create,
            actor=seed.ops,
            cadence=PayPeriod.Cadence.WEEKLY,
            starts_on=starts_at.date(),
            timezone="UTC",
        ),
    )


def _calculate(seed: DemoSeed, period: PayPeriod) -> PayPeriod:
    calculate.period_calculate(actor=seed.ops, period_id=period.pk)
    seed.created["pay period calculations"] += 1
    return PayPeriod.objects.get(pk=period.pk)


def _settle(seed: DemoSeed, period: PayPeriod) -> None:
    """A week that has ended: calculated (again, if an earlier run left it calculated),
    approved — which issues the vendors' invoices — and closed."""
    if period.status in (Status.OPEN, Status.CALCULATED):
        period = _calculate(seed, period)
    if period.status == Status.CALCULATED:
        period = periods.period_approve(
            actor=seed.ops,
            period_id=period.pk,
            reason=APPROVE_REASON,
            expected_hash=period.ledger_hash,
        )
        seed.created["invoices"] += Invoice.objects.filter(period=period).count()
    if period.status == Status.APPROVED:
        periods.period_close(actor=seed.ops, period_id=period.pk, reason=CLOSE_REASON)
        seed.created["closed pay periods"] += 1


def seed_periods(seed: DemoSeed) -> None:
    """Weekly periods over the project's work: each past week settled (``_settle``); then this
    week's flag and review (``review_flag``) and the gold correction (``correct_gold``); then the
    current week calculated, not approved (it has not ended)."""
    project = _project()
    if project is None:
        return
    now = timezone.now()
    weeks = [_period(seed, starts_at) for starts_at in _weeks(project, now)]
    for period in weeks[:-1]:
        _settle(seed, period)
    review_flag(seed, project)
    correct_gold(seed, project)
    current = weeks[-1]
    if current.status == Status.OPEN:
        _calculate(seed, current)


def _flag_target(project: Project, senior: Labeler) -> Assignment | None:
    """The first vendor label on a real task paid as rejected in a closed week (it lost to the
    consensus answer), on a task the senior did not label and no review has touched."""
    paid = PaidItem.objects.filter(
        kind=PaidItem.Kind.TASK,
        basis=LedgerLine.Basis.REJECTED,
        corrects__isnull=True,
        period__status=Status.CLOSED,
        line__project=project,
    ).values("assignment_id")
    return (
        Assignment.objects.select_related("labeler")
        .filter(
            pk__in=paid,
            is_control=False,
            status=Assignment.Status.SUBMITTED,
            labeler__kind=Labeler.Kind.VENDOR,
        )
        .exclude(task__assignments__labeler=senior)
        .exclude(task__reviews__isnull=False)
        .order_by("submitted_at", "id")
        .first()
    )


def review_flag(seed: DemoSeed, project: Project) -> None:
    """This week a vendor labeler flags a label of theirs that lost to the consensus answer
    in a closed week, asking whether their answer was right after all; the senior labeler works
    the review queue (answering with the task's answer, or for a task still undecided the first
    label's) and, on that flag, agrees with the labeler: the review overturns the closed week's
    decision. The review is paid at the review rate in the current week, and the labels whose
    verdict changed are adjusted there. Once: the flag is found by its question."""
    flagged = Review.objects.filter(project=project, kind=Review.Kind.FLAG, question=FLAG_QUESTION)
    if flagged.exists():
        seed.existing["flags"] += 1
        return
    senior = Labeler.objects.filter(user__username=SENIOR, status=Labeler.Status.ACTIVE).first()
    target = _flag_target(project, senior) if senior is not None else None
    if target is None:
        return
    flag = reviews.assignment_flag(
        labeler=target.labeler, assignment_id=target.pk, question=FLAG_QUESTION
    ).review
    seed.created["flags"] += 1
    while (claim := reviews.review_claim_next(reviewer=senior, project_id=project.pk)) is not None:
        task = claim.review.task
        if claim.review.pk == flag.pk:
            answer = target.answer  # the labeler was right: the closed week's decision changes
        elif task.decided_at is None and not claim.answers:
            break  # a flag on a task without an answer yet: left to a person
        else:
            answer = task.final_answer if task.decided_at else claim.answers[0]["answer"]
        reviews.review_resolve(
            reviewer=senior, review_id=claim.review.pk, answer=answer, note=REVIEW_NOTE
        )
        seed.created["resolved reviews"] += 1
        if claim.review.pk == flag.pk:
            break


def _correction_target(project: Project) -> GoldCheck | None:
    """The first control label paid as rejected in a closed week whose gold item has no
    contested check (``demo.seed.quality`` contests one; its verdict is left to ops)."""
    paid = (
        PaidItem.objects.filter(
            kind=PaidItem.Kind.TASK,
            basis=LedgerLine.Basis.REJECTED,
            corrects__isnull=True,
            period__status=Status.CLOSED,
            line__project=project,
        )
        .order_by("earned_at", "id")
        .values_list("assignment_id", flat=True)
    )
    contested = GoldCheck.objects.filter(project_id=project.pk).exclude(contest="")
    return (
        GoldCheck.objects.select_related("gold_item", "labeler__user")
        .filter(assignment_id__in=list(paid), correct=False)
        .exclude(gold_item_id__in=contested.values("gold_item_id"))
        .order_by("checked_at", "id")
        .first()
    )


def correct_gold(seed: DemoSeed, project: Project) -> None:
    """After the weeks closed, operations re-examine a control photo that a labeler's answer,
    paid as rejected in a closed week, got wrong, and accept that answer too
    (``qc.services.gold_health.gold_item_correct``). Its checks are re-graded; the labels whose
    verdict changed are adjusted in the next calculated week. Once: the item's status history
    records the correction."""
    if GoldItemStatusChange.objects.filter(reason__contains=CORRECTION_REASON).exists():
        seed.existing["gold corrections"] += 1
        return
    check = _correction_target(project)
    if check is None:
        return
    item = check.gold_item
    gold_health.gold_item_correct(
        actor=seed.ops,
        item=item,
        accepted_answers=[*item.accepted_answers, check.answer],
        reason=CORRECTION_REASON,
    )
    seed.created["gold corrections"] += 1


# -- the report ----------------------------------------------------------------------------------


def _money(amount, currency: str) -> str:
    return f"{Decimal(amount).quantize(quantum(currency))} {currency}"


def _period_line(period: PayPeriod) -> str:
    invoices = [
        f"{invoice.reference} ("
        + ", ".join(_money(amount, code) for code, amount in sorted(invoice.totals.items()))
        + ")"
        for invoice in Invoice.objects.filter(period=period)
        .select_related("vendor")
        .order_by("vendor__slug")
    ]
    state = f"invoices {'; '.join(invoices)}" if invoices else "no invoices yet"
    return f"    {period.label}  {period.status:<10}  ledger {period.ledger_hash[:12]}…  {state}"


def _adjustments(weeks: list[PayPeriod]) -> list[str]:
    """Each adjustment line: whose, how much, and the closed week it corrects."""
    labels = {period.pk: period.label for period in weeks}
    lines = (
        LedgerLine.objects.filter(period__in=weeks, kind=LedgerLine.Kind.ADJUSTMENT)
        .select_related("labeler__user", "period")
        .order_by("period__starts_at", "labeler__user__username", "id")
    )
    return [
        f"    adjustment in {line.period.label}: {line.labeler.user.username} "
        f"{'+' if line.amount >= 0 else ''}{_money(line.amount, line.currency)} for "
        f"{labels.get(line.detail.get('corrects_period'), '?')} ({line.rule})"
        for line in lines
    ]


def report(seed: DemoSeed, base: str) -> list[str]:
    """The pay periods, their invoices and adjustments, and where to look as whom."""
    project = _project()
    weeks = list(PayPeriod.objects.order_by("starts_at"))
    if project is None or not weeks:
        return []
    correction = (
        GoldItemStatusChange.objects.filter(reason__contains=CORRECTION_REASON)
        .select_related("gold_item")
        .first()
    )
    adjusted = (
        LedgerLine.objects.filter(period__in=weeks, kind=LedgerLine.Kind.ADJUSTMENT)
        .order_by("id")
        .values_list("labeler__user__username", flat=True)
        .first()
    )
    flag = (
        Review.objects.filter(project=project, kind=Review.Kind.FLAG, question=FLAG_QUESTION)
        .select_related("assignment__labeler__user", "reviewer__user")
        .first()
    )
    northwind, kestrel = seed.vendors["northwind"].pk, seed.vendors["kestrel"].pk
    closed = [period.pk for period in weeks if period.status == Status.CLOSED]
    last_closed = closed[-1] if closed else weeks[-1].pk
    return [
        "",
        f"Pay on {project.name!r}, weekly periods (UTC): the past weeks closed with the vendors' "
        "invoices, this week calculated and waiting for approval:",
        *(_period_line(period) for period in weeks),
        *(
            [
                f"    this week {flag.assignment.labeler.user.username} flagged a label that "
                f"lost to consensus in a closed week and {flag.reviewer.user.username}, "
                "resolving the flag, agreed: a review line at the review rate, and the closed "
                "week's decision overturned"
            ]
            if flag and flag.reviewer
            else []
        ),
        *(
            [
                f"    after they closed, ops corrected control photo "
                f"{correction.gold_item.external_id}'s gold answer:"
            ]
            if correction
            else []
        ),
        *_adjustments(weeks),
        f"  admin (as ops): {base}/admin/payments/payperiod/ (calculate, approve, close: totals "
        f"and ledger hash on the confirmation page), {base}/admin/payments/ledgerline/, "
        f"{base}/admin/payments/invoice/, the cost report {base}/admin/payments/reports/costs/ "
        f"and vendor SLA cards {base}/admin/payments/reports/vendor-sla/",
        f"  GET {base}/api/v1/pay-periods/ as ops (…/{{id}}/payroll/: internal staff's CSV); "
        f"GET {base}/api/v1/vendors/{northwind}/invoices/ as northwind_manager, "
        f"/vendors/{kestrel}/invoices/ as kestrel_manager (each other's is a 404; "
        "?format=csv|xlsx|pdf on an invoice; "
        f"/vendors/{northwind}/statements/?period={last_closed}: its labelers by public code)",
        f"  GET {base}/api/v1/me/earnings/ as {adjusted or 'ines.costa'} (a vendor labeler"
        + (", with the adjustment from tomorrow" if adjusted else "")
        + ") or as senior (internal: paid by the hour, and per review from tomorrow): a "
        "period under way shows what was earned before the start of the day",
    ]
