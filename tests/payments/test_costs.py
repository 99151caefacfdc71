"""Cost reports and vendor SLA cards (payments.selectors.costs, payments.admin_reports): the
split of a period's cost adds up to its total to the last decimal in every grouping, a piece of
work costs its value after its corrections (and earlier periods' work stays out), the cost per
accepted label (a currency's "All" over that currency's groups only), the converted total with
and without an exchange rate, the SLA card's median, Wilson bounds, rework and throughput over
the days elapsed with every one of them charted, query counts that do not grow with the number
of labelers, and the admin pages for operations only: each currency's table totalling its own
rows, costs per label to two decimals below the minor unit, long names cut to fit the charts.

The world: real tasks labeled by two or three labelers (first label, overlap, extra slot),
control tasks, resolved reviews, written with tests/payments/factories.py; its ledger lines and
paid items are written directly by ``pay`` below (the calculation engine is tested on its own
in test_calculate.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone

from assignments.models import Assignment, Batch, Task
from payments import admin_reports  # adds the report pages to the admin site
from payments.currency import round_money
from payments.models import ExchangeRate, LedgerLine, PaidItem
from payments.selectors.costs import COMPONENTS, cost_report, vendor_sla_card
from payments.services.calculate import period_calculate
from qc.models import LabelOutcome
from qc.selectors.quality_facts import rate
from qc.stats import wilson
from tests.assignments.factories import make_project
from tests.factories import UserFactory, VendorFactory, make_labeler
from tests.payments.factories import (
    DEC,
    JAN,
    MID_NOV,
    NOV,
    decided_labels,
    make_period,
    make_rate,
    resolved_reviews,
    set_policy,
)

# The admin with the report pages, whether or not payments.admin is registered yet.
urlpatterns = [path("admin/", admin.site.urls)]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

OCT = datetime(2026, 10, 1, tzinfo=UTC)
MID_OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)
EARLY_DEC = datetime(2026, 12, 3, 9, tzinfo=UTC)


def D(text: str) -> Decimal:
    return Decimal(text)


# -- writing the ledger for given work -------------------------------------------------------------


def pay(period, pieces, value: str, currency: str, *, kind: str = "task", corrects=None):
    """One ledger line of ``period`` paying ``pieces`` (assignments, or reviews for kind
    "review"), each worth ``value``; with ``corrects`` (items), an adjustment line whose items
    correct them to ``value``. Returns the items."""
    first = pieces[0]
    labeler = first.reviewer if kind == "review" else first.labeler
    unit = D(value) - (corrects[0].unit_value if corrects else 0)
    line = LedgerLine.objects.create(
        period=period,
        project_id=first.project_id,
        labeler=labeler,
        vendor_id=labeler.vendor_id,
        kind="adjustment" if corrects else kind,
        quantity=len(pieces),
        unit_rate=unit,
        amount=round_money(unit * len(pieces), currency),
        currency=currency,
    )
    return [
        PaidItem.objects.create(
            line=line,
            period=period,
            kind=kind,
            assignment=None if kind == "review" else piece,
            review=piece if kind == "review" else None,
            unit_value=D(value),
            earned_at=period.starts_at + timedelta(days=1),
            corrects=corrects[i] if corrects else None,
        )
        for i, piece in enumerate(pieces)
    ]


def extra_line(
    period, project, kind: str, amount: str, currency: str, *, labeler=None, vendor=None
):
    """A bonus (of ``labeler``) or vendor fee (of ``vendor``) line."""
    return LedgerLine.objects.create(
        period=period,
        project=project,
        labeler=labeler,
        vendor=vendor or (labeler.vendor if labeler else None),
        kind=kind,
        quantity=1,
        unit_rate=D(amount),
        amount=D(amount),
        currency=currency,
    )


def join(first: list[Assignment], labeler, *, agree: list[bool], turnaround: list[int], after=1):
    """``labeler`` answers the tasks of ``first`` too, ``after`` minutes after the first
    answer, leased ``turnaround`` seconds before submitting; each answer agrees with the final
    one or not (its label outcome). Returns the assignments."""
    out = []
    for a, ok, seconds in zip(first, agree, turnaround, strict=True):
        submitted = a.submitted_at + timedelta(minutes=after)
        b = Assignment.objects.create(
            task_id=a.task_id,
            project_id=a.project_id,
            labeler=labeler,
            status=Assignment.Status.SUBMITTED,
            leased_at=submitted - timedelta(seconds=seconds),
            expires_at=submitted + timedelta(hours=1),
            submitted_at=submitted,
            answer="crack" if ok else "rust",
            active_seconds=seconds,
        )
        outcome = LabelOutcome.objects.get(assignment_id=a.pk)
        LabelOutcome.objects.create(
            project_id=a.project_id,
            task_id=a.task_id,
            assignment_id=b.pk,
            labeler=labeler,
            answer=b.answer,
            answer_class=b.answer,
            final_class=outcome.final_class,
            agrees_final=ok,
            peers=1,
            peers_agreeing=1 if ok else 0,
            decided_by="consensus",
            submitted_at=submitted,
            decided_at=outcome.decided_at,
        )
        out.append(b)
    return out


@pytest.fixture
def world(db):
    """Project "poles" (overlap 2) in November 2026:

    * ann (vendor A, EUR) gives the first label of 4 real tasks, paid 0.10 each; the first
      task's is corrected to 0.05 in December;
    * bob (vendor B, USD) the second (overlap) of the same 4, 0.12 USD each, agreeing on 3;
      and 3 control tasks (2 right), 0.12 / 0.12 / 0.06 USD;
    * ida (internal) the third (an extra slot) of tasks 1 and 2, paid by the hour: 0.025 EUR
      each, agreeing on one;
    * sam (internal, senior) resolves 2 reviews at 0.50 EUR;
    * a bonus of 0.04 EUR for ann, a fee of 0.05 USD for vendor B;
    * tasks 1-2 are in batch 1, tasks 3-4 and the reviewed tasks in batch 2;
    * ann's label of October (its task decided in October, paid there, corrected in November)
      is October's work, not November's.
    """
    vendor_a = VendorFactory(name="Acme Annotation", slug="acme")
    vendor_b = VendorFactory(name="Bravo Labels", slug="bravo", default_currency="USD")
    project = make_project(tasks=0, overlap=2)
    ann = make_labeler(vendor=vendor_a, username="ann")
    bob = make_labeler(vendor=vendor_b, username="bob")
    ida = make_labeler(username="ida")
    sam = make_labeler(username="sam", seniority="senior")
    october, november, december = (
        make_period(OCT, NOV),
        make_period(NOV, DEC),
        make_period(DEC, JAN),
    )
    batch_1 = Batch.objects.create(project=project, source="north.jsonl")
    batch_2 = Batch.objects.create(project=project, source="south.jsonl")

    firsts = decided_labels(project, ann, accepted=4, at=MID_NOV)
    seconds = join(firsts, bob, agree=[True, True, True, False], turnaround=[60, 120, 180, 600])
    thirds = join(firsts[:2], ida, agree=[True, False], turnaround=[30, 90], after=2)
    controls = decided_labels(project, bob, accepted=2, rejected=1, control=True)
    reviews = resolved_reviews(project, sam, 2)
    Task.objects.filter(pk__in=[a.task_id for a in firsts[:2]]).update(batch=batch_1)
    Task.objects.filter(
        pk__in=[a.task_id for a in firsts[2:]] + [r.task_id for r in reviews]
    ).update(batch=batch_2)

    ann_items = pay(november, firsts, "0.10", "EUR")
    pay(december, firsts[:1], "0.05", "EUR", corrects=ann_items[:1])
    pay(november, seconds, "0.12", "USD")
    pay(november, thirds, "0.025", "EUR", kind="hourly")
    pay(november, controls[:2], "0.12", "USD")
    pay(november, controls[2:], "0.06", "USD")
    pay(november, reviews, "0.50", "EUR", kind="review")
    extra_line(november, project, "bonus", "0.04", "EUR", labeler=ann)
    extra_line(november, project, "vendor_fee", "0.05", "USD", vendor=vendor_b)

    old = decided_labels(project, ann, accepted=1, at=MID_OCT)
    old_items = pay(october, old, "0.10", "EUR")
    pay(november, old, "0.20", "EUR", corrects=old_items)
    return {
        "project": project,
        "vendors": (vendor_a, vendor_b),
        "people": (ann, bob, ida, sam),
        "periods": (october, november, december),
        "batches": (batch_1, batch_2),
    }


def split(**amounts: str) -> dict[str, Decimal]:
    return {name: D(amounts.get(name, "0")) for name in COMPONENTS}


def costs_of(group) -> dict[str, dict[str, Decimal]]:
    """A group's components per currency (without total and per label)."""
    return {code: {c: f[c] for c in COMPONENTS} for code, f in group["currencies"].items()}


