"""People: users, vendors, labelers and the record of every labeler status change."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone


class User(AbstractUser):
    """The login. A person may be staff (an operations manager), a vendor manager, a labeler,
    or several of these at once; roles are groups and object permissions, not fields here."""

    class Meta:
        db_table = "workforce_user"


class Vendor(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    default_currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217 code of the vendor's invoices."
    )
    # Written by workforce.services.vendor_status_change only, with a VendorStatusChange row.
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_vendor", "Can manage the vendor's labelers and see its money")]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_currency__regex=r"^[A-Z]{3}$"),
                name="workforce_vendor_currency_iso4217",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VendorStatusChange(models.Model):
    """One row per vendor status transition, written in the same transaction as the change.
    A suspended or offboarded vendor's labelers get no new work (the claim gate reads the
    vendor's status in its one query) and their live leases end with the change."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=Vendor.Status.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    leases_ended = models.PositiveIntegerField(
        default=0, help_text="Live leases of the vendor's labelers this change ended."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.vendor}: {self.from_status or '∅'} → {self.to_status}"


class VendorMembership(models.Model):
    """A user's role at a vendor. The manager role also holds the guardian object permission
    ``workforce.manage_vendor`` on the vendor; services keep the two in step."""

    class Role(models.TextChoices):
        MANAGER = "manager", "Manager"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="vendor_memberships")
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MANAGER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "vendor"], name="workforce_vendormembership_one_per_vendor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.vendor}"


class Skill(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


PUBLIC_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


def new_public_code() -> str:
    """A pseudonym such as ``L-7KQ4XM``: what vendors' peers and other labelers see."""
    return "L-" + "".join(secrets.choice(PUBLIC_CODE_ALPHABET) for _ in range(6))


class Labeler(models.Model):
    class Kind(models.TextChoices):
        INTERNAL = "internal", "Internal staff"
        VENDOR = "vendor", "Vendor"

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"

    class Seniority(models.TextChoices):
        LABELER = "labeler", "Labeler"
        SENIOR = "senior", "Senior labeler"

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="labeler")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, null=True, blank=True, related_name="labelers"
    )
    external_id = models.CharField(
        max_length=64, blank=True, help_text="The vendor's own id for this person."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.INVITED, db_index=True
    )
    seniority = models.CharField(
        max_length=16, choices=Seniority.choices, default=Seniority.LABELER
    )
    skills = models.ManyToManyField(Skill, blank=True, related_name="labelers")
    languages = models.JSONField(
        default=list, blank=True, help_text="BCP 47 codes, e.g. en, pt-BR."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    public_code = models.CharField(max_length=16, unique=True, default=new_public_code)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="internal", vendor__isnull=True) | Q(kind="vendor", vendor__isnull=False)
                ),
                name="workforce_labeler_vendor_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["vendor", "external_id"],
                condition=~Q(external_id=""),
                name="workforce_labeler_external_id_unique_per_vendor",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["invited", "onboarding", "active", "suspended", "offboarded"]
                ),
                name="workforce_labeler_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["vendor", "status"], name="workforce_labeler_vendor_st")]

    def __str__(self) -> str:
        return self.public_code

    @property
    def is_senior(self) -> bool:
        return self.seniority == self.Seniority.SENIOR


class LabelerStatusChange(models.Model):
    """One row per status transition, written in the same transaction as the change."""

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=Labeler.Status.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["labeler", "-created_at"], name="workforce_lsc_labeler_at")]

    def __str__(self) -> str:
        return f"{self.labeler}: {self.from_status or '∅'} → {self.to_status}"


class QualificationType(models.Model):
    """A kind of qualification a labeler can hold, e.g. "utility-poles-boxes". Quizzes grant
    them; projects require them."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


def qualification_live_q(prefix: str = "") -> Q:
    """The condition "the grant is live" (neither revoked nor superseded), on the grant's fields
    or, with ``prefix`` (e.g. ``"grants__"``), on a relation's."""
    return Q(**{f"{prefix}revoked_at__isnull": True, f"{prefix}superseded_at__isnull": True})


