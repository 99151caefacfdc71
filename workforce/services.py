"""Writes of the workforce registry: vendors, vendor managers, labelers and their lifecycle.

Every function is one transaction. Status changes are guarded updates (``UPDATE … WHERE status
= expected``) written together with their history row, so a racing change loses cleanly with a
409 instead of overwriting.
"""

from __future__ import annotations

import re
import secrets
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from guardian.shortcuts import assign_perm, remove_perm

from config.errors import ApplicationError, Conflict, InvalidTransition
from config.services import model_update, save_unique
from workforce import roles, selectors, signals
from workforce.models import (
    Labeler,
    LabelerInvitation,
    LabelerStatusChange,
    Qualification,
    QualificationType,
    Skill,
    User,
    Vendor,
    VendorMembership,
    VendorStatusChange,
    invitation_token_hash,
)

S = Labeler.Status

# The lifecycle: invited → onboarding → active ⇄ suspended → offboarded. An invitation or an
# onboarding may be withdrawn (→ offboarded); offboarding is final.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.INVITED: frozenset({S.ONBOARDING, S.OFFBOARDED}),
    S.ONBOARDING: frozenset({S.ACTIVE, S.OFFBOARDED}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.OFFBOARDED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.OFFBOARDED}),
    S.OFFBOARDED: frozenset(),
}

LABELER_EDITABLE_FIELDS = frozenset(
    {"external_id", "skills", "languages", "timezone", "email", "first_name", "last_name"}
)
LABELER_STAFF_ONLY_FIELDS = frozenset({"seniority", "kind", "vendor"})
# The labeler's own columns among them (the rest are the user's, the vendor and the skills).
_LABELER_COLUMNS = ("external_id", "languages", "timezone", "seniority", "kind")
EXTERNAL_ID_TAKEN = "Another labeler of this vendor has this id."


# -- validation helpers -------------------------------------------------------------------------


# BCP 47, simplified: a language of 2 or 3 letters, then subtags of 1 to 8 ASCII letters or
# digits.
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", re.ASCII)
_COUNTRY_RE = re.compile(r"[A-Z]{2}", re.ASCII)
_CURRENCY_RE = re.compile(r"[A-Z]{3}", re.ASCII)
EXTERNAL_ID_MAX = Labeler._meta.get_field("external_id").max_length


def _clean_timezone(value: str) -> str:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        raise ValidationError({"timezone": [f"Unknown time zone {value!r} (use an IANA name)."]})
    return value


def _clean_languages(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"languages": ["Expected a list of language codes."]})
    cleaned = []
    for code in value:
        code = code.strip()
        if not _LANGUAGE_RE.fullmatch(code):
            raise ValidationError({"languages": [f"{code!r} is not a BCP 47 language code."]})
        if code not in cleaned:
            cleaned.append(code)
    return cleaned


def _resolve_skills(slugs: Iterable[str]) -> list[Skill]:
    slugs = list(dict.fromkeys(slugs))
    found = {s.slug: s for s in Skill.objects.filter(slug__in=slugs)}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise ValidationError({"skills": [f"Unknown skill(s): {', '.join(missing)}."]})
    return [found[s] for s in slugs]


def _check_kind_vendor(kind: str, vendor: Vendor | None) -> None:
    if kind not in Labeler.Kind.values:
        raise ValidationError({"kind": [f"Must be one of {', '.join(Labeler.Kind.values)}."]})
    if kind == Labeler.Kind.VENDOR and vendor is None:
        raise ValidationError({"vendor": ["A vendor labeler needs a vendor."]})
    if kind == Labeler.Kind.INTERNAL and vendor is not None:
        raise ValidationError({"vendor": ["An internal labeler has no vendor."]})


def _clean_external_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError({"external_id": ["Expected a string."]})
    value = value.strip()
    if len(value) > EXTERNAL_ID_MAX:
        raise ValidationError(
            {"external_id": [f"Ensure this field has no more than {EXTERNAL_ID_MAX} characters."]}
        )
    return value


