"""Payments through API v1: the pay periods' workflow (calculate → approve → close, and the 409s
on the way), a labeler's own earnings, a vendor's invoices and statements (by public code, never
a name, in JSON and in every file format), the query counts of the vendor pages, and money as
strings in the replies and the schema."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import re
import zlib
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from payments.models import Invoice, PayPeriod
from payments.services import periods
from payments.services.calculate import period_calculate
from qc.selectors.quality_facts import start_of_day
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.payments.factories import (
    contract,
    decided_labels,
    make_period,
    make_rate,
    pending_labels,
)
from tests.permissions import content
from workforce.models import Labeler, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(db):
    return make_project(tasks=0)


@pytest.fixture
def ops(client_for, ops_user):
    return client_for(ops_user)


NOW = timezone.now()
CUTOFF = start_of_day(NOW)
# A past period (approved in the fixture) and the period under way, around the real clock: what
# a labeler sees of the period under way stops at the start of the day.
PAST = (CUTOFF - timedelta(days=40), CUTOFF - timedelta(days=10))
CURRENT = (CUTOFF - timedelta(days=10), CUTOFF + timedelta(days=20))
IN_PAST = CUTOFF - timedelta(days=20)
YESTERDAY = CUTOFF - timedelta(hours=6)
TODAY = max(NOW - timedelta(seconds=1), CUTOFF + timedelta(minutes=2))


# -- the pay periods' workflow -------------------------------------------------------------------


def _calculate(ops, period, django_capture_on_commit_callbacks):
    """POST calculate/ with the on-commit message sent (the Celery task runs in-process)."""
    with django_capture_on_commit_callbacks(execute=True):
        reply = ops.post(f"/api/v1/pay-periods/{period.pk}/calculate/")
    assert reply.status_code == 202, reply.json()
    return reply.json()


def test_a_period_is_calculated_approved_and_closed_through_the_api(
    ops, project, vendor_labeler, django_capture_on_commit_callbacks
):
    make_rate(project, "0.05", "EUR", effective_from=PAST[0])
    decided_labels(project, vendor_labeler, accepted=10, rejected=2, at=IN_PAST)
    period = make_period(*PAST)

    queued = _calculate(ops, period, django_capture_on_commit_callbacks)
    assert queued["status"] == "queued" and queued["period"] == period.pk

    detail = ops.get(f"/api/v1/pay-periods/{period.pk}/").json()
    assert detail["status"] == "calculated"
    assert detail["calculation"]["id"] == queued["id"]
    assert detail["calculation"]["status"] == "done"
    assert len(detail["ledger_hash"]) == 64
    assert detail["calculation"]["ledger_hash"] == detail["ledger_hash"]
    assert detail["status_changes"][0]["to_status"] == "calculated"

    approve = ops.post(
        f"/api/v1/pay-periods/{period.pk}/approve/",
        {"reason": "checked", "expected_hash": detail["ledger_hash"]},
        format="json",
    )
    assert approve.status_code == 200, approve.json()
    assert approve.json()["status"] == "approved"
    assert approve.json()["status_changes"][0] == {
        "from_status": "calculated",
        "to_status": "approved",
        "actor": "ops",
        "reason": "checked",
        "ledger_hash": detail["ledger_hash"],
        "at": approve.json()["status_changes"][0]["at"],
    }
    invoice = Invoice.objects.get(period=period)
    assert invoice.vendor_id == vendor_labeler.vendor_id
    assert Decimal(invoice.totals["EUR"]) == Decimal("0.50")

    close = ops.post(f"/api/v1/pay-periods/{period.pk}/close/", {"reason": "paid"}, format="json")
    assert close.status_code == 200, close.json()
    assert close.json()["status"] == "closed"
    period.refresh_from_db()
    assert period.status == PayPeriod.Status.CLOSED


def test_the_workflow_refuses_steps_out_of_order_with_409s_in_the_error_shape(
    ops, project, vendor_labeler, django_capture_on_commit_callbacks
):
    make_rate(project, "0.05", "EUR", effective_from=PAST[0])
    decided_labels(project, vendor_labeler, accepted=3, at=IN_PAST)
    period = make_period(*PAST)
    url = f"/api/v1/pay-periods/{period.pk}/"

    too_early = ops.post(url + "approve/", {"reason": "x"}, format="json")
    assert too_early.status_code == 409
    assert too_early.json()["code"] == "invalid_transition"
    assert ops.post(url + "close/", {"reason": "x"}, format="json").status_code == 409

    _calculate(ops, period, django_capture_on_commit_callbacks)
    stale = ops.post(url + "approve/", {"reason": "x", "expected_hash": "f" * 64}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_hash"
    assert ops.get(url).json()["status"] == "calculated"

    assert ops.post(url + "approve/", {"reason": "ok"}, format="json").status_code == 200
    again = ops.post(url + "approve/", {"reason": "ok"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    frozen = ops.post(url + "calculate/")
    assert frozen.status_code == 409 and frozen.json()["code"] == "period_frozen"
    assert set(frozen.json()) == {"detail", "code", "fields"}

    under_way = make_period(*CURRENT)
    _calculate(ops, under_way, django_capture_on_commit_callbacks)
    early = ops.post(f"/api/v1/pay-periods/{under_way.pk}/approve/", {}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "period_not_ended"


def test_vendor_managers_see_approved_and_closed_periods_only(client_for, manager_a, ops_user):
    open_ = make_period(*CURRENT)
    closed = make_period(*PAST, status=PayPeriod.Status.CLOSED)
    listed = client_for(manager_a).get("/api/v1/pay-periods/").json()["results"]
    assert [p["id"] for p in listed] == [closed.pk]
    everything = client_for(ops_user).get("/api/v1/pay-periods/").json()["results"]
    assert [p["id"] for p in everything] == [open_.pk, closed.pk]
    assert listed[0]["label"] == closed.label


# -- what each role sees of the money ------------------------------------------------------------

NAMED = {"first_name": "Zenobia", "last_name": "Quillfeather"}


def _name(labeler: Labeler, **names) -> Labeler:
    User.objects.filter(pk=labeler.user_id).update(**(names or NAMED))
    return labeler


def words_of(labeler: Labeler) -> set[str]:
    """What must never show to a vendor: the labeler's username, names and email."""
    user = User.objects.get(pk=labeler.user_id)
    return {w for w in (user.username, user.first_name, user.last_name, user.email) if w}


