"""``payments.selectors.statements.earnings_summary_for``: the labeler pages' two-figure
headline of ``earnings_for``, equal to it on the same data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import PayPeriod
from payments.selectors.statements import earnings_for, earnings_summary_for
from payments.services.calculate import period_calculate
from tests.assignments.factories import make_project
from tests.payments.factories import decided_labels, make_period, make_rate, pending_labels

pytestmark = pytest.mark.django_db


def _approved(period: PayPeriod, status=PayPeriod.Status.APPROVED) -> PayPeriod:
    period_calculate(actor=None, period_id=period.pk)
    PayPeriod.objects.filter(pk=period.pk).update(status=status)
    return period


def _summed(statements) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for statement in statements:
        for currency, amount in statement.totals.items():
            out[currency] = out.get(currency, Decimal(0)) + amount
    return out


def test_the_summary_is_the_sum_of_the_frozen_statements_and_the_pending_count(vendor_labeler):
    euros = make_project(tasks=0, slug="eur", name="Euros")
    yen = make_project(tasks=0, slug="jpy", name="Yen")
    make_rate(euros, "0.125", "EUR")
    make_rate(yen, "12.5", "JPY")
    for month, status in ((3, PayPeriod.Status.CLOSED), (4, PayPeriod.Status.APPROVED)):
        start = datetime(2026, month, 1, tzinfo=UTC)
        decided_labels(euros, vendor_labeler, accepted=3, rejected=1, at=start + timedelta(days=2))
        decided_labels(yen, vendor_labeler, accepted=2, at=start + timedelta(days=3))
        _approved(make_period(start, datetime(2026, month + 1, 1, tzinfo=UTC)), status)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    decided_labels(euros, vendor_labeler, accepted=5, at=start + timedelta(days=2))
    calculated = make_period(start, datetime(2026, 6, 1, tzinfo=UTC))
    period_calculate(actor=None, period_id=calculated.pk)  # calculated, not approved: not summed
    pending_labels(euros, vendor_labeler, 4, at=timezone.now() - timedelta(days=2))

    summary = earnings_summary_for(labeler=vendor_labeler)
    earnings = earnings_for(labeler=vendor_labeler)

    assert summary.approved == _summed(earnings.statements)
    assert set(summary.approved) == {"EUR", "JPY"}
    assert summary.pending == earnings.pending >= 4
    assert summary.as_of == earnings.as_of


def test_a_labeler_without_pay_has_an_empty_summary(internal_labeler, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = earnings_summary_for(labeler=internal_labeler)
    assert summary.approved == {} and summary.pending == 0