def _clean_user_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the login's own fields (email, names) as the model would, before any write."""
    cleaned, errors = {}, {}
    for name in ("email", "first_name", "last_name"):
        if name not in data:
            continue
        try:
            cleaned[name] = User._meta.get_field(name).clean(data[name], None)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_vendor_active(vendor: Vendor | None) -> None:
    if vendor is not None and vendor.status != Vendor.Status.ACTIVE:
        raise ValidationError({"vendor": [f"This vendor is {vendor.status}."]})


def _check_external_id_free(vendor: Vendor | None, external_id: str, exclude_pk=None) -> None:
    if not external_id or vendor is None:
        return
    clash = Labeler.objects.filter(vendor=vendor, external_id=external_id)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"external_id": [EXTERNAL_ID_TAKEN]})


def _group(name: str) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    return group


def _sync_seniority_group(labeler: Labeler) -> None:
    senior = _group(roles.SENIOR_LABELERS)
    if labeler.is_senior:
        labeler.user.groups.add(senior)
    else:
        labeler.user.groups.remove(senior)


# -- vendors ------------------------------------------------------------------------------------


def vendor_create(
    *,
    actor: User | None,
    name: str,
    slug: str,
    contact_name: str = "",
    contact_email: str = "",
    country: str = "",
    default_currency: str = "USD",
) -> Vendor:
    """Create an active vendor. Codes are upper-cased. Raises ValidationError (field-level) on a
    taken name or slug, a country that is not two letters or a currency that is not three."""
    country = (country or "").strip().upper()
    default_currency = (default_currency or "").strip().upper()
    # The code checks come first so a bad code is reported on its field, not as the model's
    # check constraint (a non-field error).
    errors: dict[str, list[str]] = {}
    if country and not _COUNTRY_RE.fullmatch(country):
        errors["country"] = ["Use a two-letter ISO 3166-1 code."]
    if not _CURRENCY_RE.fullmatch(default_currency):
        errors["default_currency"] = ["Use a three-letter ISO 4217 code."]
    if errors:
        raise ValidationError(errors)
    vendor = Vendor(
        name=name,
        slug=slug,
        contact_name=contact_name,
        contact_email=contact_email,
        country=country,
        default_currency=default_currency,
    )
    vendor.full_clean()
    # A concurrent create may take the name or slug between full_clean and the insert.
    save_unique(vendor, field="slug", message="A vendor with this name or slug exists.")
    return vendor


V = Vendor.Status

# A vendor's lifecycle: active ⇄ suspended → offboarded. Suspending is the reversible stop (a
# dispute, an audit, unpaid invoices): reactivating gives the labelers their access back.
# Offboarding ends the relationship and is final, as for labelers: a vendor engaged again is a
# new vendor row, so the old one's history and money stay as they were.
VENDOR_TRANSITIONS: dict[str, frozenset[str]] = {
    V.ACTIVE: frozenset({V.SUSPENDED, V.OFFBOARDED}),
    V.SUSPENDED: frozenset({V.ACTIVE, V.OFFBOARDED}),
    V.OFFBOARDED: frozenset(),
}


