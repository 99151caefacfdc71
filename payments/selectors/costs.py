"""Cost reports and vendor SLA cards: what a period's work cost, split by what it paid for, next
to the quality it bought. Operations only (the callers check); read-only, set-based: every figure
is a SQL aggregate, grouped at most by group, currency and component, and no function loops over
assignments, items or labelers in Python.

**The work of a period** is every piece (an assignment or a review) whose original paid item
(``corrects`` empty) is in the period. A piece costs its original ``unit_value`` plus the
difference each later correction made (an adjustment item, wherever it was paid), so its cost is
its value after all corrections; in its line's currency, before the per-line rounding of the
ledger. Adjustments of pieces first paid in earlier periods belong to those periods' work.

**The split** of that cost, per piece:

* ``first_label`` — the first submitted assignment of a real task (submission order, then id);
* ``overlap`` — its 2nd to ``project.overlap``-th submitted assignments (dual labeling);
* ``extra_slots`` — the ones beyond ``project.overlap``, added on disagreement;
* ``control`` — assignments on control tasks;
* ``review`` — reviews (review items).

Task and hourly items alike are split by their assignment. Bonus, vendor fee and deduction lines
of the period are their own components (line amounts). ``total`` is the sum of the components,
exactly (``Decimal``).

**Accepted labels**: per project or batch, the real tasks decided in the period (one final
answer per task; a re-decided task counts in the period of its current decision); per vendor,
its labelers' labels on real tasks decided in the period that agree with the final answer (a
task's labels may come from several vendors). Cost per accepted label = total / accepted labels;
a currency's total over all groups divides by the accepted labels of the groups paid in that
currency only.

**Quality** is qc's, with qc's definitions (``qc.selectors.quality_facts``): gold accuracy over
counted gold checks, pairwise agreement ``sum(peers_agreeing) / sum(peers)`` and agreement with
the final label over label outcomes, each with n and its Wilson 95% interval, over the facts of
the period (checks made, outcomes decided in it). A batch row shows its own agreement and its
project's gold accuracy (control tasks belong to no batch).

**Currencies**: amounts stay per currency. With a reporting currency, a converted figure is added
for reporting only, at the ``ExchangeRate`` of each currency into it effective on the period's
first day (its latest row on or before that date); a currency without one makes the converted
figure unavailable (None, with the currencies missing), never a guess. Amounts owed are never
converted.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from assignments.models import Assignment, Batch, Project, Task
from payments.currency import minor_unit, round_money, validate
from payments.models import ExchangeRate, LedgerLine, PaidItem, PayPeriod
from qc.models import GoldCheck, LabelOutcome
from qc.selectors.quality_facts import rate
from workforce.models import Vendor

GroupBy = Literal["project", "batch", "vendor"]
GROUP_BYS: tuple[str, ...] = ("project", "batch", "vendor")

WORK_COMPONENTS = ("first_label", "overlap", "extra_slots", "control", "review")
LINE_COMPONENTS = {
    LedgerLine.Kind.BONUS: "bonus",
    LedgerLine.Kind.VENDOR_FEE: "vendor_fee",
    LedgerLine.Kind.DEDUCTION: "deduction",
}
COMPONENTS = WORK_COMPONENTS + tuple(LINE_COMPONENTS.values())
COMPONENT_NAMES = {
    "first_label": "First label",
    "overlap": "Overlap",
    "extra_slots": "Extra slots",
    "control": "Control tasks",
    "review": "Review",
    "bonus": "Bonus",
    "vendor_fee": "Vendor fee",
    "deduction": "Deductions",
}
INTERNAL = "Internal labelers"
PER_LABEL = Decimal("0.000001")  # cost per accepted label: six decimals, as item values
MONEY = DecimalField(max_digits=24, decimal_places=6)
ZERO = Decimal(0)


# -- the period --------------------------------------------------------------------------------


def _in_period(field: str, period: PayPeriod) -> Q:
    return Q(**{f"{field}__gte": period.starts_at, f"{field}__lt": period.ends_at})


def first_day(period: PayPeriod) -> dt.date:
    """The period's first day in its own time zone: the date exchange rates are read at."""
    return period.starts_at.astimezone(zoneinfo.ZoneInfo(period.timezone)).date()


