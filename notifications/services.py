"""Writes of notifications: telling people about an event (e-mails and webhook deliveries,
each recorded once under its dedupe key, then sent), delivering webhooks with retries, the
vendor's webhook endpoints and everyone's e-mail preferences.

Sending happens after commit, in Celery tasks that carry primary keys (``notifications.tasks``);
every function here is safe to run twice: a message's row is claimed with a guarded ``UPDATE …
WHERE status = 'pending'`` before it goes out, so two workers never send it both.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import messages, webhooks
from notifications.models import (
    LABELER_EVENTS,
    MANAGER_EVENTS,
    OPS_EVENTS,
    WEBHOOK_EVENTS,
    Event,
    Notification,
    NotificationPreference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_webhook_secret,
)
from workforce.models import Labeler, User, Vendor

log = logging.getLogger(__name__)

#: Seconds to wait after the n-th failed attempt (1-based) before the next one; after the last
#: attempt the delivery is failed. Six attempts over about four hours.
RETRY_DELAYS = (60, 300, 1800, 3600, 7200)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: How long a claimed attempt keeps others off the delivery (longer than its timeout); a worker
#: that died mid-attempt is retried by the sweep after that.
CLAIM_SECONDS = 120
#: An e-mail still pending this long after it was recorded was lost with its task: the sweep
#: sends it.
EMAIL_STALE_SECONDS = 120
MAX_ERROR_CHARS = 2000


# -- events ------------------------------------------------------------------------------------


def event_notify(*, event: str, object_id: int) -> dict[str, list[int]]:
    """Tell everyone concerned about ``event`` on the row ``object_id`` (what each event says and
    to whom: ``notifications.messages``). Records one ``Notification`` per recipient who has not
    muted the event and one ``WebhookDelivery`` per active endpoint of the vendor concerned that
    subscribed to it, each under its dedupe key (a second call records nothing new), then sends
    the e-mails still pending and queues the deliveries (the ``webhook_deliver`` task). Returns
    the ids of the e-mails and deliveries this call recorded (``{"mails": […], "deliveries":
    […]}``).
    """
    plan = messages.COMPOSERS[Event(event)](object_id)
    if plan is None:
        return {"mails": [], "deliveries": []}
    result = _record_and_send(plan)
    _deliver_soon(result["deliveries"])
    return result


def _record_and_send(plan: messages.Plan) -> dict[str, list[int]]:
    muted = {
        p.user_id: set(p.muted)
        for p in NotificationPreference.objects.filter(user_id__in={m.user_id for m in plan.mails})
    }
    wanted = [m for m in plan.mails if plan.event not in muted.get(m.user_id, ())]
    with transaction.atomic():
        Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=m.user_id,
                    email=m.email,
                    event=plan.event,
                    subject=m.subject[:255],
                    body=m.body,
                    dedupe_key=m.key,
                )
                for m in wanted
            ],
            ignore_conflicts=True,
        )
        deliveries = _record_deliveries(plan)
    mail_ids = list(
        Notification.objects.filter(
            dedupe_key__in=[m.key for m in wanted], status=Notification.Status.PENDING
        ).values_list("pk", flat=True)
    )
    for pk in mail_ids:
        notification_send(notification_id=pk)
    return {"mails": mail_ids, "deliveries": deliveries}


def _record_deliveries(plan: messages.Plan) -> list[int]:
    if plan.vendor_id is None or plan.data is None:
        return []
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(vendor_id=plan.vendor_id, is_active=True)
        if plan.event in e.events
    ]
    if not endpoints:
        return []
    now = timezone.now()
    rows = []
    for endpoint in endpoints:
        event_id = uuid.uuid4()
        body = {
            "id": str(event_id),
            "type": plan.event,
            "created_at": now.isoformat(),
            "data": plan.data,
        }
        rows.append(
            WebhookDelivery(
                endpoint=endpoint,
                vendor_id=plan.vendor_id,
                event_id=event_id,
                event=plan.event,
                dedupe_key=plan.key,
                body=json.dumps(body, separators=(",", ":"), sort_keys=True),
                next_attempt_at=now,
            )
        )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        WebhookDelivery.objects.filter(
            event_id__in=[r.event_id for r in rows], status=WebhookDelivery.Status.PENDING
        ).values_list("pk", flat=True)
    )


def qualification_expiry_notify(*, now: datetime | None = None) -> int:
    """Tell each holder of a live grant expiring within seven days, once per grant and expiry
    date (the dedupe key carries the date: an extended grant is told again). Returns the number
    of e-mails recorded by this run."""
    now = now or timezone.now()
    recorded = 0
    for pk in messages.qualifications_expiring(now).values_list("pk", flat=True).order_by("pk"):
        result = event_notify(event=Event.QUALIFICATION_EXPIRING, object_id=pk)
        recorded += len(result["mails"])
    return recorded


def _deliver_soon(delivery_ids: list[int]) -> None:
    from notifications import tasks  # the tasks module imports this one

    for pk in delivery_ids:
        tasks.webhook_deliver.delay(pk)


# -- e-mail ------------------------------------------------------------------------------------


def notification_send(*, notification_id: int) -> bool:
    """Send one recorded e-mail if it is still pending: claimed first (``pending`` →
    ``sending``, a guarded update), so a second worker sends nothing; then ``sent`` with the
    time, or ``failed`` with the error. Returns whether this call sent it."""
    claimed = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING
    ).update(status=Notification.Status.SENDING)
    if not claimed:
        return False
    notification = Notification.objects.get(pk=notification_id)
    try:
        send_mail(notification.subject, notification.body, None, [notification.email])
    except Exception as exc:  # any mail failure is recorded, not raised
        Notification.objects.filter(pk=notification_id).update(
            status=Notification.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        log.warning("e-mail %s failed: %s", notification_id, exc)
        return False
    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.SENT, sent_at=timezone.now()
    )
    return True


def notifications_send_stale(*, now: datetime | None = None) -> int:
    """Send the e-mails recorded but still pending after ``EMAIL_STALE_SECONDS`` (their task
    died between recording and sending). Returns how many this call sent."""
    now = now or timezone.now()
    stale = Notification.objects.filter(
        status=Notification.Status.PENDING,
        created_at__lte=now - timedelta(seconds=EMAIL_STALE_SECONDS),
    ).values_list("pk", flat=True)
    return sum(notification_send(notification_id=pk) for pk in stale[:500])


# -- webhook deliveries -----------------------------------------------------------------------


def retry_delay(attempt: int) -> int | None:
    """Seconds before the attempt after the ``attempt``-th failure; None after the last one."""
    return RETRY_DELAYS[attempt - 1] if attempt <= len(RETRY_DELAYS) else None


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookAttempt | None:
    """Make one attempt at a pending delivery that is due (``next_attempt_at <= now``).

    Claims it with a guarded update that pushes ``next_attempt_at`` ``CLAIM_SECONDS`` ahead and
    counts the attempt (no lock is held during the HTTP call), POSTs the signed body
    (``notifications.webhooks.post``), and records the attempt: a 2xx makes the delivery
    ``succeeded``; anything else sets the next attempt after ``retry_delay`` (the delivery's
    ``next_attempt_at`` and the attempt's), or ``failed`` after ``MAX_ATTEMPTS``. Returns the
    attempt, or None when the delivery was not pending, not due, or taken by another worker, or
    its endpoint is turned off (its deliveries wait, pending, until it is turned on again).
    """
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        attempts__lt=MAX_ATTEMPTS,
        # Not a join: with one, Django updates "WHERE id IN (SELECT …)", and PostgreSQL would
        # not re-check the status and due time of a row another worker claimed meanwhile.
        endpoint_id__in=WebhookEndpoint.objects.filter(is_active=True).values("pk"),
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    outcome = webhooks.post(
        endpoint.url,
        delivery.body.encode(),
        secret=endpoint.secret,
        event=delivery.event,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
        now=now.timestamp(),
    )
    done = now + timedelta(milliseconds=outcome.duration_ms)
    delay = None if outcome.ok else retry_delay(delivery.attempts)
    next_at = done + timedelta(seconds=delay) if delay is not None else None
    if outcome.ok:
        status = WebhookDelivery.Status.SUCCEEDED
    elif next_at is None:
        status = WebhookDelivery.Status.FAILED
    else:
        status = WebhookDelivery.Status.PENDING
    with transaction.atomic():
        # Numbered over the delivery's whole log (a redelivery starts a new round of
        # ``attempts`` but keeps the earlier tries); one attempt is in flight at a time.
        number = WebhookAttempt.objects.filter(delivery_id=delivery.pk).count() + 1
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=now,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error,
            next_attempt_at=next_at,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            next_attempt_at=next_at,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            delivered_at=done if outcome.ok else None,
        )
    return attempt


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The pending deliveries whose next attempt is due by ``now``, oldest due first."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_redeliver(*, actor: User | None, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again from scratch (ops's admin action): pending, due now, with a fresh
    round of attempts. Its earlier attempts stay in the log. The receiver sees the same event
    id (it may have processed it already; ids are for deduplicating)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    return delivery


# -- endpoints ---------------------------------------------------------------------------------


def _clean_endpoint(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "url" in data:
        try:
            webhooks.check_url(
                data["url"], allow_private=settings.WEBHOOK_ALLOW_PRIVATE, resolve=False
            )
        except webhooks.UnsafeURL as exc:
            errors["url"] = [str(exc)]
        out["url"] = data["url"]
    if "events" in data:
        events = list(dict.fromkeys(data["events"]))
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            errors["events"] = [
                f"Unknown event {e!r}; one of: {', '.join(WEBHOOK_EVENTS)}." for e in unknown
            ]
        elif not events:
            errors["events"] = ["Subscribe to at least one event."]
        out["events"] = events
    for name in ("description", "is_active"):
        if name in data:
            out[name] = data[name]
    if errors:
        raise ValidationError(errors)
    return out


def webhook_endpoint_create(
    *,
    actor: User | None,
    vendor: Vendor,
    url: str,
    events: list[str] | None = None,
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """A new endpoint of ``vendor`` with a fresh secret (``whsec_…``, to be shown to the caller
    once). ``events`` defaults to every webhook event. ValidationError (fields ``url``,
    ``events``) for an unsafe URL or an unknown event."""
    data = _clean_endpoint(
        {
            "url": url,
            "events": list(WEBHOOK_EVENTS) if events is None else events,
            "description": description,
            "is_active": is_active,
        }
    )
    return WebhookEndpoint.objects.create(vendor=vendor, created_by=actor, **data)


def webhook_endpoint_update(
    *, actor: User | None, endpoint: WebhookEndpoint, data: dict[str, Any]
) -> WebhookEndpoint:
    """Change an endpoint's url, events, description or active flag (its secret: rotate)."""
    fields = _clean_endpoint(data)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if fields:
        endpoint.save(update_fields=list(fields))
    return endpoint


def webhook_endpoint_rotate_secret(
    *, actor: User | None, endpoint: WebhookEndpoint
) -> WebhookEndpoint:
    """A new secret for the endpoint (returned once); deliveries from now on are signed with
    it, retries of earlier ones included."""
    endpoint.secret = new_webhook_secret()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return endpoint


def webhook_endpoint_delete(*, actor: User | None, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    endpoint.delete()


# -- preferences -------------------------------------------------------------------------------


def events_for(user: User) -> tuple[str, ...]:
    """The events ``user`` may receive by e-mail: a labeler's, a vendor manager's, ops's (or
    several of these)."""
    from workforce.selectors import is_ops, is_vendor_manager

    events: list[str] = list(OPS_EVENTS) if is_ops(user) else []
    if Labeler.objects.filter(user_id=user.pk).exists():
        events += LABELER_EVENTS
    if is_vendor_manager(user):
        events += MANAGER_EVENTS
    return tuple(e for e in Event.values if e in events)


def preferences_get(*, user: User) -> dict[str, bool]:
    """``{event: on}`` for every event ``user`` may receive (on unless muted)."""
    muted = set(
        NotificationPreference.objects.filter(user_id=user.pk)
        .values_list("muted", flat=True)
        .first()
        or ()
    )
    return {event: event not in muted for event in events_for(user)}


def preferences_set(*, user: User, choices: dict[str, bool]) -> dict[str, bool]:
    """Turn each event of ``choices`` on or off for ``user``; the events not named keep their
    setting. ValidationError (field ``events``) naming an event ``user`` cannot receive."""
    allowed = events_for(user)
    unknown = sorted(set(choices) - set(allowed))
    if unknown:
        raise ValidationError({"events": [f"Not an event you receive: {e!r}." for e in unknown]})
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(
            user_id=user.pk
        )
        muted = set(preference.muted) - {e for e, on in choices.items() if on}
        muted |= {e for e, on in choices.items() if not on}
        preference.muted = sorted(muted)
        preference.save(update_fields=["muted", "updated_at"])
    return preferences_get(user=user)
