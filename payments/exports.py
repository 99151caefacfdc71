"""Files of payments: a vendor's invoice as CSV, XLSX or PDF, and a period's payroll of internal
staff as CSV.

An invoice file holds what ``payments.selectors.invoices.invoice_get_for`` reads and nothing
more: the reference, the vendor, the period (its label and its first and last day in its time
zone), the lines by labeler public code (never a name), the fee lines, the totals per currency
and the period's ledger hash. Amounts are written to their currency's minor unit (JPY 0, EUR 2,
KWD 3: ``payments.currency``), so a file's totals read back equal the invoice's to the minor
unit. The CSV and XLSX files share their rows and their column names (field names, as
docs/api.md states them); in the XLSX file quantities, unit rates and amounts are numbers. Every
text cell of a CSV or XLSX file is escaped for spreadsheets (``config.exports.escape_row``). The
PDF is laid out for a reader (labelled header fields, column names in words, wrapped text
within the margins); it is drawn by ReportLab offline with its built-in Helvetica (no font or
image is fetched), and the same invoice always gives the same bytes.
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
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from config.errors import Forbidden
from config.exports import escape_row
from payments.currency import money_text, plain, rate_text
from payments.models import LedgerLine, PayPeriod
from payments.selectors.invoices import (
    PRICED,
    InvoiceLine,
    InvoiceView,
    Priced,
    pay_period_get_for,
)
from workforce.models import Labeler, User
from workforce.selectors import is_ops

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# The CSV's and the XLSX's column names: field names, a contract with the programs that read
# the files (docs/api.md); the PDF names its columns for people instead.
LINE_COLUMNS = ("public_code", "project", "kind", "basis", *PRICED)
FEE_COLUMNS = ("project", "fee", *PRICED)
PAYROLL_COLUMNS = ("period", "public_code", "username", "name", "currency", "amount")


class Number(NamedTuple):
    """A numeric cell: its exact value and its text as the CSV and the PDF write it (an amount
    at its currency's minor unit, a unit rate with its significant decimals, a quantity
    without trailing zeros). The XLSX writes the value, shown with the text's decimals."""

    value: Decimal
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def number_format(self) -> str:
        """The spreadsheet number format showing exactly the text's decimals."""
        decimals = len(self.text.partition(".")[2])
        return "0." + "0" * decimals if decimals else "0"


money = money_text  # the name the API and the admin import


def amount_cell(value: Decimal, currency: str) -> Number:
    """An amount's cell, its text at the currency's minor unit."""
    return Number(value, money(value, currency))


def period_days(period: PayPeriod) -> tuple[str, str]:
    """The period's first and last day (``YYYY-MM-DD``) in its own time zone."""
    zone = zoneinfo.ZoneInfo(period.timezone)
    first = period.starts_at.astimezone(zone).date()
    last = (period.ends_at.astimezone(zone) - timedelta(microseconds=1)).date()
    return first.isoformat(), last.isoformat()


# -- CSV and XLSX: the invoice's rows --------------------------------------------------------------


def invoice_rows(view: InvoiceView) -> Iterator[list[Any]]:
    """The invoice as rows of cells: the header (reference, vendor, period, issue date, ledger
    hash), then titled sections: the lines, the fees and the totals, each with its column
    names. Quantities, unit rates and amounts are ``Number``; every other cell is text."""
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
        yield [currency, amount_cell(total, currency)]


