"""Bulk writes of tasks: the import of a batch, and bulk updates of priorities and pre-labels.

Both take a CSV or JSONL file (bytes, text, or a binary file object read from where it stands),
are all or nothing and report bad rows the same way: ``ImportInvalid`` (400, code
``import_invalid``) with ``fields["rows"]`` = the first 100 problems as ``{"row", "field",
"message"}``, rows numbered like a spreadsheet (CSV: the header is row 1) or by JSONL line. The
files are read by ``config.uploads`` (``IMPORT_FILE`` and ``UPDATE_FILE`` say what they hold).

How they stay fast (the target is at least 5,000 rows/s on PostgreSQL; figures in
BENCHMARKS.md): every row is parsed and validated in plain Python first, streaming, and kept
only as the line the database will read; nothing touches the database until the whole file is
valid. Then one short, durable transaction holds the project's row lock (``FOR NO KEY UPDATE``,
so imports and updates of one project serialize while claims, which only reference the row, go
on) and writes with ``COPY`` (psycopg 3) — straight into the task table for an import, into a
temporary table followed by one ``UPDATE … FROM`` for an update. On SQLite (the demo) the same
rows go through ``bulk_create`` / ``bulk_update``.

After the write commits, both ANALYZE the task table on PostgreSQL (``_refresh_statistics``):
autovacuum re-analyzes a table only after 10% of it changed, so 5,000 tasks imported into a
table of 80,000 would leave the planner believing the new project has no open tasks, and the
claim would then read and sort every open task of the project instead of walking the open-queue
index from the top (7.8 ms instead of 0.17 ms per claim; BENCHMARKS.md, the import drill).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from assignments.models import Batch, Project, Task
from assignments.services.projects import project_refresh_control_prelabels
from config import uploads
from config.errors import Conflict, NotFound
from config.uploads import MAX_REPORTED_ROW_ERRORS, FileSpec, RowErrors
from config.uploads import ImportInvalid as ImportInvalid  # the services' error, re-exported
from qc.answers import AnswerError, validate_answer
from qc.services.gold import MAX_IMAGE_URL_CHARS, MAX_METADATA_BYTES, clean_image_url
from workforce.models import User

logger = logging.getLogger(__name__)

TASK_IMPORT_MAX_ROWS = 1_000_000
# What the HTTP routes read at most (the raw body or the uploaded file); a 100,000-row JSONL
# file is about 20 MB, so this leaves room for long metadata.
TASK_IMPORT_MAX_BYTES = 200 * 1024 * 1024
COPY_CHUNK_ROWS = 10_000
BULK_BATCH_SIZE = 5_000

# Import rows: ``payload`` or (``image_url`` and optional ``metadata``), plus the rest.
IMPORT_COLUMNS = (
    "external_id",
    "payload",
    "image_url",
    "metadata",
    "source",
    "complexity",
    "priority",
    "prelabel",
    "prelabel_confidence",
)
UPDATE_COLUMNS = ("id", "external_id", "priority", "prelabel", "prelabel_confidence")

EXTERNAL_ID_MAX = Task._meta.get_field("external_id").max_length
SOURCE_MAX = Task._meta.get_field("source").max_length
COMPLEXITY_MAX = Task._meta.get_field("complexity").max_length
NOTE_MAX = 10_000
# The payload is {"image_url", "metadata"}; its JSON may hold the metadata's limit plus the URL.
MAX_PAYLOAD_CHARS = MAX_METADATA_BYTES + MAX_IMAGE_URL_CHARS + 64
ID_MAX = 2**63 - 1


class ImportTooLarge(uploads.ImportTooLarge):
    default_detail = (
        f"A file may hold at most {TASK_IMPORT_MAX_ROWS:,} rows and "
        f"{TASK_IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it."
    )


@dataclass(frozen=True)
class ImportResult:
    batch: Batch
    created: int
    seconds: float


@dataclass(frozen=True)
class UpdateResult:
    updated: int
    seconds: float


# -- reading files ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# One decoder: json.loads() with any keyword builds a new decoder per call. NaN and Infinity,
# which Python's json accepts, are not JSON and PostgreSQL's jsonb refuses them.
_decoder = json.JSONDecoder(parse_constant=_reject_constant)

# The two files (config.uploads reads them): a task import and a bulk update.
IMPORT_FILE = FileSpec(
    columns=IMPORT_COLUMNS,
    required_any=("payload", "image_url"),
    loads=_decoder.decode,
    blank_row_of_full_width=True,
)
UPDATE_FILE = FileSpec(
    columns=UPDATE_COLUMNS,
    required_any=("id", "external_id"),
    loads=_decoder.decode,
    blank_row_of_full_width=True,
)


def _file_records(
    spec: FileSpec,
    data: bytes | str | IO[bytes],
    file_format: str,
    errors: RowErrors,
    max_rows: int,
    what: str,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of the file, each bad row reported in ``errors``. Raises ImportTooLarge past
    ``max_rows`` rows ("nothing was ``what``"), ImportInvalid for a file without rows."""
    count = 0
    for row, record in spec.records(data, file_format):
        count += 1
        if count > max_rows:
            raise ImportTooLarge(
                f"The file has more than {max_rows:,} rows; split it. Nothing was {what}."
            )
        if isinstance(record, str):
            errors.add(row, "row", record)
            continue
        yield row, record
    if not count:
        raise spec.file_error("file", "The file has no rows.")