def vendor_transition(
    *, actor: User | None, vendor: Vendor, to_status: str, reason: str
) -> VendorStatusChange:
    """Move a vendor to ``to_status`` and record it (from, to, actor, reason, when, and how many
    live leases it ended) in a ``VendorStatusChange`` row; returns that row (``change.vendor``
    is the vendor as saved).

    One durable transaction holding the vendor row's ``FOR UPDATE`` lock. The claim's gate
    reads the vendor's status under a share lock in its one query, so the lock orders every
    claim against the change: a claim that read the vendor first is waited for, and one that
    comes after reads the new status (docs/next-task.md, "Who may work on a project"). From the
    commit on, none of the vendor's labelers is handed work while it is not active (403
    ``vendor_inactive``); their own statuses are not touched, so reactivating gives each back
    exactly the access they had.

    After the write it sends ``workforce.signals.vendor_status_changed`` (``vendor``,
    ``change``) inside the transaction; the assignments app's receiver ends the live leases of
    the vendor's labelers when it leaves ``active`` and counts them on ``change.leases_ended``
    (workforce cannot import that app). Raises ValidationError (field ``reason``) when the
    reason is blank, ValidationError (``status``) for an unknown status, InvalidTransition (409)
    when ``VENDOR_TRANSITIONS`` does not allow the move — judged on the locked row, so a stale
    copy of the vendor cannot slip past.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    if to_status not in V.values:
        raise ValidationError({"status": [f"Must be one of {', '.join(V.values)}."]})
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = Vendor.objects.select_for_update().get(pk=vendor.pk)
        current = locked.status
        if to_status not in VENDOR_TRANSITIONS[current]:
            raise InvalidTransition(
                f"A vendor cannot go from {V(current).label.lower()} to "
                f"{V(to_status).label.lower()}."
                + (" Offboarding is final." if current == V.OFFBOARDED else "")
            )
        model_update(
            instance=locked,
            fields=("status", "status_changed_at"),
            data={"status": to_status, "status_changed_at": now},
            full_clean=False,
        )
        change = VendorStatusChange.objects.create(
            vendor=locked, from_status=current, to_status=to_status, actor=actor, reason=reason
        )
        signals.vendor_status_changed.send(sender=Vendor, vendor=locked, change=change)
    vendor.refresh_from_db()
    change.vendor = vendor
    return change


def vendor_suspend(*, actor: User | None, vendor: Vendor, reason: str) -> VendorStatusChange:
    """Active → suspended: the vendor's labelers get no work and their live leases end, until
    ``vendor_reactivate``. See ``vendor_transition``."""
    return vendor_transition(actor=actor, vendor=vendor, to_status=V.SUSPENDED, reason=reason)


def vendor_offboard(*, actor: User | None, vendor: Vendor, reason: str) -> VendorStatusChange:
    """Active or suspended → offboarded, for good: the vendor's labelers get no more work and
    their live leases end. See ``vendor_transition``."""
    return vendor_transition(actor=actor, vendor=vendor, to_status=V.OFFBOARDED, reason=reason)


def vendor_reactivate(*, actor: User | None, vendor: Vendor, reason: str) -> VendorStatusChange:
    """Suspended → active: the vendor's labelers work again, each as their own status allows.
    Any other starting status is an InvalidTransition."""
    if vendor.status != V.SUSPENDED:
        raise InvalidTransition(
            f"Only a suspended vendor can be reactivated; this one is {vendor.status}."
            + (" Offboarding is final." if vendor.status == V.OFFBOARDED else "")
        )
    return vendor_transition(actor=actor, vendor=vendor, to_status=V.ACTIVE, reason=reason)


def vendor_manager_add(*, actor: User | None, vendor: Vendor, user: User) -> VendorMembership:
    """Make ``user`` a manager of ``vendor``: the membership, the Vendor managers group and the
    object permission ``workforce.manage_vendor``. Idempotent."""
    with transaction.atomic():
        membership, _ = VendorMembership.objects.get_or_create(
            user=user, vendor=vendor, defaults={"role": VendorMembership.Role.MANAGER}
        )
        user.groups.add(_group(roles.VENDOR_MANAGERS))
        assign_perm(roles.MANAGE_VENDOR, user, vendor)
    return membership


def vendor_manager_remove(*, actor: User | None, vendor: Vendor, user: User) -> None:
    """Take away ``user``'s management of ``vendor`` (and the group if it was their last)."""
    with transaction.atomic():
        VendorMembership.objects.filter(user=user, vendor=vendor).delete()
        remove_perm(roles.MANAGE_VENDOR, user, vendor)
        if not VendorMembership.objects.filter(user=user).exists():
            user.groups.remove(_group(roles.VENDOR_MANAGERS))


