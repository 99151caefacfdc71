"""Reads of gold health and of gold checks.

Gold health (for operations): per gold item, how its checks went, how often *strong* labelers
missed it, and how many contests are open; an item is flagged when strong labelers miss it
unusually often or when it has at least ``CONTESTS_TO_FLAG`` open contests. See
docs/adaptive-control.md, "Gold health".

* A labeler is strong for an item when the Wilson 95% lower bound of their gold accuracy —
  over all their counted checks *except those on this item* — is at least ``STRONG_LOWER``
  (0.85). Exact, not approximated: two grouped queries (per labeler over all counted checks,
  and per item and labeler over the set's checks) and a subtraction.
* The expected miss rate of strong labelers, for an item: their pooled miss rate on the set's
  *other* items, Laplace-smoothed (``(misses + 1) / (checks + 2)``) and at least
  ``MIN_EXPECTED_MISS`` (1%), so one miss on an otherwise spotless set is not a flag by itself.
* Flag when ``P(X >= strong misses | n = strong checks, p = expected)`` — the binomial upper
  tail — is below ``ALPHA`` (0.01).

The item's own counts take every check of it (counted or not: a quarantined item is still
judged); strength takes counted checks only.

Gold checks (labelers, vendor managers, ops): ``gold_check_list_for`` scopes them. A labeler
sees their own checks only — from before the start of the current day, with the gold item's
accepted answers and explanation (their answer is locked). A vendor manager sees their
labelers' checks from before the start of the current day too, without the gold answers (a
manager could otherwise pass them on). Ops see every check, today's included.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from config.errors import get_or_not_found
from qc.models import GoldCheck, GoldItem, GoldSet
from qc.selectors.quality_facts import start_of_day
from qc.stats import Interval, wilson
from workforce.models import Labeler, User
from workforce.selectors import is_ops, managed_vendor_ids

STRONG_LOWER = 0.85
ALPHA = 0.01
MIN_EXPECTED_MISS = 0.01
CONTESTS_TO_FLAG = 2

OPEN = GoldCheck.Contest.OPEN


def binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, summed in log space (no overflow for large n).
    Pure. ``k <= 0`` gives 1, ``k > n`` gives 0."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        log_pmf = (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )
        total += math.exp(log_pmf)
    return min(1.0, total)


@dataclass(frozen=True)
class GoldItemHealth:
    item_id: int
    external_id: str
    status: str
    checks: int
    misses: int
    accuracy: Interval  # right answers on the item (n = checks), with its Wilson interval
    strong_checks: int
    strong_misses: int
    expected_miss_rate: float | None  # of strong labelers on the set's other items
    p_value: float | None  # P(X >= strong_misses); None without strong checks
    contests_open: int
    flagged: bool
    flags: tuple[str, ...]  # "strong_misses", "contests"


def gold_health_for_set(
    *, gold_set: GoldSet | int, flagged_only: bool = False
) -> list[GoldItemHealth]:
    """Health of every item of ``gold_set`` with at least one check, flagged ones first (then
    by p-value). Three queries whatever the set's size: the set's checks grouped by (item,
    labeler), those labelers' counted checks grouped by labeler, and the items."""
    set_id = gold_set if isinstance(gold_set, int) else gold_set.pk
    per_pair = list(
        GoldCheck.objects.filter(gold_item__gold_set_id=set_id)
        .order_by()
        .values("gold_item_id", "labeler_id")
        .annotate(
            n=Count("id"),
            miss=Count("id", filter=Q(correct=False)),
            n_counted=Count("id", filter=Q(counted=True)),
            k_counted=Count("id", filter=Q(counted=True, correct=True)),
            contests=Count("id", filter=Q(contest=OPEN)),
        )
    )
    if not per_pair:
        return []
    labeler_ids = {row["labeler_id"] for row in per_pair}
    totals = {
        row["labeler_id"]: (row["n"], row["k"])
        for row in GoldCheck.objects.filter(labeler_id__in=labeler_ids, counted=True)
        .order_by()
        .values("labeler_id")
        .annotate(n=Count("id"), k=Count("id", filter=Q(correct=True)))
    }
    by_item: dict[int, list[dict]] = defaultdict(list)
    for row in per_pair:
        n_all, k_all = totals.get(row["labeler_id"], (0, 0))
        n_rest = n_all - row["n_counted"]
        k_rest = k_all - row["k_counted"]
        row["strong"] = n_rest > 0 and wilson(k_rest, n_rest).low >= STRONG_LOWER
        by_item[row["gold_item_id"]].append(row)
    strong_n = {i: sum(r["n"] for r in rows if r["strong"]) for i, rows in by_item.items()}
    strong_m = {i: sum(r["miss"] for r in rows if r["strong"]) for i, rows in by_item.items()}
    set_n, set_m = sum(strong_n.values()), sum(strong_m.values())
    items = GoldItem.objects.filter(pk__in=by_item).only("id", "external_id", "status")
    out = []
    for item in items:
        rows = by_item[item.pk]
        checks = sum(r["n"] for r in rows)
        misses = sum(r["miss"] for r in rows)
        n_strong, m_strong = strong_n[item.pk], strong_m[item.pk]
        expected = max(MIN_EXPECTED_MISS, (set_m - m_strong + 1) / (set_n - n_strong + 2))
        p_value = binomial_tail(m_strong, n_strong, expected) if n_strong else None
        contests = sum(r["contests"] for r in rows)
        flags = []
        if p_value is not None and p_value < ALPHA:
            flags.append("strong_misses")
        if contests >= CONTESTS_TO_FLAG:
            flags.append("contests")
        health = GoldItemHealth(
            item_id=item.pk,
            external_id=item.external_id,
            status=item.status,
            checks=checks,
            misses=misses,
            accuracy=wilson(checks - misses, checks),
            strong_checks=n_strong,
            strong_misses=m_strong,
            expected_miss_rate=expected if n_strong else None,
            p_value=p_value,
            contests_open=contests,
            flagged=bool(flags),
            flags=tuple(flags),
        )
        if health.flagged or not flagged_only:
            out.append(health)
    out.sort(key=lambda h: (not h.flagged, h.p_value if h.p_value is not None else 2.0, h.item_id))
    return out


