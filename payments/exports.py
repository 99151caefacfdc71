"""Files of payments: a vendor's invoice as CSV, XLSX or PDF, and a period's payroll of internal
staff as CSV.

An invoice file holds what ``payments.selectors.invoices.invoice_get_for`` reads and nothing
more: the reference, the vendor, the period (its label and its first and last day in its time
zone), the lines by labeler public code (never a name), the fee lines, the totals per currency
and the period's ledger hash. Amounts are written to their currency's minor unit (JPY 0, EUR 2,
KWD 3: ``payments.currency``), so a file's totals read back equal the invoice's to the minor
unit. Every text cell of a CSV or XLSX file is escaped for spreadsheets
(``config.exports.escape_row``). The PDF is drawn by ReportLab offline with its built-in
Helvetica (no font or image is fetched), and the same invoice always gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import openpyxl
from django.db.models import Sum
from django.utils.html import escape
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from config.errors import Forbidden
from config.exports import escape_row
from payments.currency import minor_unit, money_text, rate_text
from payments.models import LedgerLine, PayPeriod
from payments.selectors.invoices import PRICED, InvoiceView, Priced, pay_period_get_for
from workforce.models import Labeler, User
from workforce.selectors import is_ops

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
LINE_COLUMNS = ("public_code", "project", "kind", "basis", *PRICED)
FEE_COLUMNS = ("project", "fee", *PRICED)
# The PDF's tables: each section's column widths (mm, within A4's 180 mm between margins) and
# the column whose text may be long enough to wrap (a project's name, a fee's rule).
PDF_COLUMNS_MM = {
    "Lines": (24, 42, 18, 16, 18, 22, 26, 14),
    "Fees": (36, 66, 18, 20, 26, 14),
    "Totals": (30, 40),
}
PDF_WRAPPED = {"Lines": 1, "Fees": 1}
PDF_TABLE_ROWS = 50
PAYROLL_COLUMNS = ("period", "public_code", "username", "name", "currency", "amount")


class Amount(NamedTuple):
    """A money cell: written as text at the currency's minor unit (CSV, PDF), or as a number
    shown to the minor unit (XLSX)."""

    value: Decimal
    currency: str

    def __str__(self) -> str:
        return money(self.value, self.currency)


money = money_text  # the name the API and the admin import


def period_days(period: PayPeriod) -> tuple[str, str]:
    """The period's first and last day (``YYYY-MM-DD``) in its own time zone."""
    zone = zoneinfo.ZoneInfo(period.timezone)
    first = period.starts_at.astimezone(zone).date()
    last = (period.ends_at.astimezone(zone) - timedelta(microseconds=1)).date()
    return first.isoformat(), last.isoformat()


# -- the invoice's rows, once for every format --------------------------------------------------


def invoice_rows(view: InvoiceView) -> Iterator[list[Any]]:
    """The invoice as rows of cells: the header (reference, vendor, period, issue date, ledger
    hash), then titled sections: the lines, the fees and the totals, each with its column
    names. Money cells are ``Amount``; every other cell is text."""
    first, last = period_days(view.period)
    yield ["Invoice", view.reference]
    yield ["Vendor", view.vendor.name]
    yield ["Period", view.period.label, first, last]
    yield ["Issued", view.invoice.issued_at.date().isoformat()]
    yield ["Ledger hash", view.ledger_hash]
    yield []
    yield ["Lines"]
    yield list(LINE_COLUMNS)
    for line in view.lines:
        yield [line.public_code, line.project, line.kind, line.basis, *_priced(line)]
    yield []
    yield ["Fees"]
    yield list(FEE_COLUMNS)
    for fee in view.fees:
        yield [fee.project, fee.rule, *_priced(fee)]
    yield []
    yield ["Totals"]
    yield ["currency", "amount"]
    for currency, total in view.totals.items():
        yield [currency, Amount(total, currency)]


def _priced(row: Priced) -> list[Any]:
    """The ``PRICED`` cells of a row."""
    return [
        format(row.quantity.normalize(), "f"),
        rate_text(row.unit_rate, row.currency),
        Amount(row.amount, row.currency),
        row.currency,
    ]


def _text_cells(row: list[Any]) -> list[Any]:
    return escape_row(str(cell) for cell in row)


