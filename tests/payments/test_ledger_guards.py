"""The ledger's guards in the database (migration 0002_ledger_guards): lines and paid items of
an approved or closed period are never updated, deleted or added, through the ORM or raw SQL;
those of an open or calculated period may be (a recalculation replaces them); an approved
period only moves on to closed, a closed one never changes; an invoice never changes.

Rows are written directly with the ORM, as a path that bypasses the services would."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from payments.models import Invoice, LedgerLine, PaidItem, PayPeriod
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.payments.factories import DEC, JAN, MID_NOV, NOV, decided_labels, make_period

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db]

S = PayPeriod.Status
FROZEN = [S.APPROVED, S.CLOSED]
REFUSED = "cannot change"  # both triggers' messages say it


def refused(write: Callable[[], object]) -> None:
    """``write`` fails with the trigger's IntegrityError; the test's transaction stays usable."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    assert REFUSED in str(caught.value), caught.value


def sql(statement: str, *params) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    return run


def set_status(period: PayPeriod, status: str) -> PayPeriod:
    PayPeriod.objects.filter(pk=period.pk).update(status=status)
    period.refresh_from_db()
    return period


def new_line(period, project, labeler, *, kind="task", amount="0.30") -> LedgerLine:
    return LedgerLine(
        period=period,
        project=project,
        labeler=labeler,
        vendor=labeler.vendor,
        kind=kind,
        basis="accepted" if kind == "task" else "",
        quantity=Decimal(3),
        unit_rate=Decimal("0.10"),
        amount=Decimal(amount),
        currency="EUR",
    )


def new_item(line: LedgerLine, assignment) -> PaidItem:
    return PaidItem(
        line=line,
        period=line.period,
        kind="task",
        assignment=assignment,
        basis="accepted",
        unit_value=Decimal("0.10"),
        earned_at=MID_NOV,
    )


@pytest.fixture
def ledger(vendor_labeler):
    """November (open) with a task line paying three assignments and a bonus line (no items),
    and two more decided assignments not paid yet."""
    project = make_project(tasks=0)
    assignments = decided_labels(project, vendor_labeler, accepted=5)
    period = make_period(NOV, DEC)
    line = new_line(period, project, vendor_labeler)
    line.save()
    items = PaidItem.objects.bulk_create(new_item(line, a) for a in assignments[:3])
    bonus = new_line(period, project, vendor_labeler, kind="bonus", amount="0.03")
    bonus.save()
    return {
        "project": project,
        "labeler": vendor_labeler,
        "period": period,
        "line": line,
        "items": items,
        "bonus": bonus,
        "unpaid": assignments[3:],
    }


# -- frozen: nothing changes ---------------------------------------------------------------------


@pytest.mark.parametrize("status", FROZEN)
def test_a_line_of_a_frozen_period_is_never_updated(ledger, status):
    set_status(ledger["period"], status)
    line = ledger["line"]
    refused(lambda: LedgerLine.objects.filter(pk=line.pk).update(amount=0))
    line.amount = Decimal(0)
    refused(lambda: line.save())
    refused(sql("UPDATE payments_ledgerline SET amount = 0 WHERE id = %s", line.pk))
    refused(sql("UPDATE payments_ledgerline SET amount = amount + 1"))  # every line at once
    # Nor moved out of the period.
    other = make_period(DEC, JAN)
    refused(lambda: LedgerLine.objects.filter(pk=line.pk).update(period=other))
    line.refresh_from_db()
    assert (line.amount, line.period_id) == (Decimal("0.30"), ledger["period"].pk)


@pytest.mark.parametrize("status", FROZEN)
def test_a_line_of_a_frozen_period_is_never_deleted(ledger, status):
    set_status(ledger["period"], status)
    bonus, line = ledger["bonus"], ledger["line"]
    refused(lambda: LedgerLine.objects.filter(pk=bonus.pk).delete())
    refused(lambda: bonus.delete())
    refused(sql("DELETE FROM payments_ledgerline WHERE id = %s", bonus.pk))
    # The trigger fires before the foreign keys are checked: a line with items is refused by it.
    refused(sql("DELETE FROM payments_ledgerline WHERE id = %s", line.pk))
    refused(sql("DELETE FROM payments_ledgerline"))
    assert LedgerLine.objects.filter(period=ledger["period"]).count() == 2


@pytest.mark.parametrize("status", FROZEN)
def test_a_paid_item_of_a_frozen_period_is_never_updated_or_deleted(ledger, status):
    set_status(ledger["period"], status)
    item = ledger["items"][0]
    refused(lambda: PaidItem.objects.filter(pk=item.pk).update(unit_value=0))
    item.unit_value = Decimal(0)
    refused(lambda: item.save())
    refused(sql("UPDATE payments_paiditem SET unit_value = 0 WHERE id = %s", item.pk))
    refused(
        sql(
            "UPDATE payments_paiditem SET assignment_id = %s WHERE id = %s",
            ledger["unpaid"][0].pk,
            item.pk,
        )
    )
    refused(lambda: PaidItem.objects.filter(pk=item.pk).delete())
    refused(lambda: PaidItem.objects.get(pk=item.pk).delete())
    refused(sql("DELETE FROM payments_paiditem WHERE id = %s", item.pk))
    refused(sql("DELETE FROM payments_paiditem"))
    item.refresh_from_db()
    assert item.unit_value == Decimal("0.10")
    assert PaidItem.objects.filter(line=ledger["line"]).count() == 3