def gold_items_flagged_ids(*, gold_set_ids: list[int] | None = None) -> set[int]:
    """Ids of flagged items, over the given sets (default: every set with checks). For the
    admin filter; three queries per set."""
    if gold_set_ids is None:
        gold_set_ids = list(
            GoldSet.objects.filter(items__checks__isnull=False)
            .distinct()
            .values_list("pk", flat=True)
        )
    return {
        h.item_id
        for set_id in gold_set_ids
        for h in gold_health_for_set(gold_set=set_id, flagged_only=True)
    }


# -- gold checks --------------------------------------------------------------------------------


def gold_check_list_for_labeler(
    *, labeler: Labeler, now: datetime | None = None
) -> QuerySet[GoldCheck]:
    """The labeler's own checks recorded before the start of their current day, with the gold
    item joined for its accepted answers and explanation. Today's checks are held back, as on
    their scorecard (``qc.selectors.quality_facts.start_of_day``): seeing a verdict appear right
    after a submit would tell which task was a control task."""
    before = start_of_day(now or timezone.now(), labeler.timezone)
    return (
        GoldCheck.objects.filter(labeler_id=labeler.pk, checked_at__lt=before)
        .select_related("gold_item")
        .only(
            "id",
            "labeler_id",
            "project_id",
            "assignment_id",
            "answer",
            "correct",
            "counted",
            "checked_at",
            "contest",
            "contest_note",
            "contested_at",
            "gold_item__id",
            "gold_item__payload",
            "gold_item__accepted_answers",
            "gold_item__explanation",
        )
    )


def gold_check_get_for_labeler(*, labeler: Labeler, pk: int) -> GoldCheck:
    return get_or_not_found(gold_check_list_for_labeler(labeler=labeler), pk=pk)


def gold_check_list_for(*, actor: User, now: datetime | None = None) -> QuerySet[GoldCheck]:
    """Every check for ops; a vendor manager's labelers' checks recorded before the start of the
    current day (``start_of_day``, the labeler's own cut-off: a check of today with its answer
    and verdict would tell the manager — and through them the labeler — which task just
    submitted was a control task, and a correct verdict its gold answer); nothing for anyone
    else (the API refuses them earlier). The labeler is joined (public code)."""
    qs = GoldCheck.objects.select_related("labeler", "gold_item")
    if is_ops(actor):
        return qs
    vendors = managed_vendor_ids(actor)
    if not vendors:
        return GoldCheck.objects.none()
    return qs.filter(
        labeler__vendor_id__in=vendors, checked_at__lt=start_of_day(now or timezone.now())
    )
