"""Signed outgoing webhooks, against a real HTTP server on localhost: the signature verifies
independently of LabelForce's code, a 500 or a timeout is retried after the backoff (and the
attempt logged with status, error, duration and next attempt), six failures give up, the sweep
catches what is due, two workers never attempt one delivery at once, and URLs that point
inside the network are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from notifications import services, tasks, webhooks
from notifications.models import Event, WebhookAttempt, WebhookDelivery
from tests.conftest import requires_postgres
from tests.factories import race
from tests.notifications.factories import webhook_receiver
from workforce import services as workforce_services

pytestmark = pytest.mark.django_db

D = WebhookDelivery.Status


def _suspend(labeler, actor, capture) -> None:
    """A labeler status change, committed: its receivers run (Celery is eager in the tests)."""
    with capture(execute=True):
        workforce_services.labeler_suspend(actor=actor, labeler=labeler, reason="Left the team")


def test_a_delivery_is_signed_and_the_signature_verifies_independently(
    vendor_a, manager_a, vendor_labeler, django_capture_on_commit_callbacks
):
    with webhook_receiver(200) as rx:
        endpoint = services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        before = int(time.time())
        _suspend(vendor_labeler, manager_a, django_capture_on_commit_callbacks)
    assert len(rx.received) == 1
    got = rx.received[0]
    # The receiver's own check, as docs/notifications.md shows it: HMAC-SHA256 of the raw body.
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-labelforce-signature"], expected)
    tampered = hmac.new(endpoint.secret.encode(), got.body + b" ", hashlib.sha256).hexdigest()
    assert got.headers["x-labelforce-signature"] != "sha256=" + tampered
    assert before <= int(got.headers["x-labelforce-timestamp"]) <= int(time.time())
    assert got.headers["x-labelforce-event"] == Event.LABELER_STATUS_CHANGED
    assert got.headers["content-type"] == "application/json"

    payload = json.loads(got.body)
    delivery = WebhookDelivery.objects.get()
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["id"] == str(delivery.event_id)
    assert payload["type"] == "labeler.status_changed"
    assert payload["data"]["labeler"] == {
        "public_code": vendor_labeler.public_code,
        "external_id": "A-001",
    }
    assert (payload["data"]["from_status"], payload["data"]["to_status"]) == ("active", "suspended")
    assert delivery.body.encode() == got.body  # the stored body is what was signed and sent

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (D.SUCCEEDED, 1, 200)
    attempt = WebhookAttempt.objects.get()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.next_attempt_at is None and attempt.duration_ms >= 0


def test_a_500_is_retried_after_the_backoff_and_each_attempt_is_logged(
    vendor_a, manager_a, vendor_labeler, django_capture_on_commit_callbacks
):
    with webhook_receiver(500, 200) as rx:
        services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        _suspend(vendor_labeler, manager_a, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        first = WebhookAttempt.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            D.PENDING,
            1,
            500,
        )
        assert (first.status_code, first.error) == (500, "HTTP 500")
        wait = (first.next_attempt_at - first.started_at).total_seconds()
        assert services.RETRY_DELAYS[0] <= wait < services.RETRY_DELAYS[0] + 5
        assert delivery.next_attempt_at == first.next_attempt_at

        # Not due yet: neither the task nor the sweep attempts it.
        assert services.webhook_deliver(delivery_id=delivery.pk) is None
        assert tasks.webhook_retry_sweep() == 0
        assert len(rx.received) == 1

        later = first.next_attempt_at + timedelta(seconds=1)
        second = services.webhook_deliver(delivery_id=delivery.pk, now=later)
    assert (second.number, second.status_code, second.next_attempt_at) == (2, 200, None)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (D.SUCCEEDED, 2)
    assert rx.received[0].body == rx.received[1].body
    assert (
        rx.received[0].headers["x-labelforce-signature"]
        == rx.received[1].headers["x-labelforce-signature"]
    )


def test_timeouts_back_off_exponentially_and_six_failures_give_up(
    vendor_a, manager_a, vendor_labeler, django_capture_on_commit_callbacks
):
    with webhook_receiver("sleep", 503, sleep_seconds=1.5) as rx:
        services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        _suspend(vendor_labeler, manager_a, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        for _ in range(services.MAX_ATTEMPTS - 1):
            delivery.refresh_from_db()
            assert delivery.status == D.PENDING
            attempt = services.webhook_deliver(
                delivery_id=delivery.pk, now=delivery.next_attempt_at + timedelta(seconds=1)
            )
            assert attempt is not None
    attempts = list(WebhookAttempt.objects.order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4, 5, 6]
    assert "timed out" in attempts[0].error and attempts[0].status_code is None
    assert [a.status_code for a in attempts[1:]] == [503] * 5
    waits = [
        round((a.next_attempt_at - a.started_at).total_seconds() / 10) * 10 for a in attempts[:-1]
    ]
    assert waits == [round(d / 10) * 10 for d in services.RETRY_DELAYS]
    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert attempts[-1].next_attempt_at is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (D.FAILED, 6, None)
    # Given up: nothing attempts it again.
    assert services.webhook_deliver(delivery_id=delivery.pk) is None


def test_the_sweep_attempts_what_is_due(
    vendor_a, manager_a, vendor_labeler, django_capture_on_commit_callbacks
):
    with webhook_receiver(500, 200) as rx:
        services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        _suspend(vendor_labeler, manager_a, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        # As if the queued retry was lost and its time has come.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=delivery.next_attempt_at - timedelta(hours=1)
        )
        # An endpoint turned off is not called; its deliveries wait for it.
        endpoint = delivery.endpoint
        services.webhook_endpoint_update(actor=None, endpoint=endpoint, data={"is_active": False})
        assert tasks.webhook_retry_sweep() == 0
        assert services.webhook_deliver(delivery_id=delivery.pk) is None
        services.webhook_endpoint_update(actor=None, endpoint=endpoint, data={"is_active": True})
        assert tasks.webhook_retry_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(rx.received)) == (D.SUCCEEDED, 2, 2)


def test_with_a_broker_the_next_attempt_is_queued_for_its_time(
    vendor_a, manager_a, vendor_labeler, django_capture_on_commit_callbacks, settings, monkeypatch
):
    queued = []
    with webhook_receiver(500) as rx:
        services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        monkeypatch.setattr(services, "_deliver_soon", lambda ids: None)
        _suspend(vendor_labeler, manager_a, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        settings.CELERY_TASK_ALWAYS_EAGER = False
        monkeypatch.setattr(
            tasks.webhook_deliver, "apply_async", lambda args, eta: queued.append((args, eta))
        )
        tasks.webhook_deliver(delivery.pk)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 500
    assert queued == [((delivery.pk,), attempt.next_attempt_at)]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_attempt_the_same_delivery_at_once(vendor_a, manager_a, vendor_labeler):
    with webhook_receiver("sleep", sleep_seconds=0.3) as rx:
        endpoint = services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=rx.url)
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            vendor=vendor_a,
            event=Event.LABELER_STATUS_CHANGED,
            dedupe_key="race",
            body="{}",
            next_attempt_at=endpoint.created_at,
        )
        results = race(4, lambda i: services.webhook_deliver(delivery_id=delivery.pk))
    assert not [r for r in results if isinstance(r, Exception)]
    assert len([r for r in results if r is not None]) == 1
    assert len(rx.received) == 1
    assert WebhookAttempt.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://user:pw@93.184.215.14/hook",
    ],
)
def test_private_and_odd_urls_are_refused_by_default(url, vendor_a, manager_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url(url, allow_private=False)
    with pytest.raises(ValidationError) as exc:
        services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url=url)
    assert "url" in exc.value.message_dict


def test_a_public_address_is_accepted():
    webhooks.check_url("https://93.184.215.14/hooks", allow_private=False)


def test_delivery_refuses_a_private_address_without_calling_it(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with webhook_receiver(200) as rx:
        outcome = webhooks.post(
            rx.url, b"{}", secret="s", event="x", timeout=0.5, allow_private=False
        )
    assert outcome.status_code is None and outcome.error.startswith("refused")
    assert rx.received == []


def test_a_redirect_is_a_failure_and_not_followed():
    with webhook_receiver(302) as rx:
        outcome = webhooks.post(
            rx.url, b"{}", secret="s", event="x", timeout=0.5, allow_private=True
        )
    assert (outcome.ok, outcome.status_code, len(rx.received)) == (False, 302, 1)


def test_the_demo_sink_accepts_a_signed_body_and_refuses_a_tampered_one():
    from notifications.management.commands.webhook_sink import describe

    body = b'{"data":{"to_status":"suspended"},"id":"e1","type":"labeler.status_changed"}'
    signature = webhooks.sign("whsec_a", body)
    status, line = describe(body, signature, ["whsec_other", "whsec_a"])
    assert status == 200 and line.startswith("verified labeler.status_changed e1")
    assert describe(body + b" ", signature, ["whsec_a"])[0] == 401
    assert describe(body, signature, ["whsec_other"])[0] == 401
    assert describe(body, "", ["whsec_a"])[0] == 401