def _priced(row: Priced) -> list[Any]:
    """The ``PRICED`` cells of a row."""
    return [
        Number(row.quantity, plain(row.quantity)),
        Number(row.unit_rate, rate_text(row.unit_rate, row.currency)),
        amount_cell(row.amount, row.currency),
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
    """One sheet, the CSV's rows: quantities, unit rates and amounts are numbers (exact
    decimals) shown with the CSV's decimals, so a spreadsheet sums them; text is escaped."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Invoice"  # a sheet's title is at most 31 characters; a reference may be longer
    for number, row in enumerate(invoice_rows(view), start=1):
        sheet.append(escape_row(cell.value if isinstance(cell, Number) else cell for cell in row))
        for column, cell in enumerate(row, start=1):
            if isinstance(cell, Number):
                sheet.cell(row=number, column=column).number_format = cell.number_format
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- PDF -------------------------------------------------------------------------------------------

PDF_MARGIN = 15 * mm
# Column widths in mm, 180 in all (A4 between the margins). The lines and the fees end in the
# same numeric columns as the totals, so every amount lines up on one right edge.
PDF_NUMBERS_MM = (18, 22, 27, 17)  # quantity, unit rate, amount, currency
PDF_LINES_MM = (24, 46, 26, *PDF_NUMBERS_MM)
PDF_FEES_MM = (40, 56, *PDF_NUMBERS_MM)
PDF_TOTALS_MM = (180 - sum(PDF_NUMBERS_MM[2:]), *PDF_NUMBERS_MM[2:])
PDF_NUMBERS_HEADER = ("Quantity", "Unit rate", "Amount", "Currency")
PDF_LINES_HEADER = ("Labeler (public code)", "Project", "Kind", *PDF_NUMBERS_HEADER)
PDF_FEES_HEADER = ("Project", "Fee", *PDF_NUMBERS_HEADER)
PDF_TABLE_ROWS = 50
KINDS = dict(LedgerLine.Kind.choices)
BASES = dict(LedgerLine.Basis.choices)


def _kind_text(line: InvoiceLine) -> str:
    """``Task, accepted``: the line's kind and, where it has one, its basis, as words."""
    kind = KINDS.get(line.kind, line.kind)
    return f"{kind}, {BASES.get(line.basis, line.basis).lower()}" if line.basis else kind


class _PdfStyles:
    """The PDF's paragraph styles: 8 point body text, bold column names (numeric ones
    right-aligned over their right-aligned numbers), 9 point header fields."""

    def __init__(self) -> None:
        self.title = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=16, leading=20)
        self.heading = ParagraphStyle("heading", fontName="Helvetica-Bold", fontSize=11, leading=14)
        self.cell = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=9.5)
        self.column = ParagraphStyle("column", parent=self.cell, fontName="Helvetica-Bold")
        self.number_column = ParagraphStyle("number_column", parent=self.column, alignment=2)
        self.field = ParagraphStyle("field", fontName="Helvetica", fontSize=9, leading=11)
        self.field_label = ParagraphStyle(
            "field_label", parent=self.field, fontName="Helvetica-Bold"
        )

    def text(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """``text`` as a paragraph that wraps in its cell (escaped: it is no markup)."""
        return Paragraph(escape(text), style or self.cell)


def _pdf_header(view: InvoiceView, styles: _PdfStyles) -> Table:
    """Who invoices, which invoice, for what period (its days in its own time zone), issued
    when: one labelled field a row."""
    first, last = period_days(view.period)
    fields = (
        ("Vendor", view.vendor.name),
        ("Invoice number", view.reference),
        ("Period", view.period.label),
        ("First day", first),
        ("Last day", last),
        ("Time zone", view.period.timezone),
        ("Issue date", view.invoice.issued_at.date().isoformat()),
    )
    rows = [[styles.text(k, styles.field_label), styles.text(v, styles.field)] for k, v in fields]
    table = Table(rows, colWidths=[32 * mm, 100 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), *_padding(2)]))
    return table


def _padding(points: int) -> list[tuple[Any, ...]]:
    return [
        (side, (0, 0), (-1, -1), points)
        for side in ("LEFTPADDING", "RIGHTPADDING", "TOPPADDING", "BOTTOMPADDING")
    ]