def qualification_valid_q(at: datetime) -> Q:
    """The condition "the grant is valid at ``at``": live and not expired then (the queryset
    form of ``Qualification.is_valid_at``)."""
    return qualification_live_q() & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))


class QualificationQuerySet(models.QuerySet):
    """Grants by state; ``at`` is now unless given. Each state is one condition, written here
    once; only the next-task gate's raw SQL (``assignments.sql.gate``) states "valid"
    again, for speed."""

    def live(self) -> QualificationQuerySet:
        return self.filter(qualification_live_q())

    def valid(self, at: datetime | None = None) -> QualificationQuerySet:
        return self.filter(qualification_valid_q(at or timezone.now()))

    def not_valid(self, at: datetime | None = None) -> QualificationQuerySet:
        """Revoked, superseded or expired at ``at``: every grant ``valid`` leaves out."""
        return self.exclude(qualification_valid_q(at or timezone.now()))

    def expired(self, at: datetime | None = None) -> QualificationQuerySet:
        """Live but past its expiry at ``at``."""
        return self.filter(qualification_live_q(), expires_at__lte=at or timezone.now())


class Qualification(models.Model):
    """One grant of a qualification to a labeler.

    A grant is live while it is neither revoked nor superseded; it is *valid* while live and not
    expired. Requalifying supersedes the previous grant, so history is kept and at most one live
    grant per (labeler, type) exists — a database constraint.
    """

    class Source(models.TextChoices):
        QUIZ = "quiz", "Passed a qualification quiz"
        MANUAL = "manual", "Granted by operations"

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="qualifications")
    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.PROTECT, related_name="grants"
    )
    score = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    source_ref = models.CharField(
        max_length=64, blank=True, help_text="What granted it, e.g. quiz-attempt:42."
    )
    reason = models.TextField(blank=True)
    granted_at = models.DateTimeField()
    granted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects = QualificationQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["labeler", "qualification_type"],
                condition=qualification_live_q(),
                name="workforce_qualification_one_live_per_type",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=1),
                name="workforce_qualification_score_range",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("granted_at")),
                name="workforce_qualification_expires_after_grant",
            ),
        ]
        indexes = [
            models.Index(
                fields=["labeler", "qualification_type", "-granted_at"],
                name="workforce_qual_labeler_type",
            )
        ]

    def __str__(self) -> str:
        return f"{self.labeler} — {self.qualification_type}"

    def is_valid_at(self, when) -> bool:
        return (
            self.revoked_at is None
            and self.superseded_at is None
            and (self.expires_at is None or self.expires_at > when)
        )


def invitation_token_hash(token: str) -> str:
    """What an invitation stores of its token: the SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class LabelerInvitation(models.Model):
    """A one-time link that lets an invited labeler choose their password.

    Only the SHA-256 of the link's token is stored: the token itself is shown once to whoever
    issued it (and mailed to the labeler when they have an address), so a database dump opens
    no account. An invitation is *open* while neither used nor superseded (re-issuing supersedes
    the previous one); it is *usable* while open and not expired. At most one open invitation
    per labeler — a database constraint — so an old link can never work beside a new one.
    """

    labeler = models.ForeignKey(Labeler, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["labeler"],
                condition=Q(used_at__isnull=True, superseded_at__isnull=True),
                name="workforce_labelerinvitation_one_open_per_labeler",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="workforce_labelerinvitation_expires_after_created",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(superseded_at__isnull=True),
                name="workforce_labelerinvitation_used_or_superseded",
            ),
        ]
        indexes = [
            models.Index(fields=["labeler", "-created_at"], name="workforce_invitation_labeler")
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.labeler} ({self.state_at(timezone.now())})"

    def state_at(self, when: datetime) -> str:
        """used, superseded, expired or usable (at ``when``)."""
        if self.used_at is not None:
            return "used"
        if self.superseded_at is not None:
            return "superseded"
        return "expired" if self.expires_at <= when else "usable"
