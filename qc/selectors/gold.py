"""Reads of gold sets and gold items.

Gold holds the right answers, so these reads are for operations managers only: for anyone else
every list is empty and every lookup a NotFound (the API refuses them earlier, with 403).
``gold_items_drawable`` is what quizzes and control tasks draw from.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from config.errors import get_or_not_found
from qc.models import GoldItem, GoldItemStatusChange, GoldSet
from workforce.models import User
from workforce.selectors import is_ops

GS = GoldItem.Status


def gold_set_list_for(*, actor: User) -> QuerySet[GoldSet]:
    """Every gold set for ops, with its guide joined and item counts per status annotated
    (``item_count``, ``active_count``, ``quarantined_count``, ``retired_count``); none for
    anyone else. One query."""
    if not is_ops(actor):
        return GoldSet.objects.none()
    return GoldSet.objects.select_related("guide").annotate(
        item_count=Count("items"),
        active_count=Count("items", filter=Q(items__status=GS.ACTIVE)),
        quarantined_count=Count("items", filter=Q(items__status=GS.QUARANTINED)),
        retired_count=Count("items", filter=Q(items__status=GS.RETIRED)),
    )


def gold_set_get_for(*, actor: User, pk: int) -> GoldSet:
    return get_or_not_found(gold_set_list_for(actor=actor), pk=pk)


def gold_item_list_for(*, actor: User, gold_set: GoldSet) -> QuerySet[GoldItem]:
    """The items of a set, for ops (none for anyone else), with the guide version joined (no
    query per row)."""
    if not is_ops(actor):
        return GoldItem.objects.none()
    return (
        GoldItem.objects.filter(gold_set=gold_set)
        .select_related("guide_version")
        .defer("guide_version__body", "guide_version__label_definitions")
    )


def gold_items_drawable(*, gold_set: GoldSet | int) -> QuerySet[GoldItem]:
    """Items that may be drawn for quizzes or served as control tasks: active ones only
    (quarantined items — the answer is in doubt — and retired ones never are). Served by the
    index ``qc_golditem_draw`` (gold_set, status, stratum)."""
    gold_set_id = gold_set if isinstance(gold_set, int) else gold_set.pk
    return GoldItem.objects.filter(gold_set_id=gold_set_id, status=GS.ACTIVE)


def gold_strata(*, gold_set: GoldSet | int) -> dict[str, int]:
    """How many drawable items each stratum holds. One query."""
    rows = (
        gold_items_drawable(gold_set=gold_set)
        .order_by()
        .values("stratum")
        .annotate(n=Count("id"))
        .values_list("stratum", "n")
    )
    return dict(rows)


def gold_item_history(*, item: GoldItem) -> QuerySet[GoldItemStatusChange]:
    return item.status_changes.select_related("actor").order_by("-created_at", "-id")
