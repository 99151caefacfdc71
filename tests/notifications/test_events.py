"""Each event reaches the right people through the real services and signals (Celery is eager in
the tests; after-commit callbacks are run by ``django_capture_on_commit_callbacks``): a quality
rule firing and a status change reach the labeler and their vendor's managers (never another
vendor's), a major guide version the labelers who work on its projects, a qualification about
to expire its holder once, a flag's answer its labeler — alike for a control task and a real
one. Preferences are respected, a repeated event sends nothing twice, a rolled-back change sends
nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from assignments import services as work_services
from assignments.services import review as review_services
from notifications import services, tasks
from notifications.models import Event, Notification, WebhookDelivery
from qc.models import GuideVersion, QualityRule
from qc.services import rules as rule_services
from tests.assignments.factories import (
    CANARY,
    AlwaysControl,
    NeverControl,
    make_project,
    with_controls,
)
from tests.conftest import requires_postgres
from tests.factories import UserFactory, make_labeler, race
from tests.notifications.factories import mails_to, with_email
from tests.qc.factories import GuideFactory, make_rule, publish_version, record_checks
from tests.qc.quiz_factories import make_qualification_type
from workforce import services as workforce_services

pytestmark = pytest.mark.django_db

A = QualityRule.Action
LABELER_MAIL = "acme1@example.test"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a block as if it committed: its after-commit callbacks (the receivers' tasks) run."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _fire(action: str, labeler, commit, **rule_values):
    project = make_project(tasks=1, name="Pole inspection")
    make_rule(action, project_id=project.pk, name="Accuracy floor", **rule_values)
    record_checks(labeler, "0" * 12, project_id=project.pk)
    with commit():
        fired = rule_services.rules_evaluate(labeler_id=labeler.pk, project_id=project.pk)
    assert len(fired) == 1
    return fired[0]


def _grant(labeler, qualification_type, *, days: int | None):
    return workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=qualification_type,
        source="manual",
        reason="test",
        valid_days=days,
    )


# -- quality rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "subject"),
    [
        (A.WARN, "A quality check on Pole inspection"),
        (A.PAUSE_ON_PROJECT, "You are paused on Pole inspection"),
        (A.SUSPEND, "Your LabelForce account is suspended"),
        (A.REVOKE_QUALIFICATION, "Your qualification Bbox Basics was withdrawn"),
    ],
)
def test_a_rule_firing_reaches_the_labeler_and_their_vendors_managers(
    action, subject, vendor_labeler, manager_a, manager_b, commit
):
    extra = {}
    if action == A.REVOKE_QUALIFICATION:
        qualification = make_qualification_type("bbox-basics", "Bbox Basics")
        _grant(vendor_labeler, qualification, days=None)
        extra["qualification_type"] = qualification
    _fire(action, vendor_labeler, commit, **extra)

    rule_mails = [m for m in mails_to(LABELER_MAIL) if m.subject == subject]
    assert len(rule_mails) == 1
    assert "Accuracy floor" in rule_mails[0].body and "Pole inspection" in rule_mails[0].body
    to_manager = [m for m in mails_to(manager_a.email) if "A quality rule acted" in m.body]
    assert len(to_manager) == 1
    assert vendor_labeler.public_code in to_manager[0].subject
    assert mails_to(manager_b.email) == []
    # The rule's own words to the labeler speak of their work, not of control tasks.
    assert not re.search(r"\b(gold|control)\b", rule_mails[0].body, re.I)


def test_lowering_the_control_rate_tells_nobody(vendor_labeler, manager_a, commit):
    _fire(A.LOWER_CONTROL_RATE, vendor_labeler, commit, control_rate=0.5)
    assert mail.outbox == []
    assert not Notification.objects.exists()


# -- status changes ------------------------------------------------------------------------------


def test_a_status_change_reaches_the_labeler_and_their_vendors_managers_only(
    vendor_labeler, manager_a, manager_b, ops_user, commit
):
    with commit():
        workforce_services.labeler_suspend(
            actor=ops_user, labeler=vendor_labeler, reason="Missed three shifts"
        )
    (to_labeler,) = mails_to(LABELER_MAIL)
    assert to_labeler.subject == "Your LabelForce account is now suspended"
    assert "Missed three shifts" in to_labeler.body
    (to_manager,) = mails_to(manager_a.email)
    assert (
        "active to suspended" in to_manager.body and vendor_labeler.public_code in to_manager.body
    )
    assert mails_to(manager_b.email) == []
    log = Notification.objects.order_by("email")
    assert [(n.email, n.event, n.status) for n in log] == [
        (LABELER_MAIL, Event.LABELER_STATUS_CHANGED, "sent"),
        (manager_a.email, Event.LABELER_STATUS_CHANGED, "sent"),
    ]
    assert all(n.sent_at and not n.error for n in log)


def test_an_internal_labelers_change_mails_no_vendor_manager(internal_labeler, manager_a, commit):
    with commit():
        workforce_services.labeler_suspend(actor=None, labeler=internal_labeler, reason="Leave")
    assert [m.to for m in mail.outbox] == [[internal_labeler.user.email]]


def test_whoever_made_the_change_is_not_mailed_about_it(vendor_a, manager_a, commit):
    second = UserFactory(username="manager_a2")
    workforce_services.vendor_manager_add(actor=None, vendor=vendor_a, user=second)
    labeler = with_email(make_labeler(vendor=vendor_a, status="invited", username="newbie"))
    with commit():
        workforce_services.labeler_transition(
            actor=labeler.user, labeler=labeler, to_status="onboarding", reason="Accepted"
        )
    # The labeler accepted their invitation: only the managers hear of it.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager_a.email, second.email])
    mail.outbox.clear()
    with commit():
        workforce_services.labeler_transition(
            actor=manager_a, labeler=labeler, to_status="active", reason="Trained"
        )
    # A manager activated them: the labeler and the other manager hear of it, not the actor.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(["newbie@example.test", second.email])


# -- preferences, dedupe, rollback ---------------------------------------------------------------


def test_muted_events_are_not_mailed_and_others_still_are(vendor_labeler, manager_a, commit):
    services.preferences_set(
        user=vendor_labeler.user, choices={Event.LABELER_STATUS_CHANGED: False}
    )
    with commit():
        workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="Paused")
    assert mails_to(LABELER_MAIL) == []
    assert len(mails_to(manager_a.email)) == 1

    services.preferences_set(user=manager_a, choices={Event.LABELER_STATUS_CHANGED: False})
    mail.outbox.clear()
    with commit():
        workforce_services.labeler_reactivate(actor=None, labeler=vendor_labeler, reason="Back")
    assert mail.outbox == []
    # Turned on again, the next one arrives.
    services.preferences_set(user=vendor_labeler.user, choices={Event.LABELER_STATUS_CHANGED: True})
    with commit():
        workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="Again")
    assert len(mails_to(LABELER_MAIL)) == 1


def test_a_repeated_event_sends_nothing_twice(vendor_a, vendor_labeler, manager_a, commit):
    services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url="http://127.0.0.1:9/")
    with commit():
        workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="Paused")
    change = vendor_labeler.status_changes.first()
    assert len(mail.outbox) == 2
    # The task retried, and the service called again: nothing new is recorded or sent.
    tasks.event_notify(Event.LABELER_STATUS_CHANGED, change.pk)
    again = services.event_notify(event=Event.LABELER_STATUS_CHANGED, object_id=change.pk)
    assert again == {"mails": [], "deliveries": []}
    assert len(mail.outbox) == 2
    assert Notification.objects.count() == 2
    assert WebhookDelivery.objects.count() == 1


def test_a_pending_mail_is_sent_once_by_the_sweep(vendor_labeler, commit, monkeypatch):
    monkeypatch.setattr(services, "notification_send", lambda notification_id: False)
    with commit():
        workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="Paused")
    monkeypatch.undo()
    assert mail.outbox == []
    later = timezone.now() + timedelta(seconds=services.EMAIL_STALE_SECONDS + 1)
    assert services.notifications_send_stale(now=later) == 1
    assert services.notifications_send_stale(now=later) == 0
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_sends_nothing(vendor_a, vendor_labeler, manager_a, commit):
    services.webhook_endpoint_create(actor=manager_a, vendor=vendor_a, url="http://127.0.0.1:9/")
    with commit(), pytest.raises(RuntimeError), transaction.atomic():
        workforce_services.labeler_suspend(actor=None, labeler=vendor_labeler, reason="Oops")
        raise RuntimeError("something after the change failed")
    assert mail.outbox == []
    assert not Notification.objects.exists()
    assert not WebhookDelivery.objects.exists()


# -- guide versions ------------------------------------------------------------------------------


def test_a_major_guide_version_reaches_the_labelers_of_its_projects(
    vendor_labeler, internal_labeler, commit
):
    guide = GuideFactory(slug="poles-guide", name="Poles guide")
    with commit():
        publish_version(guide)  # 1.0, before anyone worked: nobody to tell
    project = make_project(tasks=2, name="Pole inspection")
    work_services.assignment_claim_next(labeler=vendor_labeler, project_id=project.pk)
    project.guide = guide
    project.save(update_fields=["guide"])

    with commit():
        publish_version(guide, bump=GuideVersion.Bump.MINOR)  # 1.1: no acknowledgement needed
    assert mail.outbox == []
    with commit():
        publish_version(guide, bump=GuideVersion.Bump.MAJOR, change_summary="Rust is a defect.")
    (message,) = mail.outbox
    assert message.to == [LABELER_MAIL]
    assert message.subject == "Poles guide 2.0: read and acknowledge it"
    assert "Rust is a defect." in message.body
    assert f"https://labelforce.example.test/labeler/guides/{guide.pk}/" in message.body
    assert mails_to(internal_labeler.user.email) == []


# -- qualifications expiring ---------------------------------------------------------------------


def test_a_qualification_expiring_within_7_days_is_told_once(vendor_a, vendor_labeler, manager_a):
    soon = make_qualification_type("boxes", "Boxes")
    later = make_qualification_type("choices", "Choices")
    grant = _grant(vendor_labeler, soon, days=5)
    _grant(vendor_labeler, later, days=30)
    services.webhook_endpoint_create(
        actor=manager_a,
        vendor=vendor_a,
        url="http://127.0.0.1:9/",
        events=[Event.QUALIFICATION_EXPIRING],
    )
    assert tasks.qualification_expiry_notify() == 1
    assert tasks.qualification_expiry_notify() == 0  # the next day's sweep: already told
    (message,) = mail.outbox
    assert message.subject == "Your qualification Boxes expires soon"
    assert message.to == [LABELER_MAIL]
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == Event.QUALIFICATION_EXPIRING and '"slug":"boxes"' in delivery.body

    # Extended, it is told again about the new date when that comes near.
    _grant(vendor_labeler, soon, days=6)
    assert grant.pk != vendor_labeler.qualifications.live().get(qualification_type=soon).pk
    assert tasks.qualification_expiry_notify() == 1


# -- flags ---------------------------------------------------------------------------------------


def _normalized(body: str, labeler) -> str:
    body = body.replace(labeler.user.get_username(), "NAME")
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \w+", "WHEN", body)


def test_a_flags_answer_reaches_its_labeler_alike_for_a_control_task(commit):
    project = make_project(tasks=3, overlap=2, name="Pole inspection")
    with_controls(project, n=2)
    labelers = {}
    for is_control, rng in ((False, NeverControl()), (True, AlwaysControl())):
        labeler = with_email(make_labeler(username=f"flagger{int(is_control)}"))
        claim = work_services.assignment_claim_next(labeler=labeler, project_id=project.pk, rng=rng)
        assert claim.assignment.is_control is is_control
        work_services.assignment_submit(
            labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
        )
        review_services.assignment_flag(
            labeler=labeler, assignment_id=claim.assignment.pk, question="Is this rust or ok?"
        )
        labelers[is_control] = labeler
    senior = make_labeler(seniority="senior", username="senior9")
    for _ in range(2):
        claim = review_services.review_claim_next(reviewer=senior)
        with commit():
            review_services.review_resolve(
                reviewer=senior, review_id=claim.review.pk, answer="rust", note="Orange flakes."
            )

    texts = {}
    for is_control, labeler in labelers.items():
        (message,) = mails_to(labeler.user.email)
        assert message.subject == "Your question on Pole inspection was answered"
        assert "Is this rust or ok?" in message.body and "rust" in message.body
        assert "Orange flakes." in message.body
        assert CANARY not in message.body
        assert not re.search(r"gold|control|honeypot", message.body, re.I)
        texts[is_control] = (message.subject, _normalized(message.body, labeler))
    assert texts[True] == texts[False]


# -- drift (ops) ---------------------------------------------------------------------------------


def test_a_drift_event_is_mailed_to_ops_once(ops_user, manager_a, vendor_labeler, commit):
    from assignments.models import Batch, DriftEvent
    from assignments.signals import drift_detected

    project = make_project(tasks=1, name="Pole inspection")
    batch = Batch.objects.create(project=project, source="test")
    with commit(), transaction.atomic():
        event = DriftEvent.objects.create(
            project=project,
            batch=batch,
            statistic=31.2,
            dof=2,
            p_value=0.00002,
            n=40,
            baseline_n=400,
            observed={"ok": 5, "rust": 35},
            expected={"ok": 0.8, "rust": 0.2},
            detected_at=timezone.now(),
        )
        drift_detected.send(sender=DriftEvent, event=event)
    (message,) = mail.outbox
    assert message.to == [ops_user.email]
    assert message.subject == f"Label drift in Pole inspection, batch {batch.pk}"
    assert "p = 2e-05" in message.body
    assert services.event_notify(event=Event.DRIFT_DETECTED, object_id=event.pk)["mails"] == []
    assert len(mail.outbox) == 1
    assert Event.DRIFT_DETECTED in services.preferences_get(user=ops_user)
    assert Event.DRIFT_DETECTED not in services.preferences_get(user=manager_a)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_racing_tasks_of_one_event_send_each_mail_once(vendor_labeler, manager_a):
    from workforce.models import LabelerStatusChange

    # Written without the service, so no receiver has told anyone yet.
    change = LabelerStatusChange.objects.create(
        labeler=vendor_labeler, from_status="active", to_status="suspended", reason="Race"
    )
    results = race(
        4,
        lambda i: services.event_notify(event=Event.LABELER_STATUS_CHANGED, object_id=change.pk),
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([LABELER_MAIL, manager_a.email])
    assert Notification.objects.filter(status="sent").count() == 2
