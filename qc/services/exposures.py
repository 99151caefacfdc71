"""Writes of gold exposures: a labeler met a gold item outside a control task of their own, so
it must never be served to them as one (docs/quality.md, "Secrecy of control tasks").

Callers record an exposure in the same transaction as what exposes the item (a quiz attempt
drawing its questions, a review promoting a task to gold), so an item is never shown without
its exposure being recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from qc.models import GoldExposure


def gold_exposures_record(
    *,
    labeler_ids: Iterable[int],
    gold_item_ids: Iterable[int],
    reason: str,
    now: datetime | None = None,
) -> None:
    """Record that each of the labelers met each of the gold items, for ``reason`` (a
    ``GoldExposure.Reason``). One ``INSERT … ON CONFLICT DO NOTHING`` whatever the counts (none
    when either is empty): an exposure already recorded keeps its first reason and time, and
    concurrent callers never fail on the unique (labeler, gold item) constraint. Runs in the
    caller's transaction."""
    if reason not in GoldExposure.Reason.values:
        raise ValueError(f"Unknown exposure reason {reason!r}.")
    labelers = sorted(set(labeler_ids))
    items = sorted(set(gold_item_ids))
    if not labelers or not items:
        return
    now = now or timezone.now()
    GoldExposure.objects.bulk_create(
        [
            GoldExposure(labeler_id=labeler, gold_item_id=item, reason=reason, at=now)
            for labeler in labelers
            for item in items
        ],
        ignore_conflicts=True,
    )