# -- cleaning values -------------------------------------------------------------------------------
#
# Each cleaner takes a raw value and returns the clean one or raises ValueError with the message
# for its field. ``from_csv`` values are strings; a blank cell means "not given".

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_NUL_ESCAPE_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# A common shape of http(s) URL that qc's clean_image_url certainly accepts: checked here first
# because the full check is the slowest step of a row. Anything else (single-label hosts such
# as ``minio``, ports, IP addresses) goes to clean_image_url, which decides.
_PLAIN_URL_RE = re.compile(
    r"https?://((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?:[/?#]\S*)?\Z"
)


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def _clean_image_url(value: Any) -> str:
    if isinstance(value, str) and len(value) <= MAX_IMAGE_URL_CHARS:
        match = _PLAIN_URL_RE.match(value)
        if match and len(match.group(1)) <= 253:
            return value
    return clean_image_url(value)


def _clean_short_text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValueError("Expected text (in JSON, quote it).")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"At most {max_length} characters.")
    if _CONTROL_RE.search(value):
        raise ValueError("Control characters (tabs, line breaks) are not allowed.")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("Not valid Unicode (a lone surrogate escape).") from None
    return value


def _clean_number(value: Any, *, from_csv: bool, low: float | None = None, high: float = 0.0):
    if from_csv:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("Expected a number.") from None
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("Expected a number.")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError("The number is too large.") from None
    if not math.isfinite(number):
        raise ValueError("Expected a finite number.")
    if low is not None and not low <= number <= high:
        raise ValueError(f"Must be between {low:g} and {high:g}.")
    return number


# One encoder: json.dumps() with any keyword builds a new one per call.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dumps(value: Any) -> str:
    """Compact JSON as PostgreSQL's jsonb will hold it: no NaN, no NUL characters, valid
    Unicode (a lone surrogate would break the write after validation)."""
    try:
        text = _encoder.encode(value)
    except ValueError:
        raise ValueError("NaN and Infinity are not JSON numbers.") from None
    if "\\u0000" in text and _NUL_ESCAPE_RE.search(text):
        raise ValueError("NUL characters (\\u0000) are not allowed.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Not valid Unicode (a lone surrogate escape).") from None
    return text


class _Schema:
    """The project's label schema, to validate pre-labels against."""

    def __init__(self, project: Project) -> None:
        self.answer_type = project.answer_type
        self.classes = list(project.classes)
        self.single = project.answer_type == "single_choice"

    def clean_prelabel(self, value: Any, *, from_csv: bool) -> Any:
        """The canonical pre-label. In CSV the cell is JSON, except that a single-choice label
        may be written bare (``crack`` as well as ``"crack"``)."""
        if from_csv:
            text = value.strip()
            try:
                value = _decoder.decode(text)
            except (ValueError, RecursionError):
                if not self.single:
                    raise ValueError("Not valid JSON; expected an answer.") from None
                value = text
            if self.single and not isinstance(value, str):
                value = text
        try:
            return validate_answer(self.answer_type, self.classes, value)
        except AnswerError as exc:
            raise ValueError(" ".join(exc.messages)) from None

    def prelabel_json(self, value: Any, *, from_csv: bool) -> str:
        """The canonical pre-label as the JSON the database will hold."""
        return _dumps(self.clean_prelabel(value, from_csv=from_csv))


def _copy_text(value: str) -> str:
    """A value for PostgreSQL's COPY text format. Control characters were refused by the
    cleaners (and JSON escapes its own), so only the backslash needs escaping."""
    return value.replace("\\", "\\\\")


# -- the import ------------------------------------------------------------------------------------


