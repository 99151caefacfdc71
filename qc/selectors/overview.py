"""Reads for a page that lists everything a labeler may do next (the labeler pages' home): the
quizzes with their gating, from facts the page has already loaded where it can.

The gating is ``qc.selectors.quizzes.quiz_gate``, the one rule the API's quiz list and
``quiz_attempt_start`` use, applied by the same ``quiz_availability_given`` as
``quiz_availability_for``. Only where two of its facts come from differs: the guide facts come
from the guide states the page shows anyway (``qc.selectors.guides.guide_states_readable_for``)
and the active item counts from the quiz list's own query, so the quizzes cost three queries
instead of six.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from qc.models import GoldItem, GuideVersion, Quiz
from qc.selectors.guides import GuideState
from qc.selectors.quizzes import Availability, quiz_availability_given, quiz_list_for
from workforce.models import Labeler, User


def quiz_list_with_items_for(*, actor: User) -> QuerySet[Quiz]:
    """``quiz_list_for`` (the active quizzes for anyone but ops), each with ``active_items``:
    the active items of its gold set, counted in the same query as ``active_item_counts``
    counts them."""
    items = (
        GoldItem.objects.filter(gold_set_id=OuterRef("gold_set_id"), status=GoldItem.Status.ACTIVE)
        .order_by()
        .values("gold_set_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return quiz_list_for(actor=actor).annotate(
        active_items=Coalesce(Subquery(items, output_field=IntegerField()), Value(0))
    )


def guides_missing_from_states(states: Mapping[int, GuideState]) -> dict[int, GuideVersion]:
    """``{guide_id: current version}`` of the guides the labeler must acknowledge: what
    ``qc.selectors.quizzes.guide_versions_missing`` gives for the same guides (both apply
    "any acknowledgement of the current major line counts")."""
    return {
        guide_id: state.current
        for guide_id, state in states.items()
        if state.must_acknowledge and state.current is not None
    }


def quiz_availability_with(
    *,
    labeler: Labeler,
    quizzes: Sequence[Quiz],
    guides_missing: Mapping[int, GuideVersion],
    now: datetime | None = None,
) -> dict[int, Availability]:
    """What ``quiz_availability_for`` returns, ``{quiz_id: Availability}``, for quizzes from
    ``quiz_list_with_items_for`` (their ``active_items`` is read) given ``guides_missing`` —
    ``guides_missing_from_states`` of states that cover every guide of these quizzes (a guide
    absent from it counts as acknowledged, as a guide with nothing published does). Two
    queries whatever the number of quizzes (attempts, grants; one when no quiz grants a
    qualification)."""
    return quiz_availability_given(
        labeler=labeler,
        quizzes=quizzes,
        guides_missing=guides_missing,
        active_items={quiz.gold_set_id: quiz.active_items for quiz in quizzes},
        now=now or timezone.now(),
    )
