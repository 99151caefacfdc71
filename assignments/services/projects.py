"""Writes of projects: create, update, and the status workflow.

Every function is one transaction. Bad input is a ``ValidationError`` naming the fields (400); a
status change the workflow does not allow is ``InvalidTransition`` (409); changing a finished
project is a ``Conflict`` (409, ``project_done``).

Status workflow::

    draft ──► active ◄──► paused
      │         │           │
      └─────────┴───────────┴──► done   (final)

Activating (from draft or paused) makes the control tasks of the project's control gold set
(``project_sync_control_tasks``, idempotent), so an active project with a control ratio always
has its gold items to serve. Every status change writes a ``ProjectStatusChange`` row (from, to,
actor, reason) in its own transaction.

Showing pre-labels to labelers (``show_prelabels``) redraws the control tasks' decoy pre-labels
(``project_refresh_control_prelabels``; docs/next-task.md, "Pre-labels").

Control tasks must look like real ones (docs/next-task.md, "Control tasks that look like real
ones"): attaching a control gold set stores a control check (``project_control_check``);
activating a project that serves control tasks, or giving an active project control tasks, is
refused (409 ``control_tasks_differ``, the differences in ``fields``) while their payloads
differ from the real tasks' and no override accepts it; changing the control gold set
withdraws the override.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from assignments.models import (
    PROJECT_DRAFT_ONLY_SETTINGS,
    PROJECT_SETTINGS,
    Assignment,
    ConsensusMethod,
    Project,
    ProjectStatusChange,
    Task,
)
from assignments.selectors.control_set import control_set_report, controls_on
from assignments.selectors.tasks import control_decoy_prelabels
from assignments.services.claim import project_sync_control_tasks
from assignments.services.control_set import (
    OVERRIDE_CLEARED,
    project_control_check,
    project_control_gate,
)
from config.errors import Conflict, InvalidTransition, NotFound
from config.services import model_update, with_defaults
from qc.models import AnswerType, GoldSet, Guide
from qc.services import gold as gold_services
from workforce.models import QualificationType, Skill, User, Vendor

logger = logging.getLogger(__name__)

MAX_CLASS_CHARS = 100
MAX_OVERLAP = 100
MIN_LEASE_SECONDS = 30
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_CONTROL_RATIO = Decimal("0.5")
NAME_MAX = Project._meta.get_field("name").max_length
SLUG_MAX = Project._meta.get_field("slug").max_length
SMALLINT_MAX = 32_767
INT_MAX = 2**31 - 1
REASON_MAX = 2_000

_rng = random.SystemRandom()

# Fields project_update takes (``PROJECT_SETTINGS``). The schema and the overlap shape the tasks
# and answers already made, so they change only while the project is a draft; the slug never
# changes (URLs and exports name it).
EDITABLE_FIELDS = frozenset(PROJECT_SETTINGS)
DRAFT_ONLY_FIELDS = frozenset(PROJECT_DRAFT_ONLY_SETTINGS)

S = Project.Status
# to-status → the statuses it may be reached from
TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.DRAFT, S.PAUSED}),
    S.PAUSED: frozenset({S.ACTIVE}),
    S.DONE: frozenset({S.DRAFT, S.ACTIVE, S.PAUSED}),
}

_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+\Z")


# -- cleaners: raw value → clean value, or ValueError with the message for the field ---------------


def _clean_text(value: Any, *, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    value = value.strip()
    if required and not value:
        raise ValueError("This field is required.")
    if len(value) > max_length:
        raise ValueError(f"At most {max_length} characters.")
    return value


def _clean_slug(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("This field is required.")
    if len(value) > SLUG_MAX:
        raise ValueError(f"At most {SLUG_MAX} characters.")
    if not _SLUG_RE.match(value):
        raise ValueError("Use letters, digits, hyphens and underscores only.")
    return value


def _clean_answer_type(value: Any) -> str:
    if value not in AnswerType.values:
        raise ValueError(f"Must be one of {', '.join(AnswerType.values)}.")
    return value


def clean_classes(value: Any) -> list[str]:
    """A project's label classes: the rules of a gold set's (``qc.services.gold.clean_classes``),
    each name of at most ``MAX_CLASS_CHARS`` characters."""
    return gold_services.clean_classes(value, max_chars=MAX_CLASS_CHARS)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("Expected a number.")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError("Expected a number.") from None
    if not number.is_finite():
        raise ValueError("Expected a number.")
    return number


_PLACES = {2: "two", 3: "three", 4: "four"}


def _clean_fixed(
    value: Any, *, within: Callable[[Decimal], bool], out_of_range: str, places: int
) -> Decimal:
    """A number for which ``within`` holds (else ``out_of_range``) with at most ``places``
    decimals, quantized to them."""
    number = _decimal(value)
    if not within(number):
        raise ValueError(out_of_range)
    step = Decimal(10) ** -places
    if number != number.quantize(step):
        raise ValueError(f"At most {_PLACES[places]} decimal places.")
    return number.quantize(step)


def _clean_iou(value: Any) -> Decimal:
    return _clean_fixed(
        value,
        within=lambda n: 0 < n <= 1,
        out_of_range="Must be greater than 0 and at most 1.",
        places=2,
    )


def _clean_int(value: Any, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Expected a whole number.")
    if not low <= value <= high:
        raise ValueError(f"Must be between {low} and {high}.")
    return value


def _clean_control_ratio(value: Any) -> Decimal:
    return _clean_fixed(
        value,
        within=lambda n: 0 <= n <= MAX_CONTROL_RATIO,
        out_of_range="Must be between 0 and 0.5 (a share of tasks, not a percentage).",
        places=3,
    )


def _clean_audit_percent(value: Any) -> Decimal:
    return _clean_fixed(
        value, within=lambda n: 0 <= n <= 100, out_of_range="Must be between 0 and 100.", places=2
    )


def _clean_share(value: Any) -> Decimal:
    return _clean_fixed(
        value, within=lambda n: 0 <= n <= 1, out_of_range="Must be between 0 and 1.", places=3
    )


def _clean_consensus_method(value: Any) -> str:
    if value not in ConsensusMethod.values:
        raise ValueError(f"One of: {', '.join(ConsensusMethod.values)}.")
    return value


def _clean_refit_every(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT_MAX:
        raise ValueError(
            "A whole number of new labels, 0 or more (0: the model is refitted hourly only)."
        )
    return value


def _clean_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Expected true or false.")
    return value


def _clean_instance(value: Any, model: type) -> Any:
    if value is not None and not isinstance(value, model):
        raise ValueError(f"Expected a {model._meta.verbose_name} or nothing.")
    return value


def _resolve_qualifications(value: Any) -> list[QualificationType]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError("Expected a list of qualification type slugs.")
    slugs = list(dict.fromkeys(value))
    if not all(isinstance(s, str) for s in slugs):
        raise ValueError("Expected a list of qualification type slugs.")
    found = {q.slug: q for q in QualificationType.objects.filter(slug__in=slugs)}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise ValueError(f"Unknown qualification types: {', '.join(m[:64] for m in missing[:10])}.")
    return [found[s] for s in slugs]


def _resolve_slugs(value: Any, model: type, what: str) -> list:
    """``model`` rows by slug, in the order given (duplicates dropped); unknown slugs are an
    error naming them."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"Expected a list of {what} slugs.")
    slugs = list(dict.fromkeys(value))
    if not all(isinstance(s, str) for s in slugs):
        raise ValueError(f"Expected a list of {what} slugs.")
    found = {row.slug: row for row in model.objects.filter(slug__in=slugs)}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise ValueError(f"Unknown {what}s: {', '.join(m[:64] for m in missing[:10])}.")
    return [found[s] for s in slugs]