class _TaskRows:
    """Cleaned rows in the form the write needs: COPY text lines on PostgreSQL (the project and
    batch columns are appended at write time), tuples for bulk_create elsewhere."""

    def __init__(self, *, copy: bool) -> None:
        self.copy = copy
        self.items: list[Any] = []

    def add(self, external_id, payload_json, payload, source, complexity, priority, pre, conf):
        if self.copy:
            self.items.append(
                "\t".join(
                    (
                        _copy_text(external_id),
                        _copy_text(payload_json),
                        _copy_text(source),
                        _copy_text(complexity),
                        repr(priority),
                        "\\N" if pre is None else _copy_text(pre[1]),
                        "\\N" if conf is None else repr(conf),
                    )
                ).encode("utf-8")
            )
        else:
            (external_id + source + complexity).encode("utf-8")  # as the COPY line would be
            self.items.append(
                (external_id, payload, source, complexity, priority, pre and pre[0], conf)
            )

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _ImportContext:
    schema: _Schema
    default_source: str
    default_priority: float
    rows: _TaskRows
    errors: RowErrors
    first_row_of: dict[str, int] = field(default_factory=dict)


def _clean_payload(record: dict[str, Any], row: int, from_csv: bool, ctx: _ImportContext):
    """(payload, its JSON) or None after reporting the problem."""
    errors = ctx.errors
    payload = record.get("payload")
    image_url = record.get("image_url")
    metadata = record.get("metadata")
    if from_csv:
        image_url = None if _blank(image_url) else image_url
        objects = []  # payload and metadata: a JSON object in the cell, or None when blank
        for name, cell in (("payload", payload), ("metadata", metadata)):
            try:
                objects.append(
                    None if _blank(cell) else IMPORT_FILE.json_cell(cell, dict, "a JSON object")
                )
            except ValueError as exc:
                errors.add(row, name, str(exc))
                return None
        payload, metadata = objects
    url_field = meta_field = None
    if payload is not None:
        if image_url is not None or metadata is not None:
            errors.add(row, "payload", "Give payload, or image_url and metadata, not both.")
            return None
        if not isinstance(payload, dict):
            errors.add(row, "payload", 'Expected a JSON object: {"image_url": …, "metadata": …}.')
            return None
        extra = payload.keys() - {"image_url", "metadata"}
        if extra:
            errors.add(
                row,
                "payload",
                f"Unknown keys: {', '.join(sorted(k[:40] for k in extra))} "
                "(put anything else in metadata).",
            )
            return None
        image_url = payload.get("image_url")
        metadata = payload.get("metadata")
        url_field = meta_field = "payload"
    ok = True
    if _blank(image_url):
        errors.add(row, url_field or "image_url", _prefix(url_field, "image_url", "Required."))
        ok = False
    else:
        try:
            image_url = _clean_image_url(image_url)
        except ValueError as exc:
            errors.add(row, url_field or "image_url", _prefix(url_field, "image_url", str(exc)))
            ok = False
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        errors.add(
            row, meta_field or "metadata", _prefix(meta_field, "metadata", "Expected an object.")
        )
        ok = False
    if not ok:
        return None
    payload = {"image_url": image_url, "metadata": metadata}
    try:
        text = _dumps(payload)
    except ValueError as exc:
        errors.add(row, meta_field or "metadata", _prefix(meta_field, "metadata", str(exc)))
        return None
    if len(text) > MAX_PAYLOAD_CHARS:
        errors.add(
            row,
            meta_field or "metadata",
            _prefix(meta_field, "metadata", f"At most {MAX_METADATA_BYTES // 1024} KB."),
        )
        return None
    return payload, text


def _prefix(container: str | None, name: str, message: str) -> str:
    return f"{name}: {message}" if container else message


def _clean_import_record(
    record: dict[str, Any], row: int, from_csv: bool, ctx: _ImportContext
) -> None:
    """Validate one row; add it to ``ctx.rows`` or report each problem in ``ctx.errors``."""
    errors = ctx.errors
    before = errors.total
    if not from_csv and not record.keys() <= _IMPORT_COLUMN_SET:
        for name in sorted(record.keys() - _IMPORT_COLUMN_SET):
            errors.add(row, name[:60], "Unknown field.")

    external_id = record.get("external_id")
    if _blank(external_id):
        external_id = ""
    else:
        try:
            external_id = _clean_short_text(external_id, EXTERNAL_ID_MAX)
        except ValueError as exc:
            errors.add(row, "external_id", str(exc))
            external_id = ""
        else:
            first = ctx.first_row_of.setdefault(external_id, row)
            if first != row:
                errors.add(row, "external_id", f"Repeats the external id of row {first}.")

    payload = _clean_payload(record, row, from_csv, ctx)

    texts = []
    for name, max_length, default in (
        ("source", SOURCE_MAX, ctx.default_source),
        ("complexity", COMPLEXITY_MAX, ""),
    ):
        value = record.get(name)
        if _blank(value):
            texts.append(default)
            continue
        try:
            texts.append(_clean_short_text(value, max_length))
        except ValueError as exc:
            errors.add(row, name, str(exc))

    priority = record.get("priority")
    if _blank(priority):
        priority = ctx.default_priority
    else:
        try:
            priority = _clean_number(priority, from_csv=from_csv)
        except ValueError as exc:
            errors.add(row, "priority", str(exc))

    prelabel = record.get("prelabel")
    has_prelabel = not _blank(prelabel)
    pre = None
    if has_prelabel:
        try:
            canonical = ctx.schema.clean_prelabel(prelabel, from_csv=from_csv)
            pre = (canonical, _dumps(canonical))
        except ValueError as exc:
            errors.add(row, "prelabel", str(exc))

    confidence = record.get("prelabel_confidence")
    if _blank(confidence):
        confidence = None
    else:
        try:
            confidence = _clean_number(confidence, from_csv=from_csv, low=0.0, high=1.0)
        except ValueError as exc:
            errors.add(row, "prelabel_confidence", str(exc))
        else:
            if not has_prelabel:
                errors.add(row, "prelabel_confidence", "A confidence needs a prelabel.")

    if errors.total > before:
        return
    source, complexity = texts
    try:
        ctx.rows.add(
            external_id, payload[1], payload[0], source, complexity, priority, pre, confidence
        )
    except UnicodeEncodeError:
        errors.add(row, "row", "Not valid Unicode (a lone surrogate).")


