"""What LabelForce tells people: e-mails (one ``Notification`` row per recipient and event) and
signed webhooks to vendor portals (``WebhookEndpoint``, one ``WebhookDelivery`` per endpoint and
event, one ``WebhookAttempt`` per HTTP try). Who chooses what: ``NotificationPreference``.

Each row that stands for a message carries a dedupe key unique per recipient (or endpoint), so a
retried Celery task or a repeated sweep never sends the same thing twice (docs/notifications.md).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    """The events LabelForce tells people about. The value is also the webhook ``type``."""

    RULE_FIRED = "labeler.rule_fired", "A quality rule acted on a labeler"
    LABELER_STATUS_CHANGED = "labeler.status_changed", "A labeler's status changed"
    GUIDE_VERSION_MAJOR = "guide.major_version", "A new major guide version to acknowledge"
    QUALIFICATION_EXPIRING = "qualification.expiring", "A qualification expires within 7 days"
    FLAG_ANSWERED = "flag.answered", "A reviewer answered a labeler's flag"
    DRIFT_DETECTED = "project.drift_detected", "A batch's label distribution drifted"


#: What each kind of person may receive by e-mail (and so may switch off).
LABELER_EVENTS = (
    Event.RULE_FIRED,
    Event.LABELER_STATUS_CHANGED,
    Event.GUIDE_VERSION_MAJOR,
    Event.QUALIFICATION_EXPIRING,
    Event.FLAG_ANSWERED,
)
MANAGER_EVENTS = (Event.RULE_FIRED, Event.LABELER_STATUS_CHANGED)
OPS_EVENTS = (Event.DRIFT_DETECTED,)
#: What a vendor's webhook endpoint may subscribe to: events about the vendor's own labelers.
WEBHOOK_EVENTS = (Event.RULE_FIRED, Event.LABELER_STATUS_CHANGED, Event.QUALIFICATION_EXPIRING)


class NotificationPreference(models.Model):
    """A person's e-mail choices: every event is on unless listed in ``muted``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    muted = models.JSONField(default=list, blank=True, help_text="Events not to e-mail.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"e-mail preferences of {self.user}"


class Notification(models.Model):
    """One e-mail to one person about one event: written before sending (``pending``), claimed
    with a guarded update (``sending``), then ``sent`` or ``failed``. ``dedupe_key`` (event,
    object, recipient) is unique: a second attempt to notify finds the row and sends nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    email = models.EmailField()
    event = models.CharField(max_length=32, choices=Event.choices)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="notifications_notif_status"),
            models.Index(fields=["recipient", "-created_at"], name="notifications_notif_user"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.email}"


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A vendor portal's URL that receives the events it subscribed to, signed with the
    endpoint's secret (HMAC-SHA256 of the body). The secret is generated here, shown once (on
    creation and on rotation) and kept to sign with."""

    vendor = models.ForeignKey(
        "workforce.Vendor", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    events = models.JSONField(default=list, help_text="The event types sent to this URL.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["vendor", "id"]

    def __str__(self) -> str:
        return f"{self.vendor}: {self.url}"


class WebhookDelivery(models.Model):
    """One event to one endpoint. ``body`` is the exact JSON sent (every attempt signs the same
    bytes); ``next_attempt_at`` is when it is due (also the claim: an attempt in flight pushes
    it forward, so a sweep does not start a second one)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    vendor = models.ForeignKey("workforce.Vendor", on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=32, choices=Event.choices)
    dedupe_key = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"], name="notifications_webhookdelivery_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="notifications_delivery_due",
            ),
            models.Index(fields=["vendor", "-created_at"], name="notifications_delivery_vendor"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} to {self.endpoint.url}"


class WebhookAttempt(models.Model):
    """One HTTP try of a delivery: what came back (or the error), how long it took, and when
    the next try is due (none after a success or the last try)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="notifications_webhookattempt_once"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