# -- the split -------------------------------------------------------------------------------------

PROJECT_EUR = split(first_label="0.35", extra_slots="0.05", review="1.00", bonus="0.04")
PROJECT_USD = split(overlap="0.48", control="0.30", vendor_fee="0.05")


def test_the_project_split_adds_up_to_the_total_exactly(world):
    november = world["periods"][1]
    report = cost_report(period=november, group_by="project")
    [group] = report["groups"]
    assert group["name"] == world["project"].name
    assert costs_of(group) == {"EUR": PROJECT_EUR, "USD": PROJECT_USD}
    eur, usd = group["currencies"]["EUR"], group["currencies"]["USD"]
    assert eur["total"] == D("1.44") == sum(PROJECT_EUR.values())
    assert usd["total"] == D("0.83") == sum(PROJECT_USD.values())
    # Four real tasks decided in November; the control tasks and the undecided reviewed tasks
    # are no accepted labels, nor is October's task.
    assert group["accepted_labels"] == 4
    assert eur["per_accepted_label"] == D("0.36")
    assert usd["per_accepted_label"] == D("0.2075")
    assert report["totals"]["currencies"]["EUR"]["total"] == D("1.44")
    assert group["converted"] is None


def test_the_batch_and_vendor_splits_add_up_to_the_project_split(world):
    november = world["periods"][1]
    batch_1, batch_2 = world["batches"]
    project = world["project"]
    by_batch = {g["key"]: g for g in cost_report(period=november, group_by="batch")["groups"]}
    assert set(by_batch) == {(project.pk, batch_1.pk), (project.pk, batch_2.pk), (project.pk, None)}
    assert costs_of(by_batch[project.pk, batch_1.pk]) == {
        "EUR": split(first_label="0.15", extra_slots="0.05"),
        "USD": split(overlap="0.24"),
    }
    assert costs_of(by_batch[project.pk, batch_2.pk]) == {
        "EUR": split(first_label="0.20", review="1.00"),
        "USD": split(overlap="0.24"),
    }
    # Control tasks have no batch; bonus and fee lines belong to the project.
    assert costs_of(by_batch[project.pk, None]) == {
        "EUR": split(bonus="0.04"),
        "USD": split(control="0.30", vendor_fee="0.05"),
    }
    assert [by_batch[k]["accepted_labels"] for k in sorted(by_batch, key=str)] == [2, 2, 0]

    vendor_a, vendor_b = world["vendors"]
    by_vendor = {
        g["vendor_id"]: g for g in cost_report(period=november, group_by="vendor")["groups"]
    }
    assert costs_of(by_vendor[vendor_a.pk]) == {"EUR": split(first_label="0.35", bonus="0.04")}
    assert costs_of(by_vendor[vendor_b.pk]) == {"USD": PROJECT_USD}
    assert costs_of(by_vendor[None]) == {"EUR": split(extra_slots="0.05", review="1.00")}
    assert by_vendor[None]["name"] == "Internal labelers"
    # Per vendor, accepted labels are its labels agreeing with the final answer.
    assert {k: g["accepted_labels"] for k, g in by_vendor.items()} == {
        vendor_a.pk: 4,
        vendor_b.pk: 3,
        None: 1,
    }
    assert by_vendor[vendor_b.pk]["currencies"]["USD"]["per_accepted_label"] == D("0.276667")

    for grouping in (by_batch, by_vendor):
        for code, expected in (("EUR", PROJECT_EUR), ("USD", PROJECT_USD)):
            summed = {
                c: sum(
                    (
                        g["currencies"][code][c]
                        for g in grouping.values()
                        if code in g["currencies"]
                    ),
                    D("0"),
                )
                for c in COMPONENTS
            }
            assert summed == expected


