"""Quality rules that act (qc.services.rules): validation, evaluation over the last N
observations with the Wilson interval, once per breach (also under real concurrency on
PostgreSQL), clearing and firing again, each action and its reversal, the sweep, and a query
count that does not grow with the number of rules.

The helpers at the top (``record_checks``, ``record_outcomes``, ``make_rule``) are shared with
the API and admin tests of rules."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assignments.tasks import labeler_rules_evaluate, quality_rules_sweep
from config.errors import Conflict, NotFound
from qc.models import ControlRate, GoldCheck, QualityRule, RuleFiring
from qc.selectors import rules as selectors
from qc.services import rules as services
from qc.stats import wilson
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race
from tests.qc.factories import (
    PROJECT,
    make_rule,
    record_checks,
    record_outcomes,
)
from tests.qc.quiz_factories import make_qualification_type
from workforce import services as workforce_services
from workforce.models import Labeler, LabelerStatusChange, Qualification

pytestmark = pytest.mark.django_db

A = QualityRule.Action
ST = RuleFiring.Status
OTHER_PROJECT = 7002

# Rules are decided on the facts recorded before the start of the day (qc.services.rules):
# these tests record their facts yesterday.


@pytest.fixture
def labeler(vendor_a):
    return make_labeler(vendor=vendor_a, username="ruled1")


# -- defining rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"threshold": Decimal("1.2")}, "threshold"),
        ({"threshold": Decimal("-0.1")}, "threshold"),
        ({"threshold": "0.8125"}, "threshold"),
        ({"window": 0}, "window"),
        ({"min_n": 0}, "min_n"),
        ({"window": 10, "min_n": 11}, "min_n"),
        ({"metric": "speed"}, "metric"),
        ({"bound": "middle"}, "bound"),
        ({"comparison": "near"}, "comparison"),
        ({"name": "  "}, "name"),
    ],
)
def test_rule_create_rejects_bad_values_per_field(overrides, field):
    with pytest.raises(ValidationError) as exc:
        make_rule(**overrides)
    assert field in exc.value.message_dict
    assert not QualityRule.objects.exists()


def test_revoke_needs_a_qualification_type_and_lower_rate_a_rate_in_range():
    with pytest.raises(ValidationError) as exc:
        make_rule(A.REVOKE_QUALIFICATION)
    assert set(exc.value.message_dict) == {"qualification_type"}
    with pytest.raises(ValidationError) as exc:
        make_rule(A.LOWER_CONTROL_RATE)
    assert set(exc.value.message_dict) == {"control_rate"}
    with pytest.raises(ValidationError) as exc:
        make_rule(A.LOWER_CONTROL_RATE, control_rate=0.6)
    assert set(exc.value.message_dict) == {"control_rate"}
    rule = make_rule(A.LOWER_CONTROL_RATE, control_rate=0.5)
    assert rule.control_rate == 0.5 and rule.qualification_type is None


def test_settings_an_action_does_not_use_are_stored_empty():
    qtype = make_qualification_type("poles")
    rule = make_rule(A.WARN, qualification_type=qtype, control_rate=0.1)
    assert rule.qualification_type is None and rule.control_rate is None


def test_unknown_project_is_a_field_error_when_the_caller_can_check():
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            actor=None,
            project_id=PROJECT,
            name="x",
            action=A.WARN,
            threshold="0.8",
            project_exists=lambda pk: False,
        )
    assert set(exc.value.message_dict) == {"project"}


def test_rule_update_validates_the_merged_values():
    rule = make_rule(window=20, min_n=10)
    with pytest.raises(ValidationError) as exc:
        services.rule_update(actor=None, rule=rule, data={"window": 5})
    assert set(exc.value.message_dict) == {"min_n"}
    with pytest.raises(ValidationError) as exc:
        services.rule_update(actor=None, rule=rule, data={"project_id": 3})
    assert set(exc.value.message_dict) == {"project_id"}
    rule = services.rule_update(actor=None, rule=rule, data={"window": 30, "threshold": "0.9"})
    assert (rule.window, rule.threshold) == (30, Decimal("0.900"))


# -- evaluation: once per breach --------------------------------------------------------------


def test_a_breach_fires_once_with_the_interval_in_its_inputs(labeler):
    rule = make_rule()
    record_checks(labeler, "1010101010")  # 5 of 10

    fired = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)

    assert [f.rule_id for f in fired] == [rule.pk]
    firing = fired[0]
    assert (firing.status, firing.action, firing.project_id) == (ST.OPEN, A.WARN, PROJECT)
    interval = wilson(5, 10)
    # Hand-checked: 5/10 → Wilson 95% [0.2366, 0.7634].
    assert firing.inputs["lower"] == pytest.approx(0.2366, abs=1e-4)
    assert firing.inputs["upper"] == pytest.approx(0.7634, abs=1e-4)
    assert firing.inputs == {
        "metric": "gold_accuracy",
        "n": 10,
        "successes": 5,
        "rate": 0.5,
        "lower": interval.low,
        "upper": interval.high,
        "window": 20,
        "min_n": 10,
        "threshold": "0.800",
        "bound": "upper",
        "comparison": "below",
        "value": interval.high,
    }
    # The same breach, evaluated again: nothing more.
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    record_checks(labeler, "0")
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    assert RuleFiring.objects.count() == 1


def test_fewer_observations_than_min_n_fire_nothing(labeler):
    make_rule(min_n=10)
    record_checks(labeler, "0" * 9)
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    record_checks(labeler, "0")
    assert len(services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)) == 1


def test_only_the_last_window_counts_and_uncounted_checks_do_not(labeler):
    make_rule(window=20)
    record_checks(labeler, "0" * 30 + "1" * 20)  # the last 20 are all right
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []

    # The same 20 right answers, but checks against a quarantined item do not count: the last
    # 20 counted are then wrong.
    GoldCheck.objects.filter(labeler=labeler, correct=True).update(counted=False)
    assert len(services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)) == 1


def test_other_projects_and_labelers_do_not_count(labeler, vendor_a):
    make_rule()
    other = make_labeler(vendor=vendor_a)
    record_checks(labeler, "0" * 10, project_id=OTHER_PROJECT)
    record_checks(other, "0" * 10)
    record_checks(labeler, "1" * 10)
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    assert len(services.rules_evaluate(labeler_id=other.pk, project_id=PROJECT)) == 1


def test_lower_bound_above_and_the_final_agreement_metric(labeler):
    good = make_rule(
        name="reliable",
        metric=QualityRule.Metric.FINAL_AGREEMENT,
        bound="lower",
        comparison="above",
        threshold="0.700",
        window=30,
    )
    make_rule(name="rate", bound="rate", threshold="0.5")  # gold: no checks at all
    record_outcomes(labeler, "0" + "1" * 29)  # 29 of 30: lower ≈ 0.833 > 0.7

    fired = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)

    assert [f.rule_id for f in fired] == [good.pk]
    assert (fired[0].inputs["n"], fired[0].inputs["successes"]) == (30, 29)
    assert fired[0].inputs["lower"] == pytest.approx(wilson(29, 30).low)
    assert fired[0].inputs["lower"] == pytest.approx(0.8333, abs=1e-4)


def test_window_counts_answers_every_window_in_one_query(labeler):
    record_checks(labeler, "0000011111")  # newest five right
    with CaptureQueriesContext(connection) as ctx:
        counts = services.window_counts(
            metric="gold_accuracy", labeler_id=labeler.pk, project_id=PROJECT, windows=[3, 5, 8, 50]
        )
    assert len(ctx.captured_queries) == 1
    assert counts == {3: (3, 3), 5: (5, 5), 8: (8, 5), 50: (10, 5)}


def test_back_within_the_rule_clears_a_warning_and_the_next_breach_fires_again(labeler):
    rule = make_rule(window=20)
    record_checks(labeler, "0" * 10)
    first = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]

    record_checks(labeler, "1" * 20)
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    first.refresh_from_db()
    assert first.status == ST.CLEARED and first.cleared_at is not None

    record_checks(labeler, "0" * 20)
    second = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    assert [f.rule_id for f in second] == [rule.pk] and second[0].pk != first.pk
    assert RuleFiring.objects.filter(status=ST.OPEN).count() == 1


def test_query_count_does_not_grow_with_the_number_of_rules(labeler, vendor_a):
    def evaluate_queries(n_rules: int, project_id: int, results: str) -> int:
        for i in range(n_rules):
            make_rule(
                project_id=project_id,
                name=f"r{i}",
                window=10 + i,
                metric=("gold_accuracy", "final_agreement")[i % 2],
            )
        who = make_labeler(vendor=vendor_a)
        record_checks(who, results, project_id=project_id)
        record_outcomes(who, results, project_id=project_id)
        with CaptureQueriesContext(connection) as ctx:
            fired = services.rules_evaluate(labeler_id=who.pk, project_id=project_id)
        assert len(fired) == (n_rules if "0" in results else 0)
        return len(ctx.captured_queries)

    quiet_few = evaluate_queries(2, 8001, "1" * 30)
    quiet_many = evaluate_queries(12, 8002, "1" * 30)
    firing_few = evaluate_queries(2, 8003, "0" * 30)
    firing_many = evaluate_queries(12, 8004, "0" * 30)
    assert quiet_few == quiet_many == 4  # rules, firings, one aggregate per metric
    assert firing_few == firing_many
    assert firing_many <= 9  # + savepoint, the labeler, one INSERT … RETURNING, the reload


# -- the actions and their reversal ---------------------------------------------------------


def test_pause_stays_open_until_reversed_and_the_selectors_see_it(labeler, ops_user):
    make_rule(A.PAUSE_ON_PROJECT)
    record_checks(labeler, "0" * 10)
    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]
    assert selectors.labeler_paused_on_project(labeler.pk, PROJECT)
    assert not selectors.labeler_paused_on_project(labeler.pk, OTHER_PROJECT)
    paused = Labeler.objects.annotate(
        paused=Exists(selectors.open_pauses().filter(labeler_id=OuterRef("pk"), project_id=PROJECT))
    )
    assert paused.get(pk=labeler.pk).paused

    record_checks(labeler, "1" * 20)  # (cannot happen while paused; even so it stays)
    services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    firing.refresh_from_db()
    assert firing.status == ST.OPEN

    reversed_ = services.rule_firing_reverse(
        actor=ops_user, firing_id=firing.pk, reason="Gold item was wrong."
    )
    assert (reversed_.status, reversed_.reversed_by, reversed_.reverse_reason) == (
        ST.REVERSED,
        ops_user,
        "Gold item was wrong.",
    )
    assert reversed_.reversed_at is not None
    assert not selectors.labeler_paused_on_project(labeler.pk, PROJECT)
    with pytest.raises(Conflict) as exc:
        services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="again")
    assert exc.value.code == "already_reversed"


def test_after_a_reversal_the_rule_fires_again_only_after_a_recovery(labeler, ops_user):
    make_rule(A.PAUSE_ON_PROJECT)
    record_checks(labeler, "0" * 10)
    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]
    services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="give a chance")

    record_checks(labeler, "0")  # the same breach goes on
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    record_checks(labeler, "1" * 20)  # back within: the breach is over
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    firing.refresh_from_db()
    assert firing.status == ST.REVERSED and firing.cleared_at is not None
    record_checks(labeler, "0" * 20)  # a new breach
    assert len(services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)) == 1


def test_reversal_needs_a_reason_an_existing_firing_and_refuses_a_cleared_one(labeler, ops_user):
    make_rule()
    record_checks(labeler, "0" * 10)
    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]
    with pytest.raises(ValidationError):
        services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="  ")
    with pytest.raises(NotFound):
        services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk + 999, reason="x")
    record_checks(labeler, "1" * 20)
    services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    with pytest.raises(Conflict) as exc:
        services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="x")
    assert exc.value.code == "already_cleared"


def test_revoke_takes_the_grant_away_and_reversal_grants_it_again(labeler, ops_user):
    qtype = make_qualification_type("poles")
    grant = workforce_services.qualification_grant(
        actor=None,
        labeler=labeler,
        qualification_type=qtype,
        source="manual",
        reason="certified",
        score=Decimal("0.9"),
        valid_days=30,
    )
    rule = make_rule(A.REVOKE_QUALIFICATION, qualification_type=qtype, name="Requalify")
    record_checks(labeler, "1" * 5 + "0" * 10)  # 5/15: [0.152, 0.583]

    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]

    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by is None
    assert f"#{rule.pk} 'Requalify'" in grant.revoke_reason
    assert "[0.152, 0.583]" in grant.revoke_reason
    assert firing.inputs["revoked_qualification_id"] == grant.pk

    services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="Audit was off.")

    again = Qualification.objects.get(
        labeler=labeler, revoked_at__isnull=True, superseded_at__isnull=True
    )
    assert again.pk != grant.pk
    assert (again.source, again.granted_by, again.score) == ("manual", ops_user, Decimal("0.9"))
    assert again.source_ref == f"rule-firing:{firing.pk}"
    assert "Audit was off." in again.reason
    assert again.expires_at >= grant.expires_at  # rounded up to a whole day
    assert again.expires_at - grant.expires_at < timedelta(days=1)


def test_revoke_without_a_live_grant_is_recorded_and_reversal_grants_nothing(labeler, ops_user):
    qtype = make_qualification_type("poles")
    make_rule(A.REVOKE_QUALIFICATION, qualification_type=qtype)
    record_checks(labeler, "0" * 10)
    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]
    assert "skipped" in firing.inputs
    services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="x")
    assert not Qualification.objects.filter(labeler=labeler).exists()


def test_suspend_records_history_without_actor_and_reversal_reactivates(labeler, ops_user):
    rule = make_rule(A.SUSPEND, name="Suspend on poor gold")
    record_checks(labeler, "0" * 10)

    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]

    labeler.refresh_from_db()
    assert labeler.status == Labeler.Status.SUSPENDED
    change = LabelerStatusChange.objects.filter(labeler=labeler).latest("id")
    assert (change.to_status, change.actor) == ("suspended", None)
    assert f"Quality rule #{rule.pk}" in change.reason and "Wilson 95%" in change.reason
    assert firing.inputs["suspended"] is True

    services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="Mistake.")

    labeler.refresh_from_db()
    assert labeler.status == Labeler.Status.ACTIVE
    change = LabelerStatusChange.objects.filter(labeler=labeler).latest("id")
    assert (change.to_status, change.actor) == ("active", ops_user)
    assert "Mistake." in change.reason


def test_suspend_of_a_labeler_who_is_not_active_is_recorded_without_a_transition(vendor_a):
    labeler = make_labeler(vendor=vendor_a, status=Labeler.Status.SUSPENDED)
    make_rule(A.SUSPEND)
    record_checks(labeler, "0" * 10)
    history = LabelerStatusChange.objects.filter(labeler=labeler).count()

    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]

    assert firing.inputs["skipped"] == "The labeler was suspended, not active."
    assert LabelerStatusChange.objects.filter(labeler=labeler).count() == history


def test_lower_control_rate_sets_a_rule_rate_then_clears_it(labeler):
    make_rule(
        A.LOWER_CONTROL_RATE, bound="lower", comparison="above", threshold="0.9", control_rate=0.05
    )
    record_checks(labeler, "1" * 20)  # lower bound ≈ 0.839: not above 0.9 yet
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    make_rule(
        A.LOWER_CONTROL_RATE,
        name="long",
        window=60,
        min_n=60,
        bound="lower",
        comparison="above",
        threshold="0.9",
        control_rate=0.05,
    )
    record_checks(labeler, "1" * 40)  # 60/60: lower ≈ 0.940

    fired = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)

    assert [f.rule.name for f in fired] == ["long"]
    row = ControlRate.objects.get(labeler=labeler, project_id=PROJECT)
    assert row.rate == 0.05 and row.reason.startswith("rule:")

    record_checks(labeler, "0" * 10)  # 50/60: lower ≈ 0.72, back within
    services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    fired[0].refresh_from_db()
    assert fired[0].status == ST.CLEARED
    assert not ControlRate.objects.filter(labeler=labeler).exists()


def test_lower_control_rate_puts_an_adaptive_rate_back_on_reversal(labeler, ops_user):
    ControlRate.objects.create(
        project_id=PROJECT,
        labeler=labeler,
        rate=0.3,
        checks=12,
        correct=12,
        reason="adaptive: wide interval",
        updated_at=timezone.now(),
    )
    make_rule(
        A.LOWER_CONTROL_RATE, bound="rate", comparison="above", threshold="0.9", control_rate=0.1
    )
    record_checks(labeler, "1" * 10)
    firing = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)[0]
    row = ControlRate.objects.get(labeler=labeler)
    assert (row.rate, row.checks) == (0.1, 12)
    assert firing.inputs["control_rate_previous"] == {
        "rate": 0.3,
        "reason": "adaptive: wide interval",
    }

    services.rule_firing_reverse(actor=ops_user, firing_id=firing.pk, reason="keep sampling")

    row.refresh_from_db()
    assert (row.rate, row.reason, row.checks) == (0.3, "adaptive: wide interval", 12)


def test_deactivating_a_rule_clears_its_warnings_and_keeps_pauses(labeler):
    warn = make_rule(A.WARN)
    pause = make_rule(A.PAUSE_ON_PROJECT)
    record_checks(labeler, "0" * 10)
    services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)

    services.rule_update(actor=None, rule=warn, data={"is_active": False})
    services.rule_deactivate(actor=None, rule=pause)

    assert dict(RuleFiring.objects.values_list("action", "status")) == {
        A.WARN: ST.CLEARED,
        A.PAUSE_ON_PROJECT: ST.OPEN,
    }
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []


# -- entry points: the Celery tasks --------------------------------------------------------------


def test_task_and_sweep_evaluate_the_labelers_with_recent_facts(labeler, vendor_a):
    make_rule()
    record_checks(labeler, "0" * 10)
    assert labeler_rules_evaluate(labeler.pk, PROJECT) == 1
    assert labeler_rules_evaluate(labeler.pk, PROJECT) == 0

    recent = make_labeler(vendor=vendor_a)
    stale = make_labeler(vendor=vendor_a)
    unruled = make_labeler(vendor=vendor_a)
    record_checks(recent, "0" * 10)
    record_checks(stale, "0" * 10)
    GoldCheck.objects.filter(labeler=stale).update(checked_at=timezone.now() - timedelta(days=3))
    record_checks(unruled, "0" * 10, project_id=OTHER_PROJECT)

    assert quality_rules_sweep() == 1
    assert set(RuleFiring.objects.values_list("labeler_id", flat=True)) == {labeler.pk, recent.pk}
    assert quality_rules_sweep() == 0


# -- concurrency ------------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", [A.SUSPEND, A.WARN])
def test_racing_evaluations_fire_once(vendor_a, monkeypatch, action):
    """Every thread reads "no open firing" before any of them inserts (a barrier after the
    reads), so only the partial unique index and ON CONFLICT DO NOTHING keep it to one."""
    threads = 4
    labeler = make_labeler(vendor=vendor_a)
    make_rule(action)
    record_checks(labeler, "0" * 10)
    barrier = threading.Barrier(threads, timeout=20)
    real_counts = services.window_counts

    def counts_then_wait(**kwargs):
        result = real_counts(**kwargs)
        barrier.wait()
        return result

    monkeypatch.setattr(services, "window_counts", counts_then_wait)
    results = race(
        threads, lambda _: len(services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT))
    )

    assert sorted(results, key=str) == [0, 0, 0, 1], results
    assert RuleFiring.objects.filter(labeler=labeler).count() == 1
    suspensions = LabelerStatusChange.objects.filter(labeler=labeler, to_status="suspended")
    assert suspensions.count() == (1 if action == A.SUSPEND else 0)