# -- labelers -----------------------------------------------------------------------------------


def labeler_create(
    *,
    actor: User | None,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    kind: str,
    vendor: Vendor | None = None,
    external_id: str = "",
    seniority: str = Labeler.Seniority.LABELER,
    skills: Iterable[str] = (),
    languages: list[str] | None = None,
    timezone_name: str = "UTC",
    password: str | None = None,
    reason: str = "",
) -> Labeler:
    """Create a user and their labeler profile in status *invited*, with its first history row.

    Raises ValidationError (field-level) for a taken username, a kind/vendor mismatch, an
    external id already used within the vendor, an unknown skill, language or time zone, or a
    suspended vendor.

    Without ``password`` (the API and the admin never pass one) the user gets an unusable
    password and cannot log in until they accept an invitation
    (``labeler_invitation_issue``, then ``labeler_invitation_accept``), which sets the password
    they choose and moves them to onboarding.
    """
    _check_kind_vendor(kind, vendor)
    _check_vendor_active(vendor)
    external_id = _clean_external_id(external_id)
    if seniority not in Labeler.Seniority.values:
        raise ValidationError({"seniority": ["Must be labeler or senior."]})
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": ["Enter a valid email address."]}) from None
    timezone_name = _clean_timezone(timezone_name)
    langs = _clean_languages(languages or [])
    skill_objs = _resolve_skills(skills)
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    _check_external_id_free(vendor, external_id)

    with transaction.atomic():
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        save_unique(user, field="username", message="A user with that username already exists.")
        labeler = Labeler(
            user=user,
            kind=kind,
            vendor=vendor,
            external_id=external_id,
            seniority=seniority,
            languages=langs,
            timezone=timezone_name,
            status=S.INVITED,
            status_changed_at=timezone.now(),
        )
        save_unique(labeler, field="external_id", message=EXTERNAL_ID_TAKEN)
        labeler.skills.set(skill_objs)
        user.groups.add(_group(roles.LABELERS))
        _sync_seniority_group(labeler)
        LabelerStatusChange.objects.create(
            labeler=labeler,
            from_status="",
            to_status=S.INVITED,
            actor=actor,
            reason=reason or "Created.",
        )
    return labeler


def labeler_update(*, actor: User | None, labeler: Labeler, data: dict[str, Any]) -> Labeler:
    """Change a labeler's editable attributes.

    ``data`` may hold external_id, skills (slugs), languages, timezone, email, first_name,
    last_name, and — for operations staff, which the caller checks — seniority, kind and vendor.
    Status is not here: it changes only through ``labeler_transition``, and this write names its
    columns so a stale in-memory status is never written back. Raises ValidationError for
    unknown keys or bad values (including moving a labeler to a suspended vendor); nothing is
    written then.
    """
    unknown = set(data) - LABELER_EDITABLE_FIELDS - LABELER_STAFF_ONLY_FIELDS
    if unknown:
        raise ValidationError({k: ["This field cannot be changed here."] for k in sorted(unknown)})
    data = dict(data)
    user = labeler.user
    kind = data.get("kind", labeler.kind)
    vendor = data.get("vendor", labeler.vendor)
    if "kind" in data or "vendor" in data:
        _check_kind_vendor(kind, vendor)
        if vendor is not None and vendor.pk != labeler.vendor_id:
            _check_vendor_active(vendor)
    if "seniority" in data and data["seniority"] not in Labeler.Seniority.values:
        raise ValidationError({"seniority": ["Must be labeler or senior."]})
    if "timezone" in data:
        data["timezone"] = _clean_timezone(data["timezone"])
    if "languages" in data:
        data["languages"] = _clean_languages(data["languages"])
    if "external_id" in data:
        data["external_id"] = _clean_external_id(data["external_id"])
    skill_objs = _resolve_skills(data["skills"]) if "skills" in data else None
    user_fields = _clean_user_fields(data)
    external_id = data.get("external_id", labeler.external_id)
    _check_external_id_free(vendor, external_id, exclude_pk=labeler.pk)

    labeler_data = {f: data[f] for f in _LABELER_COLUMNS if f in data}
    with transaction.atomic():
        # Checked above, hence no full_clean.
        model_update(instance=user, fields=user_fields, data=user_fields, full_clean=False)
        try:
            with transaction.atomic():
                model_update(
                    instance=labeler,
                    fields=(*_LABELER_COLUMNS, "vendor"),
                    data={**labeler_data, "vendor": vendor},
                    full_clean=False,
                )
        except IntegrityError:
            raise ValidationError({"external_id": [EXTERNAL_ID_TAKEN]}) from None
        if skill_objs is not None:
            labeler.skills.set(skill_objs)
        if "seniority" in data:
            _sync_seniority_group(labeler)
    return labeler


