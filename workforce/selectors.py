"""Reads of the workforce registry, each scoped to the caller.

DRF applies object permissions to single objects only, so every list and every lookup goes
through one of these selectors: what a caller cannot see simply does not exist for them (404).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from config.errors import get_or_not_found
from workforce import roles
from workforce.models import (
    Labeler,
    LabelerInvitation,
    LabelerStatusChange,
    Qualification,
    User,
    Vendor,
    VendorStatusChange,
    invitation_token_hash,
)

# A vendor's own fields, in the order the admin's vendor page and the API's vendor output list
# them (each adds its own around them).
VENDOR_FIELDS = (
    "name",
    "slug",
    "status",
    "contact_name",
    "contact_email",
    "country",
    "default_currency",
)
# A qualification grant's fields after whose it is (``labeler``), in the order the admin's grant
# page and the API's qualification output list them; ``state`` is derived (valid, expired,
# revoked, superseded) by each.
QUALIFICATION_FIELDS = (
    "qualification_type",
    "state",
    "score",
    "source",
    "source_ref",
    "reason",
    "granted_at",
    "expires_at",
    "revoked_at",
    "revoke_reason",
    "superseded_at",
)


def is_ops(user: User) -> bool:
    """Operations managers are active staff users."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def managed_vendors(user: User) -> QuerySet[Vendor]:
    """The vendors on which ``user`` holds ``workforce.manage_vendor`` as an object permission
    (global permissions are not counted: being staff is what grants everything)."""
    if not user.is_authenticated:
        return Vendor.objects.none()
    return get_objects_for_user(
        user, roles.MANAGE_VENDOR, klass=Vendor, accept_global_perms=False, with_superuser=False
    )


def managed_vendor_ids(user: User) -> list[int]:
    return list(managed_vendors(user).values_list("pk", flat=True))


def is_vendor_manager(user: User) -> bool:
    return bool(managed_vendor_ids(user))


def user_roles(user: User) -> list[str]:
    """Role names for display: ops_manager, vendor_manager, senior_labeler, labeler."""
    out = []
    if is_ops(user):
        out.append("ops_manager")
    if is_vendor_manager(user):
        out.append("vendor_manager")
    labeler = getattr(user, "labeler", None)
    if labeler is not None:
        out.append("senior_labeler" if labeler.is_senior else "labeler")
    return out


def _with_counts(qs: QuerySet[Vendor]) -> QuerySet[Vendor]:
    return qs.annotate(
        labeler_count=Count("labelers", distinct=True),
        active_labeler_count=Count(
            "labelers", filter=Q(labelers__status=Labeler.Status.ACTIVE), distinct=True
        ),
    ).order_by("name")


def vendor_list_for(*, actor: User) -> QuerySet[Vendor]:
    """All vendors for ops; the vendors they manage for vendor managers; none for others."""
    return _with_counts(Vendor.objects.all() if is_ops(actor) else managed_vendors(actor))


def vendor_list_managed_by(*, actor: User) -> QuerySet[Vendor]:
    """The vendors ``actor`` manages (by object permission), whatever else they may read:
    for an operations manager who also manages a vendor, that vendor only."""
    return _with_counts(managed_vendors(actor))


def vendor_get_for(*, actor: User, pk: int) -> Vendor:
    return get_or_not_found(vendor_list_for(actor=actor), pk=pk)


def vendor_history(*, vendor: Vendor) -> QuerySet[VendorStatusChange]:
    """The vendor's status changes, newest first, with their actors. The caller has scoped the
    vendor (``vendor_get_for``)."""
    return VendorStatusChange.objects.filter(vendor=vendor).select_related("actor")


def labeler_list_for(*, actor: User) -> QuerySet[Labeler]:
    """Labelers the caller may read: all for ops; their vendors' for vendor managers; their own
    profile for a labeler. Related rows are loaded so a page costs a constant number of queries.
    """
    base = Labeler.objects.select_related("user", "vendor").prefetch_related("skills")
    if is_ops(actor):
        return base
    return base.filter(readable_labelers_q(actor, path=""))