def harbour(world):
    """A second project, "Harbour", paid in INR only: 2 real tasks labeled by cy (vendor
    Cedar, INR) and decided in November, 10.00 INR each. Returns the project."""
    project = make_project(tasks=0, overlap=1, slug="harbour", name="Harbour")
    vendor = VendorFactory(name="Cedar", slug="cedar", default_currency="INR")
    cy = make_labeler(vendor=vendor, username="cy")
    pay(world["periods"][1], decided_labels(project, cy, accepted=2), "10.00", "INR")
    return project


@pytest.mark.parametrize(
    ("group_by", "accepted"),
    [
        # "poles" (4 accepted) is paid in EUR and USD, "Harbour" (2) in INR only.
        ("project", {"EUR": 4, "USD": 4, "INR": 2}),
        ("batch", {"EUR": 4, "USD": 4, "INR": 2}),
        # Per vendor: Acme (4) and the internal labelers (1) in EUR, Bravo (3) in USD,
        # Cedar (2) in INR.
        ("vendor", {"EUR": 5, "USD": 3, "INR": 2}),
    ],
)
def test_a_currencys_total_counts_only_the_accepted_labels_of_its_groups(world, group_by, accepted):
    harbour(world)
    november = world["periods"][1]
    report = cost_report(period=november, group_by=group_by)
    totals = report["totals"]["currencies"]
    for code, n in accepted.items():
        in_code = [g for g in report["groups"] if code in g["currencies"]]
        assert totals[code]["per_accepted_label"] == (totals[code]["total"] / n).quantize(
            D("0.000001")
        )
        assert totals[code]["accepted_labels"] == n == sum(g["accepted_labels"] for g in in_code)
    assert totals["EUR"]["total"] == D("1.44") and totals["INR"]["total"] == D("20.00")
    assert totals["INR"]["per_accepted_label"] == D("10")
    # The report's own total counts every group once, whatever it was paid in.
    assert report["totals"]["accepted_labels"] == sum(
        g["accepted_labels"] for g in report["groups"]
    )