@pytest.fixture
def paid(project, vendor_a, vendor_b, vendor_labeler, vendor_b_labeler, internal_labeler):
    """Labelers of vendors A and B and an internal one, named, paid 0.10 EUR per accepted
    label (vendor B in INR, 8 a label; A's fee 5 %); a past period calculated and approved
    through the services (its invoices issued), and the period under way calculated."""
    second = _name(
        make_labeler(vendor=vendor_a, username="acme2"), first_name="Ygritte", last_name="Vale"
    )
    for labeler in (vendor_labeler, vendor_b_labeler, internal_labeler):
        _name(labeler)
    make_rate(project, "0.10", "EUR", effective_from=PAST[0] - timedelta(days=1))
    make_rate(project, "8", "INR", vendor=vendor_b, effective_from=PAST[0] - timedelta(days=1))
    contract(vendor_a, percent="5")
    decided_labels(project, vendor_labeler, accepted=7, rejected=1, at=IN_PAST)
    decided_labels(project, vendor_labeler, accepted=2, at=IN_PAST, control=True)
    decided_labels(project, second, accepted=3, at=IN_PAST)
    decided_labels(project, vendor_b_labeler, accepted=4, at=IN_PAST)
    decided_labels(project, internal_labeler, accepted=5, at=IN_PAST)
    past = make_period(*PAST)
    period_calculate(actor=None, period_id=past.pk)
    periods.period_approve(actor=None, period_id=past.pk, reason="checked")
    # Under way: 2 labels earned yesterday, 3 decided today (pending until tomorrow), 1 undecided.
    decided_labels(project, vendor_labeler, accepted=2, at=YESTERDAY)
    decided_labels(project, vendor_labeler, accepted=3, at=TODAY)
    pending_labels(project, vendor_labeler, 1, at=YESTERDAY)
    current = make_period(*CURRENT)
    period_calculate(actor=None, period_id=current.pk)
    return {
        "past": past,
        "current": current,
        "second": second,
        "a_invoice": Invoice.objects.get(period=past, vendor=vendor_a),
        "b_invoice": Invoice.objects.get(period=past, vendor=vendor_b),
    }


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


