"""Writes of gold: gold sets, gold items, their status, and bulk import and export.

A gold item holds what the labeler sees (``payload``: ``{"image_url": str, "metadata": {}}``)
and what is right (``accepted_answers``: a non-empty list of canonical answers, any of which is
right, validated by ``qc.answers.validate_accepted`` against the set's answer type and
classes). Its ``stratum`` is derived from the first accepted answer (``qc.answers.stratum_of``).
Gold answers are for operations only: nothing here is rendered to labelers.

Every function is one transaction. Errors: ``ValidationError`` (field-level, 400); an import
with bad rows raises ``ImportInvalid`` (400, code ``import_invalid``, ``fields.rows`` = the
first 100 ``{"row", "field", "message"}``) and writes nothing; a file over the limits raises
``ImportTooLarge`` (413); ``InvalidTransition`` (409) for a status the item already has.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import uploads
from config.errors import Conflict, InvalidTransition
from config.exports import export_lines
from config.services import model_update
from config.uploads import IMPORT_FORMATS as IMPORT_FORMATS  # the services' API, re-exported
from config.uploads import MAX_REPORTED_ROW_ERRORS as MAX_REPORTED_ROW_ERRORS
from config.uploads import (
    FileSpec,
    RowErrors,
    binary_file,
    bytes_left,
    first_non_utf8_byte,
)
from config.uploads import ImportInvalid as ImportInvalid
from qc.answers import AnswerError, stratum_of, validate_accepted
from qc.models import AnswerType, GoldItem, GoldItemStatusChange, GoldSet, Guide, GuideVersion
from workforce.models import User

MAX_CLASSES = 1_000
MAX_CLASS_CHARS = 200
MAX_IMAGE_URL_CHARS = 2_000
MAX_METADATA_BYTES = 16 * 1024
MAX_EXPLANATION_CHARS = 20_000
EXTERNAL_ID_MAX = GoldItem._meta.get_field("external_id").max_length

GOLD_IMPORT_MAX_ROWS = 20_000
GOLD_IMPORT_MAX_BYTES = 20 * 1024 * 1024

# The columns of an import file (CSV header or JSONL keys), in export order.
COLUMNS = (
    "external_id",
    "image_url",
    "metadata",
    "accepted_answers",
    "explanation",
    "difficulty",
    "status",
    "guide_version",
)
REQUIRED_COLUMNS = ("external_id", "image_url", "accepted_answers")

# A gold item's own fields, as ops write it: the admin's form and the API's output list these.
ITEM_FIELDS = (
    "external_id",
    "payload",
    "accepted_answers",
    "explanation",
    "guide_version",
    "difficulty",
    "status",
)
ITEM_EDITABLE_FIELDS = frozenset(
    {"payload", "accepted_answers", "explanation", "guide_version", "difficulty"}
)
# A gold set's own fields, as it is created: the admin's form and the API's output list these.
SET_FIELDS = ("slug", "name", "guide", "answer_type", "classes", "iou_threshold", "description")
SET_EDITABLE_FIELDS = frozenset({"name", "description", "iou_threshold", "classes"})

GS = GoldItem.Status


class ImportTooLarge(uploads.ImportTooLarge):
    default_detail = (
        f"An import may hold at most {GOLD_IMPORT_MAX_ROWS} rows and "
        f"{GOLD_IMPORT_MAX_BYTES // (1024 * 1024)} MB; split the file."
    )


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


# -- field cleaners -----------------------------------------------------------------------------
#
# Each takes a raw value and returns the clean one or raises ValueError with a message for the
# field. The item services and the import share them, so a file and the API reject alike.

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# A relative path: URL path characters only (anything else must be percent-encoded).
_RELATIVE_PATH_RE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/\-]+", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z", re.ASCII)
_URL_SPACE_RE = re.compile(r"[\s\x00-\x1f\x7f]")


def _http_host_ok(host: str) -> bool:
    """An IP address or a DNS name of one or more labels. Single labels are hosts too
    (``minio``, ``x``: names on a private network), which Django's URLValidator refuses."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return 0 < len(ascii_host) <= 253 and all(_HOST_LABEL_RE.match(x) for x in labels)