def labeler_transition(
    *, actor: User | None, labeler: Labeler, to_status: str, reason: str
) -> Labeler:
    """Move a labeler to ``to_status`` and record it (from, to, actor, reason, when).

    The update is guarded on the status the labeler had when read (``UPDATE … WHERE status =
    expected``), so of two racing changes one wins and the other gets Conflict (409, code
    ``stale_status``) — as does a caller holding a stale copy. Offboarding also disables the
    login and deletes its API token. Raises ValidationError when ``reason`` is blank,
    InvalidTransition (409) when the lifecycle does not allow the move.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    if to_status not in S.values:
        raise ValidationError({"status": [f"Unknown status {to_status!r}."]})
    current = labeler.status
    if to_status not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"A labeler cannot go from {S(current).label.lower()} to {S(to_status).label.lower()}."
            + (" Offboarding is final." if current == S.OFFBOARDED else "")
        )
    now = timezone.now()
    with transaction.atomic():
        updated = Labeler.objects.filter(pk=labeler.pk, status=current).update(
            status=to_status, status_changed_at=now, updated_at=now
        )
        if not updated:
            raise Conflict(
                "The labeler's status changed meanwhile; reload and try again.",
                code="stale_status",
            )
        change = LabelerStatusChange.objects.create(
            labeler=labeler, from_status=current, to_status=to_status, actor=actor, reason=reason
        )
        signals.labeler_status_changed.send(sender=Labeler, labeler=labeler, change=change)
        if to_status == S.OFFBOARDED:
            from rest_framework.authtoken.models import Token

            User.objects.filter(pk=labeler.user_id).update(is_active=False)
            Token.objects.filter(user_id=labeler.user_id).delete()
    labeler.refresh_from_db()
    return labeler


def labeler_start_onboarding(*, actor: User | None, labeler: Labeler, reason: str) -> Labeler:
    return labeler_transition(actor=actor, labeler=labeler, to_status=S.ONBOARDING, reason=reason)


def labeler_activate(*, actor: User | None, labeler: Labeler, reason: str) -> Labeler:
    """Onboarding → active (or, when the labeler is only invited, through onboarding: two
    history rows, one transaction). A suspended labeler is brought back by
    ``labeler_reactivate``; from any other status this raises InvalidTransition."""
    if labeler.status not in (S.INVITED, S.ONBOARDING):
        raise InvalidTransition(
            f"Only an invited or onboarding labeler can be activated; this one is "
            f"{labeler.status}."
            + (" Use reactivate for a suspended labeler." if labeler.status == S.SUSPENDED else "")
        )
    with transaction.atomic():
        if labeler.status == S.INVITED:
            labeler = labeler_start_onboarding(actor=actor, labeler=labeler, reason=reason)
        return labeler_transition(actor=actor, labeler=labeler, to_status=S.ACTIVE, reason=reason)


def labeler_suspend(*, actor: User | None, labeler: Labeler, reason: str) -> Labeler:
    return labeler_transition(actor=actor, labeler=labeler, to_status=S.SUSPENDED, reason=reason)


def labeler_reactivate(*, actor: User | None, labeler: Labeler, reason: str) -> Labeler:
    """Suspended → active. Any other starting status is an InvalidTransition."""
    if labeler.status != S.SUSPENDED:
        raise InvalidTransition(
            f"Only a suspended labeler can be reactivated; this one is {labeler.status}."
        )
    return labeler_transition(actor=actor, labeler=labeler, to_status=S.ACTIVE, reason=reason)


def labeler_offboard(*, actor: User | None, labeler: Labeler, reason: str) -> Labeler:
    return labeler_transition(actor=actor, labeler=labeler, to_status=S.OFFBOARDED, reason=reason)


def labeler_move_to_status(
    *, actor: User | None, labeler: Labeler, to_status: str, reason: str
) -> Labeler:
    """Walk the lifecycle from the current status to ``to_status`` by the shortest legal path
    (used by bulk import, where a row states the status it wants), one history row per step, all
    in one transaction. Already there is a no-op. Raises ValidationError for an unknown status
    or a blank reason, InvalidTransition when no path exists."""
    if to_status not in S.values:
        raise ValidationError({"status": [f"Unknown status {to_status!r}."]})
    if labeler.status == to_status:
        return labeler
    path = _path(labeler.status, to_status)
    if path is None:
        raise InvalidTransition(f"A labeler cannot go from {labeler.status} to {to_status}.")
    with transaction.atomic():
        for step in path:
            labeler = labeler_transition(
                actor=actor, labeler=labeler, to_status=step, reason=reason
            )
    return labeler


def _path(start: str, goal: str) -> list[str] | None:
    frontier: list[tuple[str, list[str]]] = [(start, [])]
    seen = {start}
    while frontier:
        node, path = frontier.pop(0)
        for nxt in sorted(ALLOWED_TRANSITIONS[node]):
            if nxt in seen:
                continue
            if nxt == goal:
                return [*path, nxt]
            seen.add(nxt)
            frontier.append((nxt, [*path, nxt]))
    return None


def skill_get_or_create(*, slug: str, name: str | None = None) -> Skill:
    skill, _ = Skill.objects.get_or_create(slug=slug, defaults={"name": name or slug.title()})
    return skill


# -- qualifications -----------------------------------------------------------------------------


def qualification_type_create(
    *, actor: User | None, slug: str, name: str, description: str = ""
) -> QualificationType:
    """Create a qualification type. Raises ValidationError on a taken or malformed slug."""
    qtype = QualificationType(slug=slug, name=name, description=description)
    qtype.full_clean()
    with transaction.atomic():
        qtype.save()
    return qtype


def qualification_grant(
    *,
    actor: User | None,
    labeler: Labeler,
    qualification_type: QualificationType,
    source: str,
    score: Decimal | None = None,
    valid_days: int | None = None,
    source_ref: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Qualification:
    """Grant ``qualification_type`` to ``labeler``, superseding any live grant of that type.

    Called inside the caller's transaction when part of a larger change (a quiz attempt's end);
    opens its own otherwise. A manual grant (``source="manual"``) needs a reason. The labeler
    row is locked so two grants for one labeler serialize; the partial unique constraint
    ``workforce_qualification_one_live_per_type`` backs that up. Raises ValidationError.
    """
    if source not in Qualification.Source.values:
        raise ValidationError({"source": ["Unknown source."]})
    reason = (reason or "").strip()
    if source == Qualification.Source.MANUAL and not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    if score is not None and not (0 <= score <= 1):
        raise ValidationError({"score": ["A score lies between 0 and 1."]})
    if valid_days is not None and valid_days <= 0:
        raise ValidationError({"valid_days": ["Must be a positive number of days."]})
    now = now or timezone.now()
    with transaction.atomic():
        Labeler.objects.select_for_update().filter(pk=labeler.pk).first()
        Qualification.objects.filter(
            labeler=labeler,
            qualification_type=qualification_type,
            revoked_at__isnull=True,
            superseded_at__isnull=True,
        ).update(superseded_at=now)
        return Qualification.objects.create(
            labeler=labeler,
            qualification_type=qualification_type,
            score=score,
            source=source,
            source_ref=source_ref,
            reason=reason,
            granted_at=now,
            granted_by=actor,
            expires_at=now + timedelta(days=valid_days) if valid_days else None,
        )


def qualification_grant_manual(
    *,
    actor: User | None,
    labeler: Labeler,
    qualification_type: QualificationType,
    reason: str,
    valid_days: int | None = None,
) -> Qualification:
    """A grant by hand (the API's qualification grant, the admin's add page and its "grant
    again" action): ``qualification_grant`` with source manual, which requires the reason;
    without ``valid_days`` it does not expire."""
    return qualification_grant(
        actor=actor,
        labeler=labeler,
        qualification_type=qualification_type,
        source=Qualification.Source.MANUAL,
        valid_days=valid_days,
        reason=reason,
    )


def qualification_revoke(
    *, actor: User | None, qualification: Qualification, reason: str
) -> Qualification:
    """Revoke a live grant; the labeler must requalify. Raises ValidationError for a blank
    reason and Conflict when the grant is already revoked or superseded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    now = timezone.now()
    with transaction.atomic():
        updated = Qualification.objects.filter(
            pk=qualification.pk, revoked_at__isnull=True, superseded_at__isnull=True
        ).update(revoked_at=now, revoked_by=actor, revoke_reason=reason)
        if not updated:
            raise Conflict(
                "This qualification is no longer live (already revoked or replaced).",
                code="qualification_not_live",
            )
    qualification.refresh_from_db()
    return qualification


# -- invitations --------------------------------------------------------------------------------


class InvitationNotUsable(
    ApplicationError,
    status=410,
    code="invitation_not_usable",
    default_detail="This invitation link no longer works.",
):
    """An invitation token that is unknown, expired, used, superseded, or whose labeler may no
    longer accept one; ``code`` says which (``selectors.INVITATION_PROBLEMS``)."""


class IssuedInvitation(NamedTuple):
    invitation: LabelerInvitation
    link: str  # the only copy of the token: shown once to the issuer, never stored
    mailed: bool  # whether the link goes out by mail (after the commit)
    superseded: bool  # whether it replaced an open invitation, whose link now fails


def labeler_invitation_issue(
    *,
    actor: User | None,
    labeler: Labeler,
    base_url: str = "",
    now: datetime | None = None,
) -> IssuedInvitation:
    """Issue a one-time invitation link for ``labeler``, valid ``settings.INVITATION_DAYS``.

    Who may get one (``selectors.labeler_can_be_invited``): an invited labeler, or an
    onboarding or active one whose login has no usable password (activated before they ever
    chose one); a suspended or offboarded labeler, or one who can sign in, gets Conflict (409,
    code ``labeler_not_invitable``) — a person who forgot their password resets it instead.
    The caller checks that ``actor`` may manage the labeler.

    Re-issuing supersedes the labeler's open invitation in the same transaction (the labeler row
    is locked, so two issues serialize; the constraint
    ``workforce_labelerinvitation_one_open_per_labeler`` backs that up): only the newest link
    works. Only the token's SHA-256 is stored.

    ``base_url`` (``https://host``) makes the link absolute; without it the link is the path.
    When it is absolute and the user has an e-mail address, the link is also mailed to them,
    in their language, after the commit (the token never goes through a task queue, so the
    mail is sent in-process). Returns the invitation, the link, whether it is mailed and
    whether it superseded an open invitation.
    """
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = (
            Labeler.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=labeler.pk)
        )
        if not selectors.labeler_can_be_invited(labeler=locked):
            raise Conflict(
                "Only an invited labeler, or one who has never chosen a password, can be "
                f"invited; this one is {locked.status}"
                + (
                    " and can sign in (they can reset their password)."
                    if _can_sign_in(locked)
                    else "."
                ),
                code="labeler_not_invitable",
            )
        superseded = LabelerInvitation.objects.filter(
            labeler=locked, used_at__isnull=True, superseded_at__isnull=True
        ).update(superseded_at=now)
        invitation = LabelerInvitation.objects.create(
            labeler=locked,
            token_hash=invitation_token_hash(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_DAYS),
            issued_by=actor,
        )
        link = base_url.rstrip("/") + reverse("labeler:invitation", args=[token])
        email = locked.user.email
        mailed = bool(email and base_url)
        if mailed:
            transaction.on_commit(
                lambda: _mail_invitation(labeler=locked, invitation=invitation, link=link)
            )
    return IssuedInvitation(
        invitation=invitation, link=link, mailed=mailed, superseded=bool(superseded)
    )


