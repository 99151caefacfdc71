"""The demo's operations loops (demo.seed.operations): a drifting batch recorded by the drift
sweep, a flag answered and linked to a guide version and one left open, logged notifications,
Northwind's webhook endpoint at the demo receiver, a qualification expiring within 14 days; and
the receiver checks signatures."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from assignments.models import Batch, DriftEvent, Review, Task
from demo.seed.operations import (
    ANSWERED_QUESTION,
    DRIFT_RULE,
    F5_SOURCE,
    FLAGGER,
    OPEN_QUESTION,
    TRIAL_LABELER,
    WEBHOOK_DESCRIPTION,
    WEBHOOK_PATH,
)
from demo.seed.survey import F5_PHOTOS
from demo.seed.work import DEMO_PROJECT
from demo.views import webhook_receiver
from notifications import services as notify
from notifications import webhooks
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from operations.selectors import Cutoffs, expiring_qualifications
from qc.models import GuideVersion, QualityRule
from tests.factories import VendorFactory
from workforce.models import Labeler

BASE = "http://127.0.0.1:9"  # nothing listens (the discard port): deliveries wait


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", force=True, base_url=BASE, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "drift": DriftEvent.objects.count(),
        "reviews": Review.objects.count(),
        "notifications": Notification.objects.count(),
        "endpoints": WebhookEndpoint.objects.count(),
        "deliveries": WebhookDelivery.objects.count(),
        "batches": Batch.objects.count(),
        "rules": QualityRule.objects.count(),
    }


# Committed transactions, as in `make demo`: labels are decided after each submit commits, and
# the notifications go out after commit.
@pytest.mark.django_db(transaction=True)
def test_the_demo_runs_the_operations_loops(settings, client_for, client):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # as with DEBUG on (config/settings.py)
    output = _seed()
    now = timezone.now()

    # Drift: flight F5 is the project's third batch, fully decided, mostly woodpecker; the
    # sweep recorded its event against a baseline of at least 30 decided tasks and fired the
    # project's label_drift warn rule.
    batch = Batch.objects.get(project__slug=DEMO_PROJECT, source=F5_SOURCE)
    tasks = Task.objects.filter(batch=batch)
    assert tasks.count() == len(F5_PHOTOS)
    assert not tasks.filter(decided_at__isnull=True).exists()
    event = DriftEvent.objects.get(batch=batch)
    assert event.n == len(F5_PHOTOS) and event.baseline_n >= 30
    assert event.p_value < float(event.project.drift_alpha)
    assert max(event.observed, key=event.observed.get) == "woodpecker"
    assert event.observed["woodpecker"] > len(F5_PHOTOS) / 2
    assert event.rule.name == DRIFT_RULE["name"] and event.rule.metric == "label_drift"
    assert event.action == "warn" and event.acknowledged_at is None
    assert now - timedelta(days=14) < event.detected_at < now
    assert event.project.status == "active"  # a warning pauses nothing
    # Only the new batch drifted: the survey's batches are not fully decided.
    assert DriftEvent.objects.count() == 1

    # Flags: one answered by the senior, proposing a guide change, linked to a published
    # version of the project's guide; one open in the review queue; both the demo labeler's.
    answered = Review.objects.select_related("guide_version", "task").get(
        kind="flag", question=ANSWERED_QUESTION
    )
    assert answered.status == "resolved" and answered.proposes_guide_change
    assert answered.reviewer.user.username == "senior"
    assert answered.guide_version.status == GuideVersion.Status.PUBLISHED
    assert answered.guide_version.guide_id == answered.project.guide_id
    assert answered.answer == answered.task.final_answer == "ok"  # nothing overturned
    open_flag = Review.objects.get(kind="flag", question=OPEN_QUESTION)
    assert open_flag.status == "open" and open_flag.reviewer is None
    flagger = Labeler.objects.select_related("user").get(user__username=FLAGGER)
    assert {answered.assignment.labeler_id, open_flag.assignment.labeler_id} == {flagger.pk}
    mine = client_for(flagger.user).get("/api/v1/me/flags/")
    assert mine.status_code == 200
    assert ANSWERED_QUESTION in mine.content.decode() and OPEN_QUESTION in mine.content.decode()
    client.force_login(flagger.user)
    page = client.get("/labeler/flags/")
    assert page.status_code == 200 and "woodpecker" in page.content.decode().lower()

    # Notifications logged by the services the seed ran: the flag's answer to its labeler, the
    # drift to ops, rule firings and status changes, the expiry notice.
    logged = set(Notification.objects.values_list("event", "recipient__username"))
    assert ("flag.answered", flagger.user.username) in logged
    assert ("project.drift_detected", "ops") in logged
    assert ("qualification.expiring", TRIAL_LABELER) in logged
    assert {e for e, _ in logged} >= {"labeler.rule_fired", "labeler.status_changed"}

    # Northwind's webhook endpoint at the demo receiver, with the expiry notice's delivery.
    endpoint = WebhookEndpoint.objects.get(description=WEBHOOK_DESCRIPTION)
    assert endpoint.vendor.slug == "northwind" and endpoint.url == BASE + WEBHOOK_PATH
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event="qualification.expiring")
    assert json.loads(delivery.body)["type"] == "qualification.expiring"

    # A qualification expiring within 14 days (five), on the landing page's panel.
    expiring = expiring_qualifications(Cutoffs.at(now))
    trial = expiring.get(labeler__user__username=TRIAL_LABELER)
    assert timedelta(days=4) < trial.expires_at - now <= timedelta(days=5)

    # The report says where to look.
    for hint in (
        f"{BASE}/admin/ ",
        f"{BASE}/admin/assignments/driftevent/{event.pk}/change/",
        f"{BASE}/labeler/flags/",
        f"{BASE}/admin/notifications/webhookdelivery/",
        "Redeliver selected deliveries",
    ):
        assert hint in output, hint

    # A second run creates nothing.
    before = _counts()
    again = _seed()
    assert "created nothing" in again
    assert _counts() == before


# -- the demo receiver ---------------------------------------------------------------------------


def _post(body: bytes, signature: str, path: str = WEBHOOK_PATH):
    request = RequestFactory().post(
        path,
        body,
        content_type="application/json",
        headers={webhooks.SIGNATURE_HEADER: signature, webhooks.EVENT_HEADER: "labeler.rule_fired"},
    )
    return webhook_receiver(request)


@pytest.mark.django_db
def test_the_receiver_answers_204_to_a_signed_body_and_401_otherwise(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint = notify.webhook_endpoint_create(
        actor=None, vendor=VendorFactory(), url=BASE + WEBHOOK_PATH
    )
    body = b'{"event": "labeler.rule_fired", "data": {}}'
    good = webhooks.sign(endpoint.secret, body)

    assert _post(body, good).status_code == 204
    assert _post(body.replace(b"{}", b'{"x": 1}'), good).status_code == 401  # tampered body
    assert _post(body, webhooks.sign("whsec_other", body)).status_code == 401  # other secret
    assert _post(body, "").status_code == 401  # unsigned
    # Only the secret of an endpoint pointing at this path counts.
    assert _post(body, good, path="/demo/elsewhere/").status_code == 401
    assert webhook_receiver(RequestFactory().get(WEBHOOK_PATH)).status_code == 405
