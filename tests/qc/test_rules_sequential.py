"""Sequential quality rules: the maths of the test (qc.sequential.MonitorParams, monitor,
pause_probability), its false-pause rate in a seeded simulation, and the rule through the
services — a labeler well below the threshold is paused, one at the threshold is not however
often the rule looks, a pause lifts itself on a passed lift quiz (or waits for ops), the test
restarts from a lift or a reversal — and the settings' validation in the service, the API and
the admin. The benchmark with tight intervals is bench/rule_simulation.py (BENCHMARKS.md)."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from assignments.tasks import quality_rules_sweep
from config.errors import Conflict
from qc.models import QualityRule, Quiz, QuizAttempt, RuleFiring
from qc.selectors import rules as selectors
from qc.selectors.quality_facts import start_of_day
from qc.sequential import (
    SCORE_UNIT,
    MonitorParams,
    calibrated_boundary,
    monitor,
    pause_probability,
)
from qc.services import quizzes as quiz_services
from qc.services import rules as services
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race
from tests.qc.factories import record_checks, rule_form
from tests.qc.quiz_factories import make_quiz
from workforce.models import LabelerStatusChange

A = QualityRule.Action
ST = RuleFiring.Status
PROJECT = 7101
RULE = MonitorParams(threshold=0.8, delta=0.1, alpha=0.05, beta=0.1)


# -- the maths (no database) ---------------------------------------------------------------------


def test_scores_are_walds_log_likelihood_ratio_on_the_grid():
    assert RULE.up == round(math.log(0.3 / 0.2) / SCORE_UNIT) == 81
    assert RULE.down == round(math.log(0.8 / 0.7) / SCORE_UNIT) == 27
    assert RULE.floor == round(math.log(0.1 / 0.95) / SCORE_UNIT) == -450
    assert RULE.wald_boundary == round(math.log(0.9 / 0.05) / SCORE_UNIT) == 578


@pytest.mark.parametrize(
    ("t", "delta", "alpha"), [(0.8, 0.1, 0.05), (0.9, 0.05, 0.01), (0.6, 0.2, 0.1)]
)
def test_the_boundary_is_the_lowest_that_keeps_false_pauses_at_alpha(t, delta, alpha):
    params = MonitorParams(threshold=t, delta=delta, alpha=alpha, beta=0.1)
    b = calibrated_boundary(params)
    assert pause_probability(params, t, b, params.horizon) <= alpha
    assert pause_probability(params, t, b - 1, params.horizon) > alpha
    # The floor makes Wald's own boundary too low for the stated rate over the horizon.
    assert b > params.wald_boundary
    assert pause_probability(params, t, params.wald_boundary, params.horizon) > alpha


def test_better_labelers_are_paused_less_and_worse_ones_almost_surely():
    b, h = RULE.boundary, RULE.horizon
    at, above = pause_probability(RULE, 0.8, b, h), pause_probability(RULE, 0.85, b, h)
    assert above < at <= 0.05
    assert pause_probability(RULE, 0.95, b, h) < 1e-6
    assert pause_probability(RULE, 0.7, b, 400) > 0.95  # threshold - delta
    assert pause_probability(RULE, 0.5, b, 100) > 0.99  # a spammer on a binary task


def _simulate(params: MonitorParams, p: float, runs: int, seed: int) -> np.ndarray:
    """Whether each of ``runs`` labelers of accuracy p was paused within the horizon."""
    rng = np.random.default_rng(seed)
    score = np.zeros(runs, dtype=np.int64)
    paused = np.zeros(runs, dtype=bool)
    for _ in range(params.horizon):
        right = rng.random(runs) < p
        score = np.where(right, np.maximum(params.floor, score - params.down), score + params.up)
        paused |= score >= params.boundary
    return paused


def test_seeded_simulation_of_labelers_at_the_threshold_is_within_the_band():
    runs = 4000
    rate = _simulate(RULE, 0.8, runs, seed=20261203).mean()
    exact = pause_probability(RULE, 0.8, RULE.boundary, RULE.horizon)
    band = 1.96 * math.sqrt(exact * (1 - exact) / runs)
    assert abs(rate - exact) <= band, (rate, exact, band)
    # and the stated rate is not exceeded beyond the simulation's own noise
    assert rate <= 0.05 + band


def test_when_the_sequence_is_looked_at_does_not_change_the_decision():
    rng = np.random.default_rng(7)
    for _ in range(40):
        seq = [bool(x) for x in rng.random(600) < 0.74]
        whole = monitor(RULE, seq).paused_at
        every = next((n for n in range(1, len(seq) + 1) if monitor(RULE, seq[:n]).paused_at), None)
        daily = next(
            (n for n in range(20, len(seq) + 20, 20) if monitor(RULE, seq[:n]).paused_at), None
        )
        assert every == whole
        assert (daily is None) == (whole is None)
        if whole is not None:
            assert whole <= daily < whole + 20  # a daily look sees the same pause, later


def test_history_before_the_rule_sets_the_score_but_an_old_crossing_does_not_pause():
    bad_then_good = [False] * 20 + [True] * 60
    assert monitor(RULE, bad_then_good).paused_at == 10
    assert monitor(RULE, bad_then_good, watch_from=80).paused_at is None
    assert monitor(RULE, bad_then_good, watch_from=70).paused_at is None  # came down by then
    # still beyond the boundary when the rule starts: paused at its start
    assert monitor(RULE, [False] * 20, watch_from=15).paused_at == 15
    # the score it found counts: 2 more wrong answers cross from where 8 left it
    assert monitor(RULE, [False] * 14, watch_from=8).paused_at == 10


def test_monitor_counts_and_stops_at_the_crossing():
    result = monitor(RULE, [True] * 30 + [False] * 30)
    assert result.paused_at == 30 + math.ceil((RULE.boundary - RULE.floor) / RULE.up)
    assert (result.n, result.successes) == (result.paused_at, 30)
    assert monitor(RULE, ([True] * 9 + [False]) * 100).paused_at is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.8, "delta": 0.8},
        {"threshold": 1.0, "delta": 0.1},
        {"threshold": 0.8, "delta": 0.1, "alpha": 0.5},
        {"threshold": 0.8, "delta": 0.1, "beta": 0},
        {"threshold": 0.8, "delta": 0.1, "horizon": 0},
    ],
)
def test_impossible_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        MonitorParams(**kwargs)


# -- through the services ------------------------------------------------------------------------


@pytest.fixture
def labeler(db, vendor_a):
    return make_labeler(vendor=vendor_a, username="seqruled")


def record(labeler, results: str, *, start: datetime) -> None:
    record_checks(labeler, results, project_id=PROJECT, start=start)


def sequential_rule(*, made: datetime | None = None, **overrides) -> QualityRule:
    """A sequential pause rule at 0.8, made a month ago unless ``made`` says when (a rule
    watches the observations made after it)."""
    values = {
        "name": "Gold at 80%",
        "action": A.PAUSE_ON_PROJECT,
        "threshold": Decimal("0.800"),
        "test": QualityRule.Test.SEQUENTIAL,
        **overrides,
    }
    rule = services.rule_create(actor=None, project_id=PROJECT, **values)
    made = made or TODAY - timedelta(days=30)
    QualityRule.objects.filter(pk=rule.pk).update(created_at=made)
    rule.created_at = made
    return rule


def passed_quiz(labeler, quiz, *, now: datetime, right: bool = True) -> QuizAttempt:
    attempt, _ = quiz_services.quiz_attempt_start(
        actor=labeler.user, quiz=quiz, labeler=labeler, now=now
    )
    for q in attempt.questions.select_related("gold_item").order_by("position"):
        accepted = q.gold_item.accepted_answers
        answer = (
            accepted[0] if right else next(c for c in ("crack", "rust", "ok") if c not in accepted)
        )
        outcome = quiz_services.quiz_attempt_answer(
            actor=labeler.user, attempt=attempt, question_id=q.pk, answer=answer, now=now
        )
        if outcome.attempt.status != QuizAttempt.Status.IN_PROGRESS:
            return outcome.attempt
    raise AssertionError("the quiz did not end")


TODAY = start_of_day(timezone.now())
YESTERDAY = TODAY - timedelta(days=1)


@pytest.mark.django_db
def test_a_labeler_well_below_the_threshold_is_paused_by_the_sweep(labeler):
    rule = sequential_rule()
    record(labeler, "10" * 40, start=YESTERDAY)  # 50% right
    assert services.rules_sweep(now=TODAY + timedelta(hours=1)) == 1

    firing = RuleFiring.objects.get(rule=rule)
    assert (firing.status, firing.action, firing.as_of) == (ST.OPEN, A.PAUSE_ON_PROJECT, TODAY)
    i = firing.inputs
    assert i["test"] == "sequential" and i["score"] >= i["boundary"] == RULE.boundary
    expected = monitor(RULE, [c == "1" for c in "10" * 40])
    assert i["paused_at_n"] == expected.paused_at < 80
    # what the labeler reads counts whole days: all 80 answers of yesterday
    assert (i["n"], i["successes"]) == (80, 40)
    public = selectors.public_inputs(i)
    assert "paused_at_n" not in public and public["n"] == 80
    assert selectors.labeler_paused_on_project(labeler.pk, PROJECT)
    # The day's later sweeps find nothing new; so does the beat job.
    assert services.rules_sweep(now=TODAY + timedelta(hours=2)) == 0
    assert quality_rules_sweep() == 0


@pytest.mark.django_db
def test_a_labeler_at_the_threshold_is_not_paused_however_often_the_rule_looks(labeler):
    """Exactly 40 right then 8 wrong, over and over (83% right, in streaks): the interval rule
    of the issue (upper Wilson bound of the last 20 below 0.8) pauses at the first streak; the
    sequential rule, evaluated after every 4 answers for 960 answers, never does."""
    rule = sequential_rule()
    interval = services.rule_create(
        actor=None,
        project_id=PROJECT,
        name="Old window",
        action=A.PAUSE_ON_PROJECT,
        threshold="0.8",
        window=20,
        min_n=10,
        bound="upper",
    )
    cycle = "1" * 40 + "0" * 8
    facts = cycle * 20
    start = YESTERDAY
    for look in range(0, len(facts), 4):
        record(labeler, facts[look : look + 4], start=start + timedelta(seconds=look))
        services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT, before=TODAY)
    assert not RuleFiring.objects.filter(rule=rule).exists()
    assert RuleFiring.objects.filter(rule=interval).count() == 1
    assert monitor(RULE, [c == "1" for c in facts]).paused_at is None


@pytest.mark.django_db
def test_auto_lift_lifts_on_a_passed_quiz_after_the_pause_and_the_test_restarts(
    labeler, client_for, ops_user
):
    quiz = make_quiz(kind=Quiz.Kind.TRAINING, num_questions=5)
    rule = sequential_rule(auto_lift=True, lift_quiz=quiz)
    record(labeler, "0" * 20, start=YESTERDAY)
    early = passed_quiz(labeler, quiz, now=YESTERDAY + timedelta(hours=1))  # before the pause
    assert early.status == QuizAttempt.Status.PASSED
    fired_at = TODAY + timedelta(hours=1)
    services.rules_sweep(now=fired_at)
    (firing,) = RuleFiring.objects.filter(rule=rule)
    assert firing.status == ST.OPEN

    # A pass from before the pause, and a failed attempt after it, lift nothing.
    failed = passed_quiz(labeler, quiz, now=fired_at + timedelta(minutes=5), right=False)
    assert failed.status == QuizAttempt.Status.FAILED
    services.rules_sweep(now=fired_at + timedelta(hours=1))
    firing.refresh_from_db()
    assert firing.status == ST.OPEN

    attempt = passed_quiz(labeler, quiz, now=fired_at + timedelta(hours=1, minutes=10))
    lifted_at = fired_at + timedelta(hours=2)
    assert services.rules_sweep(now=lifted_at) == 0  # a lift is not a firing
    firing.refresh_from_db()
    assert (firing.status, firing.cleared_at) == (ST.LIFTED, lifted_at)
    assert firing.inputs["lift"]["reason"] == "recovered"
    assert firing.inputs["lift"]["quiz_attempt_id"] == attempt.pk
    assert not selectors.labeler_paused_on_project(labeler.pk, PROJECT)
    # The labeler reads the lift and the whole-day figures; the evidence is for ops.
    url = f"/api/v1/rule-firings/{firing.pk}/"
    mine = client_for(labeler.user).get(url).json()
    assert (mine["status"], mine["details"]) == ("lifted", None)
    assert "paused_at_n" not in mine["inputs"] and mine["inputs"]["n"] == 20
    ops = client_for(ops_user).get(url).json()
    assert ops["details"]["lift"]["quiz_attempt_id"] == attempt.pk
    with pytest.raises(Conflict) as info:
        services.rule_firing_reverse(actor=None, firing_id=firing.pk, reason="late")
    assert info.value.code == "already_lifted"

    # The test restarts from the lift: the wrong answers before it count no more...
    tomorrow = TODAY + timedelta(days=1)
    evaluate = services.rules_evaluate
    assert evaluate(labeler_id=labeler.pk, project_id=PROJECT, now=tomorrow) == []
    # ...and new ones after it pause again.
    record(labeler, "0" * 12, start=lifted_at + timedelta(minutes=1))
    assert services.rules_sweep(now=tomorrow + timedelta(hours=2)) == 1
    again = RuleFiring.objects.get(rule=rule, status=ST.OPEN)
    assert again.inputs["paused_at_n"] == monitor(RULE, [False] * 12).paused_at == 10
    assert again.inputs["n"] == 12
    assert again.inputs["since"] == lifted_at.isoformat()


@pytest.mark.django_db
def test_without_auto_lift_only_ops_lift_and_the_test_restarts_from_the_reversal(labeler, ops_user):
    quiz = make_quiz(kind=Quiz.Kind.TRAINING, num_questions=5)
    rule = sequential_rule()
    record(labeler, "0" * 20, start=YESTERDAY)
    fired_at = TODAY + timedelta(hours=1)
    services.rules_sweep(now=fired_at)
    passed_quiz(labeler, quiz, now=fired_at + timedelta(minutes=5))
    services.rules_sweep(now=fired_at + timedelta(hours=1))
    (firing,) = RuleFiring.objects.filter(rule=rule)
    assert firing.status == ST.OPEN

    reversed_at = fired_at + timedelta(hours=2)
    services.rule_firing_reverse(
        actor=ops_user, firing_id=firing.pk, reason="retrained", now=reversed_at
    )
    firing.refresh_from_db()
    assert (firing.status, firing.cleared_at) == (ST.REVERSED, reversed_at)
    assert not selectors.labeler_paused_on_project(labeler.pk, PROJECT)
    # The old wrong answers do not fire again: the test restarted at the reversal.
    tomorrow = TODAY + timedelta(days=1)
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT, now=tomorrow) == []
    assert RuleFiring.objects.filter(rule=rule).count() == 1


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"alpha": "0.5"}, "alpha"),
        ({"alpha": "0"}, "alpha"),
        ({"beta": "0.6"}, "beta"),
        ({"delta": "0.0001"}, "delta"),
        ({"delta": "0.8"}, "delta"),
        ({"threshold": "1"}, "delta"),
        ({"test": "bayes"}, "test"),
        ({"action": A.WARN}, "test"),
        ({"comparison": "above"}, "comparison"),
        ({"auto_lift": True}, "lift_quiz"),
        ({"auto_lift": True, "action": A.SUSPEND}, "auto_lift"),
        ({"auto_lift": True, "test": "interval"}, "auto_lift"),
    ],
)
@pytest.mark.django_db
def test_bad_sequential_settings_are_field_errors(overrides, field):
    with pytest.raises(ValidationError) as info:
        sequential_rule(**overrides)
    assert field in info.value.message_dict
    assert not QualityRule.objects.exists()


@pytest.mark.django_db
def test_the_service_keeps_the_interval_unless_told_and_update_validates_the_merge():
    rule = services.rule_create(
        actor=None, project_id=PROJECT, name="Old", action=A.PAUSE_ON_PROJECT, threshold="0.8"
    )
    assert rule.test == QualityRule.Test.INTERVAL
    with pytest.raises(ValidationError) as info:
        services.rule_update(actor=None, rule=rule, data={"auto_lift": True})
    assert set(info.value.message_dict) == {"auto_lift"}
    rule = services.rule_update(
        actor=None, rule=rule, data={"test": "sequential", "alpha": Decimal("0.01")}
    )
    assert (rule.test, rule.alpha) == ("sequential", Decimal("0.010"))


RULES_URL = "/api/v1/quality-rules/"


@pytest.mark.django_db
def test_api_defaults_by_action_and_answers_bad_values_with_field_errors(client_for, ops_user):
    project = make_project(tasks=0)
    client = client_for(ops_user)
    body = {
        "project": project.pk,
        "name": "Pause",
        "action": "pause_on_project",
        "threshold": "0.8",
    }

    response = client.post(RULES_URL, {**body, "alpha": "0.7", "delta": "0.9"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"alpha", "delta"}
    response = client.post(RULES_URL, {**body, "auto_lift": True}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"lift_quiz"}
    response = client.post(RULES_URL, {**body, "lift_quiz": 10**9}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"lift_quiz"}
    assert not QualityRule.objects.exists()

    quiz = make_quiz(kind=Quiz.Kind.TRAINING, num_questions=5)
    response = client.post(
        RULES_URL, {**body, "auto_lift": True, "lift_quiz": quiz.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    made = response.json()
    assert (made["test"], made["alpha"], made["beta"], made["delta"]) == (
        "sequential",
        "0.050",
        "0.100",
        "0.100",
    )
    assert (made["auto_lift"], made["lift_quiz"]) == (True, quiz.pk)

    response = client.post(RULES_URL, {**body, "name": "Warn", "action": "warn"}, format="json")
    assert response.status_code == 201 and response.json()["test"] == "interval"

    response = client.patch(f"{RULES_URL}{made['id']}/", {"action": "warn"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"test", "auto_lift"}


@pytest.mark.django_db
def test_admin_adds_a_sequential_rule_by_default_and_shows_errors(client, ops_user):
    client.force_login(ops_user)
    project = make_project(tasks=0)  # the form offers the projects that exist
    form = rule_form(project_id=project.pk, name="Pause floor", action="pause_on_project")
    response = client.post(reverse("admin:qc_qualityrule_add"), {**form, "auto_lift": "on"})
    assert response.status_code == 200
    assert "An automatic lift needs the quiz" in response.content.decode()
    assert not QualityRule.objects.exists()

    response = client.post(reverse("admin:qc_qualityrule_add"), form)
    assert response.status_code == 302, response.content[:2000]
    assert QualityRule.objects.get().test == QualityRule.Test.SEQUENTIAL
    response = client.get(reverse("admin:qc_qualityrule_changelist"))
    assert "sequential: accuracy below 0.800" in response.content.decode()


# -- concurrency and cost ------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("what", ["fire", "lift"])
def test_racing_evaluations_fire_and_lift_once(vendor_a, monkeypatch, what):
    """Four evaluations read "no open firing" (or "an open pause and a passed quiz") before
    any of them writes (a barrier after the reads): the partial unique index keeps the firing
    to one, the guarded UPDATE the lift to one."""
    threads = 4
    labeler = make_labeler(vendor=vendor_a, username=f"seqrace{what}")
    quiz = make_quiz(kind=Quiz.Kind.TRAINING, num_questions=5)
    rule = sequential_rule(action=A.SUSPEND if what == "fire" else A.PAUSE_ON_PROJECT)
    if what == "lift":
        services.rule_update(actor=None, rule=rule, data={"auto_lift": True, "lift_quiz": quiz})
    record(labeler, "0" * 20, start=YESTERDAY)
    fired_at = TODAY + timedelta(hours=1)
    if what == "lift":
        services.rules_sweep(now=fired_at)
        passed_quiz(labeler, quiz, now=fired_at + timedelta(minutes=5))
    barrier = threading.Barrier(threads, timeout=20)
    real_decisions, real_lift = services._sequential_decisions, services._lift
    lifted: list[bool] = []

    def decisions_then_wait(*args, **kwargs):
        result = real_decisions(*args, **kwargs)
        barrier.wait()
        return result

    def lift_and_count(*args, **kwargs):
        done = real_lift(*args, **kwargs)
        lifted.append(done)
        return done

    monkeypatch.setattr(services, "_sequential_decisions", decisions_then_wait)
    monkeypatch.setattr(services, "_lift", lift_and_count)
    later = fired_at + timedelta(hours=1)
    results = race(
        threads,
        lambda _: len(
            services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT, now=later)
        ),
    )

    assert RuleFiring.objects.filter(rule=rule).count() == 1
    if what == "fire":
        assert sorted(results, key=str) == [0, 0, 0, 1], results
        suspensions = LabelerStatusChange.objects.filter(labeler=labeler, to_status="suspended")
        assert suspensions.count() == 1
    else:
        assert results == [0, 0, 0, 0], results
        assert sorted(lifted) == [False, False, False, True]
        assert RuleFiring.objects.get(rule=rule).status == ST.LIFTED


def test_sequential_rules_cost_a_constant_number_of_queries(labeler, django_assert_max_num_queries):
    """Rules (1), pending firings (1), restarts (1), the observations of one metric since one
    restart (1) — however many sequential rules share them."""
    for i in range(6):
        sequential_rule(name=f"Gold {i}", threshold=Decimal("0.5") + Decimal(i) / 20)
    record(labeler, "1" * 300, start=YESTERDAY)
    with django_assert_max_num_queries(4):
        assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []


def test_existing_rules_stay_on_the_interval_through_the_migration():
    """Migration 0008 adds ``test`` with the default ``interval``: every rule made before it
    keeps deciding as it did (the interval tests of tests/qc/test_rules.py)."""
    from importlib import import_module

    migration = import_module("qc.migrations.0008_rule_sequential_test").Migration
    (added,) = [
        op
        for op in migration.operations
        if getattr(op, "model_name", "") == "qualityrule" and getattr(op, "name", "") == "test"
    ]
    assert added.field.default == QualityRule.Test.INTERVAL
    assert QualityRule._meta.get_field("test").default == QualityRule.Test.INTERVAL


@pytest.mark.django_db
def test_a_rule_made_today_does_not_pause_for_a_bad_stretch_long_recovered_from(labeler):
    """Wrong 20 times two days ago, right 60 times since: a rule made yesterday noon finds the
    score back under its boundary and pauses nobody; the same rule made before the bad stretch
    would have paused (and does, replayed with an earlier creation)."""
    record(labeler, "0" * 20, start=YESTERDAY - timedelta(days=1))
    record(labeler, "1" * 60, start=YESTERDAY)
    rule = sequential_rule(made=YESTERDAY + timedelta(hours=12))
    assert services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT) == []
    QualityRule.objects.filter(pk=rule.pk).update(created_at=YESTERDAY - timedelta(days=2))
    (firing,) = services.rules_evaluate(labeler_id=labeler.pk, project_id=PROJECT)
    assert firing.inputs["paused_at_n"] == 10