# BCP 47, simplified as for a labeler's languages: a language of 2 or 3 letters, then subtags of
# 1 to 8 letters or digits.
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", re.ASCII)
MAX_REQUIRED_LANGUAGES = 20


def _clean_languages(value: Any) -> list[str]:
    """Language codes (BCP 47), trimmed, duplicates dropped ignoring case (tags are
    case-insensitive: the gate compares them so, docs/next-task.md)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('Expected a list of language codes, e.g. ["pt", "en-GB"].')
    cleaned: list[str] = []
    for code in (v.strip() for v in value):
        if not _LANGUAGE_RE.fullmatch(code):
            raise ValueError(f"{code[:40]!r} is not a BCP 47 language code (e.g. pt, en-GB).")
        if code.lower() not in {c.lower() for c in cleaned}:
            cleaned.append(code)
    if len(cleaned) > MAX_REQUIRED_LANGUAGES:
        raise ValueError(f"At most {MAX_REQUIRED_LANGUAGES} languages.")
    return cleaned


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _clean_timezone(value: Any) -> str:
    if not isinstance(value, str) or value not in _time_zones():
        shown = value[:64] if isinstance(value, str) else value
        raise ValueError(f"Unknown time zone {shown!r}: use an IANA name, e.g. Europe/Lisbon.")
    return value


def _clean_drift_alpha(value: Any) -> Decimal:
    return _clean_fixed(
        value,
        within=lambda n: 0 <= n < 1,
        out_of_range="A p-value threshold from 0 (drift checks off) to below 1.",
        places=4,
    )


_CLEANERS = {
    "name": lambda v: _clean_text(v, max_length=NAME_MAX, required=True),
    "objective": lambda v: _clean_text(v, max_length=20_000, required=False),
    "answer_type": _clean_answer_type,
    "classes": clean_classes,
    "iou_threshold": _clean_iou,
    "overlap": lambda v: _clean_int(v, low=1, high=MAX_OVERLAP),
    "max_overlap": lambda v: _clean_int(v, low=1, high=MAX_OVERLAP),
    "control_ratio": _clean_control_ratio,
    "control_gold_set": lambda v: _clean_instance(v, GoldSet),
    "lease_seconds": lambda v: _clean_int(v, low=MIN_LEASE_SECONDS, high=MAX_LEASE_SECONDS),
    "required_qualifications": _resolve_qualifications,
    "guide": lambda v: _clean_instance(v, Guide),
    "require_guide_ack": _clean_bool,
    "priority": lambda v: _clean_int(v, low=-INT_MAX, high=INT_MAX),
    "audit_percent": _clean_audit_percent,
    "show_prelabels": _clean_bool,
    "consensus_method": _clean_consensus_method,
    "confidence_threshold": _clean_share,
    "adaptive_control": _clean_bool,
    "control_floor": _clean_control_ratio,
    "refit_every": _clean_refit_every,
    "internal_only": _clean_bool,
    "allowed_vendors": lambda v: _resolve_slugs(v, Vendor, "vendor"),
    "required_skills": lambda v: _resolve_slugs(v, Skill, "skill"),
    "required_languages": _clean_languages,
    "timezone": _clean_timezone,
    "drift_alpha": _clean_drift_alpha,
}


def _clean(values: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        try:
            cleaned[name] = _CLEANERS[name](value)
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
    return cleaned


def _check_together(state: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Rules between fields, on the project as it will be (``state`` has every field). Skipped
    for a field that is already in error."""
    together_ok = "overlap" not in errors and "max_overlap" not in errors
    if together_ok and state["max_overlap"] < state["overlap"]:
        errors.setdefault("max_overlap", []).append(
            "Must be at least the overlap (labelers per task)."
        )
    if "control_ratio" in errors or "control_gold_set" in errors:
        return
    if (
        "control_floor" not in errors
        and state["adaptive_control"]
        and state["control_floor"] > state["control_ratio"]
    ):
        errors.setdefault("control_floor", []).append(
            "Adaptive control goes down to the floor from the control ratio: the floor must "
            "not be above the ratio."
        )
    gold_set: GoldSet | None = state["control_gold_set"]
    if state["control_ratio"] > 0 and gold_set is None:
        errors.setdefault("control_gold_set", []).append(
            "A control ratio above 0 needs a gold set to draw control tasks from."
        )
    if gold_set is not None and "answer_type" not in errors and "classes" not in errors:
        if gold_set.answer_type != state["answer_type"]:
            errors.setdefault("control_gold_set", []).append(
                f"The gold set's answer type ({gold_set.answer_type}) is not the project's "
                f"({state['answer_type']})."
            )
        elif set(gold_set.classes) != set(state["classes"]):
            errors.setdefault("control_gold_set", []).append(
                "The gold set's classes are not the project's classes."
            )


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# -- create and update -----------------------------------------------------------------------------