_IMPORT_COLUMN_SET = frozenset(IMPORT_COLUMNS)


def _taken_external_ids(project_id: int, first_row_of: dict[str, int]) -> list[dict[str, Any]]:
    """Row problems for external ids the project already has (one query on PostgreSQL)."""
    ids = [i for i in first_row_of if i]
    if not ids:
        return []
    taken: set[str] = set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT external_id FROM {Task._meta.db_table} "  # noqa: S608
                "WHERE project_id = %s AND external_id = ANY(%s::text[])",
                [project_id, ids],
            )
            taken = {r[0] for r in cursor.fetchall()}
    else:
        for start in range(0, len(ids), 500):
            taken.update(
                Task.objects.filter(
                    project_id=project_id, external_id__in=ids[start : start + 500]
                ).values_list("external_id", flat=True)
            )
    return [
        {
            "row": first_row_of[i],
            "field": "external_id",
            "message": "The project already has a task with this external id.",
        }
        for i in sorted(taken, key=first_row_of.__getitem__)
    ]


def _check_not_done(status: str) -> None:
    if status == Project.Status.DONE:
        raise Conflict("The project is done; it takes no more tasks.", code="project_done")


def tasks_import(
    *,
    actor: User | None,
    project: Project,
    data: bytes | str | IO[bytes],
    file_format: str,
    source: str = "",
    note: str = "",
    priority: int = 0,
    max_rows: int = TASK_IMPORT_MAX_ROWS,
) -> ImportResult:
    """Import a file of tasks into ``project`` as one new batch, all or nothing.

    Columns (CSV header) or keys (JSONL): ``external_id`` (optional; unique in the project when
    given), ``payload`` (``{"image_url": …, "metadata": {…}}``) or ``image_url`` and
    ``metadata`` (a JSON object in CSV), ``source`` (default: the batch's), ``complexity``,
    ``priority`` (a number; default: the batch's priority), ``prelabel`` (an answer valid for
    the project's schema; in CSV JSON, or a bare label for single choice) and
    ``prelabel_confidence`` (0 to 1, needs a prelabel). ``image_url`` is an http(s) URL or a
    relative path. New tasks are open, want ``project.overlap`` submissions, and are real tasks
    (never control tasks).

    Raises ValidationError for bad batch fields or format, Conflict (``project_done``) for a
    finished project, ImportTooLarge beyond ``max_rows`` rows, ImportInvalid for any bad row or
    an external id the file repeats or the project already has — then nothing is written.
    Writes the batch and its tasks in one durable transaction under the project's row lock;
    when the project shows pre-labels to labelers, the control tasks' decoy pre-labels are
    redrawn in it (``project_refresh_control_prelabels``).
    """
    started = time.perf_counter()
    errors: dict[str, list[str]] = {}
    try:
        source = _clean_short_text(source, SOURCE_MAX)
    except ValueError as exc:
        errors["source"] = [str(exc)]
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        errors["note"] = [f"Text of at most {NOTE_MAX} characters."]
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 2**31 - 1:
        errors["priority"] = ["Expected a whole number."]
    if errors:
        raise ValidationError(errors)
    _check_not_done(project.status)

    use_copy = connection.vendor == "postgresql"
    ctx = _ImportContext(
        schema=_Schema(project),
        default_source=source,
        default_priority=float(priority),
        rows=_TaskRows(copy=use_copy),
        errors=RowErrors(),
    )
    from_csv = file_format == "csv"
    for row, record in _file_records(
        IMPORT_FILE, data, file_format, ctx.errors, max_rows, "imported"
    ):
        _clean_import_record(record, row, from_csv, ctx)
    if ctx.errors.total:
        ctx.errors.merge_sorted(_taken_external_ids(project.pk, ctx.first_row_of))
        ctx.errors.raise_if_any("imported")

    with transaction.atomic(durable=True):
        locked = (
            Project.objects.select_for_update(no_key=True)
            .filter(pk=project.pk)
            .values_list("status", "overlap", "show_prelabels")
            .first()
        )
        if locked is None:
            raise NotFound()
        status, overlap, show_prelabels = locked
        _check_not_done(status)
        ctx.errors.merge_sorted(_taken_external_ids(project.pk, ctx.first_row_of))
        ctx.errors.raise_if_any("imported")
        batch = Batch.objects.create(
            project_id=project.pk,
            source=ctx.default_source,
            note=note,
            priority=priority,
            created_by=actor,
        )
        now = timezone.now()
        if use_copy:
            _copy_tasks(project.pk, batch.pk, overlap, now, ctx.rows)
        else:
            _bulk_create_tasks(project.pk, batch.pk, overlap, ctx.rows)
        if show_prelabels:
            # The control tasks' decoys follow the real tasks' pre-labels (docs/next-task.md).
            project_refresh_control_prelabels(actor=actor, project=project)
    _refresh_statistics()
    batch.project = project
    return ImportResult(
        batch=batch, created=len(ctx.rows), seconds=round(time.perf_counter() - started, 3)
    )


