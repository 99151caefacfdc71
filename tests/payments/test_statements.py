"""Statements: a labeler's lines by project and kind with totals that are the exact sums of the
lines, the bonus and its interval, adjustments and what they correct, pending work; figures of
a period under way only as of the start of the day, so that control tasks look exactly like real
ones; a vendor's labelers by public code only, scoped to the vendor's manager, in a constant
number of queries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.errors import NotFound
from payments.models import LedgerLine, PayPeriod
from payments.selectors.statements import earnings_for, statement_for, vendor_statements_for
from payments.services.calculate import period_calculate
from qc.selectors.quality_facts import start_of_day
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.payments.factories import (
    DEC,
    JAN,
    bonus_tier,
    decided_labels,
    make_period,
    make_rate,
    overturn,
    pending_labels,
    set_policy,
    vendor_with_lines,
)
from workforce.models import Labeler, User

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = max(NOW - timedelta(seconds=1), start_of_day(NOW) + timedelta(minutes=2))
YESTERDAY = start_of_day(NOW) - timedelta(hours=6)
# A period under way around today (from the day before yesterday, a week long), and the one
# before it, whatever today's date: the periods of the factories are fixed in November 2026.
LIVE = (start_of_day(NOW) - timedelta(days=2), start_of_day(NOW) + timedelta(days=5))
PAST = (LIVE[0] - timedelta(days=30), LIVE[0])
MID_PAST = PAST[0] + timedelta(days=15)


def approve(period: PayPeriod) -> PayPeriod:
    """The period approved as ``period_approve`` would leave it (its service is not called:
    these tests read statements, not the workflow)."""
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.APPROVED)
    period.refresh_from_db()
    return period


def calculated(period: PayPeriod) -> PayPeriod:
    period_calculate(actor=None, period_id=period.pk)
    period.refresh_from_db()
    return period


@pytest.fixture
def project(db):
    return make_project(tasks=0)


@pytest.mark.parametrize(
    ("currency", "rate", "accepted_amount", "rejected_amount", "total"),
    [
        # 7 * 0.125 = 0.875 → 0.88; 3 * 0.0625 = 0.1875 → 0.19 (rounded once per line).
        ("EUR", "0.125", "0.88", "0.19", "1.07"),
        # 7 * 12.5 = 87.5 → 88; 3 * 6.25 = 18.75 → 19.
        ("JPY", "12.5", "88", "19", "107"),
        # 7 * 0.0125 = 0.0875 → 0.088; 3 * 0.00625 = 0.01875 → 0.019.
        ("KWD", "0.0125", "0.088", "0.019", "0.107"),
    ],
)
def test_a_statement_groups_lines_by_project_and_kind_and_its_totals_are_the_line_sums(
    vendor_labeler, project, currency, rate, accepted_amount, rejected_amount, total
):
    make_rate(project, rate, currency)
    set_policy(project, rejected_fraction="0.5")
    decided_labels(project, vendor_labeler, accepted=4, rejected=2)
    decided_labels(project, vendor_labeler, accepted=3, rejected=1, control=True)
    pending_labels(project, vendor_labeler, 2)
    period = approve(calculated(make_period()))

    statement = statement_for(labeler=vendor_labeler, period=period)

    assert statement.final and statement.as_of is None and statement.period == "2026-11"
    [section] = statement.projects
    assert section.project == project.name
    assert [(x.kind, x.basis, x.quantity, x.amount, x.currency) for x in section.lines] == [
        ("task", "accepted", Decimal(7), Decimal(accepted_amount), currency),
        ("task", "rejected", Decimal(3), Decimal(rejected_amount), currency),
    ]
    assert statement.totals == {currency: Decimal(total)} == section.totals
    stored = LedgerLine.objects.filter(period=period, labeler=vendor_labeler)
    assert statement.totals[currency] == sum(line.amount for line in stored)
    assert statement.pending == section.pending == 2


def test_a_statement_states_the_bonus_reached_with_its_n_and_interval(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    bonus_tier(project, lower="0.85", n=30, percent="10")
    decided_labels(project, vendor_labeler, accepted=40, control=True)
    decided_labels(project, vendor_labeler, accepted=20)
    period = approve(calculated(make_period()))

    statement = statement_for(labeler=vendor_labeler, period=period)

    [bonus] = statement.bonuses
    line = LedgerLine.objects.get(period=period, kind="bonus")
    assert (bonus.n, bonus.correct, bonus.percent, bonus.tier) == (
        40,
        40,
        Decimal("10.00"),
        line.detail["tier"],
    )
    assert bonus.lower == Decimal(line.detail["lower"]) and Decimal("0.85") <= bonus.lower < 1
    assert bonus.upper == Decimal(1)
    assert (bonus.base, bonus.amount, bonus.currency) == (Decimal("6.00"), Decimal("0.6"), "EUR")
    assert "gold accuracy" in bonus.rule
    assert statement.totals == {"EUR": Decimal("6.60")}


def test_an_adjustment_says_what_it_corrects_and_why(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    labels = decided_labels(project, vendor_labeler, accepted=1, rejected=1)
    november = approve(calculated(make_period()))
    overturn(labels[1], accepted=True, at=YESTERDAY)
    december = calculated(make_period(DEC, JAN))

    [adjustment] = statement_for(labeler=vendor_labeler, period=december).adjustments

    assert adjustment.corrects_period == november.label == "2026-11"
    assert adjustment.rule == "A review overturned the decision"
    assert (adjustment.basis, adjustment.quantity, adjustment.amount) == (
        "accepted",
        Decimal(1),
        Decimal("0.1"),
    )


def test_work_submitted_today_is_pending_even_when_decided(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    decided_labels(project, vendor_labeler, accepted=2, at=YESTERDAY)
    decided_labels(project, vendor_labeler, accepted=3, at=TODAY)  # decided today
    decided_labels(project, vendor_labeler, accepted=4, at=TODAY, control=True)  # checked today
    pending_labels(project, vendor_labeler, 1, at=YESTERDAY)
    live = calculated(make_period(*LIVE))
    assert LedgerLine.objects.get(period=live, labeler=vendor_labeler).quantity == 9

    statement = statement_for(labeler=vendor_labeler, period=live)

    assert not statement.final and statement.as_of == start_of_day(NOW)
    [line] = statement.projects[0].lines
    assert (line.quantity, line.amount) == (Decimal(2), Decimal("0.20"))
    assert statement.totals == {"EUR": Decimal("0.20")}
    assert statement.pending == 3 + 4 + 1


def test_a_label_paid_in_a_frozen_period_is_not_pending_after_a_review_decides_it_again(
    vendor_labeler, project
):
    make_rate(project, "0.10", "EUR")
    [label] = decided_labels(project, vendor_labeler, rejected=1, at=MID_PAST)
    past = approve(calculated(make_period(*PAST)))
    # Today a review overturns it: its outcome is decided again, today.
    overturn(label, accepted=True, at=TODAY)

    statement = statement_for(labeler=vendor_labeler, period=past)

    assert statement.final and statement.pending == 0
    assert earnings_for(labeler=vendor_labeler).pending == 0


def test_a_deduction_of_a_period_under_way_shows_as_it_is(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    decided_labels(project, vendor_labeler, accepted=2, at=YESTERDAY)
    live = calculated(make_period(*LIVE))
    LedgerLine.objects.create(
        period=live,
        project=project,
        labeler=vendor_labeler,
        vendor=vendor_labeler.vendor,
        kind="deduction",
        quantity=Decimal(1),
        unit_rate=Decimal("-0.05"),
        amount=Decimal("-0.05"),
        currency="EUR",
        rule="Equipment",
    )

    statement = statement_for(labeler=vendor_labeler, period=live)

    assert [(x.kind, x.amount) for x in statement.projects[0].lines] == [
        ("deduction", Decimal("-0.05")),
        ("task", Decimal("0.20")),
    ]
    assert statement.totals == {"EUR": Decimal("0.15")}


def _world(project, labeler, *, control: bool) -> None:
    """The same work of ``labeler``, with some labels on control tasks (``control``) or every
    label on real tasks: in the past period (paid and approved), yesterday and today."""
    decided_labels(project, labeler, accepted=3, rejected=1, at=MID_PAST)
    decided_labels(project, labeler, accepted=2, rejected=1, at=MID_PAST, control=control)
    decided_labels(project, labeler, accepted=2, at=YESTERDAY)
    decided_labels(project, labeler, accepted=2, rejected=1, at=YESTERDAY, control=control)
    decided_labels(project, labeler, accepted=1, at=TODAY)
    decided_labels(project, labeler, accepted=2, rejected=1, at=TODAY, control=control)
    pending_labels(project, labeler, 2, at=YESTERDAY)
    pending_labels(project, labeler, 1, at=TODAY)


def _shown(earnings) -> dict:
    """Everything the labeler is shown, without their own public code."""
    data = dataclasses.asdict(earnings)
    text = repr(data).replace(earnings.public_code, "<code>")
    return {"data": text}


def test_a_statement_never_tells_control_tasks_from_real_ones(vendor_a, project):
    make_rate(project, "0.10", "EUR")
    set_policy(project, rejected_fraction="0.25")
    with_control = make_labeler(vendor=vendor_a, username="mixed")
    all_real = make_labeler(vendor=vendor_a, username="real")
    _world(project, with_control, control=True)
    _world(project, all_real, control=False)
    past = approve(calculated(make_period(*PAST)))
    live = calculated(make_period(*LIVE))

    mixed = earnings_for(labeler=with_control)
    real = earnings_for(labeler=all_real)

    assert [s.period for s in mixed.statements] == [past.label]
    assert [s.period for s in mixed.current] == [live.label]
    assert _shown(mixed) == _shown(real)
    assert mixed.pending == real.pending == 2 + 1 + 1 + 3  # yesterday's, and today's four
    # Yesterday: 4 accepted (0.40) and 1 rejected at a quarter (0.025, rounded to 0.03).
    assert mixed.current[0].totals == {"EUR": Decimal("0.43")}
    assert mixed.statements[0].totals == {"EUR": Decimal("0.55")}
    words = repr(dataclasses.asdict(mixed)).lower()
    assert "control" not in words and "assignment" not in words


def test_earnings_of_a_period_not_yet_calculated_are_pending_counts_only(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    decided_labels(project, vendor_labeler, accepted=2, at=YESTERDAY)
    make_period(*LIVE)

    earnings = earnings_for(labeler=vendor_labeler)

    [current] = earnings.current
    assert current.totals == {} and current.pending == 0
    assert [s.project for s in current.projects] == []
    assert earnings.statements == ()


# -- a vendor's labelers ------------------------------------------------------------------------


def _named(vendor, username: str) -> Labeler:
    labeler = make_labeler(vendor=vendor, username=username)
    User.objects.filter(pk=labeler.user_id).update(
        first_name=f"First{username}",
        last_name=f"Last{username}",
        email=f"{username}@mail.example.test",
    )
    labeler.user.refresh_from_db()
    return labeler


def test_a_vendor_manager_sees_their_labelers_by_public_code_only(
    vendor_a, vendor_b, manager_a, ops_user, project
):
    make_rate(project, "0.10", "EUR")
    ann, amy = _named(vendor_a, "annuser"), _named(vendor_a, "amyuser")
    bob = _named(vendor_b, "bobuser")
    decided_labels(project, ann, accepted=3, rejected=1)
    decided_labels(project, amy, accepted=5)
    decided_labels(project, bob, accepted=7)
    period = approve(calculated(make_period()))

    result = vendor_statements_for(actor=manager_a, vendor_id=vendor_a.pk, period_id=period.pk)

    assert {s.public_code: s.totals for s in result.labelers} == {
        ann.public_code: {"EUR": Decimal("0.30")},
        amy.public_code: {"EUR": Decimal("0.50")},
    }
    assert result.totals == {"EUR": Decimal("0.80")}
    rendered = repr([dataclasses.asdict(s) for s in result.labelers]) + repr(result.totals)
    for who in (ann, amy, bob):
        user = who.user
        for text in (user.username, "First" + user.username, "Last" + user.username, user.email):
            assert text not in rendered
    assert bob.public_code not in rendered
    as_ops = vendor_statements_for(actor=ops_user, vendor_id=vendor_a.pk, period_id=period.pk)
    assert as_ops.labelers == result.labelers


def test_vendor_statements_are_scoped(
    vendor_a, manager_a, manager_b, vendor_labeler, ops_user, project
):
    make_rate(project, "0.10", "EUR")
    decided_labels(project, vendor_labeler, accepted=1)
    approved = approve(calculated(make_period()))
    under_way = calculated(make_period(DEC, JAN))
    for actor, period in (
        (manager_b, approved),  # another vendor's
        (vendor_labeler.user, approved),  # a labeler
        (manager_a, under_way),  # a period not approved
    ):
        with pytest.raises(NotFound):
            vendor_statements_for(actor=actor, vendor_id=vendor_a.pk, period_id=period.pk)
    assert (
        vendor_statements_for(
            actor=ops_user, vendor_id=vendor_a.pk, period_id=under_way.pk
        ).labelers
        == ()
    )


def test_a_vendors_statements_page_costs_the_same_queries_for_200_labelers_as_for_2(
    vendor_a, vendor_b, manager_a, manager_b, project, django_assert_max_num_queries
):
    period = make_period()
    vendor_with_lines(vendor_a, project, period, 200)
    vendor_with_lines(vendor_b, project, period, 2)
    approve(period)

    counts = []
    for manager, vendor, n in ((manager_a, vendor_a, 200), (manager_b, vendor_b, 2)):
        with CaptureQueriesContext(connection) as queries:
            result = vendor_statements_for(actor=manager, vendor_id=vendor.pk, period_id=period.pk)
        assert len(result.labelers) == n and result.totals == {"EUR": Decimal(2 * n)}
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 10
    with django_assert_max_num_queries(10):
        vendor_statements_for(actor=manager_a, vendor_id=vendor_a.pk, period_id=period.pk)


def test_a_labelers_earnings_cost_the_same_queries_for_many_periods(vendor_labeler, project):
    make_rate(project, "0.10", "EUR")
    counts = []
    for month in (3, 4, 5, 6, 7):
        start = datetime(2026, month, 1, tzinfo=UTC)
        decided_labels(project, vendor_labeler, accepted=1, at=start + timedelta(days=3))
        approve(calculated(make_period(start, datetime(2026, month + 1, 1, tzinfo=UTC))))
        with CaptureQueriesContext(connection) as queries:
            earnings = earnings_for(labeler=vendor_labeler)
        assert len(earnings.statements) == month - 2
        counts.append(len(queries))
    assert len(set(counts)) == 1, counts