def test_a_labeler_sees_their_own_earnings_only_and_nothing_that_tells_control_from_real(
    client_for, paid, vendor_labeler, vendor_b_labeler, internal_labeler
):
    reply = client_for(vendor_labeler.user).get("/api/v1/me/earnings/")
    assert reply.status_code == 200
    body = reply.json()
    assert body["public_code"] == vendor_labeler.public_code
    [statement] = body["statements"]
    assert statement["period"] == paid["past"].pk and statement["final"] is True
    # 9 accepted labels (7 real, 2 control: paid alike) and 1 rejected (unpaid, no policy).
    assert statement["totals"] == [{"currency": "EUR", "amount": "0.90"}]
    [section] = statement["projects"]
    assert {(line["basis"], line["quantity"]) for line in section["lines"]} == {
        ("accepted", "9"),
        ("rejected", "1"),
    }
    # The period under way as of the start of the day: yesterday's 2 labels earned; today's 3
    # and the undecided one pending.
    [current] = body["current"]
    assert current["period"] == paid["current"].pk and current["final"] is False
    assert current["totals"] == [{"currency": "EUR", "amount": "0.20"}]
    assert current["pending"] == 4
    assert body["pending"] == 4
    assert not {k for k in _keys(body) if "control" in k or "gold" in k}
    text = reply.content.decode()
    others = (paid["second"], vendor_b_labeler, internal_labeler)
    assert not [o.public_code for o in others if o.public_code in text]
    assert not words_of(vendor_labeler) & set(re.findall(r"\w+", text))

    theirs = client_for(vendor_b_labeler.user).get("/api/v1/me/earnings/").json()
    assert theirs["public_code"] == vendor_b_labeler.public_code
    assert theirs["statements"][0]["totals"] == [{"currency": "INR", "amount": "32.00"}]


def test_earnings_amounts_are_strings(client_for, paid, vendor_labeler):
    body = client_for(vendor_labeler.user).get("/api/v1/me/earnings/").json()
    line = body["statements"][0]["projects"][0]["lines"][0]
    assert all(isinstance(line[k], str) for k in ("quantity", "unit_rate", "amount"))


def _vendor_a_words(paid, vendor_labeler) -> set[str]:
    return words_of(vendor_labeler) | words_of(paid["second"])


def _no_names(text: str, words: set[str]) -> None:
    found = {w for w in words if re.search(rf"(?<![\w@.]){re.escape(w)}(?![\w@])", text)}
    assert found == set()


def test_a_vendor_manager_sees_their_vendors_invoices_only_by_public_code(
    client_for, paid, manager_a, vendor_a, vendor_b, vendor_labeler
):
    client = client_for(manager_a)
    listed = client.get(f"/api/v1/vendors/{vendor_a.pk}/invoices/").json()["results"]
    invoice = paid["a_invoice"]
    assert [(i["id"], i["number"], i["reference"], i["period"]) for i in listed] == [
        (invoice.pk, 1, "ACME-00001", paid["past"].pk)
    ]
    assert listed[0]["period_label"] == paid["past"].label
    # 12 labels at 0.10 EUR and a 5 % fee on them.
    assert listed[0]["totals"] == [{"currency": "EUR", "amount": "1.26"}]
    assert client.get(f"/api/v1/vendors/{vendor_b.pk}/invoices/").status_code == 404
    foreign = f"/api/v1/vendors/{vendor_b.pk}/invoices/{paid['b_invoice'].pk}/"
    assert client.get(foreign).status_code == 404
    crossed = f"/api/v1/vendors/{vendor_a.pk}/invoices/{paid['b_invoice'].pk}/"
    assert client.get(crossed).status_code == 404

    reply = client.get(f"/api/v1/vendors/{vendor_a.pk}/invoices/{invoice.pk}/")
    assert reply.status_code == 200
    body = reply.json()
    codes = {line["public_code"] for line in body["lines"]}
    assert codes == {vendor_labeler.public_code, paid["second"].public_code}
    assert body["totals"] == [{"currency": "EUR", "amount": "1.26"}]
    assert Decimal(invoice.totals["EUR"]) == Decimal("1.26")
    assert [(f["amount"], f["currency"]) for f in body["fees"]] == [("0.06", "EUR")]
    assert body["ledger_hash"] == PayPeriod.objects.get(pk=paid["past"].pk).ledger_hash != ""
    _no_names(reply.content.decode(), _vendor_a_words(paid, vendor_labeler))