# How long the ANALYZE after a bulk write waits for its lock (a VACUUM or another ANALYZE of the
# task table holds it) before giving up; the write has committed either way.
ANALYZE_LOCK_TIMEOUT = "2s"


def _refresh_statistics() -> None:
    """ANALYZE the task table after a bulk write has committed (PostgreSQL only), so that the
    planner knows the project's new open tasks before the first claim. Outside the write's
    transaction: the sample must see the committed rows, and the write's locks are released
    first. ANALYZE reads a fixed-size sample (30,000 rows at the default statistics target),
    so its cost does not grow with the table; it blocks neither reads nor writes. A failure
    (a lock wait over ``ANALYZE_LOCK_TIMEOUT``, a lost connection) is logged, not raised: the
    tasks are in, and autovacuum analyzes the table later."""
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_TIMEOUT}'")
            cursor.execute(f"ANALYZE {Task._meta.db_table}")
    except DatabaseError as exc:
        logger.warning("ANALYZE of the task table after a bulk write failed: %s", exc)


# The columns each row fills, in the order of its COPY line: a task's own fields as imported,
# which the admin's task page lists in this order too.
TASK_ROW_COLUMNS = (
    "external_id",
    "payload",
    "source",
    "complexity",
    "priority",
    "prelabel",
    "prelabel_confidence",
)


