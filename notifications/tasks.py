"""Celery tasks of notifications. Each carries primary keys, reloads and calls one service; each
is safe to run twice (every message is recorded once under its dedupe key and claimed before it
is sent)."""

from celery import shared_task
from django.conf import settings

from notifications import services


@shared_task(name="notifications.event_notify", ignore_result=True)
def event_notify(event: str, object_id: int) -> None:
    """Tell everyone concerned about ``event`` on row ``object_id`` (sent after the commit of
    the change that caused it, by the receivers in ``notifications.receivers``)."""
    services.event_notify(event=event, object_id=object_id)


@shared_task(name="notifications.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    """One attempt at a webhook delivery; after a failure, the next attempt is queued with the
    delivery's backoff (``services.RETRY_DELAYS``). With eager Celery (the demo, the tests) it
    is not queued, since eager would run it at once: ``webhook_retry_sweep`` runs it when due."""
    attempt = services.webhook_deliver(delivery_id=delivery_id)
    if attempt is None or attempt.next_attempt_at is None or settings.CELERY_TASK_ALWAYS_EAGER:
        return
    webhook_deliver.apply_async((delivery_id,), eta=attempt.next_attempt_at)


@shared_task(name="notifications.webhook_retry_sweep", ignore_result=True, periodic=True)
def webhook_retry_sweep() -> int:
    """Safety net, on the beat schedule: attempt every pending delivery whose next attempt is
    due (its queued retry was lost with a worker or a broker): one ``webhook_deliver`` message
    each. A delivery attempted meanwhile by its own queued retry is skipped by the claim."""
    due = services.webhook_deliveries_due()
    for pk in due:
        webhook_deliver.delay(pk)
    return len(due)


@shared_task(name="notifications.email_sweep", ignore_result=True, periodic=True)
def email_sweep() -> int:
    """Safety net, on the beat schedule: send the e-mails recorded but left pending by a task
    that died before sending them."""
    return services.notifications_send_stale()


@shared_task(name="notifications.qualification_expiry_notify", ignore_result=True, periodic=True)
def qualification_expiry_notify() -> int:
    """Daily, on the beat schedule: tell each holder of a qualification expiring within seven
    days (once per grant and expiry date)."""
    return services.qualification_expiry_notify()
