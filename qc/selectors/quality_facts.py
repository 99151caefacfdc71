"""Reads of labeler scores, computed set-based from qc's own quality facts (written by
``qc.services.quality_facts``) with SQL aggregates.

The facts (see ``qc.models``): ``GoldCheck`` (a control answer graded at submission; only
``counted`` checks score — a quarantined gold item's checks do not), ``AttemptQuestion`` (quiz
answers graded against gold), ``LabelOutcome`` (each answer on a decided real task, compared
with the final label and with the other answers) and ``LabelerEstimate`` (the Dawid-Skene
accuracy of the latest refit). No function here loops over fact rows in Python: every figure is
a ``COUNT``/``SUM`` in the database, grouped at most by class or week, and the pure maths
(``qc.stats.wilson``) is applied to the few aggregate rows that come back.

Every window ends at ``now`` (the caller's, or the present): a fact stamped after it is never
counted, in any window, series or table (a clock that ran ahead or a backdated import cannot
inflate a score). A window of d days is the facts with ``now - d days <= time <= now``.

Every rate comes as ``{n, correct, rate, low, high}`` (``agreeing`` instead of ``correct`` for
agreement): the count it rests on and its Wilson 95% interval; ``rate`` is None when n is 0.

What a scorecard holds is counts, rates and class names — never an answer of another labeler,
never a gold item, its id or its accepted answers. For the labeler's own view, callers pass
``before`` (the start of the current day): checks and outcomes recorded since then are left
out, so the numbers move once a day and a labeler cannot tell a control task from a real one by
watching their gold count change after a submission, and so tell a control task from a real
one (docs/quality.md, "The labeler's own view"). Quiz answers count only
once their attempt has ended, so a running qualification quiz gives no per-question feedback.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Avg, Count, F, IntegerField, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from qc.models import AttemptQuestion, GoldCheck, LabelerEstimate, LabelOutcome
from qc.stats import wilson
from workforce.models import Labeler, Vendor

# The windows every windowed figure is given over: key -> days back from now (None: all time).
WINDOWS: tuple[tuple[str, int | None], ...] = (
    ("last_7_days", 7),
    ("last_30_days", 30),
    ("all_time", None),
)
WEEKS = 12  # the weekly gold-accuracy series for charts covers this many weeks


def start_of_day(now: datetime, tz: str | tzinfo | None = None) -> datetime:
    """Where a labeler's own view of their quality facts stops: the start of their current day
    — midnight in ``tz`` (the labeler's stored ``Labeler.timezone``, an IANA name, for their own
    scorecard; the server's ``TIME_ZONE`` when None, as for the rules sweep's cut-off; an
    unknown name is read as UTC). Facts recorded since are left out, so a labeler cannot watch
    a gold count move after a submit and tell a control task from a real one: control tasks
    must stay indistinguishable from real ones in everything a labeler sees. Across a daylight
    saving change the day is 23 or 25 hours long; midnight itself is the wall-clock midnight of
    the zone (docs/quality.md, "Time zones")."""
    local = timezone.localtime(now, _zone(tz)) if tz is not None else timezone.localtime(now)
    return datetime.combine(local.date(), time.min, tzinfo=local.tzinfo)


def _zone(tz: str | tzinfo) -> tzinfo:
    if not isinstance(tz, str):
        return tz
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def rate(successes: int, n: int, *, key: str = "correct") -> dict[str, Any]:
    """``{n, <key>, rate, low, high}`` with the Wilson 95% interval."""
    interval = wilson(int(successes), int(n))
    return {
        "n": int(n),
        key: int(successes),
        "rate": interval.rate,
        "low": interval.low,
        "high": interval.high,
    }


def _since(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _window_q(field: str, since: datetime | None) -> Q:
    return Q(**{f"{field}__gte": since}) if since is not None else Q(pk__isnull=False)


# -- scopes ------------------------------------------------------------------------------------


def filter_given(qs: QuerySet, **lookups: Any) -> QuerySet:
    """``qs`` filtered by each of ``lookups`` whose value is not None (an absent labeler,
    project or cut-off narrows nothing)."""
    return qs.filter(**{lookup: value for lookup, value in lookups.items() if value is not None})


def _gold_checks(
    *, labeler_id: int | None, project_id: int | None, before: datetime | None, now: datetime
) -> QuerySet[GoldCheck]:
    return filter_given(
        GoldCheck.objects.filter(counted=True, checked_at__lte=now),
        labeler_id=labeler_id,
        project_id=project_id,
        checked_at__lt=before,
    )


def _outcomes(
    *, labeler_id: int | None, project_id: int | None, before: datetime | None, now: datetime
) -> QuerySet[LabelOutcome]:
    # Windows go by submission time, the own view's cut-off by decision time: both end at now.
    return filter_given(
        LabelOutcome.objects.filter(submitted_at__lte=now, decided_at__lte=now),
        labeler_id=labeler_id,
        project_id=project_id,
        decided_at__lt=before,
    )


# -- the pieces of a scorecard -----------------------------------------------------------------


def gold_accuracy(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """Gold accuracy from control tasks per window, and how many checks were contested.
    One query."""
    now = now or timezone.now()
    aggregates: dict[str, Any] = {"contested": Count("pk", filter=~Q(contest=""))}
    for key, days in WINDOWS:
        window = _window_q("checked_at", _since(now, days))
        aggregates[f"{key}_n"] = Count("pk", filter=window)
        aggregates[f"{key}_c"] = Count("pk", filter=window & Q(correct=True))
    row = _gold_checks(
        labeler_id=labeler_id, project_id=project_id, before=before, now=now
    ).aggregate(**aggregates)
    return {
        "windows": {key: rate(row[f"{key}_c"], row[f"{key}_n"]) for key, _ in WINDOWS},
        "contested": row["contested"],
    }


def quiz_accuracy(*, labeler_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Gold accuracy from quiz questions (training and qualification) per window, counting only
    the questions of ended attempts (a running attempt gives no per-question signal). Quizzes
    are not tied to a project, so this figure is the same with or without a project filter.
    One query."""
    now = now or timezone.now()
    qs = AttemptQuestion.objects.filter(
        attempt__labeler_id=labeler_id,
        attempt__finished_at__lte=now,
        is_correct__isnull=False,
        answered_at__lte=now,
    )
    aggregates = {}
    for key, days in WINDOWS:
        window = _window_q("answered_at", _since(now, days))
        aggregates[f"{key}_n"] = Count("pk", filter=window)
        aggregates[f"{key}_c"] = Count("pk", filter=window & Q(is_correct=True))
    row = qs.aggregate(**aggregates)
    return {key: rate(row[f"{key}_c"], row[f"{key}_n"]) for key, _ in WINDOWS}