def project_create(
    *,
    actor: User | None,
    slug: str,
    name: str,
    answer_type: str,
    classes: list[str],
    **settings: Any,
) -> Project:
    """Create a project, in draft. ``settings`` are any other of ``PROJECT_SETTINGS``; one left
    out takes the model field's default (``max_overlap``, also when None: the overlap + 1;
    ``required_qualifications``: none). A keyword outside them is a TypeError, as for any
    function.

    Rules: ``classes`` a non-empty list of distinct labels (each at most 100 characters);
    ``answer_type`` one of the answer types; ``overlap`` (k) at least 1; ``max_overlap`` at least
    k (default k + 1); ``control_ratio`` 0 to 0.5 and, above 0, a ``control_gold_set`` whose answer
    type and classes are the project's; ``lease_seconds`` at least 30;
    ``required_qualifications`` are qualification type slugs that exist; ``consensus_method``
    weighted (the default: majority until fitted, then the model, re-deciding after each refit;
    docs/quality.md) or majority, with a
    ``confidence_threshold`` in [0, 1]; ``adaptive_control`` lets each labeler's control rate go
    from ``control_ratio`` down to ``control_floor`` (0 to the ratio;
    docs/adaptive-control.md); ``refit_every`` the new labels after which the model is refitted
    besides hourly (0 or more; 0 hourly only). Who may work (docs/next-task.md, "Who may work
    on a project"): ``internal_only``; ``allowed_vendors`` and ``required_skills`` are slugs
    that exist; ``required_languages`` BCP 47 codes (at most 20; duplicates, ignoring case,
    dropped). ``timezone`` is an IANA name; ``drift_alpha`` a p-value threshold from 0 (off) to
    below 1 with at most four decimals. Raises ValidationError
    naming each bad field (a taken slug included). Nothing is written on error.
    """
    unknown = sorted(set(settings) - EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"project_create() got unexpected keyword arguments: {', '.join(unknown)}")
    errors: dict[str, list[str]] = {}
    try:
        slug = _clean_slug(slug)
    except ValueError as exc:
        errors["slug"] = [str(exc)]
    given = {**settings, "name": name, "answer_type": answer_type, "classes": classes}
    if given.get("max_overlap") is None:
        given["max_overlap"] = _default_max(
            given.get("overlap", Project._meta.get_field("overlap").default)
        )
    values = _clean(with_defaults(Project, PROJECT_SETTINGS, given), errors)
    if "slug" not in errors and Project.objects.filter(slug=slug).exists():
        errors["slug"] = ["A project with this slug exists."]
    if not errors:
        _check_together(values, errors)
    _raise_if(errors)
    # The many-to-many settings are set once the row exists.
    related = {name: values.pop(name) for name in _MANY_TO_MANY}
    try:
        with transaction.atomic():
            project = Project.objects.create(slug=slug, status=S.DRAFT, created_by=actor, **values)
            for name, rows in related.items():
                getattr(project, name).set(rows)
    except IntegrityError:
        # A concurrent create took the slug between the check and the insert.
        raise ValidationError({"slug": ["A project with this slug exists."]}) from None
    if project.control_gold_set_id is not None:
        project_control_check(actor=actor, project=project)
    return project


