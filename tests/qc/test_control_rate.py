"""Adaptive control rate: the pure rule with hand-checked values, the one-statement SQL upsert
(same numbers as the pure rule, on PostgreSQL and on SQLite), a quality rule's precedence, and
concurrent submits of one labeler counting every check."""

from __future__ import annotations

import math
import random
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from qc.models import ControlRate, GoldCheck
from qc.services.control import (
    _rate_select_sql,
    adaptive_rate,
    control_rate_refresh,
    control_rate_update,
    control_rates_rebuild,
    ewma_next,
    wilson_half_width,
)
from qc.stats import wilson
from tests.conftest import requires_postgres
from tests.factories import make_labeler
from tests.qc.factories import make_gold_item, make_gold_set

RATIO, FLOOR = 0.10, 0.02

# -- the pure rule ------------------------------------------------------------------------------


def test_width_is_twice_the_half_width_of_the_wilson_interval():
    for k, n in [(0, 1), (1, 1), (9, 10), (45, 50), (190, 200), (0, 30)]:
        interval = wilson(k, n)
        assert 2 * wilson_half_width(k, n) == pytest.approx(interval.high - interval.low, abs=1e-12)


@pytest.mark.parametrize(
    ("checks", "correct", "recent", "rate", "reason"),
    [
        # No checks: the ratio.
        (0, 0, None, 0.10, "adaptive:new"),
        # 9/10: width 2 * 1.95996/1.38415 * sqrt(.009 + .0096037) = 0.3863 >= 0.15 → ratio.
        (10, 9, 0.9, 0.10, "adaptive:wide"),
        # 45/50: den 1.076829, half 1.820125 * sqrt(.0018 + .00038415) = .085063, width
        # .170127 → still >= 0.15 → ratio.
        (50, 45, 0.9, 0.10, "adaptive:wide"),
        # 90/100: den 1.038415, half 1.887446 * sqrt(.0009 + .00009604) = .059568, width
        # .119137 → .02 + .08 * (.119137 - .1) / .05 = .050619. recent = .9 = the rate: d = 0.
        (100, 90, 0.9, 0.050618, "adaptive:narrowing"),
        # 190/200: half 1.923025 * sqrt(.0002375 + .00002401) = .031098, width .062196 ≤ .10 →
        # floor; recent .95 = rate → d = 0 → no drift term.
        (200, 190, 0.95, 0.02, "adaptive:narrow"),
        # Same with recent .90: p~ = 191/202 = .945545, s = sqrt((.0526316 + .005) * .051490)
        # = .054475; d = (.95 - .90) / .054475 = .91786 → .02 + .08 * .91786 / 2 = .056714.
        (200, 190, 0.90, 0.056715, "adaptive:dip"),
        # recent .80: d = .15 / .054475 = 2.7536 ≥ 2 → the alarm: the ratio.
        (200, 190, 0.80, 0.10, "adaptive:drift"),
        # recent above the long-run rate never raises the rate.
        (200, 190, 1.0, 0.02, "adaptive:narrow"),
    ],
)
def test_adaptive_rate_hand_checked(checks, correct, recent, rate, reason):
    got_rate, got_reason = adaptive_rate(
        checks=checks, correct=correct, recent=recent, ratio=RATIO, floor=FLOOR
    )
    assert got_rate == pytest.approx(rate, abs=2e-6)
    assert got_reason == reason


def test_floor_above_the_ratio_is_read_as_the_ratio():
    assert adaptive_rate(checks=200, correct=190, recent=0.95, ratio=0.05, floor=0.2) == (
        0.05,
        "adaptive:narrow",
    )


def test_rate_never_leaves_floor_to_ratio():
    rng = random.Random(7)
    for _ in range(2000):
        n = rng.randint(1, 3000)
        k = rng.randint(0, n)
        recent = rng.random()
        rate, _ = adaptive_rate(checks=n, correct=k, recent=recent, ratio=RATIO, floor=FLOOR)
        assert FLOOR - 1e-12 <= rate <= RATIO + 1e-12


@pytest.mark.parametrize(
    "kwargs",
    [
        {"checks": 3, "correct": 4, "recent": None},
        {"checks": -1, "correct": 0, "recent": None},
    ],
)
def test_impossible_counts_are_refused(kwargs):
    with pytest.raises(ValueError):
        adaptive_rate(ratio=RATIO, floor=FLOOR, **kwargs)


def test_ewma_starts_at_the_first_answer_and_weights_the_newest_by_a_tenth():
    assert ewma_next(None, True) == 1.0
    assert ewma_next(None, False) == 0.0
    assert ewma_next(1.0, False) == pytest.approx(0.9)
    assert ewma_next(0.5, True) == pytest.approx(0.55)