def _pdf_text(data: bytes) -> str:
    """The text drawn on the PDF's pages (ReportLab writes the streams deflated, in ASCII85)."""
    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        if stream.rstrip().endswith(b"~>"):
            stream = base64.a85decode(stream.strip(), adobe=True)
        with contextlib.suppress(zlib.error):  # a stream that is not deflated
            stream = zlib.decompress(stream)
        texts.append(stream.decode("latin-1"))
    assert texts, "no stream in the PDF"
    # The strings drawn, one a line: "(EUR) Tj ... (1.26) Tj" reads "EUR\n1.26".
    return "\n".join(re.findall(r"\((.*?)\) Tj", "\n".join(texts)))


def _xlsx_text(data: bytes) -> str:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return "\n".join(
        ",".join("" if cell is None else str(cell) for cell in row)
        for row in sheet.iter_rows(values_only=True)
    )


@pytest.mark.parametrize(
    ("file_format", "content_type", "read"),
    [
        ("csv", "text/csv; charset=utf-8", lambda data: data.decode("utf-8")),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _xlsx_text,
        ),
        ("pdf", "application/pdf", _pdf_text),
    ],
)
def test_an_invoice_downloads_as_a_file_with_its_totals_and_no_names(
    client_for, paid, manager_a, vendor_a, vendor_labeler, file_format, content_type, read
):
    invoice = paid["a_invoice"]
    reply = client_for(manager_a).get(
        f"/api/v1/vendors/{vendor_a.pk}/invoices/{invoice.pk}/?format={file_format}"
    )
    assert reply.status_code == 200
    assert reply["Content-Type"] == content_type
    assert reply["Content-Disposition"] == (
        f'attachment; filename="invoice-ACME-00001.{file_format}"'
    )
    text = read(content(reply))
    assert "ACME-00001" in text
    assert vendor_labeler.public_code in text and paid["second"].public_code in text
    assert re.search(r"EUR\W+1\.26\b", text), text[-300:]
    _no_names(text, _vendor_a_words(paid, vendor_labeler))


def test_the_invoice_csv_totals_equal_the_lines_and_the_invoice(
    client_for, paid, ops_user, vendor_a
):
    invoice = paid["a_invoice"]
    reply = client_for(ops_user).get(
        f"/api/v1/vendors/{vendor_a.pk}/invoices/{invoice.pk}/?format=csv"
    )
    rows = list(csv.reader(io.StringIO(content(reply).decode("utf-8"))))
    header = rows.index(
        ["public_code", "project", "kind", "basis", "quantity", "unit_rate", "amount", "currency"]
    )
    lines = rows[header + 1 : rows.index([], header)]
    fee_header = rows.index(["project", "fee", "quantity", "unit_rate", "amount", "currency"])
    fees = rows[fee_header + 1 : rows.index([], fee_header)]
    total = rows[rows.index(["currency", "amount"]) + 1]
    summed = sum(Decimal(r[6]) for r in lines) + sum(Decimal(r[4]) for r in fees)
    assert total == ["EUR", "1.26"] and summed == Decimal("1.26")
    assert Decimal(invoice.totals["EUR"]) == summed


def test_a_vendor_manager_sees_their_labelers_statements_by_public_code_only(
    client_for, paid, manager_a, manager_b, vendor_a, vendor_labeler
):
    url = f"/api/v1/vendors/{vendor_a.pk}/statements/?period={paid['past'].pk}"
    reply = client_for(manager_a).get(url)
    assert reply.status_code == 200
    body = reply.json()
    by_code = {row["public_code"]: row["totals"] for row in body["labelers"]}
    assert by_code == {
        vendor_labeler.public_code: [{"currency": "EUR", "amount": "0.90"}],
        paid["second"].public_code: [{"currency": "EUR", "amount": "0.30"}],
    }
    assert body["fees"] == [{"currency": "EUR", "amount": "0.06"}]
    assert body["totals"] == [{"currency": "EUR", "amount": "1.26"}]
    _no_names(reply.content.decode(), _vendor_a_words(paid, vendor_labeler))
    assert client_for(manager_b).get(url).status_code == 404
    under_way = f"/api/v1/vendors/{vendor_a.pk}/statements/?period={paid['current'].pk}"
    assert client_for(manager_a).get(under_way).status_code == 404