_MANY_TO_MANY = ("required_qualifications", "allowed_vendors", "required_skills")


def _default_max(overlap: Any) -> Any:
    return overlap + 1 if isinstance(overlap, int) and not isinstance(overlap, bool) else overlap


# The settings _check_together reads.
_TOGETHER_FIELDS = (
    "answer_type",
    "classes",
    "overlap",
    "max_overlap",
    "control_ratio",
    "control_gold_set",
    "adaptive_control",
    "control_floor",
)


def _state_of(project: Project) -> dict[str, Any]:
    """The project's current values of the settings ``_check_together`` reads."""
    return {name: getattr(project, name) for name in _TOGETHER_FIELDS}


def project_update(*, actor: User | None, project: Project, data: dict[str, Any]) -> Project:
    """Change the fields in ``data`` (any of ``EDITABLE_FIELDS``; others are a ValidationError).

    The same rules as ``project_create``, checked on the project as it will be. ``answer_type``,
    ``classes`` and ``overlap`` change only while the project is a draft (tasks, pre-labels and
    answers were made under them); a done project does not change at all (Conflict,
    ``project_done``). Holds the project's row lock (``FOR NO KEY UPDATE``: claims, which only
    reference the row, are not blocked). When an active project gets a control gold set, its
    control tasks are made; when ``show_prelabels`` is switched on, the control tasks' decoy
    pre-labels are redrawn (``project_refresh_control_prelabels``). A change of the control gold
    set withdraws the control override; a change of the set or of whether the project serves
    control tasks stores a new control check, and for an active project that will serve
    control tasks is refused like activation (Conflict ``control_tasks_differ``,
    ``project_control_gate``). Returns the project as saved.
    """
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - EDITABLE_FIELDS)
    for name in unknown:
        errors[name] = ["This field cannot be changed."]
    with transaction.atomic():
        current = (
            Project.objects.select_for_update(no_key=True, of=("self",))
            .select_related("control_gold_set")
            .filter(pk=project.pk)
            .first()
        )
        if current is None:
            raise NotFound()
        if current.status == S.DONE:
            raise Conflict("The project is done; it cannot be changed.", code="project_done")
        if current.status != S.DRAFT:
            for name in sorted(DRAFT_ONLY_FIELDS & set(data)):
                if data[name] != getattr(current, name):
                    errors.setdefault(name, []).append(
                        "Fixed once the project has been activated (tasks and answers were "
                        "made under it)."
                    )
        values = _clean({k: v for k, v in data.items() if k in EDITABLE_FIELDS}, errors)
        if not errors:
            _check_together({**_state_of(current), **values}, errors)
        _raise_if(errors)
        was_showing = current.show_prelabels
        controls_before = controls_on(current)
        set_changed = (
            "control_gold_set" in values
            and getattr(values["control_gold_set"], "pk", None) != current.control_gold_set_id
        )
        if set_changed and current.control_override_at is not None:
            # An override accepts the differences of one gold set, not of the next.
            values.update(OVERRIDE_CLEARED)
        # Checked above by the cleaners and _check_together, hence no full_clean.
        model_update(
            instance=current,
            fields=(*EDITABLE_FIELDS, *OVERRIDE_CLEARED),
            data=values,
            full_clean=False,
        )
        controls_changed = set_changed or controls_on(current) != controls_before
        if current.status == S.ACTIVE and controls_changed:
            # Control tasks about to be served to an active project: the same gate as
            # activation (raising rolls the whole update back).
            project_control_gate(project=current, report=control_set_report(project=current))
        if current.status == S.ACTIVE and "control_gold_set" in values:
            project_sync_control_tasks(actor=actor, project=current)
        if controls_changed and current.control_gold_set_id is not None:
            project_control_check(actor=actor, project=current)
        if current.show_prelabels and not was_showing:
            project_refresh_control_prelabels(actor=actor, project=current)
    return current


