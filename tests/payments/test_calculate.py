"""The calculation of a period's ledger: what each line pays, at which rate, once; the same
ledger and hash on every recalculation, after a run killed between batches, and from two runs
at once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.errors import Conflict
from payments.ledger import ledger_hash
from payments.models import Calculation, LedgerLine, PaidItem, PayPeriod
from payments.services import calculate
from payments.services.calculate import period_calculate
from qc.stats import wilson
from tests.assignments.factories import make_project
from tests.conftest import requires_postgres
from tests.factories import make_labeler, race
from tests.payments.factories import (
    DEC,
    JAN,
    bonus_tier,
    contract,
    decided_labels,
    make_period,
    make_rate,
    overturn,
    pending_labels,
    resolved_reviews,
    set_policy,
)

pytestmark = pytest.mark.django_db
EARLY_DEC = datetime(2026, 12, 3, 9, tzinfo=UTC)


def lines(period, **filters) -> list[tuple]:
    """The period's lines as (labeler username or vendor slug, kind, basis, quantity, unit rate,
    amount, currency), sorted."""
    rows = []
    for line in LedgerLine.objects.filter(period=period, **filters).select_related(
        "labeler__user", "vendor"
    ):
        who = line.labeler.user.username if line.labeler else line.vendor.slug
        rows.append(
            (
                who,
                line.kind,
                line.basis,
                line.quantity.normalize(),
                line.unit_rate.normalize(),
                line.amount.normalize(),
                line.currency,
            )
        )
    return sorted(rows)


def D(text: str) -> Decimal:
    return Decimal(text).normalize()


@pytest.fixture
def project(db):
    return make_project(tasks=0)


@pytest.fixture
def people(vendor_a, vendor_b):
    return {
        "ann": make_labeler(vendor=vendor_a, username="ann"),
        "bob": make_labeler(vendor=vendor_b, username="bob"),
        "ida": make_labeler(username="ida"),
        "sam": make_labeler(username="sam", seniority="senior"),
    }


def test_accepted_and_rejected_labels_are_paid_at_the_rate_and_the_policy_fraction(project, people):
    make_rate(project, "0.05")
    set_policy(project, rejected_fraction="0.5")
    decided_labels(project, people["ann"], accepted=10, rejected=3)
    period = make_period()

    calculation = period_calculate(actor=None, period_id=period.pk)

    assert lines(period) == [
        ("ann", "task", "accepted", D("10"), D("0.05"), D("0.5"), "USD"),
        # 3 x 0.025 = 0.075, rounded once, half away from zero.
        ("ann", "task", "rejected", D("3"), D("0.025"), D("0.08"), "USD"),
    ]
    assert PaidItem.objects.filter(period=period).count() == 13
    period.refresh_from_db()
    assert period.status == PayPeriod.Status.CALCULATED
    assert period.ledger_hash == ledger_hash(period.pk) == calculation.ledger_hash
    assert calculation.status == Calculation.Status.DONE
    assert calculation.batches_done == calculation.batches_total == 1


def test_rejected_labels_earn_nothing_without_a_policy_but_stay_traced(project, people):
    make_rate(project, "0.05")
    decided_labels(project, people["ann"], accepted=2, rejected=2)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert ("ann", "task", "rejected", D("2"), D("0"), D("0"), "USD") in lines(period)
    assert PaidItem.objects.filter(period=period, basis="rejected").count() == 2


def test_a_per_submitted_label_rate_pays_every_label_alike(project, people):
    make_rate(project, "0.04", unit="submitted_label")
    decided_labels(project, people["ann"], accepted=2, rejected=1)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert lines(period) == [("ann", "task", "submitted", D("3"), D("0.04"), D("0.12"), "USD")]


def test_the_most_specific_rate_wins_labeler_then_vendor_then_internal_then_project(
    project, people, vendor_a
):
    make_rate(project, "0.05")
    make_rate(project, "4", "INR", vendor=vendor_a)
    make_rate(project, "0.07", labeler=people["bob"])
    make_rate(project, "0.06", scope="internal")
    for name in ("ann", "bob", "ida"):
        decided_labels(project, people[name], accepted=2)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert lines(period) == [
        ("ann", "task", "accepted", D("2"), D("4"), D("8"), "INR"),
        ("bob", "task", "accepted", D("2"), D("0.07"), D("0.14"), "USD"),
        ("ida", "task", "accepted", D("2"), D("0.06"), D("0.12"), "USD"),
    ]


def test_a_rate_applies_from_its_start_and_not_after_its_end(project, people):
    make_rate(project, "0.05", effective_to=datetime(2026, 11, 10, tzinfo=UTC))
    make_rate(project, "0.06", effective_from=datetime(2026, 11, 10, tzinfo=UTC))
    decided_labels(project, people["ann"], accepted=1, at=datetime(2026, 11, 9, tzinfo=UTC))
    decided_labels(project, people["ann"], accepted=2, at=datetime(2026, 11, 10, tzinfo=UTC))
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert lines(period) == [
        ("ann", "task", "accepted", D("1"), D("0.05"), D("0.05"), "USD"),
        ("ann", "task", "accepted", D("2"), D("0.06"), D("0.12"), "USD"),
    ]


def test_internal_staff_on_an_hourly_rate_are_paid_for_active_time_not_per_label(project, people):
    make_rate(project, "0.05")
    make_rate(project, "20", unit="active_hour", scope="internal")
    decided_labels(project, people["ida"], accepted=3, seconds=60)
    decided_labels(project, people["ann"], accepted=1, seconds=60)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert lines(period) == [
        ("ann", "task", "accepted", D("1"), D("0.05"), D("0.05"), "USD"),
        # 180 s = 0.05 h at 20 USD an hour.
        ("ida", "hourly", "", D("0.05"), D("20"), D("1"), "USD"),
    ]
    # Each hour-paid assignment is worth its 60 s at the rate (what the cost report adds up),
    # on SQLite too, where a whole-number rate times whole seconds once divided as integers.
    hourly = PaidItem.objects.filter(period=period, kind="hourly")
    assert [item.unit_value for item in hourly] == [Decimal("0.333333")] * 3  # 6 decimals


def test_resolved_reviews_pay_their_reviewer(project, people):
    make_rate(project, "0.30", unit="resolved_review")
    resolved_reviews(project, people["sam"], 4)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert lines(period) == [("sam", "review", "", D("4"), D("0.3"), D("1.2"), "USD")]
    assert PaidItem.objects.filter(period=period, kind="review").count() == 4


def test_work_is_earned_in_the_period_its_task_was_decided_and_undecided_work_is_not_paid(
    project, people
):
    make_rate(project, "0.05")
    decided_labels(project, people["ann"], accepted=2, at=EARLY_DEC)
    pending_labels(project, people["ann"], 5)
    november, december = make_period(), make_period(DEC, JAN)
    period_calculate(actor=None, period_id=november.pk)
    period_calculate(actor=None, period_id=december.pk)
    assert lines(november) == []
    assert lines(december) == [("ann", "task", "accepted", D("2"), D("0.05"), D("0.1"), "USD")]


def test_control_labels_are_paid_exactly_like_real_ones(project, people):
    make_rate(project, "0.05")
    set_policy(project, rejected_fraction="0.5")
    decided_labels(project, people["ann"], accepted=3, rejected=1)
    decided_labels(project, people["bob"], accepted=2, rejected=0)
    decided_labels(project, people["bob"], accepted=1, rejected=1, control=True)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    by_name = {}
    for who, *rest in lines(period):
        by_name.setdefault(who, []).append(tuple(rest))
    assert by_name["ann"] == by_name["bob"]
    assert LedgerLine.objects.filter(period=period).count() == 4


def test_recalculating_an_unchanged_period_gives_the_same_lines_and_hash_without_rewriting(
    project, people, vendor_a
):
    make_rate(project, "0.05")
    make_rate(project, "0.2", unit="resolved_review")
    contract(vendor_a, percent="5", per_label="0.01")
    bonus_tier(project, lower="0.5", n=5)
    decided_labels(project, people["ann"], accepted=8, rejected=1)
    decided_labels(project, people["ann"], accepted=6, control=True)
    resolved_reviews(project, people["sam"], 2)
    period = make_period()
    first = period_calculate(actor=None, period_id=period.pk)
    item_ids = set(PaidItem.objects.filter(period=period).values_list("pk", flat=True))
    before = lines(period)

    second = period_calculate(actor=None, period_id=period.pk)

    assert lines(period) == before
    assert second.ledger_hash == first.ledger_hash
    assert second.items == 0  # nothing rewritten
    assert set(PaidItem.objects.filter(period=period).values_list("pk", flat=True)) == item_ids


def test_a_changed_verdict_in_an_open_period_changes_the_lines_and_the_hash(project, people):
    make_rate(project, "0.05")
    labels = decided_labels(project, people["ann"], accepted=2, rejected=1)
    period = make_period()
    first = period_calculate(actor=None, period_id=period.pk)
    overturn(labels[2], accepted=True, at=datetime(2026, 11, 20, tzinfo=UTC))
    second = period_calculate(actor=None, period_id=period.pk)
    assert second.ledger_hash != first.ledger_hash
    assert lines(period) == [("ann", "task", "accepted", D("3"), D("0.05"), D("0.15"), "USD")]


def close(period):
    """Approve and close a calculated period (written directly; the workflow has its tests)."""
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.APPROVED)
    PayPeriod.objects.filter(pk=period.pk).update(status=PayPeriod.Status.CLOSED)


def test_a_decision_overturned_after_its_period_closed_is_adjusted_in_the_next_open_period(
    project, people
):
    make_rate(project, "0.05")
    set_policy(project, rejected_fraction="0.2")
    real = decided_labels(project, people["ann"], accepted=1, rejected=1)
    control = decided_labels(project, people["ann"], accepted=1, rejected=0, control=True)
    november, december = make_period(), make_period(DEC, JAN)
    period_calculate(actor=None, period_id=november.pk)
    close(november)

    overturn(real[1], accepted=True, at=EARLY_DEC)  # a review: rejected → accepted
    overturn(control[0], accepted=False, at=EARLY_DEC)  # gold corrected: right → wrong
    period_calculate(actor=None, period_id=december.pk)

    adjustments = LedgerLine.objects.filter(period=december, kind="adjustment")
    assert sorted(
        (a.basis, a.unit_rate.normalize(), a.amount.normalize(), a.rule) for a in adjustments
    ) == [
        ("accepted", D("0.04"), D("0.04"), calculate.RULE_REVIEW),
        ("rejected", D("-0.04"), D("-0.04"), calculate.RULE_REGRADED),
    ]
    assert {a.detail["corrects_period"] for a in adjustments} == {november.pk}
    corrected = PaidItem.objects.filter(period=december).values_list("corrects__period", flat=True)
    assert set(corrected) == {november.pk}

    # Recalculating December neither doubles nor drops them.
    again = period_calculate(actor=None, period_id=december.pk)
    assert again.ledger_hash == PayPeriod.objects.get(pk=december.pk).ledger_hash
    assert LedgerLine.objects.filter(period=december, kind="adjustment").count() == 2


def test_without_clawback_only_increases_are_adjusted(project, people):
    make_rate(project, "0.05")
    set_policy(project, rejected_fraction="0", clawback=False)
    labels = decided_labels(project, people["ann"], accepted=1, rejected=1)
    november, december = make_period(), make_period(DEC, JAN)
    period_calculate(actor=None, period_id=november.pk)
    close(november)
    overturn(labels[0], accepted=False, at=EARLY_DEC)
    overturn(labels[1], accepted=True, at=EARLY_DEC)
    period_calculate(actor=None, period_id=december.pk)
    assert lines(december) == [
        ("ann", "adjustment", "accepted", D("1"), D("0.05"), D("0.05"), "USD")
    ]


def test_a_quality_bonus_states_its_n_and_interval(project, people):
    make_rate(project, "0.10")
    bonus_tier(project, lower="0.85", n=30, percent="10")
    bonus_tier(project, lower="0.95", n=30, percent="20")
    decided_labels(project, people["ann"], accepted=40, control=True)  # lower bound ≈ 0.912
    decided_labels(project, people["ann"], accepted=20)
    decided_labels(project, people["bob"], accepted=10, control=True)  # n too small
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    bonus = LedgerLine.objects.get(period=period, kind="bonus")
    assert bonus.labeler == people["ann"]
    assert (bonus.quantity, bonus.unit_rate, bonus.amount) == (
        Decimal("6"),
        Decimal("0.1"),
        Decimal("0.6"),
    )
    assert bonus.detail["n"] == 40 and bonus.detail["correct"] == 40
    interval = wilson(40, 40)
    assert bonus.detail["lower"] == str(Decimal(str(round(interval.low, 6))))
    assert bonus.detail["upper"] == "1.0"
    assert bonus.detail["percent"] == "10.00"


def test_a_vendor_fee_is_a_line_of_the_vendor_per_currency_and_per_label(project, people, vendor_a):
    make_rate(project, "0.05")
    contract(vendor_a, percent="10", per_label="0.002")
    vendor_a.default_currency = "EUR"
    vendor_a.save(update_fields=["default_currency"])
    # Ann's five rejected labels earn nothing (no policy pays rejected work): no fee on them.
    decided_labels(project, people["ann"], accepted=30, rejected=5)
    decided_labels(project, people["bob"], accepted=30)
    period = make_period()
    period_calculate(actor=None, period_id=period.pk)
    assert [row for row in lines(period) if row[1] == "vendor_fee"] == [
        ("acme", "vendor_fee", "", D("1.5"), D("0.1"), D("0.15"), "USD"),
        ("acme", "vendor_fee", "", D("30"), D("0.002"), D("0.06"), "EUR"),
    ]


def test_a_frozen_period_cannot_be_calculated(project, people):
    period = make_period(status=PayPeriod.Status.APPROVED)
    with pytest.raises(Conflict) as error:
        period_calculate(actor=None, period_id=period.pk)
    assert error.value.code == "period_frozen"
    assert Calculation.objects.get(period=period).status == Calculation.Status.FAILED


def test_an_assignment_is_paid_at_most_once_across_periods_by_the_database(project, people):
    make_rate(project, "0.05")
    (label,) = decided_labels(project, people["ann"], accepted=1)
    november, december = make_period(), make_period(DEC, JAN)
    period_calculate(actor=None, period_id=november.pk)
    line = LedgerLine.objects.get(period=november)
    copy = LedgerLine.objects.create(
        period=december,
        project=project,
        labeler=line.labeler,
        kind="task",
        quantity=1,
        unit_rate=line.unit_rate,
        amount=line.amount,
        currency="USD",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaidItem.objects.create(
            line=copy,
            period=december,
            kind="task",
            assignment=label,
            basis="accepted",
            unit_value=Decimal("0.05"),
            earned_at=EARLY_DEC,
        )
    # Nor does calculating December pay it again.
    period_calculate(actor=None, period_id=december.pk)
    assert PaidItem.objects.filter(assignment=label).count() == 1


def test_a_run_killed_between_batches_is_completed_by_the_next_to_the_same_hash(
    people, monkeypatch
):
    first, second = make_project(tasks=0, slug="first"), make_project(tasks=0, slug="second")
    for project in (first, second):
        make_rate(project, "0.05")
        decided_labels(project, people["ann"], accepted=3, rejected=1)
    period = make_period()
    clean = period_calculate(actor=None, period_id=period.pk).ledger_hash
    connection.cursor().execute("DELETE FROM payments_paiditem")
    connection.cursor().execute("DELETE FROM payments_ledgerline")
    PayPeriod.objects.filter(pk=period.pk).update(status="open", ledger_hash="")

    def killed(calculation, project_id):
        raise SystemExit("worker killed")

    monkeypatch.setattr(calculate, "after_batch", killed)
    with pytest.raises(SystemExit):
        period_calculate(actor=None, period_id=period.pk)
    assert LedgerLine.objects.filter(period=period, project=second).count() == 0
    assert PayPeriod.objects.get(pk=period.pk).status == "open"

    monkeypatch.undo()
    resumed = period_calculate(actor=None, period_id=period.pk)
    assert resumed.ledger_hash == clean


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_calculations_at_once_leave_one_ledger(people):
    projects = [make_project(tasks=0, slug=f"p{i}") for i in range(3)]
    for project in projects:
        make_rate(project, "0.05")
        decided_labels(project, people["ann"], accepted=20, rejected=5)
        decided_labels(project, people["bob"], accepted=10, control=True)
    period = make_period()

    results = race(2, lambda i: period_calculate(actor=None, period_id=period.pk))

    assert all(isinstance(r, Calculation) for r in results), results
    assert PaidItem.objects.filter(period=period).count() == 3 * 35
    hashes = {r.ledger_hash for r in results}
    assert hashes == {PayPeriod.objects.get(pk=period.pk).ledger_hash}
    assert period_calculate(actor=None, period_id=period.pk).ledger_hash in hashes


def _analyzes(run) -> list[str]:
    """The tables ``run()`` analyzed, from the statements it sent."""
    with connection.cursor() as cursor:
        # Counters reach the shared statistics at the end of the next transaction.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    with CaptureQueriesContext(connection) as queries:
        run()
    return [
        table.strip()
        for query in queries
        if query["sql"].startswith("ANALYZE ")
        for table in query["sql"].removeprefix("ANALYZE ").split(",")
    ]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_calculation_analyzes_the_tables_it_reads_once_their_statistics_are_stale(people):
    project = make_project(tasks=0)
    make_rate(project, "0.05")
    period = make_period()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(calculate.READ_TABLES))
    # More than autovacuum's threshold (50 rows and 10 %) of new outcomes since then.
    decided_labels(project, people["ann"], accepted=150)

    def run():
        period_calculate(actor=None, period_id=period.pk)

    first = _analyzes(run)
    assert "qc_labeloutcome" in first
    assert {"pay_desired", "pay_groups", "pay_lines"} <= set(first)  # before the items insert
    second = _analyzes(run)
    assert "qc_labeloutcome" not in second
    assert "pay_desired" not in second  # unchanged: no items written, nothing to join


def test_a_queued_calculation_runs_in_the_worker_once_the_request_commits(
    project, people, django_capture_on_commit_callbacks
):
    make_rate(project, "0.05")
    decided_labels(project, people["ann"], accepted=4)
    period = make_period()
    with django_capture_on_commit_callbacks(execute=True):
        queued = calculate.calculation_queue(actor=None, period_id=period.pk)
        assert Calculation.objects.get(pk=queued.pk).status == Calculation.Status.QUEUED
    done = Calculation.objects.get(pk=queued.pk)
    assert (done.status, done.batches_done, done.items) == (Calculation.Status.DONE, 1, 4)
    assert done.ledger_hash == PayPeriod.objects.get(pk=period.pk).ledger_hash != ""


def test_queueing_a_calculation_of_a_frozen_period_is_refused(project):
    period = make_period(status=PayPeriod.Status.CLOSED)
    with pytest.raises(Conflict):
        calculate.calculation_queue(actor=None, period_id=period.pk)
    assert not Calculation.objects.filter(period=period).exists()
