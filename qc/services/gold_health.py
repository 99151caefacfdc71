"""Writes of gold health: a labeler contesting a control task's verdict, and operations
quarantining, correcting or reinstating a gold item.

Scores are computed from the ``GoldCheck`` facts when they are read, so these services change
scores by changing the facts: a quarantine sets ``counted = false`` on the item's checks (they
stop counting in every score at once), a correction re-grades them against the new accepted
answers and counts them again, a reinstatement counts them again unchanged. Nothing else needs
recomputing (the adaptive control rate's counters are a sampling aid, see
``qc.services.control.control_rates_rebuild``).

Every function is one transaction. Errors: ``ValidationError`` (field-level), ``NotFound``,
``Conflict`` (``already_contested``), ``InvalidTransition`` (409: reinstating an item that is not
quarantined), and those of ``qc.services.gold.gold_item_set_status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Case, ExpressionWrapper, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, InvalidTransition, NotFound
from config.services import required_text
from qc.answers import BOXES, grade
from qc.models import GoldCheck, GoldItem, GoldItemStatusChange
from qc.selectors.quality_facts import start_of_day
from qc.services.gold import clean_accepted_answers, gold_item_set_status
from qc.services.quality_facts import answer_class
from workforce.models import Labeler, User

MAX_CONTEST_NOTE_CHARS = 5000
REGRADE_BATCH = 500

GS = GoldItem.Status
C = GoldCheck.Contest


# -- contests -----------------------------------------------------------------------------------


def gold_check_contest(
    *, labeler: Labeler, check_id: int, note: str, now: datetime | None = None
) -> GoldCheck:
    """The labeler contests the verdict of one of their own gold checks, with a note — once.

    Someone else's check, one recorded today (not shown to the labeler yet) or one that does not
    exist is NotFound; a second contest is a
    Conflict (``already_contested``), whatever its note. A contest reveals nothing new: the
    labeler already sees the verdict and the gold answer of their own submitted checks. One
    guarded ``UPDATE … WHERE contest = ''`` (two racing contests: one wins)."""
    now = now or timezone.now()
    note = required_text(
        note,
        field="note",
        missing=gettext("Say why you think the verdict is wrong."),
        max_chars=MAX_CONTEST_NOTE_CHARS,
    )
    with transaction.atomic():
        # Only checks the labeler can see (recorded before the start of their day, in their
        # time zone, as in their list): contesting today's would confirm that a task just
        # submitted was a control task.
        mine = GoldCheck.objects.filter(
            pk=check_id, labeler_id=labeler.pk, checked_at__lt=start_of_day(now, labeler.timezone)
        )
        updated = mine.filter(contest=C.NONE).update(
            contest=C.OPEN, contest_note=note, contested_at=now
        )
        if not updated:
            if mine.exists():
                raise Conflict(
                    gettext("You already contested this verdict."), code="already_contested"
                )
            raise NotFound()
        return mine.select_related("gold_item").get()


# -- quarantine, correction, reinstatement --------------------------------------------------------


def _lock(item: GoldItem) -> GoldItem:
    return (
        GoldItem.objects.select_for_update(of=("self",)).select_related("gold_set").get(pk=item.pk)
    )


def gold_item_quarantine(*, actor: User | None, item: GoldItem, reason: str) -> GoldItem:
    """Quarantine the item (its answer is in doubt) through ``gold_item_set_status`` — history
    row, guarded status change, same errors — and stop counting its checks, in one
    transaction. Its control tasks are no longer served; the next ``assignments.gold_reviews_
    open`` run (Celery beat, every minute) opens a gold review for operations."""
    with transaction.atomic():
        locked = _lock(item)
        locked = gold_item_set_status(
            actor=actor, item=locked, status=GS.QUARANTINED, reason=reason
        )
        GoldCheck.objects.filter(gold_item_id=locked.pk, counted=True).update(counted=False)
    return locked


def gold_item_reinstate(*, actor: User | None, item: GoldItem, reason: str) -> GoldItem:
    """Lift a quarantine without changing the answer: the item is active again, its checks
    count again unchanged, and its open contests are resolved as upheld. InvalidTransition
    (409) unless the item is quarantined; ValidationError for a blank reason."""
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(item)
        if locked.status != GS.QUARANTINED:
            raise InvalidTransition("Only a quarantined item can be reinstated.")
        locked = gold_item_set_status(actor=actor, item=locked, status=GS.ACTIVE, reason=reason)
        checks = GoldCheck.objects.filter(gold_item_id=locked.pk)
        checks.filter(contest=C.OPEN).update(contest=C.UPHELD)
        checks.filter(counted=False).update(counted=True)
        GoldItem.objects.filter(pk=locked.pk).update(updated_at=now)
    return locked


@dataclass(frozen=True)
class Correction:
    item: GoldItem
    regraded: int  # checks of the item
    changed: int  # whose verdict changed
    upheld: int  # open contests resolved with the verdict unchanged
    overturned: int  # … and changed


def gold_item_correct(
    *, actor: User | None, item: GoldItem, accepted_answers: list[Any], reason: str
) -> Correction:
    """Give the item new accepted answers and re-grade every check of it, in one transaction.

    ``accepted_answers`` is validated like any gold item's (``qc.answers.validate_accepted``;
    ValidationError on field ``accepted_answers``); ``reason`` is required. Under the item's row
    lock: the answers (and stratum) are stored; every check is re-graded — choice answers in one
    ``UPDATE … SET correct = answer IN (accepted)``, boxes graded in Python at the set's IoU
    threshold and written with ``bulk_update`` in batches of ``REGRADE_BATCH`` — and counted
    again; each open contest is resolved ``overturned`` when its verdict changed, else
    ``upheld``; the item becomes active (a status-history row either way, carrying the
    reason). Scores move at once: they are computed from the checks."""
    reason = required_text(reason, field="reason", missing="A reason is required.")
    with transaction.atomic():
        locked = _lock(item)
        gold_set = locked.gold_set
        try:
            accepted, stratum = clean_accepted_answers(gold_set, accepted_answers)
        except ValueError as exc:
            raise ValidationError({"accepted_answers": [str(exc)]}) from None
        checks = GoldCheck.objects.filter(gold_item_id=locked.pk)
        before = dict(checks.values_list("id", "correct"))
        expected_class = answer_class(gold_set.answer_type, accepted[0])
        if gold_set.answer_type == BOXES:
            upheld, overturned = _regrade_boxes(
                checks, accepted, float(gold_set.iou_threshold), expected_class
            )
        else:
            right = ExpressionWrapper(Q(answer__in=accepted), output_field=BooleanField())
            open_contest = Q(contest=C.OPEN)
            same = Q(correct=True, answer__in=accepted) | Q(correct=False) & ~Q(answer__in=accepted)
            upheld = checks.filter(open_contest & same).count()
            overturned = checks.filter(open_contest).count() - upheld
            # One statement: every SET expression reads the row as it was, so the contest's
            # outcome compares the old verdict with the new one.
            checks.update(
                contest=Case(
                    When(open_contest & same, then=Value(C.UPHELD)),
                    When(open_contest, then=Value(C.OVERTURNED)),
                    default=F("contest"),
                ),
                correct=right,
                counted=True,
                expected_class=expected_class,
            )
        after = dict(checks.values_list("id", "correct"))
        changed = sum(1 for pk, ok in after.items() if before.get(pk) != ok)
        from_status = locked.status
        GoldItem.objects.filter(pk=locked.pk).update(
            accepted_answers=accepted, stratum=stratum, status=GS.ACTIVE, updated_at=timezone.now()
        )
        GoldItemStatusChange.objects.create(
            gold_item=locked,
            from_status=from_status,
            to_status=GS.ACTIVE,
            actor=actor,
            reason=f"Answer corrected ({changed} of {len(after)} verdicts changed): {reason}",
        )
        locked.refresh_from_db()
    return Correction(locked, len(after), changed, upheld, overturned)


def _regrade_boxes(checks, accepted, threshold: float, expected_class: str) -> tuple[int, int]:
    upheld = overturned = 0
    batch: list[GoldCheck] = []
    fields = ["correct", "counted", "contest", "expected_class"]
    for check in checks.only("id", "answer", "correct", "contest").iterator(
        chunk_size=REGRADE_BATCH
    ):
        new = grade(BOXES, check.answer, accepted, threshold)
        if check.contest == C.OPEN:
            if new == check.correct:
                check.contest = C.UPHELD
                upheld += 1
            else:
                check.contest = C.OVERTURNED
                overturned += 1
        check.correct, check.counted, check.expected_class = new, True, expected_class
        batch.append(check)
        if len(batch) >= REGRADE_BATCH:
            GoldCheck.objects.bulk_update(batch, fields)
            batch = []
    if batch:
        GoldCheck.objects.bulk_update(batch, fields)
    return upheld, overturned


def gold_item_get(*, pk: int) -> GoldItem:
    """For callers in higher apps that hold an id (the review flow)."""
    try:
        return GoldItem.objects.select_related("gold_set").get(pk=pk)
    except GoldItem.DoesNotExist:
        raise NotFound() from None