def project_refresh_control_prelabels(
    *, actor: User | None, project: Project, rng: random.Random | None = None
) -> int:
    """Give every control task of the project a fresh decoy pre-label: the (pre-label,
    confidence) of a real task of the project chosen at random — none as often as real tasks
    have none — never anything derived from the gold answer (``control_decoy_prelabels``).

    Called when pre-labels are switched on for labelers and after task imports and pre-label
    updates of a project that shows them, so the decoys follow the real tasks' pre-labels.
    One transaction; writes only the control tasks' two pre-label columns (no row of a real
    task is touched or locked). Returns how many control tasks were updated."""
    with transaction.atomic():
        controls = list(
            Task.objects.filter(project_id=project.pk, gold_item__isnull=False)
            .order_by("pk")
            .only("pk")
        )
        if not controls:
            return 0
        decoys = control_decoy_prelabels(project_id=project.pk, n=len(controls), rng=rng or _rng)
        for task, (prelabel, confidence) in zip(controls, decoys, strict=True):
            task.prelabel = prelabel
            task.prelabel_confidence = confidence
        Task.objects.bulk_update(controls, ["prelabel", "prelabel_confidence"], batch_size=500)
    logger.info(
        "project %s: %d control pre-labels redrawn by %s",
        project.pk,
        len(controls),
        getattr(actor, "pk", None),
    )
    return len(controls)