def is_http_url(value: str) -> bool:
    """``value`` is an absolute http(s) URL with a host (any host name, IP or port 0-65535),
    and without spaces or control characters."""
    if _URL_SPACE_RE.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and _http_host_ok(parts.hostname or "")


def clean_image_url(value: Any) -> str:
    """An http(s) URL or a relative path (``images/0001.jpg``, ``/media/x.png``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("An image URL (http/https) or a relative path is required.")
    value = value.strip()
    if len(value) > MAX_IMAGE_URL_CHARS:
        raise ValueError(f"At most {MAX_IMAGE_URL_CHARS} characters.")
    if _SCHEME_RE.match(value):
        if not is_http_url(value):
            raise ValueError("Must be an http or https URL, or a relative path without a scheme.")
        return value
    if value.startswith("//") or "\\" in value:
        raise ValueError("A relative path may not start with // or contain backslashes.")
    if not _RELATIVE_PATH_RE.fullmatch(value):
        raise ValueError("The path has characters that must be percent-encoded.")
    if ".." in value.split("/"):
        raise ValueError("The path may not contain '..' segments.")
    return value


def clean_metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("Expected a JSON object.")
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"At most {MAX_METADATA_BYTES // 1024} KB of metadata.")
    return value


def clean_payload(value: Any) -> dict[str, Any]:
    """``{"image_url": str, "metadata": {...}}`` (metadata optional); returned canonical, with
    ``metadata`` always present."""
    if not isinstance(value, dict):
        raise ValueError('Expected a JSON object: {"image_url": "...", "metadata": {...}}.')
    extra = sorted(set(value) - {"image_url", "metadata"})
    if extra:
        raise ValueError(f"Unknown keys: {', '.join(extra)} (use metadata for anything else).")
    try:
        image_url = clean_image_url(value.get("image_url"))
    except ValueError as exc:
        raise ValueError(f"image_url: {exc}") from None
    try:
        metadata = clean_metadata(value.get("metadata"))
    except ValueError as exc:
        raise ValueError(f"metadata: {exc}") from None
    return {"image_url": image_url, "metadata": metadata}


def clean_external_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("Expected text (in JSON, quote the id).")
    if not value.strip():
        raise ValueError("An external id is required.")
    value = value.strip()
    if len(value) > EXTERNAL_ID_MAX:
        raise ValueError(f"At most {EXTERNAL_ID_MAX} characters.")
    if _CONTROL_RE.search(value):
        raise ValueError("Control characters are not allowed.")
    return value


def clean_explanation(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    if len(value) > MAX_EXPLANATION_CHARS:
        raise ValueError(f"At most {MAX_EXPLANATION_CHARS} characters.")
    return value.strip()


_CHOICE_VALUES: dict[type, tuple[str, ...]] = {}


def _clean_choice(value: Any, choices: type) -> str:
    # TextChoices.values is rebuilt on every access; an import asks thousands of times.
    allowed = _CHOICE_VALUES.setdefault(choices, tuple(choices.values))
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Must be one of {', '.join(allowed)}.")
    return value


def clean_accepted_answers(gold_set: GoldSet, value: Any) -> tuple[list[Any], str]:
    """The canonical accepted answers and the stratum they put the item in."""
    try:
        accepted = validate_accepted(gold_set.answer_type, gold_set.classes, value)
    except AnswerError as exc:
        raise ValueError(" ".join(exc.messages)) from None
    return accepted, stratum_of(gold_set.answer_type, accepted)


def check_guide_version(gold_set: GoldSet, version: GuideVersion | None) -> GuideVersion | None:
    """The version an item was written for must be a published version of the set's guide."""
    if version is None:
        return None
    if gold_set.guide_id is None:
        raise ValueError("This gold set has no guide; leave the guide version empty.")
    if version.guide_id != gold_set.guide_id:
        raise ValueError("Not a version of this gold set's guide.")
    if version.status != GuideVersion.Status.PUBLISHED:
        raise ValueError("Only a published guide version can be referenced.")
    return version


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# -- gold sets ----------------------------------------------------------------------------------