def test_the_payroll_lists_internal_staff_with_their_names_for_ops(
    client_for, paid, ops_user, internal_labeler, vendor_labeler
):
    reply = client_for(ops_user).get(f"/api/v1/pay-periods/{paid['past'].pk}/payroll/")
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/csv; charset=utf-8"
    assert reply["Content-Disposition"].startswith('attachment; filename="payroll-')
    rows = list(csv.reader(io.StringIO(content(reply).decode("utf-8"))))
    assert [r[1:] for r in rows[1:]] == [
        [internal_labeler.public_code, "internal1", "Zenobia Quillfeather", "EUR", "0.50"]
    ]


# -- query counts ----------------------------------------------------------------------------------


@pytest.fixture
def big_vendor(project, vendor_a):
    """Vendor A with 200 labelers, each with two accepted labels in an approved period."""
    users = User.objects.bulk_create(
        User(username=f"big{i}", first_name="Big", last_name=f"Person{i}") for i in range(200)
    )
    labelers = Labeler.objects.bulk_create(
        Labeler(user=u, kind=Labeler.Kind.VENDOR, vendor=vendor_a, status="active") for u in users
    )
    make_rate(project, "0.10", "EUR", effective_from=PAST[0] - timedelta(days=1))
    contract(vendor_a, percent="5", per_label="0.01")
    for labeler in labelers:
        decided_labels(project, labeler, accepted=2, at=IN_PAST)
    past = make_period(*PAST)
    period_calculate(actor=None, period_id=past.pk)
    periods.period_approve(actor=None, period_id=past.pk, reason="checked")
    return past, Invoice.objects.get(period=past, vendor=vendor_a)


def test_the_invoice_and_statements_of_a_vendor_of_200_labelers_take_at_most_10_queries(
    client_for, big_vendor, manager_a, vendor_a, django_assert_max_num_queries
):
    period, invoice = big_vendor
    client = client_for(manager_a)
    with django_assert_max_num_queries(10):
        detail = client.get(f"/api/v1/vendors/{vendor_a.pk}/invoices/{invoice.pk}/")
    assert len({line["public_code"] for line in detail.json()["lines"]}) == 200
    with django_assert_max_num_queries(10):
        pdf = client.get(f"/api/v1/vendors/{vendor_a.pk}/invoices/{invoice.pk}/?format=pdf")
    assert pdf.status_code == 200
    with django_assert_max_num_queries(10):
        statements = client.get(f"/api/v1/vendors/{vendor_a.pk}/statements/?period={period.pk}")
    assert len(statements.json()["labelers"]) == 200
    # 400 labels at 0.10 EUR, 5 % of it and 0.01 EUR a label.
    assert statements.json()["totals"] == [{"currency": "EUR", "amount": "46.00"}]
    assert detail.json()["totals"] == statements.json()["totals"]
    assert json.loads(json.dumps(invoice.totals)) == {"EUR": "46.00"}


# -- money in the schema -------------------------------------------------------------------------

PAYMENTS_ROUTES = ("pay-periods", "earnings", "invoices", "statements")
# Properties of the payments replies that hold money or another exact figure of pay.
MONEY = {"amount", "unit_rate", "base", "quantity", "percent", "lower", "upper"}


def _payments_components(schema: dict) -> dict[str, dict]:
    """The components the payments operations reply with, and every component they refer to."""
    components = schema["components"]["schemas"]
    found: dict[str, dict] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            name = node.get("$ref", "").rsplit("/", 1)[-1]
            if name and name not in found:
                found[name] = components[name]
                walk(components[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path, item in schema["paths"].items():
        if any(route in path for route in PAYMENTS_ROUTES):
            walk(item)
    found.pop("Error", None)
    return found


def test_no_payments_reply_has_a_number_and_every_amount_is_a_decimal_string():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = _payments_components(schema)
    properties = {
        f"{name}.{prop}": spec
        for name, component in components.items()
        for prop, spec in component.get("properties", {}).items()
    }
    assert [name for name, spec in properties.items() if spec.get("type") == "number"] == []
    money = {name: spec for name, spec in properties.items() if name.split(".")[1] in MONEY}
    assert {
        "TotalOut.amount",
        "InvoiceLineOut.amount",
        "InvoiceLineOut.unit_rate",
        "FeeLineOut.amount",
        "StatementLineOut.amount",
        "BonusOut.base",
        "AdjustmentOut.unit_rate",
    } <= set(money)
    not_decimal_strings = [
        name
        for name, spec in money.items()
        if (spec.get("type"), spec.get("format")) != ("string", "decimal")
    ]
    assert not_decimal_strings == []