def _can_sign_in(labeler: Labeler) -> bool:
    return labeler.user.is_active and labeler.user.has_usable_password()


def _mail_invitation(*, labeler: Labeler, invitation: LabelerInvitation, link: str) -> None:
    with translation.override(_language_of(labeler)):
        expires = timezone.localtime(invitation.expires_at, _tz(labeler.timezone))
        subject = gettext("Your invitation to LabelForce")
        body = gettext(
            "Hello,\n\n"
            "You are invited to label data with LabelForce. Open this link to choose your "
            "password:\n\n%(link)s\n\n"
            "The link works once and until %(expires)s. If it has expired, ask your vendor or "
            "the operations team for a new one.\n\n"
            "Your username: %(username)s\n"
        ) % {
            "link": link,
            "expires": expires.strftime("%Y-%m-%d %H:%M %Z"),
            "username": labeler.user.get_username(),
        }
    send_mail(subject, body, None, [labeler.user.email])


def _language_of(labeler: Labeler) -> str:
    for code in labeler.languages or ():
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _tz(name: str):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def labeler_invitation_accept(*, token: str, password: str, now: datetime | None = None) -> Labeler:
    """Accept an invitation: set the password the person chose and move an invited labeler to
    onboarding (``labeler_transition``, with its history row; actor: the labeler's own user).

    One durable transaction holding the invitation's row lock, so of two submissions of one
    link (a double click, two tabs) one sets the password and the other finds it used. Raises
    InvitationNotUsable (410; ``code`` one of ``selectors.INVITATION_PROBLEMS``) for a token
    that is unknown, expired, used or superseded, or whose labeler can no longer be invited
    (suspended, offboarded, or able to sign in meanwhile); ValidationError on ``password``
    when Django's password validators refuse it. Nothing is written when it raises. Returns the
    labeler with its user, for the caller to sign in.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        invitation = (
            LabelerInvitation.objects.select_for_update(of=("self",))
            .select_related("labeler__user")
            .filter(token_hash=invitation_token_hash(token))
            .first()
        )
        problem = selectors.labeler_invitation_problem(invitation=invitation, now=now)
        if problem is not None:
            raise InvitationNotUsable(selectors.INVITATION_PROBLEMS[problem], code=problem)
        labeler = invitation.labeler
        user = labeler.user
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(password)
        user.save(update_fields=["password"])
        LabelerInvitation.objects.filter(pk=invitation.pk).update(used_at=now)
        if labeler.status == S.INVITED:
            labeler = labeler_transition(
                actor=user,
                labeler=labeler,
                to_status=S.ONBOARDING,
                reason="Accepted the invitation and chose a password.",
            )
    return labeler