def test_a_piece_costs_its_value_after_corrections_and_earlier_work_stays_out(world):
    october, _, december = world["periods"]
    [group] = cost_report(period=october, group_by="project")["groups"]
    # October's label, paid 0.10 there, corrected to 0.20 by an adjustment paid in November.
    assert costs_of(group) == {"EUR": split(first_label="0.20")}
    assert group["accepted_labels"] == 1
    # December pays only the correction of November's work: no work of its own.
    assert cost_report(period=december, group_by="project")["groups"] == []


def test_quality_is_qcs_figures_over_the_periods_facts(world):
    november = world["periods"][1]
    [group] = cost_report(period=november, group_by="project")["groups"]
    assert group["quality"]["gold_accuracy"] == rate(2, 3)
    # 10 label outcomes decided in November: ann 4/4, bob 3/4, ida 1/2 agree with the final.
    assert group["quality"]["with_final"] == rate(8, 10, key="agreeing")
    assert group["quality"]["pairwise"] == rate(8, 10, key="agreeing")
    by_vendor = {
        g["vendor_id"]: g for g in cost_report(period=november, group_by="vendor")["groups"]
    }
    bob_vendor = world["vendors"][1].pk
    assert by_vendor[bob_vendor]["quality"]["gold_accuracy"] == rate(2, 3)
    assert by_vendor[bob_vendor]["quality"]["with_final"] == rate(3, 4, key="agreeing")


def test_the_report_reads_the_ledger_the_engine_writes(db):
    vendor = VendorFactory(name="Acme Annotation", slug="acme")
    project = make_project(tasks=0, overlap=2, slug="engine", name="Engine")
    ann = make_labeler(vendor=vendor, username="ann")
    bob = make_labeler(vendor=vendor, username="bob")
    sam = make_labeler(username="sam", seniority="senior")
    make_rate(project, "0.10", "EUR")
    make_rate(project, "0.50", "EUR", unit="resolved_review")
    set_policy(project, rejected_fraction="0.5")
    firsts = decided_labels(project, ann, accepted=3)
    join(firsts, bob, agree=[True, True, False], turnaround=[60, 60, 60])
    decided_labels(project, bob, accepted=1, rejected=1, control=True)
    resolved_reviews(project, sam, 1)
    november = make_period(NOV, DEC)
    period_calculate(actor=None, period_id=november.pk)
    [group] = cost_report(period=november, group_by="project")["groups"]
    # Rejected labels at half the rate: bob's third overlap label and one control task.
    assert costs_of(group) == {
        "EUR": split(first_label="0.30", overlap="0.25", control="0.15", review="0.50")
    }
    ledger = sum(LedgerLine.objects.filter(period=november).values_list("amount", flat=True))
    assert group["currencies"]["EUR"]["total"] == ledger == D("1.20")
    assert group["currencies"]["EUR"]["per_accepted_label"] == D("0.40")


# -- converting for reporting ----------------------------------------------------------------------