# -- status ----------------------------------------------------------------------------------------


def project_set_status(
    *,
    actor: User | None,
    project: Project,
    status: str,
    from_statuses: Iterable[str] | None = None,
    reason: str = "",
) -> Project:
    """Move the project to ``status`` along the workflow (module docstring); with
    ``from_statuses``, only from one of those (resume: only from paused).

    A guarded ``UPDATE … WHERE status = <current>``: two concurrent changes cannot both apply.
    Raises ValidationError for an unknown status or a ``reason`` over 2,000 characters, and
    InvalidTransition (409) for a move the workflow does not allow (the same status included) or
    when the status changed meanwhile. Writes one ``ProjectStatusChange`` (from, to, ``actor``,
    ``reason``) in the same transaction; a refused move writes none. Becoming active makes the
    control tasks of the control gold set (idempotent). Becoming active with control tasks
    first runs the control check (stored, even when the move is then refused) and is refused
    with Conflict (409, ``control_tasks_differ``, the differences in ``fields``) while the
    control payloads differ from the real tasks' and no override accepts the differences.
    Returns the project with its new status.
    """
    errors: dict[str, list[str]] = {}
    if status not in TRANSITIONS:
        allowed = ", ".join(TRANSITIONS)
        errors["status"] = [f"Must be one of {allowed}."]
    try:
        reason = _clean_text(reason, max_length=REASON_MAX, required=False)
    except ValueError as exc:
        errors["reason"] = [str(exc)]
    _raise_if(errors)
    check = None
    if status == S.ACTIVE:
        # Compared outside the transaction, and stored whatever the outcome, so the admin and
        # the API show why an activation was refused.
        check = project_control_check(actor=actor, project=project)
    with transaction.atomic():
        row = (
            Project.objects.filter(pk=project.pk)
            .values_list(
                "status", "control_gold_set_id", "control_ratio", "control_override_accepts"
            )
            .first()
        )
        if row is None:
            raise NotFound()
        current, project.control_gold_set_id, ratio, accepts = row
        if current == status:
            raise InvalidTransition(f"The project is already {status}.")
        allowed = TRANSITIONS[status]
        if from_statuses is not None:
            allowed = allowed & frozenset(from_statuses)
        if current not in allowed:
            raise InvalidTransition(f"A {current} project cannot become {status} this way.")
        if check is not None:
            gated = Project(
                pk=project.pk,
                control_gold_set_id=project.control_gold_set_id,
                control_ratio=ratio,
                control_override_accepts=accepts,
            )
            if check.report is not None and gated.control_gold_set_id != check.gold_set_id:
                raise InvalidTransition(
                    "The project's control gold set changed meanwhile; reload and retry."
                )
            project_control_gate(project=gated, report=check.report)
        now = timezone.now()
        changed = Project.objects.filter(pk=project.pk, status=current).update(
            status=status, updated_at=now
        )
        if not changed:
            raise InvalidTransition("The project's status changed meanwhile; reload and retry.")
        ProjectStatusChange.objects.create(
            project_id=project.pk,
            from_status=current,
            to_status=status,
            actor=actor,
            reason=reason,
            at=now,
        )
        project.status = status
        project.updated_at = now
        if status == S.ACTIVE and project.control_gold_set_id is not None:
            project_sync_control_tasks(actor=actor, project=project)
    logger.info(
        "project %s: %s -> %s by %s", project.pk, current, status, getattr(actor, "pk", None)
    )
    return project


# -- leases ----------------------------------------------------------------------------------------


def project_leases_expire(*, projects: Iterable[Project | int], now: datetime | None = None) -> int:
    """Mark the lapsed leases of the given projects (instances or ids) as expired; leases of
    other projects are left alone. Tidying only, like ``leases_expire``: an expired lease frees
    its slot at claim time whether or not this ran. One set-based ``UPDATE``; idempotent.
    Returns the rows changed."""
    ids = [p if isinstance(p, int) else p.pk for p in projects]
    if not ids:
        return 0
    now = now or timezone.now()
    return Assignment.objects.filter(
        project_id__in=ids, status=Assignment.Status.LEASED, expires_at__lte=now
    ).update(status=Assignment.Status.EXPIRED)
