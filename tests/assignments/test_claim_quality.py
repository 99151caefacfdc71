"""What quality control decides reaches the claim: a control answer is graded into a gold check
at submit, a quality rule that pauses a labeler on a project stops their next-task (403
``paused_on_project``) until ops reverse it, and a labeler's own control rate (adaptive control,
or a rule that lowered it) replaces the project's ratio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F

from assignments import services
from assignments.selectors.gate import project_gate
from config.errors import Forbidden
from qc.models import ControlRate, GoldCheck, RuleFiring
from qc.services import rules as rule_services
from tests.assignments.factories import (
    AlwaysControl,
    answer_controls,
    make_project,
    pause_rule,
    with_gold,
)
from tests.factories import make_labeler

pytestmark = pytest.mark.django_db


def test_control_answers_are_graded_at_submit(django_capture_on_commit_callbacks):
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    answer_controls(labeler, project, ["ok", "rust"], django_capture_on_commit_callbacks)
    checks = list(GoldCheck.objects.filter(labeler=labeler).order_by("checked_at", "id"))
    assert [(c.answer, c.correct, c.expected_class, c.counted) for c in checks] == [
        ("ok", True, "ok", True),
        ("rust", False, "ok", True),
    ]
    assert {c.project_id for c in checks} == {project.pk}


def test_a_rule_pauses_the_labeler_on_the_project_until_ops_reverse_it(
    django_capture_on_commit_callbacks, ops_user
):
    project = make_project()
    with_gold(project)
    pause_rule(project, actor=ops_user)
    labeler, other = make_labeler(), make_labeler()
    answer_controls(labeler, project, ["rust"] * 3, django_capture_on_commit_callbacks)
    # Rules read the facts of past days, in the periodic sweep: nothing fires on today's.
    rule_services.rules_sweep()
    assert not RuleFiring.objects.exists()
    GoldCheck.objects.filter(labeler=labeler).update(checked_at=F("checked_at") - timedelta(days=1))
    rule_services.rules_sweep()
    firing = RuleFiring.objects.get()
    assert (firing.labeler_id, firing.action, firing.status) == (
        labeler.pk,
        "pause_on_project",
        "open",
    )

    with pytest.raises(Forbidden) as refused:
        services.assignment_claim_next(labeler=labeler, project_id=project.pk)
    assert refused.value.code == "paused_on_project"
    # Another labeler of the same project is not affected.
    assert services.assignment_claim_next(labeler=other, project_id=project.pk) is not None

    rule_services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="Gold fixed")
    assert services.assignment_claim_next(labeler=labeler, project_id=project.pk) is not None


def test_adaptive_control_rate_is_what_the_claim_uses(django_capture_on_commit_callbacks):
    project = make_project(tasks=30)
    with_gold(project, n=30)
    project.adaptive_control = True
    project.control_floor = "0.02"
    project.save()
    labeler = make_labeler()
    answer_controls(labeler, project, ["ok"] * 12, django_capture_on_commit_callbacks)
    row = ControlRate.objects.get(labeler=labeler, project_id=project.pk)
    assert row.checks == 12 and row.correct == 12
    gate = project_gate(labeler=labeler, project_id=project.pk, now=row.updated_at)
    assert gate.control_rate == pytest.approx(row.rate)
    assert 0.02 <= gate.control_rate <= 0.5

    # Without adaptive control the project's ratio applies again, whatever the row says.
    project.adaptive_control = False
    project.save()
    gate = project_gate(labeler=labeler, project_id=project.pk, now=row.updated_at)
    assert gate.control_rate == pytest.approx(0.5)


def test_a_rule_lowered_rate_applies_without_adaptive_control(ops_user):
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    ControlRate.objects.create(
        labeler=labeler,
        project_id=project.pk,
        rate=0.05,
        reason="rule:Gold above 95% firing:1",
        updated_at=project.created_at,
    )
    gate = project_gate(labeler=labeler, project_id=project.pk, now=project.created_at)
    assert gate.control_rate == pytest.approx(0.05)
    # A project without control tasks serves none, whatever a rule wrote.
    project.control_ratio = 0
    project.control_gold_set = None
    project.save()
    gate = project_gate(labeler=labeler, project_id=project.pk, now=project.created_at)
    assert gate.control_rate == 0.0


def test_a_control_submit_stays_within_its_statement_budget(
    assert_max_statements, django_capture_on_commit_callbacks
):
    """Lock and store, as a real submit (SQLite: the count and the store apart, as for a real
    one); grading and the control rate follow after commit."""
    project = make_project()
    with_gold(project)
    labeler = make_labeler()
    claim = services.assignment_claim_next(
        labeler=labeler, project_id=project.pk, rng=AlwaysControl()
    )
    assert claim.assignment.is_control
    with django_capture_on_commit_callbacks(execute=True):
        with assert_max_statements(2 if connection.vendor == "postgresql" else 3):
            services.assignment_submit(
                labeler=labeler, assignment_id=claim.assignment.pk, answer="ok"
            )
        assert not GoldCheck.objects.exists()
    assert GoldCheck.objects.filter(labeler=labeler).count() == 1
