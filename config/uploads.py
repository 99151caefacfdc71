"""File imports: how a CSV or JSONL file is taken over HTTP and read row by row, written once for
every import (the task import and bulk update in ``assignments``, the gold import in ``qc``).

Over HTTP (a view subclasses ``FileUploadApi``):

* the file is a multipart ``file`` field or the raw body; ``RawFileParser`` spools a raw body to
  a temporary file (in memory up to ``SPOOL_MEMORY_BYTES``, on disk beyond) and reads at most the
  view's ``max_upload_bytes()`` — a larger body is a 413 without reading the rest. A multipart
  file is held by Django's upload handlers (on disk beyond ``FILE_UPLOAD_MAX_MEMORY_SIZE``) and
  checked against the same limit. Neither is ever read into memory whole;
* ``?format=csv|jsonl`` names the file's format, not a renderer (``FileFormatNegotiation``: the
  answer is JSON either way); without it the file name's extension, then the content type, say.

Reading (``FileSpec``, one per kind of file, says which columns it may have and how its JSON is
decoded): rows stream from a binary file, numbered like a spreadsheet's (CSV: the header is row
1; blank lines are skipped but counted) or by JSONL line; a bad row is yielded as its message, a
file that cannot be read at all raises ``ImportInvalid`` at once.

Errors, the same for every import: ``ImportInvalid`` (400 ``import_invalid``, ``fields.rows`` =
``[{"row", "field", "message"}, ...]``, the first ``MAX_REPORTED_ROW_ERRORS``, collected by
``RowErrors``; ``row`` is None for the whole file) and ``ImportTooLarge`` (413
``import_too_large``; each import subclasses it to say its own limits).
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from config.api import parse_input
from config.errors import ApplicationError, InvalidInput
from config.exports import unescape_cell
from config.parsers import json_loads_limited

IMPORT_FORMATS = ("csv", "jsonl")
MAX_REPORTED_ROW_ERRORS = 100
# A raw body up to this size stays in memory; a larger one goes to a temporary file on disk.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
_BOM = codecs.BOM_UTF8


# -- errors ----------------------------------------------------------------------------------------


class ImportInvalid(InvalidInput):
    """Rows of a file are invalid; ``fields["rows"]`` lists ``{"row", "field", "message"}`` (the
    first ``MAX_REPORTED_ROW_ERRORS``). Nothing was written."""

    code = "import_invalid"


class ImportTooLarge(ApplicationError):
    """The file is over an import's limits (bytes or rows); a subclass per import names them in
    its ``default_detail``."""

    status = 413
    code = "import_too_large"
    default_detail = "The file is larger than this import takes; split it."


@dataclass
class RowErrors:
    """Problems in file order; counts all, keeps the first ``MAX_REPORTED_ROW_ERRORS``."""

    listed: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, row: int | None, name: str, message: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED_ROW_ERRORS:
            self.listed.append({"row": row, "field": name, "message": message})

    def merge_sorted(self, more: list[dict[str, Any]]) -> None:
        """Add problems found after the file was read (they name earlier rows too)."""
        self.total += len(more)
        self.listed = sorted(
            [*self.listed, *more], key=lambda e: (e["row"] is not None, e["row"] or 0)
        )[:MAX_REPORTED_ROW_ERRORS]

    def raise_if_any(self, what: str) -> None:
        """Raise ``ImportInvalid`` listing the problems, if there are any ("nothing was
        ``what``")."""
        if not self.total:
            return
        shown = (
            f" The first {MAX_REPORTED_ROW_ERRORS} are listed."
            if self.total > MAX_REPORTED_ROW_ERRORS
            else ""
        )
        raise ImportInvalid(
            f"{self.total} problem(s) in the file; nothing was {what}.{shown}",
            fields={"rows": self.listed},
        )


# -- files ----------------------------------------------------------------------------------------


def upload_file(upload) -> IO[bytes]:
    """The binary file under a Django ``UploadedFile``, at its start: reading lines from it
    directly splits on ``\\n`` only (``UploadedFile`` iteration also splits on ``\\r``), and CSV
    text can be decoded over it."""
    f = upload.file
    f = getattr(f, "file", f)  # a TemporaryUploadedFile wraps the real file once more
    f.seek(0)
    return f


def binary_file(data: bytes | str | IO[bytes]) -> IO[bytes]:
    """``data`` as a binary file: bytes and text (UTF-8; a lone surrogate kept, for the reading
    to report) are wrapped, a file is returned as it stands."""
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(data)
    if isinstance(data, str):
        return io.BytesIO(data.encode("utf-8", "surrogatepass"))
    return data


def bytes_left(f: IO[bytes]) -> int:
    """How many bytes ``f`` holds from where it stands (which it is left at)."""
    start = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(start)
    return end - start


def first_non_utf8_byte(f: IO[bytes], chunk_size: int = 1024 * 1024) -> int | None:
    """The offset (counted after a leading byte-order mark) of the first byte of ``f`` that is
    not UTF-8, or None when it all is. Reads in chunks from where ``f`` stands and goes back
    there."""
    start = f.tell()
    try:
        pending = f.read(len(_BOM)).removeprefix(_BOM)
        offset = 0  # of pending[0]
        while True:
            chunk = f.read(chunk_size)
            data = pending + chunk
            try:
                _, consumed = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset += consumed
            pending = data[consumed:]
    finally:
        f.seek(start)


# -- reading rows --------------------------------------------------------------------------------

TOO_MANY_CELLS = "The row has more cells than the header has columns."


@dataclass(frozen=True)
class FileSpec:
    """What one kind of import file may hold, and how it is read.

    ``columns``: the CSV header's names or JSONL keys it may have; ``required``: columns each of
    which must be in the CSV header; ``required_any``: columns at least one of which must be.
    ``loads``: the JSON decoder for JSONL lines and JSON in CSV cells (it raises ``ValueError``
    or ``RecursionError`` on bad JSON). ``unescape_cells``: CSV cells escaped against formula
    injection on export (``config.exports``) read back as they were. ``blank_row_of_full_width``:
    whether a CSV row with a cell for every column, all blank, is a row (its fields missing)
    rather than a blank line. ``cannot_read``: the detail of a file that cannot be read at all.
    """

    columns: tuple[str, ...]
    required: tuple[str, ...] = ()
    required_any: tuple[str, ...] = ()
    loads: Callable[[str], Any] = json_loads_limited
    unescape_cells: bool = False
    blank_row_of_full_width: bool = False
    cannot_read: str = "The file cannot be read: {} Nothing was written."

    def file_error(self, name: str, message: str, row: int | None = None) -> ImportInvalid:
        """The error for a file that cannot be read at all (one problem, for field ``name``)."""
        return ImportInvalid(
            self.cannot_read.format(message),
            fields={"rows": [{"row": row, "field": name, "message": message}]},
        )

    def records(
        self, data: bytes | str | IO[bytes], file_format: str
    ) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """(row, {column: value}) per record of ``data`` (read from where a file stands), or
        (row, the message) for a row that is not a record. Raises ValidationError for an
        unknown format; ImportInvalid (``file_error``) for an unreadable file or CSV header."""
        if file_format not in IMPORT_FORMATS:
            raise ValidationError({"format": [f"Must be one of {', '.join(IMPORT_FORMATS)}."]})
        f = binary_file(data)
        if file_format == "csv":
            return self._csv_records(f)
        return self._jsonl_records(f)

    def json_cell(self, value: str, expected: type, what: str) -> Any:
        """The JSON in a CSV cell, which must be ``expected``; ValueError saying ``what`` was
        expected otherwise."""
        try:
            parsed = self.loads(value)
        except (ValueError, RecursionError):
            raise ValueError(f"Not valid JSON; expected {what}.") from None
        if not isinstance(parsed, expected):
            raise ValueError(f"Expected {what}.")
        return parsed

    def _jsonl_records(self, f: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
        # Lines are split on b"\n" only: JSON strings may hold U+2028 and other characters that
        # str.splitlines() would treat as line breaks.
        loads = self.loads
        for number, line in enumerate(f, start=1):
            if number == 1:
                line = line.removeprefix(_BOM)
            if not line.strip():
                continue
            try:
                obj = loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                yield number, "Not UTF-8 text."
                continue
            except RecursionError:
                yield number, "Not valid JSON: nested too deeply."
                continue
            except ValueError as exc:
                yield number, f"Not valid JSON: {str(exc)[:120]}."
                continue
            if not isinstance(obj, dict):
                yield number, "Each line must be a JSON object."
                continue
            yield number, obj

    def _csv_records(self, f: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        row = 1
        try:
            reader = csv.reader(text)
            try:
                header = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self.file_error("header", f"Unreadable CSV: {exc}.", row=1) from None
            if not header or not any(h.strip() for h in header):
                raise self.file_error("header", "The file is empty; expected a header row.", row=1)
            header = [h.strip() for h in header]
            self._check_header(header)
            width = len(header)
            full_blank_is_a_row = self.blank_row_of_full_width
            unescape = self.unescape_cells
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise self.file_error(
                        "file", f"Unreadable CSV near row {row + 1}: {exc}."
                    ) from None
                row += 1
                if not (full_blank_is_a_row and len(cells) == width) and not any(
                    c.strip() for c in cells
                ):
                    continue  # a blank line is an empty spreadsheet row: skipped, still counted
                if len(cells) > width:
                    yield row, TOO_MANY_CELLS
                    continue
                if unescape:
                    cells = [unescape_cell(c) for c in cells]
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                yield row, dict(zip(header, cells, strict=True))
        finally:
            text.detach()  # the caller's file stays open

    def _check_header(self, header: list[str]) -> None:
        unknown = [c for c in header if c not in self.columns]
        repeated = sorted({c for c in header if header.count(c) > 1})
        missing = [c for c in self.required if c not in header]
        problems = []
        if unknown:
            problems.append(f"unknown columns {', '.join(repr(c[:40]) for c in unknown[:10])}")
        if repeated:
            problems.append(f"repeated columns {', '.join(repeated)}")
        if missing:
            problems.append(f"missing columns {', '.join(missing)}")
        if self.required_any and not any(c in header for c in self.required_any):
            problems.append(f"none of the columns {' or '.join(self.required_any)}")
        if problems:
            raise self.file_error(
                "header",
                "The header has "
                + "; ".join(problems)
                + f". The columns are {', '.join(self.columns)}.",
                row=1,
            )


# -- HTTP ----------------------------------------------------------------------------------------


class RawFileParser(parsers.BaseParser):
    """Any body that is not multipart is the file itself, spooled to a temporary file (in memory
    up to ``SPOOL_MEMORY_BYTES``, on disk beyond) and read up to the view's
    ``max_upload_bytes()``; a larger body raises the view's ``too_large`` (413) without reading
    the rest. Returns the file at its start."""

    media_type = "*/*"
    chunk_size = 1024 * 1024

    def parse(self, stream, media_type=None, parser_context=None) -> IO[bytes]:
        view = parser_context["view"]
        max_bytes = view.max_upload_bytes()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
        size = 0
        while stream is not None:
            chunk = stream.read(self.chunk_size)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                spool.close()
                raise view.too_large()
            spool.write(chunk)
        spool.seek(0)
        return spool


class FileFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` is the file's format on these routes, not a renderer choice: answer JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


FORMAT_BY_EXTENSION = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMAT_BY_MEDIA_TYPE = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
}


def format_from_name(file_name: str) -> str | None:
    """The format a file's name says (``.csv``, ``.jsonl`` or ``.ndjson``), or None."""
    lowered = file_name.lower()
    for extension, file_format in FORMAT_BY_EXTENSION.items():
        if lowered.endswith(extension):
            return file_format
    return None


class FileFormatQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=IMPORT_FORMATS, required=False)


def file_format(request, file_name: str) -> str:
    """The uploaded file's format: ``?format=``, else the file name's extension, else the
    request's content type. 400 (field ``format``) when none says."""
    query = parse_input(FileFormatQuery, request.query_params)
    if "format" in query:
        return query["format"]
    by_name = format_from_name(file_name)
    if by_name is not None:
        return by_name
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type in FORMAT_BY_MEDIA_TYPE:
        return FORMAT_BY_MEDIA_TYPE[media_type]
    raise serializers.ValidationError(
        {"format": ["Say ?format=csv or ?format=jsonl (or name the file .csv or .jsonl)."]}
    )


FORMAT_PARAMETER = OpenApiParameter("format", str, enum=list(IMPORT_FORMATS))


def file_upload_schema(
    *, form, result, status: int = 201, parameters=(), conflict: str | None = None
):
    """``extend_schema`` for a file route: a multipart ``form`` or a raw CSV / JSONL body,
    ``?format=`` (and ``parameters``), ``result`` with ``status``, and the errors of an import
    (400 ``import_invalid``, 413 ``import_too_large``, and 409 ``conflict`` when given)."""
    responses = {
        status: result,
        400: OpenApiResponse(description="import_invalid: fields.rows lists row errors"),
    }
    if conflict:
        responses[409] = OpenApiResponse(description=conflict)
    responses[413] = OpenApiResponse(description="import_too_large")
    return extend_schema(
        parameters=[FORMAT_PARAMETER, *parameters],
        request={
            "multipart/form-data": form,
            "text/csv": OpenApiTypes.STR,
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses=responses,
    )


# A route that takes a file: a multipart ``file`` field or the raw body, whose format ``?format=``
# names. A subclass says its limit (``max_upload_bytes``, read on each request) and the error over
# it (``too_large``); its permissions are its own. (Comments, not a docstring: drf-spectacular
# would publish a base class's docstring as the description of each subclass's operations.)
class FileUploadApi(APIView):
    parser_classes = (parsers.MultiPartParser, RawFileParser)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = FileFormatNegotiation
    too_large: type[ImportTooLarge] = ImportTooLarge

    def max_upload_bytes(self) -> int:
        raise NotImplementedError

    def uploaded_file(self, request, form) -> tuple[IO[bytes], str, dict[str, Any] | None]:
        """The file (binary, at its start), its name ("" for a raw body), and the form's other
        fields validated by ``form`` (a serializer with a ``file`` field) — None for a raw body.
        400 for a missing or empty file; ``too_large`` for a file over the limit."""
        if isinstance(request.data, dict):
            data = parse_input(form, request.data)
            upload = data.pop("file")
            if upload.size > self.max_upload_bytes():
                raise self.too_large()
            return upload_file(upload), upload.name or "", data
        body: IO[bytes] = request.data
        if not body.read(1):
            raise serializers.ValidationError({"file": ["The body is empty."]})
        body.seek(0)
        return body, "", None
