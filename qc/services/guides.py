"""Writes of labeling guides: guides, their versions (draft → published) and acknowledgements.

A version is written as a draft, edited while it is a draft, and numbered when it is published:
the first publication is 1.0, a major bump after M.m is (M+1).0, a minor bump M.(m+1). A
published version is immutable. Labelers acknowledge the current published version; an
acknowledgement of any version of a major line covers that line (see
``qc.selectors.guides.guide_ack_missing``), so a minor version only notifies.

Every function is one transaction; errors are ``ValidationError`` (field-level, 400),
``Conflict`` (409) when the object's state does not allow the change, ``NotFound`` (404).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict
from config.services import model_update, save_unique
from qc import signals as qc_signals
from qc.models import Guide, GuideAcknowledgement, GuideVersion
from qc.selectors.guides import guide_current_version
from workforce.models import Labeler, User

MAX_BODY_CHARS = 500_000
MAX_CHANGE_SUMMARY_CHARS = 10_000
MAX_LABEL_DEFINITIONS = 500
MAX_EXAMPLES_PER_LABEL = 50
MAX_LABEL_CHARS = 200
MAX_DEFINITION_CHARS = 20_000
MAX_EXAMPLE_CHARS = 2_000

GUIDE_EDITABLE_FIELDS = frozenset({"name", "project_family", "description"})
VERSION_EDITABLE_FIELDS = frozenset({"body", "bump", "label_definitions", "change_summary"})


# -- validation helpers -------------------------------------------------------------------------


def clean_label_definitions(value: Any) -> list[dict[str, Any]]:
    """A list of ``{"label": str, "definition": str, "examples": [str]}`` with distinct,
    non-blank labels; ``examples`` may be left out (an empty list). Unknown keys are an error.
    Returns the cleaned list (strings stripped). Raises ValidationError on
    ``label_definitions``."""

    def fail(message: str) -> ValidationError:
        return ValidationError({"label_definitions": [message]})

    if value is None:
        return []
    if not isinstance(value, list):
        raise fail("Expected a list of label definitions.")
    if len(value) > MAX_LABEL_DEFINITIONS:
        raise fail(f"At most {MAX_LABEL_DEFINITIONS} label definitions.")
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise fail(f"Item {index}: expected an object with label, definition and examples.")
        extra = sorted(set(item) - {"label", "definition", "examples"})
        if extra:
            raise fail(f"Item {index}: unknown keys {', '.join(extra)}.")
        label, definition = item.get("label"), item.get("definition")
        if not isinstance(label, str) or not label.strip():
            raise fail(f"Item {index}: label must be a non-empty string.")
        label = label.strip()
        if len(label) > MAX_LABEL_CHARS:
            raise fail(f"Item {index}: label is longer than {MAX_LABEL_CHARS} characters.")
        if label in seen:
            raise fail(f"Item {index}: label {label!r} is defined twice.")
        seen.add(label)
        if not isinstance(definition, str) or not definition.strip():
            raise fail(f"Item {index}: definition must be a non-empty string.")
        if len(definition) > MAX_DEFINITION_CHARS:
            raise fail(f"Item {index}: definition is too long.")
        examples = item.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise fail(f"Item {index}: examples must be a list of strings.")
        if len(examples) > MAX_EXAMPLES_PER_LABEL:
            raise fail(f"Item {index}: at most {MAX_EXAMPLES_PER_LABEL} examples.")
        if any(len(e) > MAX_EXAMPLE_CHARS for e in examples):
            raise fail(f"Item {index}: an example is longer than {MAX_EXAMPLE_CHARS} characters.")
        cleaned.append(
            {
                "label": label,
                "definition": definition.strip(),
                "examples": [e.strip() for e in examples if e.strip()],
            }
        )
    return cleaned


def _clean_body(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"body": ["The guide's text is required."]})
    if len(value) > MAX_BODY_CHARS:
        raise ValidationError({"body": [f"At most {MAX_BODY_CHARS} characters."]})
    return value


def _clean_bump(value: Any) -> str:
    if value not in GuideVersion.Bump.values:
        raise ValidationError({"bump": [f"Must be one of {', '.join(GuideVersion.Bump.values)}."]})
    return value


def _clean_change_summary(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError({"change_summary": ["Expected text."]})
    if len(value) > MAX_CHANGE_SUMMARY_CHARS:
        raise ValidationError(
            {"change_summary": [f"At most {MAX_CHANGE_SUMMARY_CHARS} characters."]}
        )
    return value.strip()


def _clean_version_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate every given field, collecting the errors of all of them."""
    cleaners = {
        "body": _clean_body,
        "bump": _clean_bump,
        "label_definitions": clean_label_definitions,
        "change_summary": _clean_change_summary,
    }
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        try:
            cleaned[name] = cleaners[name](value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def next_number(current: GuideVersion | None, bump: str) -> tuple[int, int]:
    """The number a version published with ``bump`` after ``current`` gets: 1.0 first, then
    (M+1).0 for a major bump or M.(m+1) for a minor one."""
    if current is None:
        return (1, 0)
    if bump == GuideVersion.Bump.MAJOR:
        return (current.major + 1, 0)
    return (current.major, current.minor + 1)


# -- guides -------------------------------------------------------------------------------------


def guide_create(
    *,
    actor: User | None,
    slug: str,
    name: str,
    project_family: str = "",
    description: str = "",
) -> Guide:
    """Create a guide (it has no versions yet). Raises ValidationError on a bad or taken slug or
    a blank name."""
    guide = Guide(slug=slug, name=name, project_family=project_family, description=description)
    guide.full_clean()
    save_unique(guide, field="slug", message="A guide with this slug exists.")
    return guide


def guide_update(*, actor: User | None, guide: Guide, data: dict[str, Any]) -> Guide:
    """Change a guide's name, project family or description (its content lives in versions).
    Raises ValidationError on an unknown or invalid field."""
    unknown = sorted(set(data) - GUIDE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    with transaction.atomic():
        guide = Guide.objects.select_for_update().get(pk=guide.pk)
        guide, _ = model_update(
            instance=guide, fields=GUIDE_EDITABLE_FIELDS, data=data, clean_exclude=["slug"]
        )
    return guide


# -- versions -----------------------------------------------------------------------------------


def guide_version_create(
    *,
    actor: User | None,
    guide: Guide,
    body: str,
    bump: str = GuideVersion.Bump.MINOR,
    label_definitions: list[dict[str, Any]] | None = None,
    change_summary: str = "",
) -> GuideVersion:
    """Write a draft version of ``guide``. It has no number until published; ``bump`` says
    what publishing it will do (major: labelers must acknowledge again; minor: notify only; the
    first published version is 1.0 either way). Raises ValidationError (all bad fields at
    once): blank body, unknown bump, malformed label definitions."""
    cleaned = _clean_version_fields(
        {
            "body": body,
            "bump": bump,
            "label_definitions": label_definitions or [],
            "change_summary": change_summary,
        }
    )
    with transaction.atomic():
        return GuideVersion.objects.create(
            guide=guide, status=GuideVersion.Status.DRAFT, created_by=actor, **cleaned
        )


def guide_version_update(
    *, actor: User | None, version: GuideVersion, data: dict[str, Any]
) -> GuideVersion:
    """Change a draft's body, bump, label definitions or change summary.

    The write is guarded on the draft status (``UPDATE … WHERE status = 'draft'``), so a draft
    published meanwhile is not changed. Raises ValidationError on an unknown or invalid field,
    Conflict (409, ``version_published``) when the version is published — a published version
    never changes.
    """
    unknown = sorted(set(data) - VERSION_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    cleaned = _clean_version_fields(data)
    with transaction.atomic():
        updated = GuideVersion.objects.filter(
            pk=version.pk, status=GuideVersion.Status.DRAFT
        ).update(**cleaned)
        if not updated:
            raise Conflict(
                "A published version cannot be changed; write a new draft instead.",
                code="version_published",
            )
    version.refresh_from_db()
    return version


def guide_version_discard(*, actor: User | None, version: GuideVersion) -> None:
    """Delete a draft. Raises Conflict (``version_published``) for a published version."""
    with transaction.atomic():
        deleted, _ = GuideVersion.objects.filter(
            pk=version.pk, status=GuideVersion.Status.DRAFT
        ).delete()
        if not deleted:
            raise Conflict("A published version cannot be deleted.", code="version_published")


def guide_version_publish(*, actor: User | None, version: GuideVersion) -> GuideVersion:
    """Publish a draft, numbering it after the guide's current version (see ``next_number``).

    Locks the guide row (``SELECT … FOR UPDATE``), so two concurrent publications of the same
    guide take distinct numbers one after the other; the partial unique constraint
    ``qc_guideversion_unique_number`` backs this up. A major version makes every labeler
    acknowledge again before taking the guide's quizzes or working on its projects; a minor one
    is listed to labelers as a change since their last acknowledgement.

    Raises Conflict (``version_published``) when the version is already published. Durable: it
    must not run inside another transaction (the lock must be released at commit).
    """
    with transaction.atomic(durable=True):
        Guide.objects.select_for_update().filter(pk=version.guide_id).first()
        # No ordering: the model's default ordering joins the guide, and FOR UPDATE would then
        # lock through the join instead of where it says so above.
        draft = (
            GuideVersion.objects.select_for_update(of=("self",))
            .filter(pk=version.pk, status=GuideVersion.Status.DRAFT)
            .order_by()
            .first()
        )
        if draft is None:
            raise Conflict("This version is already published.", code="version_published")
        major, minor = next_number(guide_current_version(guide=draft.guide_id), draft.bump)
        draft.status = GuideVersion.Status.PUBLISHED
        draft.major, draft.minor = major, minor
        draft.published_at = timezone.now()
        draft.published_by = actor
        try:
            with transaction.atomic():
                draft.save(
                    update_fields=["status", "major", "minor", "published_at", "published_by"]
                )
        except IntegrityError:
            # Only reachable if something published without taking the guide lock.
            raise Conflict(
                f"Version {major}.{minor} of this guide was published meanwhile; try again.",
                code="version_number_taken",
            ) from None
        qc_signals.guide_version_published.send(sender=GuideVersion, version=draft)
    return draft


# -- acknowledgements ---------------------------------------------------------------------------


def guide_acknowledge(
    *, actor: User | None, labeler: Labeler, guide: Guide | int
) -> GuideAcknowledgement:
    """Record that ``labeler`` has read the guide's current published version.

    Idempotent: acknowledging the same version again returns the existing row (a concurrent
    duplicate is caught by the constraint ``qc_guideacknowledgement_once``). Acknowledging a
    minor version is allowed and recorded (it moves "changes since you last acknowledged"
    forward); any acknowledgement of the current major line satisfies ``guide_ack_missing``.
    Raises Conflict (``nothing_published``) when the guide has no published version.
    """
    current = guide_current_version(guide=guide)
    if current is None:
        raise Conflict(
            gettext("This guide has no published version yet."), code="nothing_published"
        )
    with transaction.atomic():
        existing = GuideAcknowledgement.objects.filter(labeler=labeler, version=current).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return GuideAcknowledgement.objects.create(labeler=labeler, version=current)
        except IntegrityError:
            return GuideAcknowledgement.objects.get(labeler=labeler, version=current)