# -- costs -------------------------------------------------------------------------------------


def _work_items(period: PayPeriod) -> QuerySet[PaidItem]:
    """The items of the period's work: its original items and every correction of them."""
    originals = PaidItem.objects.filter(period=period, corrects__isnull=True)
    corrected = originals.filter(kind=PaidItem.Kind.TASK).values("assignment_id")
    return PaidItem.objects.filter(
        Q(period=period, corrects__isnull=True)
        | Q(corrects__isnull=False, kind=PaidItem.Kind.TASK, assignment_id__in=corrected)
    )


def _earlier_submissions() -> Coalesce:
    """How many submitted assignments of the item's task came before its assignment (by
    submission time, then id): 0 for the first label."""
    earlier = (
        Assignment.objects.filter(
            task_id=OuterRef("assignment__task_id"), status=Assignment.Status.SUBMITTED
        )
        .filter(
            Q(submitted_at__lt=OuterRef("assignment__submitted_at"))
            | Q(submitted_at=OuterRef("assignment__submitted_at"), pk__lt=OuterRef("assignment_id"))
        )
        .order_by()
        .values("task_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(earlier), 0)


def _component() -> Case:
    """The part of the split an item's piece belongs to (reads the ``earlier`` annotation)."""
    return Case(
        When(review__isnull=False, then=Value("review")),
        When(assignment__is_control=True, then=Value("control")),
        When(earlier=0, then=Value("first_label")),
        When(earlier__lt=F("assignment__project__overlap"), then=Value("overlap")),
        default=Value("extra_slots"),
    )


# What each source of figures is grouped by, per report grouping: name -> expression.
ITEM_KEYS = {
    "project": {"project": F("line__project_id")},
    "batch": {
        "project": F("line__project_id"),
        "batch": Coalesce(F("assignment__task__batch_id"), F("review__task__batch_id")),
    },
    "vendor": {"vendor": F("line__vendor_id")},
}
# Bonus and fee lines belong to a project (and a vendor), never to a batch.
LINE_KEYS = {
    "project": {"project": F("project_id")},
    "batch": {"project": F("project_id")},
    "vendor": {"vendor": F("vendor_id")},
}
KEY_FIELDS = {"project": ("project",), "batch": ("project", "batch"), "vendor": ("vendor",)}

Key = tuple


def _grouped(qs: QuerySet, keys: dict[str, Any], *fields: str, **aggregates: Any) -> list[dict]:
    """``qs`` grouped by ``keys`` (as ``k_<name>``) and ``fields``, with ``aggregates``."""
    named = {f"k_{name}": expression for name, expression in keys.items()}
    return list(qs.annotate(**named).values(*named, *fields).annotate(**aggregates).order_by())


def _key(row: dict, group_by: str) -> Key:
    return tuple(row.get(f"k_{name}") for name in KEY_FIELDS[group_by])


def _costs(
    period: PayPeriod, group_by: str, *, vendor_id: int | None = None
) -> dict[Key, dict[str, dict[str, Decimal]]]:
    """Per group and currency, the amount of each component. Two queries."""
    items = _work_items(period)
    lines = LedgerLine.objects.filter(period=period, kind__in=list(LINE_COMPONENTS))
    if vendor_id is not None:
        items, lines = items.filter(line__vendor_id=vendor_id), lines.filter(vendor_id=vendor_id)
    delta = ExpressionWrapper(
        F("unit_value") - Coalesce(F("corrects__unit_value"), Value(ZERO)), output_field=MONEY
    )
    table: dict[Key, dict[str, dict[str, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(COMPONENTS, ZERO))
    )
    work = items.annotate(
        earlier=_earlier_submissions(), component=_component(), currency=F("line__currency")
    )
    for row in _grouped(work, ITEM_KEYS[group_by], "currency", "component", amount=Sum(delta)):
        table[_key(row, group_by)][row["currency"]][row["component"]] += row["amount"]
    for row in _grouped(lines, LINE_KEYS[group_by], "currency", "kind", amount=Sum("amount")):
        table[_key(row, group_by)][row["currency"]][LINE_COMPONENTS[row["kind"]]] += row["amount"]
    return table


def _accepted(period: PayPeriod, group_by: str) -> dict[Key, int]:
    """Accepted labels per group (see the module's docstring). One query."""
    if group_by == "vendor":
        qs = LabelOutcome.objects.filter(_in_period("decided_at", period), agrees_final=True)
        keys: dict[str, Any] = {"vendor": F("labeler__vendor_id")}
    else:
        qs = Task.objects.filter(_in_period("decided_at", period), gold_item__isnull=True).exclude(
            decided_by=""
        )
        keys = {"project": F("project_id")}
        if group_by == "batch":
            keys["batch"] = F("batch_id")
    return {_key(row, group_by): row["n"] for row in _grouped(qs, keys, n=Count("pk"))}


def _quality(period: PayPeriod, group_by: str) -> tuple[dict[Key, dict], dict[Key, dict]]:
    """qc's figures over the period's facts: gold accuracy per project (per vendor), and pairwise
    and final agreement per group. Two queries."""
    by_vendor = group_by == "vendor"
    gold_keys = {"vendor": F("labeler__vendor_id")} if by_vendor else {"project": F("project_id")}
    gold = {
        _key(row, "vendor" if by_vendor else "project"): rate(row["correct"], row["n"])
        for row in _grouped(
            GoldCheck.objects.filter(_in_period("checked_at", period), counted=True),
            gold_keys,
            n=Count("pk"),
            correct=Count("pk", filter=Q(correct=True)),
        )
    }
    keys: dict[str, Any] = {"vendor": F("labeler__vendor_id")} if by_vendor else {}
    if not by_vendor:
        keys["project"] = F("project_id")
    if group_by == "batch":
        keys["batch"] = Subquery(Task.objects.filter(pk=OuterRef("task_id")).values("batch_id"))
    agreement = {
        _key(row, group_by): {
            "pairwise": rate(row["agreeing"], row["pairs"], key="agreeing"),
            "with_final": rate(row["final"], row["n"], key="agreeing"),
        }
        for row in _grouped(
            LabelOutcome.objects.filter(_in_period("decided_at", period)),
            keys,
            pairs=Coalesce(Sum("peers"), 0),
            agreeing=Coalesce(Sum("peers_agreeing"), 0),
            n=Count("pk"),
            final=Count("pk", filter=Q(agrees_final=True)),
        )
    }
    return gold, agreement


def _names(group_by: str, keys: list[Key]) -> dict[Key, str]:
    """A readable name per group. One query (two for batches)."""
    if group_by == "vendor":
        names = dict(Vendor.objects.filter(pk__in=[k[0] for k in keys]).values_list("pk", "name"))
        return {k: names.get(k[0], INTERNAL) if k[0] is not None else INTERNAL for k in keys}
    projects = dict(Project.objects.filter(pk__in={k[0] for k in keys}).values_list("pk", "name"))
    if group_by == "project":
        return {k: projects.get(k[0], f"project {k[0]}") for k in keys}
    sources = dict(
        Batch.objects.filter(pk__in=[k[1] for k in keys if k[1] is not None]).values_list(
            "pk", "source"
        )
    )
    out = {}
    for project_id, batch_id in keys:
        project = projects.get(project_id, f"project {project_id}")
        if batch_id is None:
            out[project_id, batch_id] = f"{project} · no batch (bonus, fees, unbatched work)"
        else:
            source = sources.get(batch_id)
            out[project_id, batch_id] = f"{project} · batch {batch_id}" + (
                f" ({source})" if source else ""
            )
    return out


# -- money figures -----------------------------------------------------------------------------


def _per_label(amount: Decimal, accepted: int) -> Decimal | None:
    if not accepted:
        return None
    return (amount / accepted).quantize(PER_LABEL, rounding=ROUND_HALF_UP)


def _figures(components: dict[str, Decimal], accepted: int) -> dict[str, Decimal | None]:
    """The components, their ``total`` (their exact sum) and the cost per accepted label."""
    total = sum(components.values(), ZERO)
    return {**components, "total": total, "per_accepted_label": _per_label(total, accepted)}


def exchange_rates(
    currencies: set[str] | list[str], *, into: str, on: dt.date
) -> dict[str, dict[str, Any] | None]:
    """Per currency, the rate into ``into`` in effect on ``on`` (the pair's latest row on or
    before that date) as ``{rate, effective_from}``; None when there is none (no inverse pair
    and no chain through a third currency is tried). ``into`` itself converts at 1. One query
    (none when nothing needs converting)."""
    others = sorted(set(currencies) - {into})
    found: dict[str, dict[str, Any]] = {}
    if others:
        latest = (
            ExchangeRate.objects.filter(base=OuterRef("base"), quote=into, effective_from__lte=on)
            .order_by("-effective_from")
            .values("effective_from")[:1]
        )
        for base, value, since in ExchangeRate.objects.filter(
            base__in=others, quote=into, effective_from=Subquery(latest)
        ).values_list("base", "rate", "effective_from"):
            found[base] = {"rate": value, "effective_from": since}
    out: dict[str, dict[str, Any] | None] = {c: found.get(c) for c in others}
    if into in currencies:
        out[into] = {"rate": Decimal(1), "effective_from": None}
    return out


def _converted(
    currencies: dict[str, dict[str, Any]],
    accepted: int,
    into: str,
    rates: dict[str, dict[str, Any] | None],
) -> dict[str, Any]:
    """The total across currencies in ``into`` (rounded to its minor unit) and per accepted
    label; both None, with the currencies lacking a rate, when any rate is missing."""
    missing = sorted(c for c in currencies if rates.get(c) is None)
    if missing:
        return {"currency": into, "total": None, "per_accepted_label": None, "missing": missing}
    exact = sum((figures["total"] * rates[c]["rate"] for c, figures in currencies.items()), ZERO)
    return {
        "currency": into,
        "total": round_money(exact, into),
        "per_accepted_label": _per_label(exact, accepted),
        "missing": [],
    }


# -- the report --------------------------------------------------------------------------------


def cost_report(
    *, period: PayPeriod, group_by: GroupBy, reporting_currency: str | None = None
) -> dict[str, Any]:
    """The cost report of ``period`` grouped by project, batch or vendor (see the module's
    docstring for what each figure means).

    Returns ``{period, group_by, reporting_currency, rate_date, exchange_rates, components,
    groups, totals}``; each group (sorted by name) is ``{key, name, project_id, batch_id,
    vendor_id, accepted_labels, currencies: {code: {<component>: Decimal, total,
    per_accepted_label}}, converted, quality: {gold_accuracy, pairwise, with_final}}`` and
    ``totals`` is ``{accepted_labels, currencies, converted}``: ``accepted_labels`` and
    ``converted`` over all groups; ``currencies`` per currency over the groups with an amount
    in it only, ``{<component>, total, accepted_labels, per_accepted_label}`` (a group paid in
    two currencies counts its accepted labels in both, as its own rows do). ``converted`` is
    None without a reporting currency. Six queries (seven by batch), one more with a
    reporting currency, whatever the number of groups, labelers or assignments."""
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, not {group_by!r}.")
    if reporting_currency is not None:
        validate(reporting_currency)
    costs = _costs(period, group_by)
    accepted = _accepted(period, group_by)
    gold, agreement = _quality(period, group_by)
    keys = sorted(set(costs) | set(accepted), key=lambda k: tuple((v is None, v or 0) for v in k))
    names = _names(group_by, keys)
    rate_date = first_day(period)
    rates = None
    if reporting_currency is not None:
        used = {c for key in keys for c in costs.get(key, {})}
        rates = exchange_rates(used, into=reporting_currency, on=rate_date)
    no_agreement = {
        "pairwise": rate(0, 0, key="agreeing"),
        "with_final": rate(0, 0, key="agreeing"),
    }
    groups = []
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(COMPONENTS, ZERO))
    # A currency's cost per accepted label is over the labels its groups delivered, not over
    # those of groups paid in other currencies only.
    accepted_in: dict[str, int] = defaultdict(int)
    for key in keys:
        n = accepted.get(key, 0)
        currencies = {
            code: _figures(components, n) for code, components in sorted(costs.get(key, {}).items())
        }
        for code, components in costs.get(key, {}).items():
            accepted_in[code] += n
            for name, amount in components.items():
                totals[code][name] += amount
        fields = dict(zip(KEY_FIELDS[group_by], key, strict=True))
        gold_key = (fields["vendor"],) if group_by == "vendor" else (fields["project"],)
        groups.append(
            {
                "key": key,
                "name": names[key],
                "project_id": fields.get("project"),
                "batch_id": fields.get("batch"),
                "vendor_id": fields.get("vendor"),
                "accepted_labels": n,
                "currencies": currencies,
                "converted": None
                if rates is None
                else _converted(currencies, n, reporting_currency, rates),
                "quality": {
                    "gold_accuracy": gold.get(gold_key, rate(0, 0)),
                    **agreement.get(key, no_agreement),
                },
            }
        )
    groups.sort(key=lambda g: g["name"])
    all_accepted = sum(g["accepted_labels"] for g in groups)
    all_currencies = {
        code: {
            **_figures(totals[code], accepted_in[code]),
            "accepted_labels": accepted_in[code],
        }
        for code in sorted(totals)
    }
    return {
        "period": period,
        "group_by": group_by,
        "reporting_currency": reporting_currency,
        "rate_date": rate_date,
        "exchange_rates": rates,
        "components": COMPONENTS,
        "groups": groups,
        "totals": {
            "accepted_labels": all_accepted,
            "currencies": all_currencies,
            "converted": None
            if rates is None
            else _converted(all_currencies, all_accepted, reporting_currency, rates),
        },
    }


# -- the vendor SLA card -----------------------------------------------------------------------

MEDIAN_POSTGRES = (
    "SELECT COUNT(*), PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY turnaround) FROM ({sql}) t"
)
# Elsewhere (SQLite, the demo): the middle row, or the mean of the two middle rows, by rank.
MEDIAN_ORDERED = """
    SELECT COALESCE(MAX(c), 0), AVG(turnaround) FROM (
        SELECT turnaround, ROW_NUMBER() OVER (ORDER BY turnaround) AS rn, COUNT(*) OVER () AS c
        FROM ({sql}) t
    ) m WHERE rn IN ((c + 1) / 2, (c + 2) / 2)
"""
MILLISECOND = Decimal("0.001")


def _seconds(value: Any) -> Decimal | None:
    """A duration from the database as seconds: an interval (PostgreSQL) or a number of
    microseconds (SQLite)."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        exact = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
    else:
        exact = Decimal(str(value)) / 10**6
    return exact.quantize(MILLISECOND, rounding=ROUND_HALF_UP)


def _count_and_median_turnaround(submitted: QuerySet[Assignment]) -> tuple[int, Decimal | None]:
    """How many assignments ``submitted`` holds and their median lease-to-submit time in
    seconds (None when there are none), in one query: ``PERCENTILE_CONT`` on PostgreSQL, the
    middle rows by ``ROW_NUMBER`` elsewhere."""
    turnaround = ExpressionWrapper(F("submitted_at") - F("leased_at"), output_field=DurationField())
    sql, params = (
        submitted.annotate(turnaround=turnaround).values("turnaround").query.sql_with_params()
    )
    template = MEDIAN_POSTGRES if connection.vendor == "postgresql" else MEDIAN_ORDERED
    with connection.cursor() as cursor:
        cursor.execute(template.format(sql=sql), params)
        count, median = cursor.fetchone()
    return int(count or 0), _seconds(median)


def _days(span: dt.timedelta) -> Decimal:
    return Decimal(span.days) + Decimal(span.seconds) / 86400


def _elapsed(period: PayPeriod, now: dt.datetime) -> dt.timedelta:
    """How much of the period has passed at ``now``: none before it starts, all once it ends."""
    return max(dt.timedelta(0), min(now, period.ends_at) - period.starts_at)


def _daily(
    period: PayPeriod, elapsed: dt.timedelta, counts: dict[dt.date, int]
) -> list[dict[str, Any]]:
    """``{day, labels}`` for each day of the period (in its time zone) begun within
    ``elapsed``, 0 where ``counts`` has none; stretched to the last day ``counts`` holds, so
    the days add up to every label counted."""
    local = zoneinfo.ZoneInfo(period.timezone)
    first = first_day(period)
    ends = list(counts)
    if elapsed:
        # The last instant passed, so that a midnight ``now`` does not begin the day after it.
        ends.append(
            (period.starts_at + elapsed - dt.timedelta(microseconds=1)).astimezone(local).date()
        )
    if not ends:
        return []
    return [
        {"day": day, "labels": counts.get(day, 0)}
        for day in (first + dt.timedelta(days=i) for i in range((max(ends) - first).days + 1))
    ]


def vendor_sla_card(
    *, vendor: Vendor, period: PayPeriod, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A vendor's service figures for ``period``, over its labelers (those whose vendor it is),
    as of ``now`` (the current time by default):

    * ``throughput`` — ``{labels, days, period_days, under_way, per_day, daily: [{day,
      labels}]}``: assignments submitted in the period (real and control alike); ``days``, the
      days of the period elapsed (the time since its start, at most its length
      ``period_days``, 0 before it starts), which ``per_day`` divides ``labels`` by (None when
      none has); ``under_way`` while ``now`` is inside the period; ``daily``, every day of the
      period begun by ``now`` (days in its time zone), those without labels at 0;
    * ``turnaround`` — ``{n, median_seconds}``: the median time from lease to submit of those
      assignments;
    * ``accuracy`` — gold accuracy over the counted gold checks made in the period, with n and
      its Wilson 95% interval (``{n, correct, rate, low, high}``);
    * ``rework`` — labels that lost to the final answer over the labels decided in the period
      (``{n, lost, rate, low, high}``);
    * ``accepted_labels`` — decided labels that agree with the final answer;
    * ``costs`` — per currency, the vendor's row of the cost report (components, ``total``,
      ``per_accepted_label``).

    Six queries, whatever the number of labelers or assignments."""
    submitted = Assignment.objects.filter(
        _in_period("submitted_at", period),
        status=Assignment.Status.SUBMITTED,
        labeler__vendor_id=vendor.pk,
    )
    labels, median = _count_and_median_turnaround(submitted)
    local = zoneinfo.ZoneInfo(period.timezone)
    counts = dict(
        submitted.annotate(day=TruncDate("submitted_at", tzinfo=local))
        .values("day")
        .annotate(labels=Count("pk"))
        .values_list("day", "labels")
        .order_by()
    )
    checks = GoldCheck.objects.filter(
        _in_period("checked_at", period), counted=True, labeler__vendor_id=vendor.pk
    ).aggregate(n=Count("pk"), correct=Count("pk", filter=Q(correct=True)))
    decided = LabelOutcome.objects.filter(
        _in_period("decided_at", period), labeler__vendor_id=vendor.pk
    ).aggregate(n=Count("pk"), lost=Count("pk", filter=Q(agrees_final=False)))
    accepted = decided["n"] - decided["lost"]
    costs = _costs(period, "vendor", vendor_id=vendor.pk).get((vendor.pk,), {})
    now = now or timezone.now()
    elapsed = _elapsed(period, now)
    days = _days(elapsed)
    return {
        "vendor": vendor,
        "period": period,
        "throughput": {
            "labels": labels,
            "days": days,
            "period_days": _days(period.ends_at - period.starts_at),
            "under_way": period.starts_at <= now < period.ends_at,
            "per_day": (Decimal(labels) / days).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if days
            else None,
            "daily": _daily(period, elapsed, counts),
        },
        "turnaround": {"n": labels, "median_seconds": median},
        "accuracy": rate(checks["correct"], checks["n"]),
        "rework": rate(decided["lost"], decided["n"], key="lost"),
        "accepted_labels": accepted,
        "costs": {code: _figures(c, accepted) for code, c in sorted(costs.items())},
    }


def minor_units(amount: Decimal, code: str) -> int:
    """``amount`` in whole minor units of ``code`` (cents of EUR, yen), rounded: for charts,
    which draw shares of integers."""
    return int(round_money(amount, code).scaleb(minor_unit(code)))
