"""Role-by-endpoint matrix over the payments routes of API v1: a labeler's earnings, vendors'
invoices and statements, the pay periods and their workflow.

Same conventions as ``tests/workforce/test_permissions_matrix.py`` (whose route-coverage test
also reads ``MATRIX`` here): a foreign object is a 404 — another vendor's invoices, a period a
vendor manager may not see yet, and every vendor for a labeler (who sees none, as on
``vendors/{id}/``); a caller whose role may not call an operation at all gets a 403 before
anything is looked up (a labeler on the pay periods, anyone but ops on the workflow and the
payroll; ops and vendor managers on ``me/earnings/``, which is a labeler's own).
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from payments.ledger import ledger_hash
from payments.models import Invoice, PayPeriod
from payments.services import deductions
from tests.assignments.factories import make_project
from tests.payments.factories import DEC, JAN, NOV, make_period
from tests.permissions import V1, Row, matrix_test, route_test

pytestmark = pytest.mark.django_db

VENDOR = V1 + "vendors/<id:pk>/"
INVOICES = VENDOR + "invoices/"
INVOICE = INVOICES + "<id:invoice_id>/"
STATEMENTS = VENDOR + "statements/"
PERIODS = V1 + "pay-periods/"
SEP, OCT = NOV.replace(month=9), NOV.replace(month=10)
PERIOD = PERIODS + "<id:pk>/"

DEDUCTION = {
    "labeler": "{vendor_labeler}",
    "project": "{project}",
    "amount": "1.50",
    "currency": "EUR",
    "reason": "Headset not returned",
}

# ops, manager A, manager B, internal labeler, vendor labeler (of A), anonymous
NOT_OPS = (403, 403, 403, 403, 401)
VENDOR_A_ONLY = (200, 200, 404, 404, 404, 401)
NOBODY = (404, 404, 404, 404, 404, 401)
MATRIX: tuple[Row, ...] = (
    # -- a labeler's own earnings --
    Row(
        "my earnings",
        "GET",
        V1 + "me/earnings/",
        "/api/v1/me/earnings/",
        (403, 403, 403, 200, 200, 401),
    ),
    # -- vendors' invoices --
    Row(
        "vendor A's invoices",
        "GET",
        INVOICES,
        "/api/v1/vendors/{vendor_a}/invoices/",
        VENDOR_A_ONLY,
    ),
    Row(
        "vendor B's invoices",
        "GET",
        INVOICES,
        "/api/v1/vendors/{vendor_b}/invoices/",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "invoices of a vendor that does not exist",
        "GET",
        INVOICES,
        "/api/v1/vendors/{missing}/invoices/",
        NOBODY,
    ),
    Row(
        "vendor A's invoice",
        "GET",
        INVOICE,
        "/api/v1/vendors/{vendor_a}/invoices/{a_invoice}/",
        VENDOR_A_ONLY,
    ),
    *(
        Row(
            f"vendor A's invoice as {file_format}",
            "GET",
            INVOICE,
            f"/api/v1/vendors/{{vendor_a}}/invoices/{{a_invoice}}/?format={file_format}",
            VENDOR_A_ONLY,
        )
        for file_format in ("csv", "xlsx", "pdf")
    ),
    Row(
        "vendor A's invoice in a format there is not",
        "GET",
        INVOICE,
        "/api/v1/vendors/{vendor_a}/invoices/{a_invoice}/?format=json",
        (400, 400, 404, 404, 404, 401),
    ),
    Row(
        "vendor B's invoice under vendor A",
        "GET",
        INVOICE,
        "/api/v1/vendors/{vendor_a}/invoices/{b_invoice}/",
        NOBODY,
    ),
    Row(
        "vendor B's invoice",
        "GET",
        INVOICE,
        "/api/v1/vendors/{vendor_b}/invoices/{b_invoice}/?format=pdf",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "invoice that does not exist",
        "GET",
        INVOICE,
        "/api/v1/vendors/{vendor_a}/invoices/{missing}/",
        NOBODY,
    ),
    # -- a vendor's labelers' statements --
    Row(
        "vendor A's statements of a closed period",
        "GET",
        STATEMENTS,
        "/api/v1/vendors/{vendor_a}/statements/?period={closed_period}",
        VENDOR_A_ONLY,
    ),
    Row(
        "vendor B's statements of a closed period",
        "GET",
        STATEMENTS,
        "/api/v1/vendors/{vendor_b}/statements/?period={closed_period}",
        (200, 404, 200, 404, 404, 401),
    ),
    Row(
        "vendor A's statements of a period not approved",
        "GET",
        STATEMENTS,
        "/api/v1/vendors/{vendor_a}/statements/?period={calculated_period}",
        (200, 404, 404, 404, 404, 401),
    ),
    Row(
        "vendor A's statements without a period",
        "GET",
        STATEMENTS,
        "/api/v1/vendors/{vendor_a}/statements/",
        (400, 400, 404, 404, 404, 401),
    ),
    Row(
        "vendor A's statements of a period that does not exist",
        "GET",
        STATEMENTS,
        "/api/v1/vendors/{vendor_a}/statements/?period={missing}",
        NOBODY,
    ),
    # -- pay periods --
    Row("pay periods", "GET", PERIODS, "/api/v1/pay-periods/", (200, 200, 200, 403, 403, 401)),
    Row(
        "pay periods, page_size not a number",
        "GET",
        PERIODS,
        "/api/v1/pay-periods/?page_size=x",
        (400, 400, 400, 403, 403, 401),
    ),
    Row(
        "closed pay period",
        "GET",
        PERIOD,
        "/api/v1/pay-periods/{closed_period}/",
        (200, 200, 200, 403, 403, 401),
    ),
    Row(
        "calculated pay period (not approved yet)",
        "GET",
        PERIOD,
        "/api/v1/pay-periods/{calculated_period}/",
        (200, 404, 404, 403, 403, 401),
    ),
    Row(
        "pay period that does not exist",
        "GET",
        PERIOD,
        "/api/v1/pay-periods/{missing}/",
        (404, 404, 404, 403, 403, 401),
    ),
    Row(
        "calculate an open period",
        "POST",
        PERIOD + "calculate/",
        "/api/v1/pay-periods/{open_period}/calculate/",
        (202, *NOT_OPS),
    ),
    Row(
        "calculate a closed period",
        "POST",
        PERIOD + "calculate/",
        "/api/v1/pay-periods/{closed_period}/calculate/",
        (409, *NOT_OPS),
    ),
    Row(
        "calculate a period that does not exist",
        "POST",
        PERIOD + "calculate/",
        "/api/v1/pay-periods/{missing}/calculate/",
        (404, *NOT_OPS),
    ),
    Row(
        "approve a calculated period",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{calculated_period}/approve/",
        (200, *NOT_OPS),
        {"reason": "checked against the timesheets"},
    ),
    Row(
        "approve a calculated period with the hash shown",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{calculated_period}/approve/",
        (200, *NOT_OPS),
        {"reason": "checked", "expected_hash": "{calculated_hash}"},
    ),
    Row(
        "approve a calculated period with a stale hash",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{calculated_period}/approve/",
        (409, *NOT_OPS),
        {"reason": "checked", "expected_hash": "0" * 64},
    ),
    Row(
        "approve with a hash that is not one",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{calculated_period}/approve/",
        (400, *NOT_OPS),
        {"reason": "checked", "expected_hash": "abc"},
    ),
    Row(
        "approve an open period",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{open_period}/approve/",
        (409, *NOT_OPS),
        {"reason": "checked"},
    ),
    Row(
        "approve a period that does not exist",
        "POST",
        PERIOD + "approve/",
        "/api/v1/pay-periods/{missing}/approve/",
        (404, *NOT_OPS),
        {"reason": "checked"},
    ),
    Row(
        "close an approved period",
        "POST",
        PERIOD + "close/",
        "/api/v1/pay-periods/{approved_period}/close/",
        (200, *NOT_OPS),
        {"reason": "paid out"},
    ),
    Row(
        "close a calculated period",
        "POST",
        PERIOD + "close/",
        "/api/v1/pay-periods/{calculated_period}/close/",
        (409, *NOT_OPS),
        {"reason": "paid out"},
    ),
    Row(
        "payroll of a closed period",
        "GET",
        PERIOD + "payroll/",
        "/api/v1/pay-periods/{closed_period}/payroll/?format=csv",
        (200, *NOT_OPS),
    ),
    Row(
        "payroll as xlsx (there is none)",
        "GET",
        PERIOD + "payroll/",
        "/api/v1/pay-periods/{closed_period}/payroll/?format=xlsx",
        (400, *NOT_OPS),
    ),
    Row(
        "payroll of a period that does not exist",
        "GET",
        PERIOD + "payroll/",
        "/api/v1/pay-periods/{missing}/payroll/",
        (404, *NOT_OPS),
    ),
    # -- deductions (ops) --
    Row(
        "deductions of the open period",
        "GET",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{open_period}/deductions/",
        (200, *NOT_OPS),
    ),
    Row(
        "deductions of a period that does not exist",
        "GET",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{missing}/deductions/",
        (404, *NOT_OPS),
    ),
    Row(
        "deduct in the open period",
        "POST",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{open_period}/deductions/",
        (201, *NOT_OPS),
        DEDUCTION,
    ),
    Row(
        "deduct in a closed period",
        "POST",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{closed_period}/deductions/",
        (409, *NOT_OPS),
        DEDUCTION,
    ),
    Row(
        "deduct cents from a currency without them",
        "POST",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{open_period}/deductions/",
        (400, *NOT_OPS),
        {**DEDUCTION, "currency": "JPY"},
    ),
    Row(
        "deduct from a labeler that does not exist",
        "POST",
        PERIOD + "deductions/",
        "/api/v1/pay-periods/{open_period}/deductions/",
        (400, *NOT_OPS),
        {**DEDUCTION, "labeler": "{missing}"},
    ),
    Row(
        "remove a deduction",
        "POST",
        PERIOD + "deductions/<id:line_id>/remove/",
        "/api/v1/pay-periods/{open_period}/deductions/{deduction}/remove/",
        (204, *NOT_OPS),
        {"reason": "made in error"},
    ),
    Row(
        "remove a deduction under another period",
        "POST",
        PERIOD + "deductions/<id:line_id>/remove/",
        "/api/v1/pay-periods/{calculated_period}/deductions/{deduction}/remove/",
        (404, *NOT_OPS),
        {"reason": "made in error"},
    ),
    Row(
        "close with an unknown field",
        "POST",
        PERIOD + "close/",
        "/api/v1/pay-periods/{approved_period}/close/",
        (400, *NOT_OPS),
        {"reason": "paid out", "force": True},
    ),
)


@pytest.fixture
def world(cast):
    """Periods of 2026 in each status (all over but the open one, so each may be approved),
    and an invoice of each vendor in the closed one."""
    calculated = make_period(SEP, OCT, status=PayPeriod.Status.CALCULATED)
    calculated.ledger_hash = ledger_hash(calculated.pk)  # of no lines, as a calculation writes
    calculated.save(update_fields=["ledger_hash"])
    ids = {
        **cast.ids,
        "open_period": make_period(DEC, JAN).pk,
        "calculated_period": calculated.pk,
        "calculated_hash": calculated.ledger_hash,
        "approved_period": make_period(OCT, NOV, status=PayPeriod.Status.APPROVED).pk,
        "closed_period": make_period(NOV, DEC, status=PayPeriod.Status.CLOSED).pk,
        "missing": 987654321,
    }
    project = make_project(tasks=0)
    ids["project"] = project.pk
    ids["deduction"] = deductions.deduction_add(
        actor=cast.users["ops"],
        period_id=ids["open_period"],
        labeler_id=ids["vendor_labeler"],
        project_id=project.pk,
        amount=Decimal("2.00"),
        currency="EUR",
        reason="Advance repaid",
    ).pk
    closed = ids["closed_period"]
    for name, vendor in (("a_invoice", cast.vendor_a), ("b_invoice", cast.vendor_b)):
        ids[name] = Invoice.objects.create(
            vendor=vendor, period_id=closed, number=1, totals={}, issued_at=timezone.now()
        ).pk
    return SimpleNamespace(users=cast.users, ids=ids)


test_matrix = matrix_test(MATRIX)
test_matrix_rows_resolve_to_their_route = route_test(MATRIX)