def test_the_converted_total_uses_the_rate_in_effect_on_the_first_day(world):
    november = world["periods"][1]
    for since, value in (
        (date(2026, 1, 1), "0.80"),
        (date(2026, 10, 1), "0.90"),
        (date(2026, 11, 2), "0.99"),
    ):
        ExchangeRate.objects.create(base="USD", quote="EUR", rate=D(value), effective_from=since)
    report = cost_report(period=november, group_by="project", reporting_currency="EUR")
    [group] = report["groups"]
    # 1.44 EUR + 0.83 USD x 0.90 = 2.187 EUR, rounded once for the total.
    assert group["converted"] == {
        "currency": "EUR",
        "total": D("2.19"),
        "per_accepted_label": D("0.546750"),
        "missing": [],
    }
    assert report["totals"]["converted"]["total"] == D("2.19")
    assert report["exchange_rates"]["USD"] == {
        "rate": D("0.9"),
        "effective_from": date(2026, 10, 1),
    }
    # The amounts themselves stay in their currencies.
    assert costs_of(group) == {"EUR": PROJECT_EUR, "USD": PROJECT_USD}


def test_a_missing_rate_makes_the_converted_figure_unavailable_never_guessed(world):
    november = world["periods"][1]
    # Only the inverse pair, and a rate that starts after the period's first day.
    ExchangeRate.objects.create(
        base="EUR", quote="USD", rate=D("1.10"), effective_from=date(2026, 1, 1)
    )
    ExchangeRate.objects.create(
        base="USD", quote="EUR", rate=D("0.90"), effective_from=date(2026, 11, 2)
    )
    report = cost_report(period=november, group_by="vendor", reporting_currency="EUR")
    by_vendor = {g["vendor_id"]: g for g in report["groups"]}
    vendor_a, vendor_b = world["vendors"]
    assert by_vendor[vendor_b.pk]["converted"] == {
        "currency": "EUR",
        "total": None,
        "per_accepted_label": None,
        "missing": ["USD"],
    }
    # A vendor paid in EUR only converts at 1.
    assert by_vendor[vendor_a.pk]["converted"]["total"] == D("0.39")
    assert report["totals"]["converted"]["total"] is None
    assert report["exchange_rates"]["USD"] is None


def test_a_bad_grouping_or_currency_is_refused(world):
    november = world["periods"][1]
    with pytest.raises(ValueError):
        cost_report(period=november, group_by="labeler")
    with pytest.raises(Exception, match="ISO 4217"):
        cost_report(period=november, group_by="project", reporting_currency="XYZ")


# -- the vendor SLA card ---------------------------------------------------------------------------


