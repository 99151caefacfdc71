"""Pay periods through payments.services.periods: boundaries at local midnight in a time zone
(across clock changes), no overlap (the service and the exclusion constraint), the workflow
with its history rows, and approval's invoices: one per vendor with lines, numbered without
gaps or repeats per vendor (also when approvals run at once, with real threads), totals equal
to the line sums in EUR, JPY and KWD."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict, InvalidTransition, NotFound
from payments.ledger import ledger_hash
from payments.models import Invoice, LedgerLine, PayPeriod, PayPeriodStatusChange
from payments.services import periods
from payments.services.calculate import period_calculate
from payments.services.periods import (
    period_approve,
    period_close,
    period_create,
    period_mark_calculated,
)
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import VendorFactory, race
from tests.payments.factories import NOV, contract, decided_labels, make_period, make_rate

pytestmark = pytest.mark.django_db

OCT = datetime(2026, 10, 1, tzinfo=UTC)
MID_OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)
S = PayPeriod.Status


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add_line(period, project, *, amount, currency, labeler=None, vendor=None, kind="task"):
    """A ledger line written directly: ``labeler``'s (their vendor's unless ``vendor`` is
    given), or a vendor fee line of ``vendor``."""
    amount = Decimal(amount)
    if kind == LedgerLine.Kind.VENDOR_FEE:
        labeler = None
    else:
        vendor = vendor or labeler.vendor
    return LedgerLine.objects.create(
        period=period,
        project=project,
        labeler=labeler,
        vendor=vendor,
        kind=kind,
        quantity=Decimal(1),
        unit_rate=amount,
        amount=amount,
        currency=currency,
    )


def mark_calculated(period, actor=None) -> PayPeriod:
    return period_mark_calculated(
        actor=actor, period_id=period.pk, ledger_hash=ledger_hash(period.pk)
    )


def history(period) -> list[tuple]:
    return [
        (c.from_status, c.to_status, c.actor, c.reason, c.ledger_hash)
        for c in PayPeriodStatusChange.objects.filter(period=period).order_by("at", "id")
    ]


@pytest.fixture
def project(db):
    return make_project(tasks=0)


# -- boundaries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "starts_on", "tz", "starts_at", "ends_at", "label"),
    [
        ("monthly", date(2026, 11, 17), "UTC", utc(2026, 11, 1), utc(2026, 12, 1), "2026-11"),
        # Berlin springs forward on 29 March: the month starts at +01:00 and ends at +02:00.
        (
            "monthly",
            date(2026, 3, 1),
            "Europe/Berlin",
            utc(2026, 2, 28, 23),
            utc(2026, 3, 31, 22),
            "2026-03",
        ),
        # …and falls back on 25 October: 31 days and one hour.
        (
            "monthly",
            date(2026, 10, 31),
            "Europe/Berlin",
            utc(2026, 9, 30, 22),
            utc(2026, 10, 31, 23),
            "2026-10",
        ),
        (
            "monthly",
            date(2026, 12, 31),
            "Asia/Kolkata",
            utc(2026, 11, 30, 18, 30),
            utc(2026, 12, 31, 18, 30),
            "2026-12",
        ),
        # The ISO week of Wednesday 25 March 2026 in Berlin, across the clock change: 167 hours.
        (
            "weekly",
            date(2026, 3, 25),
            "Europe/Berlin",
            utc(2026, 3, 22, 23),
            utc(2026, 3, 29, 22),
            "2026-W13",
        ),
        # New Year's Day 2027 is in week 53 of 2026, which starts on Monday 28 December.
        (
            "weekly",
            date(2027, 1, 1),
            "Asia/Kolkata",
            utc(2026, 12, 27, 18, 30),
            utc(2027, 1, 3, 18, 30),
            "2026-W53",
        ),
    ],
)
def test_periods_run_from_local_midnight_to_local_midnight(
    cadence, starts_on, tz, starts_at, ends_at, label
):
    period = period_create(actor=None, cadence=cadence, starts_on=starts_on, timezone=tz)
    period.refresh_from_db()
    assert (period.starts_at, period.ends_at) == (starts_at, ends_at)
    assert period.starts_at.tzinfo is not None
    assert (period.cadence, period.timezone, period.status, period.label) == (
        cadence,
        tz,
        S.OPEN,
        label,
    )


def test_a_berlin_month_with_a_clock_change_is_an_hour_short_or_long():
    march = period_create(
        actor=None, cadence="monthly", starts_on=date(2026, 3, 9), timezone="Europe/Berlin"
    )
    october = period_create(
        actor=None, cadence="monthly", starts_on=date(2026, 10, 9), timezone="Europe/Berlin"
    )
    assert march.ends_at - march.starts_at == timedelta(days=31, hours=-1)
    assert october.ends_at - october.starts_at == timedelta(days=31, hours=1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cadence": "daily"}, "cadence"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "+05:30"}, "timezone"),
        ({"starts_on": "2026-11-01"}, "starts_on"),
        ({"starts_on": datetime(2026, 11, 1, tzinfo=UTC)}, "starts_on"),
    ],
)
def test_bad_input_is_refused_on_its_field(db, overrides, field):
    kwargs = {"actor": None, "cadence": "monthly", "starts_on": date(2026, 11, 1)}
    with pytest.raises(ValidationError) as caught:
        period_create(**(kwargs | overrides))
    assert set(caught.value.message_dict) == {field}
    assert not PayPeriod.objects.exists()


# -- no overlap ----------------------------------------------------------------------------------


def test_periods_never_overlap(db):
    november = period_create(actor=None, cadence="monthly", starts_on=date(2026, 11, 1))
    for kwargs in (
        {"cadence": "monthly", "starts_on": date(2026, 11, 30)},
        {"cadence": "weekly", "starts_on": date(2026, 11, 30)},  # Mon 30 Nov to Sun 6 Dec
        {"cadence": "weekly", "starts_on": date(2026, 10, 28)},  # Mon 26 Oct to Sun 1 Nov
        # December in Kolkata starts at 18:30 UTC on 30 November.
        {"cadence": "monthly", "starts_on": date(2026, 12, 1), "timezone": "Asia/Kolkata"},
    ):
        with pytest.raises(ValidationError) as caught:
            period_create(actor=None, **kwargs)
        assert "2026-11" in caught.value.message_dict["starts_on"][0]
    assert list(PayPeriod.objects.all()) == [november]
    # Periods that only touch it are fine.
    period_create(actor=None, cadence="monthly", starts_on=date(2026, 10, 1))
    period_create(actor=None, cadence="monthly", starts_on=date(2026, 12, 1))
    assert PayPeriod.objects.count() == 3


@requires_postgres
def test_the_database_refuses_an_overlapping_period_written_directly(db):
    period_create(actor=None, cadence="monthly", starts_on=date(2026, 11, 1))
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make_period(utc(2026, 11, 15), utc(2026, 12, 15))
    assert "payments_payperiod_no_overlap" in str(caught.value)


@requires_postgres
def test_the_constraint_is_reported_as_the_services_own_error(db, monkeypatch):
    period_create(actor=None, cadence="weekly", starts_on=date(2026, 11, 30))
    monkeypatch.setattr(periods, "_overlapping", lambda starts_at, ends_at: None)
    with pytest.raises(ValidationError) as caught:
        period_create(actor=None, cadence="monthly", starts_on=date(2026, 12, 1))
    assert set(caught.value.message_dict) == {"starts_on"}
    assert PayPeriod.objects.count() == 1


# -- the workflow --------------------------------------------------------------------------------


def test_the_workflow_records_each_step(project, vendor_labeler, ops_user):
    """open → calculated (the engine) → approved → closed, each with its history row."""
    make_rate(project, "0.05", "EUR")
    decided_labels(project, vendor_labeler, accepted=4, rejected=1, at=MID_OCT)
    period = period_create(actor=ops_user, cadence="monthly", starts_on=date(2026, 10, 1))
    period_calculate(actor=ops_user, period_id=period.pk)
    period.refresh_from_db()
    digest = period.ledger_hash
    assert period.status == S.CALCULATED and len(digest) == 64

    approved = period_approve(
        actor=ops_user, period_id=period.pk, reason="checked", expected_hash=digest
    )
    assert approved.status == S.APPROVED
    closed = period_close(actor=ops_user, period_id=period.pk, reason="paid on 3 Dec")
    assert closed.status == S.CLOSED
    period.refresh_from_db()
    assert (period.status, period.ledger_hash) == (S.CLOSED, digest)
    assert history(period) == [
        ("open", "calculated", ops_user, "Calculated", digest),
        ("calculated", "approved", ops_user, "checked", digest),
        ("approved", "closed", ops_user, "paid on 3 Dec", digest),
    ]
    steps = PayPeriodStatusChange.objects.filter(period=period).order_by("at", "id")
    assert all(a.at <= b.at for a, b in itertools.pairwise(steps))
    invoice = Invoice.objects.get(period=period)
    assert (invoice.vendor_id, invoice.number, invoice.totals) == (
        vendor_labeler.vendor_id,
        1,
        {"EUR": "0.20"},
    )

    # Nothing goes back.
    with pytest.raises(InvalidTransition):
        period_approve(actor=ops_user, period_id=period.pk)
    with pytest.raises(InvalidTransition):
        period_close(actor=ops_user, period_id=period.pk)
    with pytest.raises(Conflict) as frozen:
        period_mark_calculated(actor=None, period_id=period.pk, ledger_hash="0" * 64)
    assert frozen.value.code == "period_frozen"
    assert len(history(period)) == 3


def test_mark_calculated_records_a_step_when_status_or_hash_changes(db, ops_user):
    period = make_period(OCT, NOV)
    first, second = "a" * 64, "b" * 64
    period_mark_calculated(actor=ops_user, period_id=period.pk, ledger_hash=first)
    period_mark_calculated(actor=ops_user, period_id=period.pk, ledger_hash=first)  # unchanged
    period_mark_calculated(actor=None, period_id=period.pk, ledger_hash=second, reason="again")
    period.refresh_from_db()
    assert (period.status, period.ledger_hash) == (S.CALCULATED, second)
    assert period.calculated_at is not None
    assert history(period) == [
        ("open", "calculated", ops_user, "Calculated", first),
        ("calculated", "calculated", None, "again", second),
    ]
    with pytest.raises(ValidationError) as caught:
        period_mark_calculated(actor=None, period_id=period.pk, ledger_hash="F" * 64)
    assert set(caught.value.message_dict) == {"ledger_hash"}
    with pytest.raises(NotFound):
        period_mark_calculated(actor=None, period_id=period.pk + 100, ledger_hash=first)


def test_approve_refuses_out_of_order_stale_or_early(project, vendor_labeler, ops_user):
    period = make_period(OCT, NOV)
    add_line(period, project, labeler=vendor_labeler, amount="1.00", currency="EUR")

    with pytest.raises(InvalidTransition):
        period_approve(actor=ops_user, period_id=period.pk)  # open
    with pytest.raises(InvalidTransition):
        period_close(actor=ops_user, period_id=period.pk)
    with pytest.raises(NotFound):
        period_approve(actor=ops_user, period_id=period.pk + 100)

    mark_calculated(period)
    with pytest.raises(Conflict) as stale:
        period_approve(actor=ops_user, period_id=period.pk, expected_hash="f" * 64)
    assert stale.value.code == "stale_hash"
    with pytest.raises(InvalidTransition):
        period_close(actor=ops_user, period_id=period.pk)  # calculated

    # A line written after the hash (a calculation half way): the hash no longer describes it.
    extra = add_line(period, project, labeler=vendor_labeler, amount="2.00", currency="EUR")
    with pytest.raises(Conflict) as moved:
        period_approve(actor=ops_user, period_id=period.pk)
    assert moved.value.code == "stale_hash"
    period.refresh_from_db()
    assert period.status == S.CALCULATED
    assert not Invoice.objects.exists()
    assert [step[:2] for step in history(period)] == [("open", "calculated")]

    extra.delete()
    assert period_approve(actor=ops_user, period_id=period.pk).status == S.APPROVED


def test_a_period_still_running_is_not_approved(project, vendor_labeler):
    now = timezone.now()
    period = make_period(now - timedelta(days=3), now + timedelta(days=4), cadence="weekly")
    add_line(period, project, labeler=vendor_labeler, amount="1.00", currency="EUR")
    mark_calculated(period)
    with pytest.raises(Conflict) as caught:
        period_approve(actor=None, period_id=period.pk)
    assert caught.value.code == "period_not_ended"
    period.refresh_from_db()
    assert period.status == S.CALCULATED


# -- invoices ------------------------------------------------------------------------------------


def test_each_vendor_with_lines_gets_one_invoice_with_exact_totals(
    project, vendor_labeler, vendor_b_labeler, internal_labeler, vendor_a, vendor_b
):
    VendorFactory(slug="idle")  # no lines: no invoice
    period = make_period(OCT, NOV)
    a, b = vendor_labeler, vendor_b_labeler
    for amount, currency, kind in (
        ("12.34", "EUR", "task"),
        ("0.01", "EUR", "bonus"),
        ("-1.05", "EUR", "adjustment"),
        ("1500", "JPY", "task"),
        ("7", "JPY", "hourly"),
        ("1.125", "KWD", "task"),
        ("0.001", "KWD", "review"),
    ):
        add_line(period, project, labeler=a, amount=amount, currency=currency, kind=kind)
    for amount, currency in (("0.57", "EUR"), ("76", "JPY"), ("0.056", "KWD")):
        add_line(
            period, project, vendor=vendor_a, amount=amount, currency=currency, kind="vendor_fee"
        )
    add_line(period, project, labeler=b, amount="3.30", currency="EUR")
    add_line(period, project, labeler=internal_labeler, amount="99.99", currency="EUR")
    mark_calculated(period)

    before = timezone.now()
    period_approve(actor=None, period_id=period.pk, reason="ok")
    invoices = {i.vendor.slug: i for i in Invoice.objects.filter(period=period)}
    assert set(invoices) == {vendor_a.slug, vendor_b.slug}
    assert invoices[vendor_a.slug].totals == {"EUR": "11.87", "JPY": "1583", "KWD": "1.182"}
    assert invoices[vendor_b.slug].totals == {"EUR": "3.30"}
    assert all(i.number == 1 and i.issued_at >= before for i in invoices.values())
    # And each total is the sum of the vendor's lines, to the last digit.
    for slug, invoice in invoices.items():
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for line in LedgerLine.objects.filter(period=period, vendor__slug=slug):
            sums[line.currency] += line.amount
        assert {c: Decimal(t) for c, t in invoice.totals.items()} == sums


def test_invoice_totals_equal_the_calculated_lines_in_three_currencies(vendor_labeler, vendor_a):
    """Through the engine: rates whose lines round (JPY to the yen, KWD to the fils) and a
    percentage fee."""
    contract(vendor_a, percent="7.5", per_label="0")
    for currency, rate in (("EUR", "0.035"), ("JPY", "3.5"), ("KWD", "0.0125")):
        project = make_project(tasks=0, slug=f"pay-{currency.lower()}")
        make_rate(project, rate, currency)
        decided_labels(project, vendor_labeler, accepted=7, rejected=2, at=MID_OCT)
    period = make_period(OCT, NOV)
    period_calculate(actor=None, period_id=period.pk)
    period_approve(actor=None, period_id=period.pk)

    invoice = Invoice.objects.get(period=period, vendor=vendor_a)
    lines = LedgerLine.objects.filter(period=period, vendor=vendor_a)
    assert {line.kind for line in lines} == {"task", "vendor_fee"}
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        sums[line.currency] += line.amount
    assert set(invoice.totals) == {"EUR", "JPY", "KWD"}
    assert {c: Decimal(t) for c, t in invoice.totals.items()} == sums
    # 7 x 0.035 = 0.245 → 0.25, fee 7.5 % → 0.01875 → 0.02; 7 x 3.5 = 24.5 → 25, fee 1.875
    # → 2; 7 x 0.0125 = 0.0875 → 0.088, fee 0.0066 → 0.007.
    assert invoice.totals == {"EUR": "0.27", "JPY": "27", "KWD": "0.095"}


def test_invoice_numbers_run_per_vendor_without_gaps(project, vendor_labeler, vendor_b_labeler):
    months = [
        make_period(utc(2026, 8, 1), utc(2026, 9, 1)),
        make_period(utc(2026, 9, 1), OCT),
        make_period(OCT, NOV),
    ]
    for i, period in enumerate(months):
        add_line(period, project, labeler=vendor_labeler, amount="1.00", currency="EUR")
        if i != 1:  # vendor B has no work in September
            add_line(period, project, labeler=vendor_b_labeler, amount="2.00", currency="EUR")
        mark_calculated(period)
        period_approve(actor=None, period_id=period.pk)
    numbers = defaultdict(list)
    for invoice in Invoice.objects.order_by("period__starts_at"):
        numbers[invoice.vendor.slug].append((invoice.period.label, invoice.number))
    assert numbers == {
        "acme": [("2026-08", 1), ("2026-09", 2), ("2026-10", 3)],
        "bravo": [("2026-08", 1), ("2026-10", 2)],
    }
    assert Invoice.objects.get(vendor__slug="acme", number=3).reference == "ACME-00003"


# -- races (real threads, PostgreSQL) ------------------------------------------------------------


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_give_one_approval_and_one_set_of_invoices(
    project, vendor_labeler, vendor_b_labeler
):
    period = make_period(OCT, NOV)
    add_line(period, project, labeler=vendor_labeler, amount="1.00", currency="EUR")
    add_line(period, project, labeler=vendor_b_labeler, amount="2.00", currency="EUR")
    mark_calculated(period)

    results = race(2, lambda i: period_approve(actor=None, period_id=period.pk, reason=f"r{i}"))

    approved = [r for r in results if isinstance(r, PayPeriod)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(approved), len(refused)) == (1, 1), results
    assert refused[0].status == 409
    assert sorted(Invoice.objects.values_list("vendor__slug", "number")) == [
        ("acme", 1),
        ("bravo", 1),
    ]
    assert [step[:2] for step in history(period)] == [
        ("open", "calculated"),
        ("calculated", "approved"),
    ]


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_approvals_of_several_periods_at_once_never_repeat_or_skip_a_number(
    project, vendor_labeler, vendor_b_labeler
):
    weeks = []
    for week in range(4):
        start = utc(2026, 10, 5) + timedelta(weeks=week)
        period = make_period(start, start + timedelta(weeks=1), cadence="weekly")
        add_line(period, project, labeler=vendor_labeler, amount="1.00", currency="EUR")
        add_line(period, project, labeler=vendor_b_labeler, amount="1.00", currency="EUR")
        mark_calculated(period)
        weeks.append(period)

    results = race(4, lambda i: period_approve(actor=None, period_id=weeks[i].pk))

    assert all(isinstance(r, PayPeriod) for r in results), results
    for slug in ("acme", "bravo"):
        numbers = Invoice.objects.filter(vendor__slug=slug).values_list("number", flat=True)
        assert sorted(numbers) == [1, 2, 3, 4]
    assert Invoice.objects.values("period").distinct().count() == 4


def test_an_internal_only_period_issues_no_invoice(project, internal_labeler):
    period = make_period(OCT, NOV)
    add_line(period, project, labeler=internal_labeler, amount="10.00", currency="EUR")
    mark_calculated(period)
    period_approve(actor=None, period_id=period.pk)
    assert not Invoice.objects.exists()
