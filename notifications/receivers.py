"""The receivers of the signals the lower apps send (connected in ``NotificationsConfig.ready``).
Each is called inside the writing transaction and only queues the ``event_notify`` task for
after the commit: a rolled-back change tells nobody, and nothing here reads the database."""

from __future__ import annotations

from django.db import transaction

from notifications.models import Event


def _after_commit(event: str, object_id: int) -> None:
    from notifications import tasks

    # A named callable, robust: a broker that is down must not fail the change that committed
    # (the sweeps do not recreate a lost event, which is then only in the admin's history).
    def queue_event_notify() -> None:
        tasks.event_notify.delay(str(event), object_id)

    transaction.on_commit(queue_event_notify, robust=True)


def on_rule_fired(sender, firing, **kwargs) -> None:
    _after_commit(Event.RULE_FIRED, firing.pk)


def on_labeler_status_changed(sender, labeler, change, **kwargs) -> None:
    _after_commit(Event.LABELER_STATUS_CHANGED, change.pk)


def on_guide_version_published(sender, version, **kwargs) -> None:
    if version.minor == 0:  # a major number: labelers must acknowledge it
        _after_commit(Event.GUIDE_VERSION_MAJOR, version.pk)


def on_flag_resolved(sender, review, **kwargs) -> None:
    _after_commit(Event.FLAG_ANSWERED, review.pk)


def on_drift_detected(sender, event, **kwargs) -> None:
    _after_commit(Event.DRIFT_DETECTED, event.pk)