def clean_classes(value: Any, *, max_chars: int = MAX_CLASS_CHARS) -> list[str]:
    """A non-empty list of at most ``MAX_CLASSES`` distinct, non-blank labels of at most
    ``max_chars`` characters, without surrounding spaces; order is kept (it is the order
    labelers see). A gold set's classes, and a project's (``assignments.services.projects``)."""
    if not isinstance(value, list) or not value:
        raise ValueError("Expected a non-empty list of class names.")
    if len(value) > MAX_CLASSES:
        raise ValueError(f"At most {MAX_CLASSES} classes.")
    seen: set[str] = set()
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("Each class must be a non-empty string.")
        if name != name.strip():
            raise ValueError(f"Class {name[:40]!r} has leading or trailing spaces.")
        if len(name) > max_chars:
            raise ValueError(f"A class name has at most {max_chars} characters.")
        if name in seen:
            raise ValueError(f"Class {name!r} is listed twice.")
        seen.add(name)
    return list(value)


def _clean_iou(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("Expected a number.")
    try:
        threshold = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError("Expected a number.") from None
    if not threshold.is_finite() or not (0 < threshold <= 1):
        raise ValueError("Must be greater than 0 and at most 1.")
    if threshold != threshold.quantize(Decimal("0.01")):
        raise ValueError("At most two decimal places.")
    return threshold.quantize(Decimal("0.01"))


def gold_set_create(
    *,
    actor: User | None,
    slug: str,
    name: str,
    answer_type: str,
    classes: list[str],
    iou_threshold: Decimal | float | str = Decimal("0.50"),
    guide: Guide | None = None,
    description: str = "",
) -> GoldSet:
    """Create a gold set. ``classes`` are the labels answers may use: a non-empty list of
    distinct non-blank strings. ``iou_threshold`` (box answers) is 0 < t <= 1 with two
    decimals. Raises ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field_name, cleaner, raw in (
        ("answer_type", lambda v: _clean_choice(v, AnswerType), answer_type),
        ("classes", clean_classes, classes),
        ("iou_threshold", _clean_iou, iou_threshold),
    ):
        try:
            cleaned[field_name] = cleaner(raw)
        except ValueError as exc:
            errors[field_name] = [str(exc)]
    gold_set = GoldSet(slug=slug, name=name, guide=guide, description=description, **cleaned)
    try:
        gold_set.full_clean(exclude=list(cleaned) + list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    _raise_if(errors)
    try:
        with transaction.atomic():
            gold_set.save()
    except IntegrityError:
        raise ValidationError({"slug": ["A gold set with this slug exists."]}) from None
    return gold_set


def gold_set_update(*, actor: User | None, gold_set: GoldSet, data: dict[str, Any]) -> GoldSet:
    """Change a set's name, description, IoU threshold or classes. Classes may only be added
    (items already use the existing ones); the answer type and guide never change. Raises
    ValidationError."""
    unknown = sorted(set(data) - SET_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    with transaction.atomic():
        locked = GoldSet.objects.select_for_update().get(pk=gold_set.pk)
        errors: dict[str, list[str]] = {}
        if "iou_threshold" in data:
            try:
                locked.iou_threshold = _clean_iou(data["iou_threshold"])
            except ValueError as exc:
                errors["iou_threshold"] = [str(exc)]
        if "classes" in data:
            try:
                classes = clean_classes(data["classes"])
                removed = [c for c in locked.classes if c not in classes]
                if removed:
                    raise ValueError(f"Classes cannot be removed: {', '.join(removed[:5])}.")
                locked.classes = classes
            except ValueError as exc:
                errors["classes"] = [str(exc)]
        for name in ("name", "description"):
            if name in data:
                setattr(locked, name, data[name])
        try:
            locked.full_clean(exclude=["slug", *errors])
        except ValidationError as exc:
            errors.update(exc.message_dict)
        _raise_if(errors)
        locked.save()
    return locked


# -- gold items ---------------------------------------------------------------------------------


def _collect(gold_set: GoldSet, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean the given item fields; returns (cleaned, errors by field)."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    cleaners = {
        "external_id": clean_external_id,
        "payload": clean_payload,
        "explanation": clean_explanation,
        "difficulty": lambda v: _clean_choice(v, GoldItem.Difficulty),
        "status": lambda v: _clean_choice(v, GS),
        "guide_version": lambda v: check_guide_version(gold_set, v),
    }
    for name, value in raw.items():
        try:
            if name == "accepted_answers":
                cleaned["accepted_answers"], cleaned["stratum"] = clean_accepted_answers(
                    gold_set, value
                )
            else:
                cleaned[name] = cleaners[name](value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return cleaned, errors


def gold_item_create(
    *,
    actor: User | None,
    gold_set: GoldSet,
    external_id: str,
    payload: dict[str, Any],
    accepted_answers: list[Any],
    explanation: str = "",
    guide_version: GuideVersion | None = None,
    difficulty: str = GoldItem.Difficulty.MEDIUM,
    status: str = GS.ACTIVE,
) -> GoldItem:
    """Add one item to ``gold_set`` with its first status-history row.

    Holds the gold set's row lock (so it serializes with an import of the same set). Raises
    ValidationError naming every bad field: payload (see ``clean_payload``), accepted answers
    (see ``qc.answers.validate_accepted``), a guide version that is not a published version of
    the set's guide, an external id already in the set.
    """
    cleaned, errors = _collect(
        gold_set,
        {
            "external_id": external_id,
            "payload": payload,
            "accepted_answers": accepted_answers,
            "explanation": explanation,
            "guide_version": guide_version,
            "difficulty": difficulty,
            "status": status,
        },
    )
    _raise_if(errors)
    with transaction.atomic():
        GoldSet.objects.select_for_update().filter(pk=gold_set.pk).first()
        if GoldItem.objects.filter(gold_set=gold_set, external_id=cleaned["external_id"]).exists():
            raise ValidationError({"external_id": ["This gold set has an item with this id."]})
        item = GoldItem.objects.create(gold_set=gold_set, **cleaned)
        GoldItemStatusChange.objects.create(
            gold_item=item, from_status="", to_status=item.status, actor=actor, reason="Created."
        )
    return item


def gold_item_update(*, actor: User | None, item: GoldItem, data: dict[str, Any]) -> GoldItem:
    """Change an item's payload, accepted answers (its stratum follows), explanation, guide
    version or difficulty. The status changes only through ``gold_item_set_status``; the
    external id never. Raises ValidationError naming every bad or unknown field."""
    unknown = sorted(set(data) - ITEM_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    with transaction.atomic():
        locked = (
            GoldItem.objects.select_for_update(of=("self",))
            .select_related("gold_set")
            .get(pk=item.pk)
        )
        cleaned, errors = _collect(locked.gold_set, data)
        _raise_if(errors)
        # Checked by _collect, hence no full_clean; the stratum follows the accepted answers.
        model_update(
            instance=locked,
            fields=(*ITEM_EDITABLE_FIELDS, "stratum"),
            data=cleaned,
            full_clean=False,
        )
    return locked


def gold_item_set_status(
    *, actor: User | None, item: GoldItem, status: str, reason: str
) -> GoldItem:
    """Move an item to active, quarantined or retired, recording who and why.

    Quarantined items (the gold answer is in doubt) and retired ones are not drawn for quizzes
    or served as control tasks (see ``qc.selectors.gold.gold_items_drawable``). Guarded on the
    status read (``UPDATE … WHERE status = expected``). Raises ValidationError for a blank
    reason or unknown status, InvalidTransition (409) when the item already has that status,
    Conflict (``stale_status``) when it changed meanwhile.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    if status not in GS.values:
        raise ValidationError({"status": [f"Must be one of {', '.join(GS.values)}."]})
    current = item.status
    if status == current:
        raise InvalidTransition(f"The item is already {GS(status).label.lower()}.")
    with transaction.atomic():
        updated = GoldItem.objects.filter(pk=item.pk, status=current).update(
            status=status, updated_at=timezone.now()
        )
        if not updated:
            raise Conflict(
                "The item's status changed meanwhile; reload and try again.", code="stale_status"
            )
        GoldItemStatusChange.objects.create(
            gold_item=item, from_status=current, to_status=status, actor=actor, reason=reason
        )
    item.refresh_from_db()
    return item


# -- import -------------------------------------------------------------------------------------


# The file (config.uploads reads it). Cells escaped against formula injection by the export read
# back as they were, so importing an export changes nothing.
GOLD_FILE = FileSpec(
    columns=COLUMNS,
    required=REQUIRED_COLUMNS,
    unescape_cells=True,
    cannot_read="The file cannot be imported: {} Nothing was imported.",
)


def _open(data: str | bytes | IO[bytes]) -> IO[bytes]:
    """``data`` as a binary file, checked against ``GOLD_IMPORT_MAX_BYTES`` (ImportTooLarge) and
    as UTF-8 throughout (ImportInvalid naming the first bad byte), before any row is read."""
    if isinstance(data, str) and len(data) > GOLD_IMPORT_MAX_BYTES:
        raise ImportTooLarge()  # characters: a cheap bound before encoding
    f = binary_file(data)
    if bytes_left(f) > GOLD_IMPORT_MAX_BYTES:
        raise ImportTooLarge()
    bad = first_non_utf8_byte(f)
    if bad is not None:
        raise GOLD_FILE.file_error("file", f"Not UTF-8 text (byte {bad}).")
    return f


def _json_cell(value: str, expected: type, what: str) -> Any:
    if value.strip() == "":
        return None
    return GOLD_FILE.json_cell(value, expected, what)


@dataclass
class _ParsedRow:
    row: int
    external_id: str
    values: dict[str, Any]  # cleaned; only the columns given (and not blank where blank=keep)


def _clean_import_row(
    gold_set: GoldSet,
    versions: dict[str, GuideVersion],
    row: int,
    record: dict[str, Any],
    *,
    from_csv: bool,
    errors: RowErrors,
) -> _ParsedRow | None:
    """Clean one record; report each bad field; None when the row is invalid.

    Blank (CSV) or null (JSONL) cells: ``metadata`` → {}, ``explanation`` → "",
    ``guide_version`` → none; ``difficulty`` and ``status`` → keep (default for a new item). A
    column that is not in the file keeps the item's value (default for a new item).
    """
    before = errors.total
    unknown = sorted(set(record) - set(COLUMNS))
    for name in unknown:
        errors.add(row, name, "Unknown field.")
    values: dict[str, Any] = {}

    def blank(value: Any) -> bool:
        return value is None or (isinstance(value, str) and value.strip() == "")

    external_id = ""
    for name in REQUIRED_COLUMNS:
        if name not in record or blank(record[name]):
            errors.add(row, name, "This field is required.")
    try:
        external_id = clean_external_id(record.get("external_id"))
    except ValueError as exc:
        if not blank(record.get("external_id")):
            errors.add(row, "external_id", str(exc))

    if not blank(record.get("image_url")):
        try:
            values["image_url"] = clean_image_url(record["image_url"])
        except ValueError as exc:
            errors.add(row, "image_url", str(exc))

    if "metadata" in record:
        try:
            raw = record["metadata"]
            if from_csv:
                raw = _json_cell(raw, dict, "a JSON object")
            values["metadata"] = clean_metadata(raw)
        except ValueError as exc:
            errors.add(row, "metadata", str(exc))

    if not blank(record.get("accepted_answers")):
        try:
            raw = record["accepted_answers"]
            if from_csv:
                raw = _json_cell(raw, list, "a JSON list of accepted answers")
            values["accepted_answers"], values["stratum"] = clean_accepted_answers(gold_set, raw)
        except ValueError as exc:
            errors.add(row, "accepted_answers", str(exc))

    if "explanation" in record:
        try:
            values["explanation"] = clean_explanation(record["explanation"])
        except ValueError as exc:
            errors.add(row, "explanation", str(exc))

    for name, choices in (("difficulty", GoldItem.Difficulty), ("status", GS)):
        if name in record and not blank(record[name]):
            try:
                values[name] = _clean_choice(
                    record[name].strip() if isinstance(record[name], str) else record[name],
                    choices,
                )
            except ValueError as exc:
                errors.add(row, name, str(exc))

    if "guide_version" in record:
        raw = record["guide_version"]
        if blank(raw):
            values["guide_version"] = None
        elif not isinstance(raw, str):
            errors.add(row, "guide_version", 'Expected a version number as text, e.g. "1.2".')
        elif gold_set.guide_id is None:
            errors.add(row, "guide_version", "This gold set has no guide; leave it empty.")
        elif raw.strip() not in versions:
            errors.add(
                row,
                "guide_version",
                f"No published version {raw.strip()[:20]!r} of the set's guide.",
            )
        else:
            values["guide_version"] = versions[raw.strip()]

    if errors.total > before:
        return None
    return _ParsedRow(row=row, external_id=external_id, values=values)


def _apply(item: GoldItem, values: dict[str, Any]) -> bool:
    """Set the row's values on ``item``; True when anything changed."""
    payload = {
        "image_url": values.get("image_url", (item.payload or {}).get("image_url")),
        "metadata": values["metadata"]
        if "metadata" in values
        else (item.payload or {}).get("metadata", {}),
    }
    changes: dict[str, Any] = {"payload": payload}
    for name in ("accepted_answers", "stratum", "explanation", "difficulty", "status"):
        if name in values:
            changes[name] = values[name]
    if "guide_version" in values:
        version = values["guide_version"]
        changes["guide_version_id"] = version.pk if version is not None else None
    changed = False
    for name, value in changes.items():
        if getattr(item, name) != value:
            setattr(item, name, value)
            changed = True
    return changed


def gold_import(
    *,
    actor: User | None,
    gold_set: GoldSet,
    data: str | bytes | IO[bytes],
    file_format: str,
    file_name: str = "",
) -> ImportResult:
    """Create or update the items of ``gold_set`` from a CSV or JSONL file, all or nothing.

    Columns (CSV header) or keys (JSONL): ``external_id``, ``image_url``, ``accepted_answers``
    (required; in CSV a JSON list in the cell), ``metadata`` (a JSON object), ``explanation``,
    ``difficulty``, ``status``, ``guide_version`` (a published number of the set's guide, e.g.
    "1.2"). An external id already in the set updates that item; a new one creates an item. Rows
    whose values equal the item's are left alone (so importing an export changes nothing).

    Every row is validated before anything is written; any invalid row raises ImportInvalid
    listing ``{"row", "field", "message"}`` for the first 100 problems (``row``: the CSV row
    with the header as row 1, or the JSONL line; ``None`` for the whole file). More than
    ``GOLD_IMPORT_MAX_ROWS`` rows or ``GOLD_IMPORT_MAX_BYTES`` bytes raises ImportTooLarge.
    The writes run in one durable transaction holding the gold set's row lock (imports and item
    creations of one set serialize; validation happens before, so the lock is held only while
    merging and writing); bulk_create / bulk_update, with a status-history row for each new
    item and each status the file changes.
    """
    if file_format not in IMPORT_FORMATS:
        raise ValidationError({"format": [f"Must be one of {', '.join(IMPORT_FORMATS)}."]})
    f = _open(data)
    from_csv = file_format == "csv"
    records = list(GOLD_FILE.records(f, file_format))
    if len(records) > GOLD_IMPORT_MAX_ROWS:
        raise ImportTooLarge(
            f"The file has {len(records)} rows; an import may hold at most "
            f"{GOLD_IMPORT_MAX_ROWS}. Split the file."
        )
    if not records:
        raise GOLD_FILE.file_error("file", "The file has no rows.")

    reason = f"Import ({file_name})." if file_name else "Import."
    # Rows are validated before the lock is taken: what they are checked against only grows
    # meanwhile (classes may be added, versions published; neither is ever taken away).
    gold_set = GoldSet.objects.get(pk=gold_set.pk)
    versions: dict[str, GuideVersion] = {}
    if gold_set.guide_id is not None:
        versions = {
            v.number: v
            for v in GuideVersion.objects.filter(
                guide_id=gold_set.guide_id, status=GuideVersion.Status.PUBLISHED
            ).only("id", "guide_id", "major", "minor", "status")
        }
    errors = RowErrors()
    parsed: list[_ParsedRow] = []
    first_row_of: dict[str, int] = {}
    for row, record in records:
        if isinstance(record, str):
            errors.add(row, "row", record)
            continue
        result = _clean_import_row(
            gold_set, versions, row, record, from_csv=from_csv, errors=errors
        )
        if result is None:
            continue
        if result.external_id in first_row_of:
            errors.add(
                row,
                "external_id",
                f"Repeats the external id of row {first_row_of[result.external_id]}.",
            )
            continue
        first_row_of[result.external_id] = row
        parsed.append(result)
    errors.raise_if_any("imported")

    with transaction.atomic(durable=True):
        GoldSet.objects.select_for_update().filter(pk=gold_set.pk).first()
        existing = {item.external_id: item for item in GoldItem.objects.filter(gold_set=gold_set)}
        now = timezone.now()
        to_create: list[GoldItem] = []
        to_update: list[GoldItem] = []
        status_changes: list[GoldItemStatusChange] = []
        for row in parsed:
            item = existing.get(row.external_id)
            if item is None:
                item = GoldItem(
                    gold_set=gold_set,
                    external_id=row.external_id,
                    payload={},
                    accepted_answers=[],
                    difficulty=GoldItem.Difficulty.MEDIUM,
                    status=GS.ACTIVE,
                )
                _apply(item, row.values)
                to_create.append(item)
                continue
            old_status = item.status
            if _apply(item, row.values):
                item.updated_at = now
                to_update.append(item)
                if item.status != old_status:
                    status_changes.append(
                        GoldItemStatusChange(
                            gold_item=item,
                            from_status=old_status,
                            to_status=item.status,
                            actor=actor,
                            reason=reason,
                        )
                    )
        try:
            if to_update:
                GoldItem.objects.bulk_update(
                    to_update,
                    [
                        "payload",
                        "accepted_answers",
                        "stratum",
                        "explanation",
                        "difficulty",
                        "status",
                        "guide_version",
                        "updated_at",
                    ],
                    batch_size=500,
                )
            if to_create:
                GoldItem.objects.bulk_create(to_create, batch_size=1000)
        except IntegrityError:
            raise Conflict(
                "The gold set changed while importing; try again.", code="import_conflict"
            ) from None
        if to_create and any(item.pk is None for item in to_create):
            ids = dict(GoldItem.objects.filter(gold_set=gold_set).values_list("external_id", "id"))
            for item in to_create:
                item.pk = ids[item.external_id]
        status_changes.extend(
            GoldItemStatusChange(
                gold_item=item, from_status="", to_status=item.status, actor=actor, reason=reason
            )
            for item in to_create
        )
        GoldItemStatusChange.objects.bulk_create(status_changes, batch_size=1000)
    return ImportResult(
        created=len(to_create),
        updated=len(to_update),
        unchanged=len(parsed) - len(to_create) - len(to_update),
    )


# -- export -------------------------------------------------------------------------------------


def _export_row(item: GoldItem) -> dict[str, Any]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    return {
        "external_id": item.external_id,
        "image_url": payload.get("image_url", ""),
        "metadata": payload.get("metadata") or {},
        "accepted_answers": item.accepted_answers,
        "explanation": item.explanation,
        "difficulty": item.difficulty,
        "status": item.status,
        "guide_version": item.guide_version.number if item.guide_version_id else None,
    }


def gold_export(*, gold_set: GoldSet, file_format: str) -> Iterator[str]:
    """The set's items as CSV or JSONL text, one chunk per row (header first for CSV), in
    ``external_id`` order — a generator for a streaming response. The columns are those of
    ``gold_import``, so importing an export changes nothing (CSV text cells are escaped against
    formula injection by ``config.exports.escape_row``; the import reads them back unescaped).
    Reads in chunks of 500 rows.
    Raises ValidationError on an unknown format (before yielding anything)."""
    if file_format not in IMPORT_FORMATS:
        raise ValidationError({"format": [f"Must be one of {', '.join(IMPORT_FORMATS)}."]})
    items = (
        GoldItem.objects.filter(gold_set=gold_set)
        .select_related("guide_version")
        .defer("guide_version__body", "guide_version__label_definitions")
        .order_by("external_id")
    )

    def csv_cells(row: dict[str, Any]) -> dict[str, Any]:
        row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
        row["accepted_answers"] = json.dumps(row["accepted_answers"], ensure_ascii=False)
        row["guide_version"] = row["guide_version"] or ""
        return row

    return export_lines(
        (_export_row(item) for item in items.iterator(chunk_size=500)),
        file_format=file_format,
        columns=COLUMNS,
        csv_cells=csv_cells,
    )
