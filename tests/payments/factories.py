"""payments factories: decided work to pay (real and control labels, resolved reviews, hourly
time), rates, policies and periods.

Work is written directly (bulk), as the facts the calculation reads: a submitted assignment on
a decided task with its label outcome (real) or gold check (control), at a stated time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from assignments.models import Assignment, Project, Review, Task
from payments.models import (
    BonusTier,
    ExchangeRate,
    Invoice,
    LedgerLine,
    PayPeriod,
    PayPolicy,
    PayRate,
    VendorContract,
)
from payments.services import calculate, periods
from qc.models import GoldCheck, LabelOutcome
from tests.assignments.factories import gold_item, make_project
from workforce.models import Labeler, User

# November 2026 (UTC): the period most tests pay; December follows it.
NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)
MID_NOV = datetime(2026, 11, 15, 12, tzinfo=UTC)

_ids = itertools.count(1)


def make_period(starts_at=NOV, ends_at=DEC, *, status=PayPeriod.Status.OPEN, **extra) -> PayPeriod:
    """A monthly UTC period (November 2026 by default), written directly."""
    return PayPeriod.objects.create(
        cadence=extra.pop("cadence", PayPeriod.Cadence.MONTHLY),
        timezone=extra.pop("timezone", "UTC"),
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
        **extra,
    )


def make_rate(
    project: Project, amount, currency="USD", *, unit="accepted_label", **extra
) -> PayRate:
    """A rate of ``project`` in effect from 2026-01-01 (project scope unless ``vendor`` or
    ``labeler`` or ``scope`` is given)."""
    scope = extra.pop("scope", None) or (
        "vendor" if extra.get("vendor") else "labeler" if extra.get("labeler") else "project"
    )
    return PayRate.objects.create(
        project=project,
        scope=scope,
        unit=unit,
        amount=Decimal(str(amount)),
        currency=currency,
        effective_from=extra.pop("effective_from", datetime(2026, 1, 1, tzinfo=UTC)),
        **extra,
    )


def set_policy(project: Project, *, rejected_fraction="0", clawback=True) -> PayPolicy:
    return PayPolicy.objects.update_or_create(
        project=project,
        defaults={"rejected_fraction": Decimal(rejected_fraction), "clawback": clawback},
    )[0]


def bonus_tier(project: Project, *, lower="0.95", n=30, percent="10") -> BonusTier:
    return BonusTier.objects.create(
        project=project, min_lower_bound=Decimal(lower), min_checks=n, percent=Decimal(percent)
    )


def contract(vendor, *, percent="0", per_label="0") -> VendorContract:
    return VendorContract.objects.update_or_create(
        vendor=vendor,
        defaults={"fee_percent": Decimal(percent), "fee_per_label": Decimal(per_label)},
    )[0]


def _assignments(
    project: Project, labeler: Labeler, n: int, *, at, control: bool, seconds: int, decided=None
):
    item = gold_item(slug=f"pay-gold-{project.pk}") if control else None
    tasks = Task.objects.bulk_create(
        Task(
            project=project,
            gold_item=item,
            payload={"image_url": f"https://img.example.test/p{next(_ids)}.jpg"},
            target=1 if control else project.overlap,
            submitted=1 if control else project.overlap,
            is_open=False,
            state="complete",
            decided_at=None if decided is None else at,
            decided_by="" if decided is None else "consensus",
            final_answer=decided,
        )
        for _ in range(n)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            task=task,
            project=project,
            labeler=labeler,
            is_control=control,
            status=Assignment.Status.SUBMITTED,
            leased_at=at - timedelta(minutes=5),
            expires_at=at + timedelta(minutes=10),
            submitted_at=at - timedelta(minutes=1),
            answer="crack",
            active_seconds=seconds,
        )
        for task in tasks
    )
    return item, assignments


def decided_labels(
    project: Project,
    labeler: Labeler,
    *,
    accepted: int = 0,
    rejected: int = 0,
    at: datetime = MID_NOV,
    control: bool = False,
    seconds: int = 60,
) -> list[Assignment]:
    """``accepted`` + ``rejected`` submitted labels of ``labeler`` on ``project``, decided at
    ``at``: real tasks with a label outcome each, or (``control``) control tasks with a gold
    check each (answer "crack"; a rejected one failed its check). Returns the assignments,
    accepted first."""
    item, assignments = _assignments(
        project,
        labeler,
        accepted + rejected,
        at=at,
        control=control,
        seconds=seconds,
        decided=None if control else "crack",
    )
    for i, a in enumerate(assignments):
        ok = i < accepted
        if control:
            GoldCheck.objects.create(
                labeler=labeler,
                gold_item=item,
                project_id=project.pk,
                assignment_id=a.pk,
                answer="crack",
                correct=ok,
                expected_class="crack",
                answer_class="crack",
                checked_at=at,
            )
        else:
            LabelOutcome.objects.create(
                project_id=project.pk,
                task_id=a.task_id,
                assignment_id=a.pk,
                labeler=labeler,
                answer="crack",
                answer_class="crack",
                final_class="crack" if ok else "rust",
                agrees_final=ok,
                peers=1,
                peers_agreeing=1 if ok else 0,
                decided_by="consensus",
                submitted_at=a.submitted_at,
                decided_at=at,
                active_seconds=seconds,
            )
    return assignments


def pending_labels(project: Project, labeler: Labeler, n: int, *, at=MID_NOV) -> list[Assignment]:
    """``n`` submitted labels on tasks not yet decided (no outcome)."""
    return _assignments(project, labeler, n, at=at, control=False, seconds=60)[1]


def resolved_reviews(project: Project, reviewer: Labeler, n: int, *, at=MID_NOV) -> list[Review]:
    """``n`` disagreement reviews of ``project`` resolved by ``reviewer`` at ``at``."""
    _, assignments = _assignments(project, reviewer, n, at=at, control=False, seconds=30)
    return Review.objects.bulk_create(
        Review(
            task_id=a.task_id,
            project=project,
            kind=Review.Kind.DISAGREEMENT,
            status=Review.Status.RESOLVED,
            reviewer=reviewer,
            leased_at=at - timedelta(minutes=3),
            resolved_at=at,
            answer="crack",
        )
        for a in assignments
    )


def overturn(assignment: Assignment, *, accepted: bool, at: datetime) -> None:
    """A review changes the verdict on ``assignment`` (real) or a gold correction re-grades it
    (control) at ``at``."""
    if assignment.is_control:
        GoldCheck.objects.filter(assignment_id=assignment.pk).update(correct=accepted)
    else:
        LabelOutcome.objects.filter(assignment_id=assignment.pk).update(
            agrees_final=accepted, decided_by="review", decided_at=at
        )


# -- the admin smoke test's sample rows ---------------------------------------------------------

OCT = datetime(2026, 10, 1, tzinfo=UTC)
MID_OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)


def payments_admin_samples(*, actor, labeler: Labeler) -> dict[str, Any]:
    """At least one row of every payments model with an admin, for the admin smoke test
    (tests/config/test_admin_smoke.py) and the payments admin's tests: a project paid
    0.10 EUR per accepted label (half for a rejected one, a bonus tier), the contract of
    ``labeler``'s vendor (5 %), an exchange rate, all written directly; ``labeler``'s decided
    labels in October and November 2026; October calculated and approved (its invoice for the
    vendor) and November calculated, through the services."""
    project = make_project(tasks=0, slug="pay-sample", name="Pay sample")
    rate = make_rate(project, "0.10", "EUR")
    policy = set_policy(project, rejected_fraction="0.5")
    tier = bonus_tier(project)
    fee = contract(labeler.vendor, percent="5")
    exchange = ExchangeRate.objects.create(
        base="EUR", quote="USD", rate=Decimal("1.08"), effective_from=OCT.date()
    )
    october, november = make_period(OCT, NOV), make_period(NOV, DEC)
    decided_labels(project, labeler, accepted=3, rejected=1, at=MID_OCT)
    decided_labels(project, labeler, accepted=2, at=MID_NOV)
    calculate.period_calculate(actor=actor, period_id=october.pk)
    periods.period_approve(actor=actor, period_id=october.pk, reason="sample")
    calculation = calculate.period_calculate(actor=actor, period_id=november.pk)
    return {
        "pay_project": project,
        "rate": rate,
        "policy": policy,
        "bonus_tier": tier,
        "contract": fee,
        "exchange_rate": exchange,
        "approved_period": october,
        "period": november,
        "calculation": calculation,
        "invoice": Invoice.objects.get(period=october),
    }


def vendor_with_lines(vendor, project, period, n: int) -> None:
    """``n`` labelers of ``vendor`` with a task line and a bonus line each, written in bulk."""
    users = User.objects.bulk_create(
        User(username=f"{vendor.slug}-bulk-{i}", email=f"{vendor.slug}{i}@example.test")
        for i in range(n)
    )
    labelers = Labeler.objects.bulk_create(
        Labeler(user=user, kind=Labeler.Kind.VENDOR, vendor=vendor) for user in users
    )
    LedgerLine.objects.bulk_create(
        LedgerLine(
            period=period,
            project=project,
            labeler=labeler,
            vendor=vendor,
            kind=kind,
            basis="accepted" if kind == "task" else "",
            quantity=Decimal(10),
            unit_rate=Decimal("0.1"),
            amount=Decimal("1.00"),
            currency="EUR",
        )
        for labeler in labelers
        for kind in ("task", "bonus")
    )