@pytest.mark.parametrize("status", FROZEN)
def test_nothing_is_added_to_a_frozen_period(ledger, status):
    period = set_status(ledger["period"], status)
    project, labeler = ledger["project"], ledger["labeler"]
    refused(lambda: new_line(period, project, labeler).save())
    refused(lambda: LedgerLine.objects.bulk_create([new_line(period, project, labeler)]))
    refused(
        sql(
            "INSERT INTO payments_ledgerline (period_id, project_id, labeler_id, vendor_id, kind,"
            " basis, quantity, unit_rate, amount, currency, rule, detail, created_at)"
            " VALUES (%s, %s, %s, %s, 'task', '', 1, 1, 1, 'EUR', '', '{}', now())",
            period.pk,
            project.pk,
            labeler.pk,
            labeler.vendor_id,
        )
    )
    # An item for unpaid work, hung on the frozen period's line.
    refused(lambda: new_item(ledger["line"], ledger["unpaid"][0]).save())
    # A line of an open period moved into the frozen one.
    december = make_period(DEC, JAN)
    later = new_line(december, project, labeler)
    later.save()
    refused(lambda: LedgerLine.objects.filter(pk=later.pk).update(period=period))
    assert LedgerLine.objects.filter(period=period).count() == 2
    assert PaidItem.objects.filter(period=period).count() == 3


# -- open and calculated: a recalculation may replace the lines ---------------------------------


@pytest.mark.parametrize("status", [S.OPEN, S.CALCULATED])
def test_lines_and_items_of_an_open_or_calculated_period_may_be_replaced(ledger, status):
    period = set_status(ledger["period"], status)
    line, bonus = ledger["line"], ledger["bonus"]
    LedgerLine.objects.filter(pk=line.pk).update(amount=Decimal("0.40"))
    sql("UPDATE payments_paiditem SET unit_value = 0.2 WHERE line_id = %s", line.pk)()
    PaidItem.objects.filter(pk=ledger["items"][0].pk).delete()
    sql("DELETE FROM payments_paiditem WHERE line_id = %s", line.pk)()
    line.delete()
    bonus.delete()
    assert not LedgerLine.objects.filter(period=period).exists()
    # …and written again.
    again = new_line(period, ledger["project"], ledger["labeler"])
    again.save()
    new_item(again, ledger["unpaid"][0]).save()
    sql("DELETE FROM payments_paiditem WHERE period_id = %s", period.pk)()
    sql("DELETE FROM payments_ledgerline WHERE period_id = %s", period.pk)()
    assert not LedgerLine.objects.filter(period=period).exists()


# -- the period itself ---------------------------------------------------------------------------


def test_a_closed_period_never_changes(ledger):
    period = set_status(ledger["period"], S.CLOSED)
    for status in (S.OPEN, S.CALCULATED, S.APPROVED):
        refused(lambda status=status: PayPeriod.objects.filter(pk=period.pk).update(status=status))
    period.status = S.OPEN
    refused(lambda: period.save())
    refused(lambda: PayPeriod.objects.filter(pk=period.pk).update(ledger_hash="0" * 64))
    refused(sql("UPDATE payments_payperiod SET status = 'open' WHERE id = %s", period.pk))
    refused(sql("DELETE FROM payments_payperiod WHERE id = %s", period.pk))
    empty = make_period(DEC, JAN, status=S.CLOSED)
    refused(lambda: empty.delete())
    period.refresh_from_db()
    assert period.status == S.CLOSED


def test_an_approved_period_moves_only_to_closed(ledger):
    period = set_status(ledger["period"], S.APPROVED)
    for status in (S.OPEN, S.CALCULATED):
        refused(lambda status=status: PayPeriod.objects.filter(pk=period.pk).update(status=status))
        refused(sql("UPDATE payments_payperiod SET status = %s WHERE id = %s", status, period.pk))
    refused(lambda: PayPeriod.objects.filter(pk=period.pk).update(ledger_hash="0" * 64))
    refused(lambda: PayPeriod.objects.filter(pk=period.pk).update(ends_at=JAN))
    refused(sql("DELETE FROM payments_payperiod WHERE id = %s", period.pk))
    empty = make_period(DEC, JAN, status=S.APPROVED)
    refused(lambda: empty.delete())
    assert PayPeriod.objects.filter(pk=period.pk).update(status=S.CLOSED) == 1
    period.refresh_from_db()
    assert period.status == S.CLOSED


# -- invoices ------------------------------------------------------------------------------------


def test_an_invoice_is_never_changed_or_deleted(ledger):
    period = set_status(ledger["period"], S.APPROVED)
    invoice = Invoice.objects.create(
        vendor=ledger["labeler"].vendor,
        period=period,
        number=1,
        totals={"EUR": "0.33"},
        issued_at=MID_NOV,
    )
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(totals={"EUR": "0"}))
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).update(number=2))
    invoice.totals = {"EUR": "0"}
    refused(lambda: invoice.save())
    refused(sql("UPDATE payments_invoice SET number = 7 WHERE id = %s", invoice.pk))
    refused(lambda: Invoice.objects.filter(pk=invoice.pk).delete())
    refused(lambda: Invoice.objects.get(pk=invoice.pk).delete())
    refused(sql("DELETE FROM payments_invoice WHERE id = %s", invoice.pk))
    invoice.refresh_from_db()
    assert (invoice.number, invoice.totals) == (1, {"EUR": "0.33"})