def _copy_value(value: Any) -> str:
    """A constant in COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return _copy_text(_dumps(value))
    text = str(value)
    if _CONTROL_RE.search(text):
        raise ValueError(f"A control character in the constant {text[:40]!r}.")
    return _copy_text(text)


def _task_constants(project_id: int, batch_id: int, target: int, now: datetime) -> dict:
    """Every other column of a new task: the batch's own, then each remaining column's model
    default — so a field added to Task later (with a default, or nullable) needs no change
    here. A NOT NULL field without any default cannot be filled by an import: say so."""
    constants: dict[str, Any] = {
        "project": project_id,
        "batch": batch_id,
        "state": Task.State.OPEN.value,
        "target": target,
        "submitted": 0,
        "is_open": True,
        "created_at": now,
    }
    for f in Task._meta.concrete_fields:
        if f.primary_key or f.name in constants or f.name in TASK_ROW_COLUMNS:
            continue
        if f.db_default is not NOT_PROVIDED:
            continue  # the database fills it
        value = f.get_default()
        if value is None and f.null:
            continue  # NULL is the column's default
        if value is None:
            raise RuntimeError(f"Task.{f.name} has no default; the task import cannot fill it.")
        constants[f.name] = value
    return constants


def _copy_tasks(project_id: int, batch_id: int, target: int, now: datetime, rows: _TaskRows):
    constants = _task_constants(project_id, batch_id, target, now)
    names = (*TASK_ROW_COLUMNS, *constants)
    tail = ("\t" + "\t".join(_copy_value(v) for v in constants.values()) + "\n").encode()
    columns = ", ".join(Task._meta.get_field(n).column for n in names)
    sql = f"COPY {Task._meta.db_table} ({columns}) FROM STDIN"
    items = rows.items
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for start in range(0, len(items), COPY_CHUNK_ROWS):
            chunk = items[start : start + COPY_CHUNK_ROWS]
            copy.write(tail.join(chunk) + tail)


def _bulk_create_tasks(project_id: int, batch_id: int, target: int, rows: _TaskRows) -> None:
    Task.objects.bulk_create(
        (
            Task(
                project_id=project_id,
                batch_id=batch_id,
                external_id=external_id,
                payload=payload,
                source=source,
                complexity=complexity,
                priority=priority,
                prelabel=prelabel,
                prelabel_confidence=confidence,
                state=Task.State.OPEN,
                target=target,
                submitted=0,
                is_open=True,
            )
            for external_id, payload, source, complexity, priority, prelabel, confidence in (
                rows.items
            )
        ),
        batch_size=BULK_BATCH_SIZE,
    )


# -- bulk updates of priorities and pre-labels -----------------------------------------------------


@dataclass
class _UpdateContext:
    schema: _Schema
    errors: RowErrors
    copy: bool
    items: list[Any] = field(default_factory=list)
    first_row_of: dict[tuple[str, Any], int] = field(default_factory=dict)


_UNSET = object()
_UPDATE_COLUMN_SET = frozenset(UPDATE_COLUMNS)


def _clean_task_id(value: Any, from_csv: bool) -> int:
    if from_csv:
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError("Expected a task id (a whole number).")
        value = int(text)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Expected a task id (a whole number).")
    if not 0 < value <= ID_MAX:
        raise ValueError("Not a task id.")
    return value


def _clean_update_record(
    record: dict[str, Any], row: int, from_csv: bool, ctx: _UpdateContext
) -> None:
    """Validate one update row. In JSONL a ``null`` prelabel or confidence clears it; in CSV a
    blank cell leaves the value alone and the cell ``null`` clears it. Clearing the prelabel
    clears its confidence too."""
    errors = ctx.errors
    before = errors.total
    if not from_csv and not record.keys() <= _UPDATE_COLUMN_SET:
        for name in sorted(record.keys() - _UPDATE_COLUMN_SET):
            errors.add(row, name[:60], "Unknown field.")

    def given(name: str) -> Any:
        value = record.get(name, _UNSET)
        if from_csv and isinstance(value, str) and not value.strip():
            return _UNSET
        return value

    def cleared(value: Any) -> bool:
        return value is None or (from_csv and isinstance(value, str) and value.strip() == "null")

    task_id = given("id")
    external_id = given("external_id")
    key = None
    if task_id is not _UNSET and task_id is not None and external_id not in (_UNSET, None):
        errors.add(row, "id", "Give id or external_id, not both.")
    elif task_id not in (_UNSET, None):
        try:
            task_id = _clean_task_id(task_id, from_csv)
            key = ("id", task_id)
        except ValueError as exc:
            errors.add(row, "id", str(exc))
        external_id = None
    elif external_id not in (_UNSET, None):
        try:
            external_id = _clean_short_text(external_id, EXTERNAL_ID_MAX)
        except ValueError as exc:
            errors.add(row, "external_id", str(exc))
        else:
            if external_id:
                key = ("external_id", external_id)
            else:
                errors.add(row, "external_id", "Required (or give id).")
        task_id = None
    else:
        errors.add(row, "id", "Give the task's id or its external_id.")
    if key is not None:
        first = ctx.first_row_of.setdefault(key, row)
        if first != row:
            errors.add(row, key[0], f"Repeats the task of row {first}.")

    def value_of(name: str, clean: Callable[..., Any], **options: Any) -> tuple[bool, Any]:
        """Whether the row gives ``name``, and its clean value: None when cleared or invalid
        (reported)."""
        value = given(name)
        if value is _UNSET:
            return False, None
        if cleared(value):
            return True, None
        try:
            return True, clean(value, from_csv=from_csv, **options)
        except ValueError as exc:
            errors.add(row, name, str(exc))
            return True, None

    set_priority, priority = value_of("priority", _clean_number)
    if set_priority and priority is None:
        if cleared(given("priority")):
            errors.add(row, "priority", "A priority cannot be cleared; give a number.")
        set_priority = False
    set_prelabel, prelabel = value_of("prelabel", ctx.schema.prelabel_json)
    set_confidence, confidence = value_of("prelabel_confidence", _clean_number, low=0.0, high=1.0)
    if confidence is not None and set_prelabel and prelabel is None and errors.total == before:
        errors.add(row, "prelabel_confidence", "A confidence needs a prelabel.")
    if set_prelabel and prelabel is None and not set_confidence:
        set_confidence = True  # clearing a prelabel clears its confidence
    if not (set_priority or set_prelabel or set_confidence) and errors.total == before:
        errors.add(row, "row", "Nothing to update: give priority, prelabel or confidence.")
    if errors.total > before:
        return
    values = (set_priority, priority, set_prelabel, prelabel, set_confidence, confidence)
    if ctx.copy:
        ctx.items.append(
            "\t".join(
                (
                    str(row),
                    "\\N" if task_id is None else str(task_id),
                    "\\N" if external_id is None else _copy_text(external_id),
                    "t" if set_priority else "f",
                    "\\N" if priority is None else repr(priority),
                    "t" if set_prelabel else "f",
                    "\\N" if prelabel is None else _copy_text(prelabel),
                    "t" if set_confidence else "f",
                    "\\N" if confidence is None else repr(confidence),
                )
            ).encode("utf-8")
            + b"\n"
        )
    else:
        ctx.items.append((row, task_id, external_id, *values))


def tasks_bulk_update(
    *,
    actor: User | None,
    project: Project,
    data: bytes | str | IO[bytes],
    file_format: str,
    max_rows: int = TASK_IMPORT_MAX_ROWS,
) -> UpdateResult:
    """Set the priority and/or the pre-label (and its confidence) of existing tasks of
    ``project`` from a CSV or JSONL file, all or nothing — the hand-off of an active-learning
    loop: a model scores which items are most informative and they move up the claim queue.

    Columns or keys: ``id`` or ``external_id`` (exactly one per row), and any of ``priority``,
    ``prelabel`` (validated against the project's schema), ``prelabel_confidence`` (0 to 1). In
    JSONL ``null`` clears a prelabel or a confidence; in CSV a blank cell leaves the value as it
    is and ``null`` clears it; clearing a prelabel clears its confidence. Control tasks are not
    addressable (they are not the project's own items).

    Raises ImportInvalid for a bad row, a task named twice, or a task the project does not have
    (unknown ids are reported once the rest of the file is valid); ImportTooLarge beyond
    ``max_rows``; Conflict for a done project. One durable transaction under the project's row
    lock; on PostgreSQL a COPY into a temporary table and one ``UPDATE … FROM``. When the project
    shows pre-labels to labelers, the control tasks' decoys are redrawn in the same transaction.
    """
    started = time.perf_counter()
    _check_not_done(project.status)
    ctx = _UpdateContext(
        schema=_Schema(project), errors=RowErrors(), copy=connection.vendor == "postgresql"
    )
    from_csv = file_format == "csv"
    for row, record in _file_records(
        UPDATE_FILE, data, file_format, ctx.errors, max_rows, "updated"
    ):
        _clean_update_record(record, row, from_csv, ctx)
    ctx.errors.raise_if_any("updated")

    with transaction.atomic(durable=True):
        locked = (
            Project.objects.select_for_update(no_key=True)
            .filter(pk=project.pk)
            .values_list("status", "show_prelabels")
            .first()
        )
        if locked is None:
            raise NotFound()
        _check_not_done(locked[0])
        write = _copy_update if ctx.copy else _bulk_update
        updated = write(project.pk, ctx)
        if locked[1]:
            project_refresh_control_prelabels(actor=actor, project=project)
    _refresh_statistics()
    return UpdateResult(updated=updated, seconds=round(time.perf_counter() - started, 3))


_UNKNOWN = "The project has no such task."


def _copy_update(project_id: int, ctx: _UpdateContext) -> int:
    t = Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.lf_task_update")
        cursor.execute(
            """CREATE TEMPORARY TABLE lf_task_update (
                   row_number integer NOT NULL, task_id bigint, external_id text,
                   set_priority boolean NOT NULL, priority double precision,
                   set_prelabel boolean NOT NULL, prelabel jsonb,
                   set_confidence boolean NOT NULL, prelabel_confidence double precision
               ) ON COMMIT DROP"""
        )
        with cursor.cursor.copy("COPY lf_task_update FROM STDIN") as copy:
            items = ctx.items
            for start in range(0, len(items), COPY_CHUNK_ROWS):
                copy.write(b"".join(items[start : start + COPY_CHUNK_ROWS]))
        # The planner knows nothing of a fresh temporary table (and the task table's statistics
        # may lag a fresh import): without ANALYZE, and a hash join forced for the one join that
        # has no index on the task side (external_id), a nested loop over both can take hours.
        cursor.execute("ANALYZE lf_task_update")
        cursor.execute("SET LOCAL enable_nestloop = off")
        # Rows that name a task by external id get its id; real tasks of this project only.
        cursor.execute(
            f"""UPDATE lf_task_update u SET task_id = t.id FROM {t} t
                WHERE u.task_id IS NULL AND t.project_id = %s AND t.gold_item_id IS NULL
                  AND t.external_id = u.external_id""",  # noqa: S608
            [project_id],
        )
        cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")
        cursor.execute(
            f"""SELECT u.row_number, (u.external_id IS NOT NULL), COUNT(*) OVER ()
                FROM lf_task_update u
                WHERE u.task_id IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {t} t WHERE t.id = u.task_id AND t.project_id = %s
                      AND t.gold_item_id IS NULL)
                ORDER BY u.row_number LIMIT %s""",  # noqa: S608
            [project_id, MAX_REPORTED_ROW_ERRORS],
        )
        unknown = cursor.fetchall()
        # A task named twice (once by id, once by external id: the file check saw two keys).
        cursor.execute(
            """SELECT row_number, first_row FROM (
                   SELECT u.row_number,
                          MIN(u.row_number) OVER (PARTITION BY u.task_id) AS first_row
                   FROM lf_task_update u WHERE u.task_id IS NOT NULL) x
               WHERE row_number <> first_row ORDER BY row_number LIMIT %s""",
            [MAX_REPORTED_ROW_ERRORS],
        )
        repeated = cursor.fetchall()
        if unknown or repeated:
            problems = [
                {"row": r, "field": "external_id" if by_ext else "id", "message": _UNKNOWN}
                for r, by_ext, _ in unknown
            ] + [
                {"row": r, "field": "row", "message": f"Repeats the task of row {first}."}
                for r, first in repeated
            ]
            errors = RowErrors()
            errors.merge_sorted(problems)
            errors.total = (unknown[0][2] if unknown else 0) + len(repeated)
            errors.raise_if_any("updated")
        cursor.execute(
            f"""UPDATE {t} t SET
                  priority = CASE WHEN u.set_priority THEN u.priority ELSE t.priority END,
                  prelabel = CASE WHEN u.set_prelabel THEN u.prelabel ELSE t.prelabel END,
                  prelabel_confidence = CASE WHEN u.set_confidence THEN u.prelabel_confidence
                                             ELSE t.prelabel_confidence END
                FROM lf_task_update u WHERE t.id = u.task_id""",  # noqa: S608
        )
        return cursor.rowcount


def _bulk_update(project_id: int, ctx: _UpdateContext) -> int:
    real = Task.objects.filter(project_id=project_id, gold_item__isnull=True)
    ids = [item[1] for item in ctx.items if item[1] is not None]
    external_ids = [item[2] for item in ctx.items if item[2] is not None]
    known_ids: set[int] = set()
    id_of: dict[str, int] = {}
    for start in range(0, max(len(ids), len(external_ids)), 500):
        known_ids.update(real.filter(pk__in=ids[start : start + 500]).values_list("pk", flat=True))
        id_of.update(
            real.filter(external_id__in=external_ids[start : start + 500]).values_list(
                "external_id", "pk"
            )
        )
    problems: list[dict[str, Any]] = []
    first_row_of: dict[int, int] = {}
    groups: dict[tuple[str, ...], list[Task]] = {}
    for row, task_id, external_id, *values in ctx.items:
        if external_id is not None:
            task_id = id_of.get(external_id)
        elif task_id not in known_ids:
            task_id = None
        if task_id is None:
            name = "id" if external_id is None else "external_id"
            problems.append({"row": row, "field": name, "message": _UNKNOWN})
            continue
        first = first_row_of.setdefault(task_id, row)
        if first != row:
            problems.append(
                {"row": row, "field": "row", "message": f"Repeats the task of row {first}."}
            )
            continue
        set_priority, priority, set_prelabel, prelabel, set_confidence, confidence = values
        task = Task(pk=task_id)
        names = []
        if set_priority:
            task.priority = priority
            names.append("priority")
        if set_prelabel:
            task.prelabel = None if prelabel is None else json.loads(prelabel)
            names.append("prelabel")
        if set_confidence:
            task.prelabel_confidence = confidence
            names.append("prelabel_confidence")
        groups.setdefault(tuple(names), []).append(task)
    if problems:
        errors = RowErrors()
        errors.merge_sorted(problems)
        errors.raise_if_any("updated")
    updated = 0
    for names, tasks in groups.items():
        updated += Task.objects.bulk_update(tasks, names, batch_size=1_000)
    return updated


# -- one task --------------------------------------------------------------------------------------


def task_set_priority(*, actor: User | None, task: Task, priority: float) -> Task:
    """Set one task's priority (the admin's one editable task field). A single-column UPDATE,
    so the counters that the claim and submit services keep are never written from a stale
    copy. Raises ValidationError for a number that is not finite."""
    try:
        value = _clean_number(priority, from_csv=False)
    except ValueError as exc:
        raise ValidationError({"priority": [str(exc)]}) from None
    Task.objects.filter(pk=task.pk).update(priority=value)
    task.priority = value
    return task