def _matrix(cells: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """``{classes, counts}`` from (row class, column class, count) triples: ``counts[i][j]`` is
    how often row class i met column class j. Classes are those that occur, sorted."""
    cells = list(cells)
    classes = sorted({r for r, _, _ in cells} | {c for _, c, _ in cells})
    index = {c: i for i, c in enumerate(classes)}
    counts = [[0] * len(classes) for _ in classes]
    for r, c, n in cells:
        counts[index[r]][index[c]] += int(n)
    return {"classes": classes, "counts": counts}


def gold_by_class(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """All-time accuracy per gold class and the confusion matrix against gold (rows: the gold
    class, columns: the class answered). Choice answers only (boxes have no class). One query
    grouped by (gold class, answered class)."""
    now = now or timezone.now()
    rows = list(
        _gold_checks(labeler_id=labeler_id, project_id=project_id, before=before, now=now)
        .exclude(expected_class="")
        .values("expected_class", "answer_class")
        .annotate(n=Count("pk"), correct=Count("pk", filter=Q(correct=True)))
        .order_by()
    )
    per_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        per_class[row["expected_class"]][0] += row["correct"]
        per_class[row["expected_class"]][1] += row["n"]
    return {
        "per_class": [
            {"class_name": name, **rate(c, n)} for name, (c, n) in sorted(per_class.items())
        ],
        "confusion": _matrix((r["expected_class"], r["answer_class"], r["n"]) for r in rows),
    }


def confusion_vs_final(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """Confusion matrix against the final labels (rows: the final class, columns: the class
    answered) over decided real tasks. One query."""
    now = now or timezone.now()
    rows = (
        _outcomes(labeler_id=labeler_id, project_id=project_id, before=before, now=now)
        .exclude(final_class="")
        .values_list("final_class", "answer_class")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return _matrix(rows)


def agreement(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """Per window (by submission time): pairwise agreement with peers,
    ``sum(peers_agreeing) / sum(peers)`` with n = sum(peers) — the pairs of answers compared —
    and agreement with the final label over the n decided answers. One query.

    The pairs of one task share that task, so the Wilson interval of the pairwise rate is
    somewhat too narrow when overlap is above 2; it is still the honest order of magnitude."""
    now = now or timezone.now()
    aggregates = {}
    for key, days in WINDOWS:
        window = _window_q("submitted_at", _since(now, days))
        aggregates[f"{key}_pairs"] = Coalesce(Sum("peers", filter=window), 0)
        aggregates[f"{key}_agreeing"] = Coalesce(Sum("peers_agreeing", filter=window), 0)
        aggregates[f"{key}_n"] = Count("pk", filter=window)
        aggregates[f"{key}_final"] = Count("pk", filter=window & Q(agrees_final=True))
    row = _outcomes(labeler_id=labeler_id, project_id=project_id, before=before, now=now).aggregate(
        **aggregates
    )
    return {
        "pairwise": {
            key: rate(row[f"{key}_agreeing"], row[f"{key}_pairs"], key="agreeing")
            for key, _ in WINDOWS
        },
        "with_final": {
            key: rate(row[f"{key}_final"], row[f"{key}_n"], key="agreeing") for key, _ in WINDOWS
        },
    }


def estimates(*, labeler_id: int, project_id: int | None = None) -> list[dict[str, Any]]:
    """The labeler's Dawid-Skene estimates (one per project fitted), newest projects first.
    One query."""
    qs = LabelerEstimate.objects.filter(labeler_id=labeler_id)
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return list(
        qs.order_by("-project_id").values(
            "project_id", "accuracy", "method", "n_items", "fitted_at"
        )
    )


def gold_weekly(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
    weeks: int = WEEKS,
) -> list[dict[str, Any]]:
    """Gold accuracy per calendar week (weeks start on Monday, local time) over the last
    ``weeks`` weeks, each with its Wilson band, for charts. Weeks without checks are left out.
    One query."""
    now = now or timezone.now()
    rows = (
        _gold_checks(labeler_id=labeler_id, project_id=project_id, before=before, now=now)
        .filter(checked_at__gte=now - timedelta(weeks=weeks))
        .annotate(week=TruncWeek("checked_at"))
        .values("week")
        .annotate(n=Count("pk"), correct=Count("pk", filter=Q(correct=True)))
        .order_by("week")
    )
    return [{"week": row["week"].date(), **rate(row["correct"], row["n"])} for row in rows]


def labeler_scores(
    *,
    labeler_id: int,
    project_id: int | None = None,
    now: datetime | None = None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """Everything qc knows about one labeler's quality, optionally on one project: gold accuracy
    (control tasks and quizzes) per window, per class and its confusion matrix, confusion
    against final labels, pairwise and final agreement per window, the Dawid-Skene estimates,
    the weekly gold series and the contested checks. Counts, rates and class names only.

    ``before`` leaves out checks and outcomes recorded at or after it (pass the start of the day
    for the labeler's own view). Seven queries, whatever the number of facts."""
    now = now or timezone.now()
    gold = gold_accuracy(labeler_id=labeler_id, project_id=project_id, now=now, before=before)
    by_class = gold_by_class(labeler_id=labeler_id, project_id=project_id, now=now, before=before)
    return {
        "gold_accuracy": gold["windows"],
        "contested_checks": gold["contested"],
        "quiz_accuracy": quiz_accuracy(labeler_id=labeler_id, now=now),
        "per_class": by_class["per_class"],
        "confusion_vs_gold": by_class["confusion"],
        "confusion_vs_final": confusion_vs_final(
            labeler_id=labeler_id, project_id=project_id, now=now, before=before
        ),
        "agreement": agreement(
            labeler_id=labeler_id, project_id=project_id, now=now, before=before
        ),
        "estimates": estimates(labeler_id=labeler_id, project_id=project_id),
        "gold_weekly": gold_weekly(
            labeler_id=labeler_id, project_id=project_id, now=now, before=before
        ),
    }


# -- many labelers at once ---------------------------------------------------------------------


def labeler_score_table(
    *,
    project_id: int,
    labeler_ids: Iterable[int] | None = None,
    before: datetime | None = None,
    now: datetime | None = None,
) -> dict[int, dict[str, Any]]:
    """Per labeler of a project (or of ``labeler_ids``): gold accuracy over the last 30 days and
    all time, pairwise agreement and agreement with the final label (all time), and the
    Dawid-Skene accuracy. ``before`` leaves out facts recorded from then on (the start of the
    day for everyone but ops, docs/quality.md "Secrecy of control tasks"). Three grouped
    queries, whatever the number of labelers."""
    now = now or timezone.now()
    since = now - timedelta(days=30)
    gold = _gold_checks(labeler_id=None, project_id=project_id, before=before, now=now)
    outcomes = _outcomes(labeler_id=None, project_id=project_id, before=before, now=now)
    fits = LabelerEstimate.objects.filter(project_id=project_id)
    if labeler_ids is not None:
        ids = list(labeler_ids)
        gold, outcomes, fits = (
            gold.filter(labeler_id__in=ids),
            outcomes.filter(labeler_id__in=ids),
            fits.filter(labeler_id__in=ids),
        )
    table: dict[int, dict[str, Any]] = defaultdict(_empty_scores)
    _fill_score_table(table, "labeler_id", gold=gold, outcomes=outcomes, since=since)
    for row in fits.values("labeler_id", "accuracy", "method", "n_items"):
        table[row["labeler_id"]]["estimate"] = {
            "accuracy": row["accuracy"],
            "method": row["method"],
            "n_items": row["n_items"],
        }
    return dict(table)


def _empty_scores() -> dict[str, Any]:
    return {
        "gold_last_30_days": rate(0, 0),
        "gold_all_time": rate(0, 0),
        "pairwise": rate(0, 0, key="agreeing"),
        "with_final": rate(0, 0, key="agreeing"),
        "estimate": None,
    }


def _fill_score_table(
    table: dict[int, dict[str, Any]],
    field: str,
    *,
    gold: QuerySet[GoldCheck],
    outcomes: QuerySet[LabelOutcome],
    since: datetime,
) -> None:
    """Gold accuracy over the last 30 days (from ``since``) and all time, pairwise agreement
    and agreement with the final label (all time), per value of ``field`` (``labeler_id`` or
    ``project_id``), into ``table``. Two grouped queries."""
    for row in (
        gold.values(field)
        .annotate(
            n=Count("pk"),
            c=Count("pk", filter=Q(correct=True)),
            n30=Count("pk", filter=Q(checked_at__gte=since)),
            c30=Count("pk", filter=Q(checked_at__gte=since, correct=True)),
        )
        .order_by()
    ):
        entry = table[row[field]]
        entry["gold_all_time"] = rate(row["c"], row["n"])
        entry["gold_last_30_days"] = rate(row["c30"], row["n30"])
    for row in (
        outcomes.values(field)
        .annotate(
            pairs=Coalesce(Sum("peers"), 0),
            agreeing=Coalesce(Sum("peers_agreeing"), 0),
            n=Count("pk"),
            final=Count("pk", filter=Q(agrees_final=True)),
        )
        .order_by()
    ):
        entry = table[row[field]]
        entry["pairwise"] = rate(row["agreeing"], row["pairs"], key="agreeing")
        entry["with_final"] = rate(row["final"], row["n"], key="agreeing")


def labeler_scores_by_project(
    *, labeler_id: int, before: datetime | None = None, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """One labeler's figures per project they have facts on — the same figures as a row of
    ``labeler_score_table`` (gold accuracy over the last 30 days and all time, pairwise and
    final agreement all time), without the estimate: ``{project_id: {...}}``. ``before`` as
    everywhere here (the start of the day for the labeler's own view). Two grouped queries,
    whatever the number of projects."""
    now = now or timezone.now()
    table: dict[int, dict[str, Any]] = defaultdict(_empty_scores)
    _fill_score_table(
        table,
        "project_id",
        gold=_gold_checks(labeler_id=labeler_id, project_id=None, before=before, now=now),
        outcomes=_outcomes(labeler_id=labeler_id, project_id=None, before=before, now=now),
        since=now - timedelta(days=30),
    )
    for entry in table.values():
        del entry["estimate"]
    return dict(table)


def labeler_summary(
    *,
    labeler_id: int,
    days: int = 30,
    before: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A scorecard's headline figures over the last ``days`` days: gold accuracy
    (``gold_accuracy``'s window), pairwise agreement and agreement with the final label
    (``agreement``'s window), each with its count and Wilson interval, as ``{"gold",
    "pairwise", "with_final"}``. The same scopes and windows as those two (``before`` for the
    labeler's own view); one query instead of two: six scalar aggregates over the labeler's
    facts, read on their labeler row."""
    now = now or timezone.now()
    since = _since(now, days)
    gold = (
        _gold_checks(labeler_id=labeler_id, project_id=None, before=before, now=now)
        .filter(_window_q("checked_at", since))
        .order_by()
        .values("labeler_id")
    )
    outcomes = (
        _outcomes(labeler_id=labeler_id, project_id=None, before=before, now=now)
        .filter(_window_q("submitted_at", since))
        .order_by()
        .values("labeler_id")
    )

    def scalar(qs: QuerySet, aggregate: Any) -> Coalesce:
        value = qs.annotate(v=aggregate).values("v")[:1]
        return Coalesce(Subquery(value, output_field=IntegerField()), Value(0))

    row = (
        Labeler.objects.filter(pk=labeler_id)
        .values(
            gold_n=scalar(gold, Count("pk")),
            gold_c=scalar(gold, Count("pk", filter=Q(correct=True))),
            pairs=scalar(outcomes, Sum("peers")),
            agreeing=scalar(outcomes, Sum("peers_agreeing")),
            n=scalar(outcomes, Count("pk")),
            final=scalar(outcomes, Count("pk", filter=Q(agrees_final=True))),
        )
        .first()
    ) or dict.fromkeys(("gold_n", "gold_c", "pairs", "agreeing", "n", "final"), 0)
    return {
        "days": days,
        "gold": rate(row["gold_c"], row["gold_n"]),
        "pairwise": rate(row["agreeing"], row["pairs"], key="agreeing"),
        "with_final": rate(row["final"], row["n"], key="agreeing"),
    }


INTERNAL = "internal"


def vendor_comparison(
    *,
    vendor_ids: Iterable[int] | None = None,
    project_id: int | None = None,
    before: datetime | None = None,
    now: datetime | None = None,
    with_vendors: Iterable[int | None] = (),
) -> list[dict[str, Any]]:
    """Quality per vendor (and one row for internal labelers when ``vendor_ids`` is None — ops'
    view): how many labelers have gold checks and decided answers, gold accuracy over the last
    30 days and all time, pairwise and final agreement (all time), the mean Dawid-Skene accuracy
    over the vendor's estimated labelers with how many there are. Pooled over the vendor's
    answers: a vendor's gold rate is its checks' rate, so prolific labelers weigh more.
    ``before`` leaves out facts recorded from then on, as in ``labeler_score_table``.
    ``with_vendors``: vendor ids (None: internal) that get a row even without any fact — the
    caller has other figures of theirs (labels, active time); the caller scopes them. Four
    grouped queries."""
    now = now or timezone.now()
    since = now - timedelta(days=30)
    scoped = vendor_ids is not None
    ids = list(vendor_ids) if scoped else None
    gold = _gold_checks(labeler_id=None, project_id=project_id, before=before, now=now)
    outcomes = _outcomes(labeler_id=None, project_id=project_id, before=before, now=now)
    fits = LabelerEstimate.objects.all()
    if project_id is not None:
        fits = fits.filter(project_id=project_id)
    if scoped:
        gold = gold.filter(labeler__vendor_id__in=ids)
        outcomes = outcomes.filter(labeler__vendor_id__in=ids)
        fits = fits.filter(labeler__vendor_id__in=ids)
    vendor = F("labeler__vendor_id")
    rows: dict[int | None, dict[str, Any]] = {}

    def entry(vendor_id: int | None) -> dict[str, Any]:
        if vendor_id not in rows:
            rows[vendor_id] = _vendor_row(vendor_id)
        return rows[vendor_id]

    for row in (
        gold.annotate(vendor=vendor)
        .values("vendor")
        .annotate(
            labelers=Count("labeler_id", distinct=True),
            n=Count("pk"),
            c=Count("pk", filter=Q(correct=True)),
            n30=Count("pk", filter=Q(checked_at__gte=since)),
            c30=Count("pk", filter=Q(checked_at__gte=since, correct=True)),
        )
        .order_by()
    ):
        e = entry(row["vendor"])
        e["labelers_checked"] = row["labelers"]
        e["gold_all_time"] = rate(row["c"], row["n"])
        e["gold_last_30_days"] = rate(row["c30"], row["n30"])
    for row in (
        outcomes.annotate(vendor=vendor)
        .values("vendor")
        .annotate(
            labelers=Count("labeler_id", distinct=True),
            pairs=Coalesce(Sum("peers"), 0),
            agreeing=Coalesce(Sum("peers_agreeing"), 0),
            n=Count("pk"),
            final=Count("pk", filter=Q(agrees_final=True)),
        )
        .order_by()
    ):
        e = entry(row["vendor"])
        e["labelers_decided"] = row["labelers"]
        e["pairwise"] = rate(row["agreeing"], row["pairs"], key="agreeing")
        e["with_final"] = rate(row["final"], row["n"], key="agreeing")
    for row in (
        fits.annotate(vendor=vendor)
        .values("vendor")
        .annotate(labelers=Count("labeler_id", distinct=True), mean=Avg("accuracy"))
        .order_by()
    ):
        e = entry(row["vendor"])
        e["estimated_labelers"] = row["labelers"]
        e["mean_estimated_accuracy"] = row["mean"]
    for vendor_id in with_vendors:
        entry(vendor_id)
    return _named(rows)


def vendor_comparison_empty_rows(vendor_ids: Iterable[int | None]) -> list[dict[str, Any]]:
    """Rows of ``vendor_comparison`` for vendors without any quality fact (all counts zero),
    named, in its order: for a caller listing vendors by other figures too (active time). One
    query (the names), none for an empty list."""
    ids = list(vendor_ids)
    return _named({vendor_id: _vendor_row(vendor_id) for vendor_id in ids}) if ids else []


def _vendor_row(vendor_id: int | None) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "labelers_checked": 0,
        "labelers_decided": 0,
        "gold_last_30_days": rate(0, 0),
        "gold_all_time": rate(0, 0),
        "pairwise": rate(0, 0, key="agreeing"),
        "with_final": rate(0, 0, key="agreeing"),
        "estimated_labelers": 0,
        "mean_estimated_accuracy": None,
    }


def _named(rows: dict[int | None, dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``vendor_name`` (internal labelers last), sorted by it. One query."""
    names = dict(
        Vendor.objects.filter(pk__in=[v for v in rows if v is not None]).values_list("pk", "name")
    )
    out = []
    for vendor_id, e in rows.items():
        e["vendor_name"] = names.get(vendor_id, INTERNAL) if vendor_id is not None else INTERNAL
        out.append(e)
    out.sort(key=lambda e: (e["vendor_id"] is None, e["vendor_name"]))
    return out
