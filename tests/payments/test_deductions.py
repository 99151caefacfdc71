"""Deductions ops make by hand: a negative line with its reason, in an open or calculated period
only; the period's hash follows; a recalculation keeps it; the vendor's invoice and the
labeler's statement carry it; bad input is refused field by field with nothing written."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from config.errors import Conflict, NotFound
from payments.ledger import ledger_hash
from payments.models import Invoice, LedgerLine, PayPeriod
from payments.selectors.statements import statement_for
from payments.services import deductions, periods
from payments.services.calculate import period_calculate
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.payments.factories import decided_labels, make_period, make_rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(vendor_a, ops_user):
    project = make_project(tasks=0)
    make_rate(project, "0.50", "EUR")
    ann = make_labeler(vendor=vendor_a, username="ann")
    decided_labels(project, ann, accepted=10)
    period = make_period()
    period_calculate(actor=ops_user, period_id=period.pk)
    return {"project": project, "ann": ann, "period": period, "ops": ops_user}


def deduct(world, **overrides):
    values = {
        "actor": world["ops"],
        "period_id": world["period"].pk,
        "labeler_id": world["ann"].pk,
        "project_id": world["project"].pk,
        "amount": Decimal("1.25"),
        "currency": "EUR",
        "reason": "Headset not returned",
    }
    return deductions.deduction_add(**{**values, **overrides})


def test_a_deduction_is_a_negative_line_with_its_reason_and_the_hash_follows(world):
    before = PayPeriod.objects.get(pk=world["period"].pk).ledger_hash
    line = deduct(world)
    assert (line.kind, line.quantity, line.unit_rate, line.amount, line.currency, line.rule) == (
        "deduction",
        Decimal(1),
        Decimal("-1.25"),
        Decimal("-1.25"),
        "EUR",
        "Headset not returned",
    )
    assert line.vendor_id == world["ann"].vendor_id
    period = PayPeriod.objects.get(pk=world["period"].pk)
    assert period.status == PayPeriod.Status.CALCULATED
    assert period.ledger_hash == ledger_hash(period.pk) != before
    step = period.status_changes.order_by("-at", "-id").first()
    assert (step.actor, step.reason, step.ledger_hash) == (
        world["ops"],
        "Deduction added: Headset not returned",
        period.ledger_hash,
    )


def test_a_recalculation_keeps_the_deduction_and_the_hash(world):
    deduct(world)
    with_deduction = PayPeriod.objects.get(pk=world["period"].pk).ledger_hash
    period_calculate(actor=world["ops"], period_id=world["period"].pk)
    assert PayPeriod.objects.get(pk=world["period"].pk).ledger_hash == with_deduction
    assert LedgerLine.objects.filter(period=world["period"], kind="deduction").count() == 1


def test_the_statement_and_the_invoice_carry_it_and_reconcile(world):
    deduct(world)
    period = PayPeriod.objects.get(pk=world["period"].pk)
    statement = statement_for(labeler=world["ann"], period=period)
    assert statement.totals == {"EUR": Decimal("5.00") - Decimal("1.25")}
    [section] = statement.projects
    assert ("deduction", "Headset not returned") in {(x.kind, x.rule) for x in section.lines}
    periods.period_approve(actor=world["ops"], period_id=period.pk, reason="ok")
    invoice = Invoice.objects.get(period=period, vendor=world["ann"].vendor)
    assert Decimal(invoice.totals["EUR"]) == Decimal("3.75")


def test_removing_a_deduction_brings_the_ledger_and_its_hash_back(world):
    before = PayPeriod.objects.get(pk=world["period"].pk).ledger_hash
    line = deduct(world)
    deductions.deduction_remove(
        actor=world["ops"], period_id=world["period"].pk, line_id=line.pk, reason="Returned"
    )
    assert not LedgerLine.objects.filter(kind="deduction").exists()
    assert PayPeriod.objects.get(pk=world["period"].pk).ledger_hash == before
    task_line = LedgerLine.objects.filter(period=world["period"], kind="task").first()
    with pytest.raises(NotFound):  # only a deduction is removed by hand
        deductions.deduction_remove(
            actor=world["ops"], period_id=world["period"].pk, line_id=task_line.pk, reason="x"
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"labeler_id": 10**9}, "labeler"),
        ({"labeler_id": "1"}, "labeler"),
        ({"project_id": None}, "project"),
        ({"amount": 1.25}, "amount"),
        ({"amount": "1.25"}, "amount"),
        ({"amount": Decimal(0)}, "amount"),
        ({"amount": Decimal("-2")}, "amount"),
        ({"amount": Decimal("1.255")}, "amount"),
        ({"amount": Decimal("1.5"), "currency": "JPY"}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
    ],
)
def test_bad_input_names_its_field_and_writes_nothing(world, overrides, field):
    before = PayPeriod.objects.get(pk=world["period"].pk).ledger_hash
    with pytest.raises(ValidationError) as caught:
        deduct(world, **overrides)
    assert field in caught.value.message_dict
    assert not LedgerLine.objects.filter(kind="deduction").exists()
    assert PayPeriod.objects.get(pk=world["period"].pk).ledger_hash == before


def test_three_currencies_take_their_own_minor_unit(world):
    assert deduct(world, amount=Decimal("150"), currency="JPY").amount == Decimal("-150")
    assert deduct(world, amount=Decimal("0.125"), currency="KWD").amount == Decimal("-0.125")
    assert deduct(world, amount=Decimal("0.10"), currency="EUR").amount == Decimal("-0.10")


def test_an_approved_or_closed_period_takes_no_deduction(world):
    periods.period_approve(actor=world["ops"], period_id=world["period"].pk, reason="ok")
    with pytest.raises(Conflict) as caught:
        deduct(world)
    assert caught.value.code == "period_frozen"
    assert not LedgerLine.objects.filter(kind="deduction").exists()


def test_an_open_period_takes_one_and_its_calculation_includes_it(vendor_a, ops_user):
    project = make_project(tasks=0)
    ann = make_labeler(vendor=vendor_a, username="ann")
    period = make_period()
    deductions.deduction_add(
        actor=ops_user,
        period_id=period.pk,
        labeler_id=ann.pk,
        project_id=project.pk,
        amount=Decimal("2"),
        currency="USD",
        reason="Advance repaid",
    )
    assert PayPeriod.objects.get(pk=period.pk).status == PayPeriod.Status.OPEN
    period_calculate(actor=ops_user, period_id=period.pk)
    period.refresh_from_db()
    assert period.ledger_hash == ledger_hash(period.pk)
    assert list(LedgerLine.objects.filter(period=period).values_list("kind", "amount")) == [
        ("deduction", Decimal("-2"))
    ]


def test_through_the_api_ops_deduct_and_the_labeler_sees_it_with_the_reason(world, client_for):
    ops = client_for(world["ops"])
    url = f"/api/v1/pay-periods/{world['period'].pk}/deductions/"
    body = {
        "labeler": world["ann"].pk,
        "project": world["project"].pk,
        "amount": "1.25",
        "currency": "EUR",
        "reason": "Headset not returned",
    }
    created = ops.post(url, body, format="json")
    assert created.status_code == 201, created.content
    assert {k: created.json()[k] for k in ("labeler", "amount", "currency", "reason")} == {
        "labeler": world["ann"].public_code,
        "amount": "-1.25",
        "currency": "EUR",
        "reason": "Headset not returned",
    }
    assert [row["id"] for row in ops.get(url).json()] == [created.json()["id"]]
    earnings = client_for(world["ann"].user).get("/api/v1/me/earnings/").json()
    shown = json.dumps(earnings)
    assert "Headset not returned" in shown and "-1.25" in shown

    bad = ops.post(url, {**body, "amount": "0", "currency": "XX"}, format="json")
    assert bad.status_code == 400
    assert {"amount", "currency"} <= set(bad.json()["fields"])
    assert LedgerLine.objects.filter(kind="deduction").count() == 1

    removed = ops.post(
        f"{url}{created.json()['id']}/remove/", {"reason": "Returned after all"}, format="json"
    )
    assert removed.status_code == 204
    assert ops.get(url).json() == []