def test_the_vendor_sla_card(world):
    november = world["periods"][1]
    vendor_b = world["vendors"][1]
    card = vendor_sla_card(vendor=vendor_b, period=november, now=EARLY_DEC)
    # bob: 4 overlap labels (60, 120, 180, 600 s from lease to submit) and 3 control tasks
    # (240 s each, the factories' lease): the median of 7 is 240 s.
    assert card["throughput"]["labels"] == 7
    assert card["throughput"]["days"] == card["throughput"]["period_days"] == 30
    assert card["throughput"]["under_way"] is False
    assert card["throughput"]["per_day"] == D("0.23")
    assert card["turnaround"] == {"n": 7, "median_seconds": D("240.000")}
    # Every day of the period, those without labels too: all 7 on 15 November.
    daily = card["throughput"]["daily"]
    assert [d["day"] for d in daily] == [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    assert [d["labels"] for d in daily] == [0] * 14 + [7] + [0] * 15
    interval = wilson(2, 3)
    assert card["accuracy"]["n"] == 3 and card["accuracy"]["correct"] == 2
    assert (card["accuracy"]["low"], card["accuracy"]["high"]) == (interval.low, interval.high)
    # One of bob's 4 decided labels lost to the final answer.
    assert card["rework"] == rate(1, 4, key="lost")
    assert card["accepted_labels"] == 3
    assert card["costs"]["USD"]["total"] == D("0.83")
    assert card["costs"]["USD"]["per_accepted_label"] == D("0.276667")


def test_a_period_under_way_divides_by_the_days_elapsed_and_charts_each_of_them(world):
    november = world["periods"][1]
    vendor_b = world["vendors"][1]
    # 17 November at 12:00: 16.5 of the period's 30 days have passed.
    card = vendor_sla_card(vendor=vendor_b, period=november, now=MID_NOV + timedelta(days=2))
    throughput = card["throughput"]
    assert throughput["labels"] == 7
    assert throughput["days"] == D("16.5") and throughput["period_days"] == 30
    assert throughput["under_way"] is True
    assert throughput["per_day"] == D("0.42")  # 7 / 16.5, not 7 / 30
    # 1 to 17 November: today included, the days to come left out.
    assert [d["labels"] for d in throughput["daily"]] == [0] * 14 + [7, 0, 0]
    assert throughput["daily"][-1]["day"] == date(2026, 11, 17)
    # Before the period starts no day has passed: no rate, no day to chart.
    early = vendor_sla_card(vendor=vendor_b, period=world["periods"][2], now=MID_NOV)
    assert early["throughput"]["days"] == 0 and early["throughput"]["per_day"] is None
    assert early["throughput"]["daily"] == []


def test_the_daily_chart_counts_days_in_the_periods_time_zone(db):
    vendor = VendorFactory(name="Cedar", slug="cedar")
    project = make_project(tasks=0, slug="kolkata", name="Kolkata")
    # Two labels submitted on 15 February 19:59 UTC: 16 February 01:29 in Kolkata.
    decided_labels(
        project, make_labeler(vendor=vendor), accepted=2, at=datetime(2027, 2, 15, 20, tzinfo=UTC)
    )
    week = make_period(
        datetime(2027, 2, 14, 18, 30, tzinfo=UTC),  # 15 February, midnight in Kolkata
        datetime(2027, 2, 21, 18, 30, tzinfo=UTC),
        timezone="Asia/Kolkata",
        cadence="weekly",
    )
    # Now: 16 February 20:00 UTC, 17 February 01:30 in Kolkata.
    card = vendor_sla_card(vendor=vendor, period=week, now=datetime(2027, 2, 16, 20, tzinfo=UTC))
    daily = card["throughput"]["daily"]
    assert [(d["day"], d["labels"]) for d in daily] == [
        (date(2027, 2, 15), 0),
        (date(2027, 2, 16), 2),
        (date(2027, 2, 17), 0),
    ]
    assert card["throughput"]["days"] == D("2.0625")


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(world):
    november = world["periods"][1]
    vendor = VendorFactory(name="Cedar", slug="cedar")
    cy = make_labeler(vendor=vendor, username="cy")
    project = world["project"]
    firsts = decided_labels(
        project, world["people"][0], accepted=4, at=MID_NOV + timedelta(hours=1)
    )
    join(firsts, cy, agree=[True] * 4, turnaround=[10, 20, 40, 100])
    card = vendor_sla_card(vendor=vendor, period=november)
    assert card["turnaround"] == {"n": 4, "median_seconds": D("30.000")}
    assert card["rework"] == rate(0, 4, key="lost")
    assert card["costs"] == {}  # nothing paid
    empty = vendor_sla_card(vendor=vendor, period=world["periods"][2])
    assert empty["turnaround"] == {"n": 0, "median_seconds": None}
    assert empty["accuracy"]["n"] == 0 and empty["accuracy"]["rate"] is None


# -- query counts ----------------------------------------------------------------------------------


def more_labelers(world, n: int) -> None:
    """``n`` more labelers of vendor B with a paid overlap label each on a new task."""
    project, november = world["project"], world["periods"][1]
    ann = world["people"][0]
    vendor_b = world["vendors"][1]
    firsts = decided_labels(project, ann, accepted=n, at=MID_NOV + timedelta(hours=2))
    for i, first in enumerate(firsts):
        labeler = make_labeler(vendor=vendor_b, username=f"extra{n}-{i}")
        pay(november, join([first], labeler, agree=[True], turnaround=[50]), "0.12", "USD")


@pytest.mark.parametrize("group_by", ["project", "batch", "vendor"])
def test_the_report_and_card_take_a_fixed_number_of_queries(
    world, group_by, django_assert_num_queries
):
    november = world["periods"][1]
    vendor_b = world["vendors"][1]
    ExchangeRate.objects.create(
        base="USD", quote="EUR", rate=D("0.9"), effective_from=date(2026, 10, 1)
    )
    expected = 8 if group_by == "batch" else 7

    def measure():
        with django_assert_num_queries(expected):
            cost_report(period=november, group_by=group_by, reporting_currency="EUR")
        with django_assert_num_queries(expected - 1):
            cost_report(period=november, group_by=group_by)
        with django_assert_num_queries(6):
            return vendor_sla_card(vendor=vendor_b, period=november)

    assert measure()["throughput"]["labels"] == 7
    more_labelers(world, 5)
    card = measure()
    assert card["throughput"]["labels"] == 12


# -- the admin pages -------------------------------------------------------------------------------


@pytest.fixture
def ops(db):
    user = UserFactory(username="ops-costs", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_payperiod"))
    return user


def page(client, name: str, **query):
    return client.get(reverse(f"admin:{name}"), query)


def test_the_cost_report_page_renders_for_ops(world, client, ops):
    november = world["periods"][1]
    ExchangeRate.objects.create(
        base="USD", quote="EUR", rate=D("0.9"), effective_from=date(2026, 10, 1)
    )
    client.force_login(ops)
    for group_by in ("project", "batch", "vendor"):
        response = page(
            client, "payments_cost_report", period=november.pk, group_by=group_by, currency="EUR"
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Cost in EUR" in html and "Cost in USD" in html
        assert '<svg class="lf-chart lf-stacked-chart"' in html
        assert "2.19 EUR" in html  # the converted total
        assert (
            "http://"
            not in html.split('<div id="content-main">', 1)[1].split("<!-- END Content -->")[0]
        )
    html = page(client, "payments_cost_report", period=november.pk).content.decode()
    # The amounts of a currency's table are in that currency, its code in the heading.
    assert total_row(html, "EUR")[-2:] == ["1.44", "0.3600"]
    assert total_row(html, "USD")[-2:] == ["0.83", "0.2075"]
    # No period chosen: the latest one (December, with no work of its own).
    assert page(client, "payments_cost_report").status_code == 200
    bad = page(client, "payments_cost_report", period="nope", group_by="labeler")
    assert bad.status_code == 200 and "Unknown choice" in bad.content.decode()


def total_row(html: str, code: str) -> list[str]:
    """The cells of the "All" row of the page's table of costs in ``code``, as text."""
    table = html.split(f"<h2>Cost in {code}</h2>", 1)[1].split("</table>", 1)[0]
    row = table.split('<tr class="total">', 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("</td>")[:-1]]


def test_each_currency_table_totals_only_its_own_rows(world, client, ops):
    harbour(world)
    november = world["periods"][1]
    client.force_login(ops)
    html = page(client, "payments_cost_report", period=november.pk, group_by="vendor").content
    html = html.decode()
    # EUR pays Acme (4 accepted) and the internal labelers (1): 1.44 EUR over 5 labels.
    eur = total_row(html, "EUR")
    assert eur[:2] == ["All", "5"] and eur[-2:] == ["1.44", "0.2880"]
    assert total_row(html, "USD")[1] == "3"
    inr = total_row(html, "INR")
    assert inr[1] == "2" and inr[-1] == "10.0000"


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("0.291333", "EUR", "0.2913 EUR"),
        ("0.272", "EUR", "0.2720 EUR"),
        ("0.10", "EUR", "0.1000 EUR"),
        ("24.1875", "INR", "24.1875 INR"),
        ("0.276667", "USD", "0.2767 USD"),
        ("0.000050", "EUR", "0.0001 EUR"),  # half away from zero, as money
        ("12.345678", "JPY", "12.35 JPY"),  # no minor unit: two decimals
        ("0.123456", "KWD", "0.12346 KWD"),  # three: five decimals
    ],
)
def test_a_cost_per_label_is_written_to_two_decimals_below_the_minor_unit(amount, code, text):
    assert admin_reports.per_label(D(amount), code) == text


def test_a_chart_label_is_cut_to_its_width_not_its_length():
    assert admin_reports.chart_label("Internal labelers") == "Internal labelers"
    assert admin_reports.chart_label("Kestrel Data Services") == "Kestrel Data Ser…"
    # Wide letters fill the area sooner than narrow ones; a cut never ends on a space.
    wide, narrow = admin_reports.chart_label("M" * 30), admin_reports.chart_label("i" * 30)
    assert wide.endswith("…") and narrow.endswith("…") and len(wide) < 10 < len(narrow)
    assert admin_reports.chart_label("aaaaaaaaaaaaa bbbbbb") == "aaaaaaaaaaaaa…"
    assert admin_reports.chart_label("") == ""


def test_the_cost_report_states_its_rounding_and_names_long_groups_in_full(world, client, ops):
    november = world["periods"][1]
    project = world["project"]
    project.name = "Pole inspection of the northern region, second survey"
    project.save(update_fields=["name"])
    client.force_login(ops)
    html = page(client, "payments_cost_report", period=november.pk, group_by="batch")
    html = html.content.decode()
    assert "Cost per accepted label to two decimals below the currency" in html
    full = f"{project.name} · batch {world['batches'][0].pk} (north.jsonl)"
    assert f'title="{full}"' in html
    # The charts' label area holds about 16 characters: longer names end in an ellipsis, and
    # the batches of one project leave its name out, keeping what tells them apart.
    labels = re.findall(r'<text[^>]*text-anchor="end"[^>]*>([^<]*)</text>', html)
    assert labels and all(len(label) <= 18 for label in labels)
    batch = f"batch {world['batches'][0].pk} ("
    assert any(label.startswith(batch) and label.endswith("…") for label in labels)
    assert any(label.startswith("no batch") for label in labels)


def test_the_vendor_sla_page_renders_for_ops(world, client, ops):
    november = world["periods"][1]
    vendor_b = world["vendors"][1]
    client.force_login(ops)
    response = page(client, "payments_vendor_sla", period=november.pk, vendor=vendor_b.pk)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Vendor SLA: Bravo Labels" in html
    assert "4 min 00 s (n = 7 labels)" in html
    assert "66.7% (n = 3" in html  # gold accuracy with its interval
    assert "0.2767 USD" in html  # per accepted label, to 1/100 of a cent
    assert '<svg class="lf-chart lf-bar-chart"' in html
    assert page(client, "payments_vendor_sla").status_code == 200


def test_the_vendor_sla_page_of_a_period_under_way(client, ops):
    vendor = VendorFactory(name="Cedar", slug="cedar")
    project = make_project(tasks=0, slug="under-way", name="Under way")
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    week = make_period(today - timedelta(days=2), today + timedelta(days=5), cadence="weekly")
    # One label submitted a minute after midnight today.
    decided_labels(
        project, make_labeler(vendor=vendor), accepted=1, at=today + timedelta(minutes=2)
    )
    client.force_login(ops)
    html = page(client, "payments_vendor_sla", period=week.pk, vendor=vendor.pk).content.decode()
    assert "under way" in html and "of its 7 days" in html
    # Three bars: the two days before today without labels, and today with its label.
    chart = html.split('<svg class="lf-chart lf-bar-chart"', 1)[1].split("</svg>", 1)[0]
    days = [f"{today - timedelta(days=n):%d %b}" for n in (2, 1, 0)]
    assert re.findall(r"<title>([^<]*) labels</title>", chart) == [
        f"{days[0]}: 0",
        f"{days[1]}: 0",
        f"{days[2]}: 1",
    ]


def test_the_pages_are_for_ops_only(world, client, ops):
    november = world["periods"][1]
    for name in ("payments_cost_report", "payments_vendor_sla"):
        # Not logged in, or logged in without staff: the admin's login page.
        assert page(client, name, period=november.pk).status_code == 302
        client.force_login(world["people"][0].user)
        assert page(client, name, period=november.pk).status_code == 302
        # Staff without the payments permission: refused.
        client.force_login(UserFactory(username=f"staff-{name}", is_staff=True))
        assert page(client, name, period=november.pk).status_code == 403
        client.force_login(ops)
        assert page(client, name, period=november.pk).status_code == 200
        client.logout()


def test_the_pages_render_before_any_period_or_vendor(client, ops):
    client.force_login(ops)
    for name in ("payments_cost_report", "payments_vendor_sla"):
        response = page(client, name)
        assert response.status_code == 200
        assert "No pay periods yet." in response.content.decode()


def test_the_pages_cost_the_same_queries_with_more_labelers(world, client, ops):
    november, vendor_b = world["periods"][1], world["vendors"][1]
    client.force_login(ops)
    asks = [
        ("payments_cost_report", {"period": november.pk, "group_by": "batch", "currency": "EUR"}),
        ("payments_vendor_sla", {"period": november.pk, "vendor": vendor_b.pk}),
    ]

    def counts() -> list[int]:
        out = []
        for name, query in asks:
            with CaptureQueriesContext(connection) as queries:
                assert page(client, name, **query).status_code == 200
            out.append(len(queries))
        return out

    before = counts()
    more_labelers(world, 6)
    assert counts() == before
