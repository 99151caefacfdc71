"""Label drift (issue 14, "Drift"): a batch whose final answers' class distribution differs from
the project's baseline (chi-square, qc.stats) records a drift event once, announces it, and
fires the project's label_drift rules (warn, pause the project); ops read the events in the
API and acknowledge them in the admin (assignments.services.drift)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from assignments.models import Batch, DriftEvent, Project, ProjectStatusChange, Task, TaskDecision
from assignments.services import drift
from assignments.signals import drift_detected
from qc.models import QualityRule
from qc.services import rules as rule_services
from qc.stats import chi_square_homogeneity
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import admin_url, race
from tests.qc.factories import rule_form

pytestmark = pytest.mark.django_db

BASELINE = {"ok": 50, "crack": 50}
DRIFTED = {"ok": 45, "crack": 5}  # p ~ 1e-6 against BASELINE
SIMILAR = {"ok": 20, "crack": 20}


def decided_batch(project: Project, counts: dict[str, int], *, undecided: int = 0, at=None):
    """A batch of ``project`` whose real tasks are decided as ``counts`` says (class → tasks),
    plus ``undecided`` tasks still without an answer; its decisions are dated ``at``."""
    at = at or timezone.now() - timedelta(minutes=5)
    batch = Batch.objects.create(project=project, source="test")
    answers = [label for label, n in counts.items() for _ in range(n)]
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                batch=batch,
                payload={},
                target=2,
                submitted=2,
                is_open=False,
                state="resolved",
                final_answer=answer,
                decided_by="consensus",
                decided_at=at,
            )
            for answer in answers
        ]
        + [
            Task(project=project, batch=batch, payload={}, target=2, submitted=1)
            for _ in range(undecided)
        ]
    )
    TaskDecision.objects.bulk_create(
        TaskDecision(
            task=task,
            project_id=project.pk,
            final_answer=task.final_answer,
            decided_by="consensus",
            decided_at=at,
        )
        for task in tasks
        if task.final_answer is not None
    )
    return batch


def drift_rule(project, action, threshold="0.010", **extra) -> QualityRule:
    return rule_services.rule_create(
        actor=None,
        project_id=project.pk,
        name=f"drift {action}",
        action=action,
        threshold=threshold,
        metric="label_drift",
        **extra,
    )


@pytest.fixture
def announced():
    events = []

    def receiver(sender, event, **kwargs):
        events.append(event.pk)

    drift_detected.connect(receiver, dispatch_uid="test_drift")
    yield events
    drift_detected.disconnect(dispatch_uid="test_drift")


def test_a_drifted_batch_records_one_event_with_the_test(announced):
    project = make_project(tasks=0)
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)

    event = drift.batch_drift_check(batch_id=batch.pk)

    statistic, dof, p = chi_square_homogeneity([[50, 50], [5, 45]])  # crack, ok
    assert (event.batch_id, event.project_id, event.dof) == (batch.pk, project.pk, dof)
    assert event.p_value == pytest.approx(p) and event.statistic == pytest.approx(statistic)
    assert p < float(project.drift_alpha)
    assert (event.n, event.baseline_n) == (50, 100)
    assert event.observed == {"crack": 5, "ok": 45}
    assert event.expected == {"crack": 0.5, "ok": 0.5}
    assert (event.rule, event.action) == (None, "")
    assert announced == [event.pk]

    again = drift.batch_drift_check(batch_id=batch.pk)
    assert again.pk == event.pk and DriftEvent.objects.count() == 1
    assert announced == [event.pk]  # announced once


def test_a_batch_like_its_baseline_records_nothing(announced):
    project = make_project(tasks=0)
    decided_batch(project, BASELINE)
    batch = decided_batch(project, SIMILAR)
    assert drift.batch_drift_check(batch_id=batch.pk) is None
    assert not DriftEvent.objects.exists() and announced == []


@pytest.mark.parametrize(
    "case",
    ["undecided task", "too few tasks", "small baseline", "first batch", "off", "boxes"],
)
def test_what_is_not_tested(case):
    project = make_project(tasks=0)
    if case == "boxes":
        Project.objects.filter(pk=project.pk).update(answer_type="boxes")
    if case == "off":
        Project.objects.filter(pk=project.pk).update(drift_alpha=Decimal("0"))
    if case != "first batch":
        decided_batch(project, {"ok": 10, "crack": 10} if case == "small baseline" else BASELINE)
    counts = {"ok": 25, "crack": 2} if case == "too few tasks" else DRIFTED
    batch = decided_batch(project, counts, undecided=1 if case == "undecided task" else 0)
    assert drift.batch_drift_check(batch_id=batch.pk) is None
    assert not DriftEvent.objects.exists()


def test_the_baseline_is_the_earlier_batches_only():
    project = make_project(tasks=0)
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    decided_batch(project, {"ok": 500, "crack": 50})  # later: not in batch's baseline
    event = drift.batch_drift_check(batch_id=batch.pk)
    assert event.baseline_n == 100


def test_a_warn_rule_fires_and_is_recorded(announced):
    project = make_project(tasks=0)
    rule = drift_rule(project, "warn")
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    event = drift.batch_drift_check(batch_id=batch.pk)
    assert (event.rule_id, event.action) == (rule.pk, "warn")
    assert Project.objects.get(pk=project.pk).status == "active"
    assert announced == [event.pk]


def test_a_pause_rule_pauses_the_project_with_history():
    project = make_project(tasks=0)
    drift_rule(project, "warn")
    pause = drift_rule(project, "pause_project", threshold="0.001")
    drift_rule(project, "pause_project", threshold="0.001", is_active=False)
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)

    event = drift.batch_drift_check(batch_id=batch.pk)

    assert (event.rule_id, event.action) == (pause.pk, "pause_project")
    assert Project.objects.get(pk=project.pk).status == "paused"
    change = ProjectStatusChange.objects.get(project=project, to_status="paused")
    assert change.actor is None and f"batch {batch.pk}" in change.reason
    assert f"p = {event.p_value:.2g}" in change.reason


def test_a_rule_whose_threshold_the_p_value_does_not_reach_does_not_fire():
    project = make_project(tasks=0)
    drift_rule(project, "pause_project", threshold="0.001")
    decided_batch(project, BASELINE)
    batch = decided_batch(project, {"ok": 34, "crack": 16})  # p ~ 0.5e-3 .. 0.03: check below
    result = drift.batch_drift_test(batch=batch, project=project)
    Project.objects.filter(pk=project.pk).update(drift_alpha=Decimal("0.05"))
    assert 0.001 <= result["p_value"] < 0.05
    event = drift.batch_drift_check(batch_id=batch.pk)
    assert (event.rule, event.action) == (None, "")
    assert Project.objects.get(pk=project.pk).status == "active"


def test_the_sweep_checks_recently_decided_batches_once():
    project = make_project(tasks=0)
    old = timezone.now() - timedelta(days=3)
    decided_batch(project, BASELINE, at=old)
    stale = decided_batch(project, DRIFTED, at=old)
    fresh = decided_batch(project, DRIFTED)
    assert drift.drift_sweep() == 1
    assert list(DriftEvent.objects.values_list("batch_id", flat=True)) == [fresh.pk]
    assert drift.drift_sweep() == 0
    assert drift.drift_sweep(hours=24 * 7) == 1  # a wider look finds the stale one
    assert DriftEvent.objects.filter(batch=stale).exists()


# -- rules that take drift --------------------------------------------------------------------


@pytest.mark.parametrize("action", ["suspend", "pause_on_project", "revoke_qualification"])
def test_a_drift_rule_only_warns_or_pauses_the_project(action):
    project = make_project(tasks=0)
    with pytest.raises(ValidationError) as raised:
        drift_rule(project, action)
    assert "action" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        drift_rule(project, "warn", threshold="0")
    assert set(raised.value.message_dict) == {"threshold"}


def test_a_labeler_rule_cannot_pause_the_project():
    project = make_project(tasks=0)
    with pytest.raises(ValidationError) as raised:
        rule_services.rule_create(
            actor=None, project_id=project.pk, name="x", action="pause_project", threshold="0.8"
        )
    assert set(raised.value.message_dict) == {"action"}
    assert not QualityRule.objects.exists()


def test_the_rules_api_answers_field_errors(client_for, ops_user):
    project = make_project(tasks=0)
    body = {"project": project.pk, "name": "Drift", "metric": "label_drift", "threshold": "0.01"}
    client = client_for(ops_user)
    response = client.post("/api/v1/quality-rules/", {**body, "action": "suspend"}, format="json")
    assert response.status_code == 400 and "action" in response.json()["fields"]
    response = client.post(
        "/api/v1/quality-rules/",
        {**body, "metric": "gold_accuracy", "action": "pause_project"},
        format="json",
    )
    assert response.status_code == 400 and set(response.json()["fields"]) == {"action"}
    response = client.post(
        "/api/v1/quality-rules/", {**body, "action": "pause_project"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_labeler_rule_evaluation_leaves_drift_rules_alone(vendor_labeler):
    project = make_project(tasks=0)
    drift_rule(project, "warn", threshold="1.000")
    assert rule_services.rules_evaluate(labeler_id=vendor_labeler.pk, project_id=project.pk) == []


# -- concurrency --------------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_record_one_event_and_pause_once():
    project = make_project(tasks=0)
    drift_rule(project, "pause_project")
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    announced = []
    drift_detected.connect(
        lambda sender, event, **kw: announced.append(event.pk), weak=False, dispatch_uid="race"
    )
    try:
        results = race(4, lambda i: drift.batch_drift_check(batch_id=batch.pk))
    finally:
        drift_detected.disconnect(dispatch_uid="race")
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r.pk for r in results} == {DriftEvent.objects.get().pk}
    assert len(announced) == 1
    assert ProjectStatusChange.objects.filter(project=project, to_status="paused").count() == 1


# -- API and admin ------------------------------------------------------------------------------


def test_ops_read_a_projects_drift_events(client_for, ops_user, manager_a, vendor_labeler):
    project = make_project(tasks=0)
    rule = drift_rule(project, "warn")
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    event = drift.batch_drift_check(batch_id=batch.pk)
    url = f"/api/v1/projects/{project.pk}/drift-events/"

    body = client_for(ops_user).get(url).json()
    (row,) = body["results"]
    assert (row["id"], row["batch"], row["project"], row["action"]) == (
        event.pk,
        batch.pk,
        project.pk,
        "warn",
    )
    assert row["rule"] == {"id": rule.pk, "name": rule.name, "threshold": "0.010"}
    assert row["observed"] == {"crack": 5, "ok": 45} and row["acknowledged_at"] is None
    assert (
        client_for(ops_user).get(f"/api/v1/projects/{project.pk + 99}/drift-events/").status_code
        == 404
    )
    assert client_for(manager_a).get(url).status_code == 403
    assert client_for(vendor_labeler.user).get(url).status_code == 403
    assert client_for(None).get(url).status_code == 401


def test_ops_acknowledge_events_in_the_admin(ops_client, ops_user):
    project = make_project(tasks=0)
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    event = drift.batch_drift_check(batch_id=batch.pk)
    listing = ops_client.get(admin_url(DriftEvent, "changelist"))
    assert listing.status_code == 200 and f"{event.p_value:.2g}" in listing.text
    detail = ops_client.get(admin_url(DriftEvent, "change", event.pk))
    assert detail.status_code == 200 and "baseline share" in detail.text
    response = ops_client.post(
        admin_url(DriftEvent, "changelist"),
        {"action": "acknowledge", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "Acknowledged 1 drift event(s)." in response.text
    event.refresh_from_db()
    assert event.acknowledged_by == ops_user and event.acknowledged_at is not None
    assert drift.drift_event_acknowledge(actor=ops_user, event_id=event.pk) is False


def test_the_project_quality_page_shows_its_drift_events(ops_client):
    project = make_project(tasks=0)
    drift_rule(project, "warn")
    decided_batch(project, BASELINE)
    batch = decided_batch(project, DRIFTED)
    page = ops_client.get(reverse("admin:assignments_project_quality", args=[project.pk]))
    assert "No drift event recorded" in page.text
    event = drift.batch_drift_check(batch_id=batch.pk)
    page = ops_client.get(reverse("admin:assignments_project_quality", args=[project.pk]))
    assert page.status_code == 200 and "Drift events" in page.text
    assert admin_url(DriftEvent, "change", event.pk) in page.text
    assert f"{event.p_value:.2g}" in page.text and "warn (drift warn)" in page.text


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"metric": "label_drift", "action": "suspend", "threshold": "0.010"}, "warns or pauses"),
        ({"action": "pause_project"}, "for label-drift rules only"),
    ],
)
def test_the_rules_admin_shows_the_drift_field_errors(ops_client, overrides, text):
    project = make_project(tasks=0)
    form = rule_form(project_id=project.pk, **overrides)
    response = ops_client.post(reverse("admin:qc_qualityrule_add"), form)
    assert response.status_code == 200 and text in response.text
    assert not QualityRule.objects.exists()
    form = rule_form(project_id=project.pk, metric="label_drift", action="pause_project")
    form["threshold"] = "0.010"
    assert ops_client.post(reverse("admin:qc_qualityrule_add"), form).status_code == 302
    assert QualityRule.objects.get().action == "pause_project"