# -- the SQL upsert -----------------------------------------------------------------------------


def _replay(answers, ratio, floor):
    """The pure rule over a sequence of answers: (rate, reason, checks, correct, recent)."""
    k = 0
    recent = None
    out = []
    for n, ok in enumerate(answers, start=1):
        k += ok
        recent = ewma_next(recent, ok)
        rate, reason = adaptive_rate(checks=n, correct=k, recent=recent, ratio=ratio, floor=floor)
        out.append((rate, reason, n, k, recent))
    return out


def _answers(pattern: str, length: int, seed: int) -> list[bool]:
    rng = random.Random(seed)
    if pattern == "good-then-drift":
        return [rng.random() < (0.97 if i < length // 2 else 0.6) for i in range(length)]
    if pattern == "perfect":
        return [True] * length
    if pattern == "first-wrong":
        return [False] + [rng.random() < 0.9 for _ in range(length - 1)]
    return [rng.random() < 0.8 for _ in range(length)]


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", ["good-then-drift", "perfect", "first-wrong", "steady-0.8"])
@pytest.mark.parametrize(("ratio", "floor"), [(0.10, 0.02), (0.25, 0.05), (0.05, 0.2)])
def test_sql_upsert_gives_the_pure_rate_at_every_step(pattern, ratio, floor):
    labeler = make_labeler()
    now = timezone.now()
    answers = _answers(pattern, 160, seed=len(pattern))
    for step, (ok, expected) in enumerate(
        zip(answers, _replay(answers, ratio, floor), strict=True)
    ):
        row = control_rate_update(
            labeler_id=labeler.pk, project_id=7, correct=ok, ratio=ratio, floor=floor, now=now
        )
        rate, reason, n, k, recent = expected
        assert (row.checks, row.correct) == (n, k), step
        assert row.recent == pytest.approx(recent, abs=1e-12), step
        assert row.rate == pytest.approx(rate, abs=1e-9), step
        assert row.reason == reason, step
    stored = ControlRate.objects.get(labeler=labeler, project_id=7)
    assert stored.rate == pytest.approx(_replay(answers, ratio, floor)[-1][0], abs=1e-9)


def _sql_rule_cases() -> list[tuple]:
    """(checks, correct, recent, ratio, floor): the edges of each signal, then random inputs."""
    cases = [
        (1, 0, 0.0, RATIO, FLOOR),
        (1, 1, 1.0, RATIO, FLOOR),
        (1, 1, None, RATIO, FLOOR),  # no recent accuracy: no drift signal
        (200, 190, None, RATIO, FLOOR),
        (200, 190, 0.80, RATIO, FLOOR),  # the drift alarm
        (200, 190, 0.90, RATIO, FLOOR),  # a dip
        (100, 90, 0.9, RATIO, FLOOR),  # narrowing
        (200, 190, 0.95, 0.05, 0.2),  # a floor above the ratio
        (3000, 3000, 1.0, RATIO, FLOOR),
        (10, 0, 0.0, RATIO, 0.0),
    ]
    rng = random.Random(11)
    for _ in range(150):
        n = rng.choice([rng.randint(1, 40), rng.randint(1, 3000)])
        k = rng.randint(0, n)
        recent = rng.choice([None, rng.random(), k / n, min(1.0, k / n + rng.random() / 5)])
        ratio = rng.choice([0.05, 0.1, 0.25, rng.random()])
        cases.append((n, k, recent, ratio, rng.choice([0.0, 0.02, rng.random() / 2])))
    return cases


@pytest.mark.django_db
def test_the_sql_rule_is_the_python_rule_to_the_last_bit():
    """Both are the one definition ``_rule`` (evaluated, or written out as SQL in the same order
    of operations), so they agree exactly, reason included, over the whole input space."""
    statement = _rate_select_sql("%(n)s", "%(k)s", "%(recent)s", "%(ratio)s", "%(floor)s")
    reasons = set()
    with connection.cursor() as cursor:
        for n, k, recent, ratio, floor in _sql_rule_cases():
            params = {"n": n, "k": k, "recent": recent, "ratio": ratio, "floor": floor}
            cursor.execute(statement, params)
            expected = adaptive_rate(checks=n, correct=k, recent=recent, ratio=ratio, floor=floor)
            assert cursor.fetchone() == expected, params
            reasons.add(expected[1])
    assert reasons == {
        "adaptive:wide",
        "adaptive:narrowing",
        "adaptive:narrow",
        "adaptive:dip",
        "adaptive:drift",
    }


@pytest.mark.django_db
def test_update_is_one_statement_and_rows_are_per_labeler_and_project(
    django_assert_num_queries,
):
    a, b = make_labeler(), make_labeler()
    now = timezone.now()
    with django_assert_num_queries(1):
        control_rate_update(
            labeler_id=a.pk, project_id=1, correct=True, ratio=RATIO, floor=FLOOR, now=now
        )
    with django_assert_num_queries(1):
        control_rate_update(
            labeler_id=a.pk, project_id=1, correct=False, ratio=RATIO, floor=FLOOR, now=now
        )
    control_rate_update(
        labeler_id=a.pk, project_id=2, correct=True, ratio=RATIO, floor=FLOOR, now=now
    )
    control_rate_update(
        labeler_id=b.pk, project_id=1, correct=True, ratio=RATIO, floor=FLOOR, now=now
    )
    rows = {(r.labeler_id, r.project_id): (r.checks, r.correct) for r in ControlRate.objects.all()}
    assert rows == {(a.pk, 1): (2, 1), (a.pk, 2): (1, 1), (b.pk, 1): (1, 1)}


@pytest.mark.django_db
def test_a_rule_override_keeps_its_rate_while_counters_move_and_refresh_restores_it():
    labeler = make_labeler()
    now = timezone.now()
    ControlRate.objects.create(
        labeler=labeler,
        project_id=3,
        rate=0.01,
        checks=0,
        correct=0,
        reason="rule:high performers",
        updated_at=now,
    )
    for _ in range(30):
        row = control_rate_update(
            labeler_id=labeler.pk, project_id=3, correct=True, ratio=RATIO, floor=FLOOR, now=now
        )
    assert (row.rate, row.reason) == (0.01, "rule:high performers")
    assert (row.checks, row.correct, row.recent) == (30, 30, 1.0)
    refreshed = control_rate_refresh(
        labeler_id=labeler.pk, project_id=3, ratio=RATIO, floor=FLOOR, now=now
    )
    # 30/30: width 2 * half = 0.1145... (1.95996 / 1.128050 * sqrt(3.8415 / 3600) = .056757)
    # → .02 + .08 * (.113514 - .1) / .05 = .041622; recent 1 ≥ rate → no drift term.
    assert refreshed.rate == pytest.approx(0.041622, abs=2e-6)
    assert refreshed.reason == "adaptive:narrowing"
    assert (
        control_rate_refresh(labeler_id=labeler.pk, project_id=99, ratio=0.1, floor=0.02, now=now)
        is None
    )


@pytest.mark.django_db
def test_rebuild_recounts_from_counted_checks_only():
    labeler = make_labeler()
    gold_set = make_gold_set()
    item = make_gold_item(gold_set)
    start = timezone.now() - timedelta(days=1)
    answers = [True, True, False, True, True, True, False, True]
    for i, ok in enumerate(answers):
        GoldCheck.objects.create(
            labeler=labeler,
            gold_item=item,
            project_id=5,
            assignment_id=1000 + i,
            answer="crack",
            correct=ok,
            counted=i != 2,  # the first miss was on gold since quarantined
            checked_at=start + timedelta(minutes=i),
        )
    # A stale row counted all eight.
    for ok in answers:
        control_rate_update(
            labeler_id=labeler.pk, project_id=5, correct=ok, ratio=RATIO, floor=FLOOR, now=start
        )
    assert control_rates_rebuild(project_id=5, ratio=RATIO, floor=FLOOR, now=timezone.now()) == 1
    row = ControlRate.objects.get(labeler=labeler, project_id=5)
    kept = [ok for i, ok in enumerate(answers) if i != 2]
    rate, reason, n, k, recent = _replay(kept, RATIO, FLOOR)[-1]
    assert (row.checks, row.correct) == (7, 6) == (n, k)
    assert row.recent == pytest.approx(recent)
    assert (row.rate, row.reason) == (pytest.approx(rate), reason)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_of_one_labeler_lose_no_count():
    labeler = make_labeler()
    threads_n, per_thread = 6, 10
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    control_rate_update(
                        labeler_id=labeler.pk,
                        project_id=11,
                        correct=(seed + i) % 3 != 0,
                        ratio=RATIO,
                        floor=FLOOR,
                        now=timezone.now(),
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=work, args=(s,)) for s in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    row = ControlRate.objects.get(labeler=labeler, project_id=11)
    expected_correct = sum(
        1 for s in range(threads_n) for i in range(per_thread) if (s + i) % 3 != 0
    )
    assert (row.checks, row.correct) == (threads_n * per_thread, expected_correct)
    assert 0 <= row.recent <= 1 and not math.isnan(row.rate)
