"""config.uploads, the one way every import takes and reads a file: the raw body is spooled
(to disk past SPOOL_MEMORY_BYTES) up to the route's limit, the format comes from ?format=, the
file name or the content type, and CSV and JSONL rows read the same for every import."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config import uploads
from config.exports import escape_cell


class _TooLarge(uploads.ImportTooLarge):
    default_detail = "Too large for this route."


class _Route:
    """What RawFileParser asks of its view."""

    too_large = _TooLarge

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def max_upload_bytes(self) -> int:
        return self.max_bytes


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def _parse(body: bytes, max_bytes: int):
    return uploads.RawFileParser().parse(io.BytesIO(body), "text/csv", {"view": _Route(max_bytes)})


# -- the raw body ---------------------------------------------------------------------------------


def test_a_small_body_is_spooled_in_memory_and_returned_at_its_start():
    f = _parse(b"a,b\n1,2\n", max_bytes=100)
    assert not f._rolled
    assert f.read() == b"a,b\n1,2\n"


def test_a_body_past_the_spool_size_goes_to_a_file_on_disk():
    body = b"x" * (uploads.SPOOL_MEMORY_BYTES + 1)
    f = _parse(body, max_bytes=len(body))
    assert f._rolled
    assert f.read(3) == b"xxx"
    f.seek(0, io.SEEK_END)
    assert f.tell() == len(body)


def test_a_body_over_the_routes_limit_is_its_413_without_reading_the_rest():
    parser = uploads.RawFileParser()
    stream = _CountingStream(b"x" * (5 * parser.chunk_size))
    with pytest.raises(_TooLarge) as exc:
        parser.parse(stream, "text/csv", {"view": _Route(parser.chunk_size + 10)})
    assert exc.value.status == 413 and exc.value.code == "import_too_large"
    assert stream.bytes_read == 2 * parser.chunk_size
    assert _parse(b"x" * 10, max_bytes=10).read() == b"x" * 10  # the limit itself is taken


# -- the format -----------------------------------------------------------------------------------


def _request(query: str = "", content_type: str = "application/octet-stream") -> Request:
    raw = APIRequestFactory().post(f"/import/{query}", b"x", content_type=content_type)
    return Request(raw, parsers=[JSONParser()])


@pytest.mark.parametrize(
    ("query", "name", "content_type", "expected"),
    [
        ("?format=jsonl", "tasks.csv", "text/csv", "jsonl"),  # ?format= first
        ("", "Tasks.CSV", "application/x-ndjson", "csv"),  # then the file name
        ("", "tasks.ndjson", "text/csv", "jsonl"),
        ("", "", "text/csv; charset=utf-8", "csv"),  # then the content type
        ("", "", "application/jsonlines", "jsonl"),
    ],
)
def test_the_format_comes_from_the_query_the_name_then_the_content_type(
    query, name, content_type, expected
):
    assert uploads.file_format(_request(query, content_type), name) == expected


@pytest.mark.parametrize(("query", "name"), [("", "tasks.txt"), ("?format=xlsx", "tasks.csv")])
def test_an_unknown_or_unsaid_format_is_a_400_on_format(query, name):
    with pytest.raises(serializers.ValidationError) as exc:
        uploads.file_format(_request(query), name)
    assert "format" in exc.value.detail


# -- reading rows ---------------------------------------------------------------------------------

SPEC = uploads.FileSpec(columns=("id", "name", "note"), required=("id",))


def _rows(spec: uploads.FileSpec, text: str | bytes, file_format: str = "csv") -> list:
    return list(spec.records(text, file_format))


def test_csv_rows_are_numbered_like_a_spreadsheet_and_blank_lines_count():
    text = "id,name\n1,a\n\n2\n , \n3,c,extra\n4,d\n"
    assert _rows(SPEC, text) == [
        (2, {"id": "1", "name": "a"}),
        (4, {"id": "2", "name": ""}),  # a short row's missing cells are blank
        (6, uploads.TOO_MANY_CELLS),
        (7, {"id": "4", "name": "d"}),
    ]


def test_a_full_row_of_blank_cells_is_a_row_only_where_the_spec_says_so():
    text = "id,name\n , \n"
    assert _rows(SPEC, text) == []
    as_row = uploads.FileSpec(columns=SPEC.columns, blank_row_of_full_width=True)
    assert _rows(as_row, text) == [(2, {"id": " ", "name": " "})]


def test_cells_escaped_on_export_read_back_where_the_spec_says_so():
    text = f"id,name\n1,{escape_cell('=SUM(A1)')}\n"
    assert _rows(SPEC, text)[0][1]["name"] == escape_cell("=SUM(A1)")
    unescaping = uploads.FileSpec(columns=SPEC.columns, unescape_cells=True)
    assert _rows(unescaping, text)[0][1]["name"] == "=SUM(A1)"


def test_a_bad_header_is_one_file_error_naming_every_problem():
    spec = uploads.FileSpec(
        columns=("id", "url", "payload"), required=("id",), required_any=("url", "payload")
    )
    with pytest.raises(uploads.ImportInvalid) as exc:
        _rows(spec, "name,name,x" + "y" * 50 + "\n1,2,3\n")
    (problem,) = exc.value.fields["rows"]
    assert problem["row"] == 1 and problem["field"] == "header"
    assert problem["message"] == (
        "The header has unknown columns 'name', 'name', '" + "x" + "y" * 39 + "'; repeated "
        "columns name; missing columns id; none of the columns url or payload. The columns are "
        "id, url, payload."
    )
    assert exc.value.detail == f"The file cannot be read: {problem['message']} Nothing was written."
    worded = uploads.FileSpec(columns=("id",), cannot_read="Cannot: {} Stop.")
    with pytest.raises(uploads.ImportInvalid) as exc:
        _rows(worded, "")
    assert exc.value.detail == "Cannot: The file is empty; expected a header row. Stop."


def test_jsonl_lines_are_numbered_and_bad_lines_are_messages():
    text = (
        (
            "\ufeff"
            + json.dumps({"id": 1, "note": "a\u2028b"}, ensure_ascii=False)
            + "\n\n[1]\n{oops\n"
        ).encode()
        + b'{"id": "\xff"}\n'
        + b"[" * 100
        + b"]" * 100
        + b"\n"
    )
    rows = _rows(SPEC, text, "jsonl")
    assert rows[0] == (1, {"id": 1, "note": "a\u2028b"})  # U+2028 is no line break
    assert rows[1] == (3, "Each line must be a JSON object.")
    assert rows[2][0] == 4 and rows[2][1].startswith("Not valid JSON: ")
    assert rows[3] == (5, "Not UTF-8 text.")
    assert rows[4] == (6, "Not valid JSON: nested more than 64 levels deep.")
    assert len(rows) == 5


def test_a_json_cell_must_be_what_is_expected():
    assert SPEC.json_cell('{"a": 1}', dict, "an object") == {"a": 1}
    with pytest.raises(ValueError, match=r"Not valid JSON; expected an object\."):
        SPEC.json_cell("{", dict, "an object")
    with pytest.raises(ValueError, match=r"Expected an object\."):
        SPEC.json_cell("[1]", dict, "an object")


def test_an_unknown_format_is_a_validation_error():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _rows(SPEC, "id\n1\n", "xlsx")


# -- bytes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain", None),
        ("h\u00e9llo \u2603".encode(), None),
        (b"ab\xffcd", 2),
        (b"\xef\xbb\xbfab\xff", 2),  # counted after the byte-order mark, as utf-8-sig does
        (b"\xef\xbb", 0),
        ("\u00e9".encode() * 10 + b"\xc3", 20),  # cut short at the very end
    ],
)
def test_the_first_byte_that_is_not_utf8(data, expected):
    f = io.BytesIO(data)
    assert uploads.first_non_utf8_byte(f, chunk_size=3) == expected
    assert f.tell() == 0
    if expected is not None:
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            assert exc.start == expected


def test_bytes_left_counts_from_where_the_file_stands():
    f = io.BytesIO(b"0123456789")
    f.seek(4)
    assert uploads.bytes_left(f) == 6
    assert f.tell() == 4


# -- row errors -----------------------------------------------------------------------------------


def test_row_errors_count_all_list_the_first_hundred_and_say_so():
    errors = uploads.RowErrors()
    errors.raise_if_any("imported")  # none: nothing raised
    for row in range(2, 2 + uploads.MAX_REPORTED_ROW_ERRORS + 5):
        errors.add(row, "id", "Bad.")
    errors.merge_sorted([{"row": None, "field": "file", "message": "Whole file."}])
    with pytest.raises(uploads.ImportInvalid) as exc:
        errors.raise_if_any("imported")
    assert exc.value.status == 400 and exc.value.code == "import_invalid"
    assert exc.value.detail == (
        f"{uploads.MAX_REPORTED_ROW_ERRORS + 6} problem(s) in the file; nothing was imported. "
        f"The first {uploads.MAX_REPORTED_ROW_ERRORS} are listed."
    )
    listed = exc.value.fields["rows"]
    assert len(listed) == uploads.MAX_REPORTED_ROW_ERRORS
    assert listed[0] == {"row": None, "field": "file", "message": "Whole file."}
    assert listed[1]["row"] == 2