def _pdf_section(
    title: str,
    header: tuple[str, ...],
    rows: list[list[Any]],
    widths_mm: tuple[int, ...],
    styles: _PdfStyles,
) -> list[Any]:
    """``title``, then ``rows`` under ``header`` in columns of ``widths_mm``, the last four the
    numeric ones (right-aligned but the currency), or "No <title>." without rows. Tables of a
    bounded number of rows, each with the column names: splitting one long table across pages
    costs time quadratic in its rows."""
    if not rows:
        return [Paragraph(title, styles.heading), styles.text(f"No {title.lower()}.")]
    numbers = len(widths_mm) - len(PDF_NUMBERS_MM)
    columns = [
        styles.text(name, styles.number_column if numbers <= i < len(header) - 1 else styles.column)
        for i, name in enumerate(header)
    ]
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (numbers, 1), (-2, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
            *_padding(3),
        ]
    )
    tables: list[Any] = [Paragraph(title, styles.heading)]
    for start in range(0, len(rows), PDF_TABLE_ROWS):
        table = Table(
            [columns, *rows[start : start + PDF_TABLE_ROWS]],
            colWidths=[w * mm for w in widths_mm],
            hAlign="LEFT",
            repeatRows=1,
        )
        table.setStyle(grid)
        tables.append(table)
    return tables


def _pdf_numbers(row: Priced) -> list[str]:
    return [str(cell) for cell in _priced(row)]


def _pdf_footer(reference: str) -> Any:
    """Draws the invoice's reference and the page's number at the foot of every page."""

    def draw(canvas: Any, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(PDF_MARGIN, 9 * mm, f"Invoice {reference}")
        canvas.drawRightString(A4[0] - PDF_MARGIN, 9 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def invoice_pdf(view: InvoiceView, *, compress: bool = True) -> bytes:
    """The invoice as an A4 PDF (ReportLab, built-in fonts, the same bytes for the same
    invoice): a header of labelled fields (vendor, invoice number, period with its first and
    last day and its time zone, issue date); the lines by labeler public code and the fees, in
    columns named for people that fit between the margins, long text wrapped in its cell and
    numbers right-aligned; the totals per currency last, under the amounts; the ledger hash in
    small print. ``compress=False`` leaves the page streams readable as text (for tests)."""
    styles = _PdfStyles()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=PDF_MARGIN,
        rightMargin=PDF_MARGIN,
        topMargin=PDF_MARGIN,
        bottomMargin=PDF_MARGIN + 3 * mm,  # room for the footer
        title=f"Invoice {view.reference}",
        author="LabelForce",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    # No frame padding: the tables' 180 mm are the page between the margins, exactly.
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(frames=[frame], onPage=_pdf_footer(view.reference))])

    lines = [
        [
            line.public_code,
            styles.text(line.project),
            styles.text(_kind_text(line)),
            *_pdf_numbers(line),
        ]
        for line in view.lines
    ]
    fees = [
        [styles.text(fee.project), styles.text(fee.rule), *_pdf_numbers(fee)] for fee in view.fees
    ]
    totals: list[Any] = []
    if view.totals:  # an invoice without lines has no total (and a table needs a row)
        totals.append(
            Table(
                [[f"Total {code}", money(total, code)] for code, total in view.totals.items()],
                colWidths=[w * mm for w in PDF_TOTALS_MM],
                hAlign="LEFT",
                style=[
                    ("FONT", (0, 0), (-1, -1), "Helvetica-Bold", 9),
                    ("ALIGN", (0, 0), (1, -1), "RIGHT"),
                    ("LINEABOVE", (1, 0), (1, 0), 0.75, colors.black),
                    *_padding(3),
                ],
            )
        )
    ledger = Table(
        [["Ledger hash of the period", view.ledger_hash]],
        colWidths=[32 * mm, 148 * mm],
        hAlign="LEFT",
    )
    ledger.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 6.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), colors.dimgrey),
                *_padding(0),
            ]
        )
    )
    story: list[Any] = [
        Paragraph(f"Invoice {escape(view.reference)}", styles.title),
        Spacer(1, 3 * mm),
        _pdf_header(view, styles),
        Spacer(1, 6 * mm),
        *_pdf_section("Lines", PDF_LINES_HEADER, lines, PDF_LINES_MM, styles),
        Spacer(1, 6 * mm),
        *_pdf_section("Fees", PDF_FEES_HEADER, fees, PDF_FEES_MM, styles),
        Spacer(1, 6 * mm),
        *totals,
        Spacer(1, 8 * mm),
        ledger,
    ]
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