def invoice_csv(view: InvoiceView) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in invoice_rows(view):
        writer.writerow(_text_cells(row))
    return buffer.getvalue().encode("utf-8")


def invoice_xlsx(view: InvoiceView) -> bytes:
    """One sheet; amounts are numbers shown to their currency's minor unit."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Invoice"  # a sheet's title is at most 31 characters; a reference may be longer
    for number, row in enumerate(invoice_rows(view), start=1):
        sheet.append(escape_row(cell.value if isinstance(cell, Amount) else cell for cell in row))
        for column, cell in enumerate(row, start=1):
            if isinstance(cell, Amount):
                digits = minor_unit(cell.currency)
                sheet.cell(row=number, column=column).number_format = (
                    "0." + "0" * digits if digits else "0"
                )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def invoice_pdf(view: InvoiceView, *, compress: bool = True) -> bytes:
    """The invoice as an A4 PDF (ReportLab, built-in fonts, the same bytes for the same
    invoice). ``compress=False`` leaves the page streams readable as text (for tests)."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        title=f"Invoice {view.reference}",
        author="LabelForce",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    cell_style = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=9.5)
    sections: dict[str, list[list[Any]]] = {"": []}
    current = ""
    for row in invoice_rows(view):
        if len(row) == 1:
            current = row[0]
            sections[current] = []
        elif row:
            sections[current].append([str(cell) for cell in row])
    for title, wrapped in PDF_WRAPPED.items():
        for row in sections[title][1:]:  # long text wraps in its column; the rest stays whole
            row[wrapped] = Paragraph(escape(row[wrapped]), cell_style)
    story: list[Any] = [Paragraph(f"Invoice {escape(view.reference)}", styles["Title"])]
    header = Table(sections[""], hAlign="LEFT")
    header.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 9)]))
    story.append(header)
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    for title, widths in PDF_COLUMNS_MM.items():
        story += [Spacer(1, 6 * mm), Paragraph(title, styles["Heading2"])]
        columns, *rows = sections[title]
        # Tables of a bounded number of rows, each with the column names: splitting one long
        # table across pages costs time quadratic in its rows.
        for start in range(0, max(len(rows), 1), PDF_TABLE_ROWS):
            table = Table(
                [columns, *rows[start : start + PDF_TABLE_ROWS]],
                colWidths=[w * mm for w in widths],
                hAlign="LEFT",
                repeatRows=1,
            )
            table.setStyle(grid)
            story.append(table)
    doc.build(story)
    return buffer.getvalue()


def invoice_file(view: InvoiceView, file_format: str) -> tuple[bytes, str, str]:
    """``(content, content type, file name)`` of the invoice in ``file_format`` (csv, xlsx or
    pdf)."""
    render = {"csv": invoice_csv, "xlsx": invoice_xlsx, "pdf": invoice_pdf}[file_format]
    return render(view), CONTENT_TYPES[file_format], f"invoice-{view.reference}.{file_format}"


# -- payroll -----------------------------------------------------------------------------------


def payroll_rows(period: PayPeriod) -> Iterator[list[str]]:
    """One row per internal labeler and currency: their lines in the period summed, with their
    username and name (the payroll is for operations only)."""
    rows = (
        LedgerLine.objects.filter(period=period, labeler__kind=Labeler.Kind.INTERNAL)
        .values(
            "labeler__public_code",
            "labeler__user__username",
            "labeler__user__first_name",
            "labeler__user__last_name",
            "currency",
        )
        .annotate(amount=Sum("amount"))
        .order_by("labeler__user__username", "currency")
    )
    for row in rows:
        name = f"{row['labeler__user__first_name']} {row['labeler__user__last_name']}".strip()
        yield [
            period.label,
            row["labeler__public_code"],
            row["labeler__user__username"],
            name,
            row["currency"],
            money(row["amount"], row["currency"]),
        ]


def payroll_csv(*, actor: User, period_id: int) -> bytes:
    """The payroll CSV of a period's internal staff. ``NotFound`` for a period the caller may
    not see; ``Forbidden`` for anyone but operations managers (names are theirs only)."""
    period = pay_period_get_for(actor=actor, period_id=period_id)
    if not is_ops(actor):
        raise Forbidden("Only operations managers may export the payroll.")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PAYROLL_COLUMNS)
    for row in payroll_rows(period):
        writer.writerow(escape_row(row))
    return buffer.getvalue().encode("utf-8")