def readable_labelers_q(actor: User, *, path: str = "labeler") -> Q:
    """For a caller who is not ops: the rows whose labeler, reached through ``path`` (``""``
    for labelers themselves), they may read — their vendors' labelers (a vendor manager) and
    their own profile (a labeler); a caller may be both."""
    prefix = f"{path}__" if path else ""
    return Q(**{f"{prefix}vendor_id__in": managed_vendor_ids(actor)}) | Q(
        **{f"{prefix}user_id": actor.pk}
    )


def labeler_get_for(*, actor: User, pk: int) -> Labeler:
    return get_or_not_found(labeler_list_for(actor=actor), pk=pk)


def labeler_can_manage(*, actor: User, labeler: Labeler) -> bool:
    """Ops manage every labeler; a vendor manager manages their vendor's labelers."""
    if is_ops(actor):
        return True
    return labeler.vendor_id is not None and labeler.vendor_id in managed_vendor_ids(actor)


def labeler_history(*, labeler: Labeler) -> QuerySet[LabelerStatusChange]:
    return labeler.status_changes.select_related("actor").order_by("-created_at", "-id")


def qualification_valid(
    *, labeler: Labeler, qualification_type_id: int, at: datetime | None = None
) -> Qualification | None:
    """The labeler's valid grant of the type at ``at`` (now by default), or None. One query."""
    return (
        Qualification.objects.valid(at)
        .filter(labeler=labeler, qualification_type_id=qualification_type_id)
        .first()
    )


def qualification_list_for(*, actor: User) -> QuerySet[Qualification]:
    """Grants the caller may read: all for ops, their vendors' labelers' for vendor managers,
    their own for a labeler."""
    qs = Qualification.objects.select_related("labeler", "qualification_type")
    return qs if is_ops(actor) else qs.filter(readable_labelers_q(actor))


# -- invitations --------------------------------------------------------------------------------

# Why an invitation link does not work, by code (the accept service's error codes).
INVITATION_PROBLEMS = {
    "invitation_unknown": "This invitation link is not known.",
    "invitation_expired": "This invitation link has expired.",
    "invitation_used": "This invitation link has been used already.",
    "invitation_superseded": "A newer invitation link replaced this one.",
    "labeler_not_invitable": "This account can no longer be set up through an invitation.",
}


def labeler_can_be_invited(*, labeler: Labeler) -> bool:
    """Whether ``labeler`` may get (and use) an invitation: invited, or onboarding or active
    without a usable password (activated before they ever chose one), with an active login.
    Reads the labeler's user (loaded with it, or one query)."""
    user = labeler.user
    if not user.is_active:
        return False
    if labeler.status == Labeler.Status.INVITED:
        return True
    return (
        labeler.status in (Labeler.Status.ONBOARDING, Labeler.Status.ACTIVE)
        and not user.has_usable_password()
    )


def labeler_invitation_for_token(*, token: str) -> LabelerInvitation | None:
    """The invitation whose token is ``token`` (any state), with its labeler and user; None if
    no invitation has it. One query."""
    return (
        LabelerInvitation.objects.select_related("labeler__user")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )


def labeler_invitation_problem(
    *, invitation: LabelerInvitation | None, now: datetime
) -> str | None:
    """Why ``invitation`` cannot be accepted at ``now`` (a key of ``INVITATION_PROBLEMS``), or
    None when it can. The one statement of the rule: the page asks it before showing the form,
    the accept service again under the row lock."""
    if invitation is None:
        return "invitation_unknown"
    if invitation.used_at is not None:
        return "invitation_used"
    if invitation.superseded_at is not None:
        return "invitation_superseded"
    if invitation.expires_at <= now:
        return "invitation_expired"
    if not labeler_can_be_invited(labeler=invitation.labeler):
        return "labeler_not_invitable"
    return None


def labeler_has_open_invitation(*, labeler: Labeler) -> bool:
    """Whether an invitation of ``labeler`` is neither used nor superseded (it may have
    expired): issuing another replaces it."""
    return LabelerInvitation.objects.filter(
        labeler=labeler, used_at__isnull=True, superseded_at__isnull=True
    ).exists()


def labeler_invitations(*, labeler: Labeler) -> QuerySet[LabelerInvitation]:
    """The labeler's invitations, newest first, with who issued each."""
    return labeler.invitations.select_related("issued_by").order_by("-created_at", "-id")
