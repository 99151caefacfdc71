"""Writes of quality facts, which ``qc.selectors.quality_facts`` reads back as scores: gold checks
(a control answer graded against gold at submission) and label outcomes (each labeler's answer
on a decided task, compared with the final label and with the other labelers). ``assignments``
calls these with plain values; qc never reaches up.

Both writes are one set-based statement and idempotent on the assignment id, so a retried
submission or a consensus run twice records nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Value, When

from qc.answers import BOXES, MULTIPLE_CHOICE, SINGLE_CHOICE, grade
from qc.consensus_maths import same
from qc.models import GoldCheck, GoldItem, LabelOutcome


def answer_class(answer_type: str, answer: Any) -> str:
    """The class an answer counts under in per-class scores and confusion matrices: the label of
    a single choice, the sorted labels joined by ``|`` of a multiple choice (``"(none)"`` when
    empty), and ``""`` for boxes (boxes are scored by IoU-matched F1, not by class)."""
    if answer is None:
        return ""
    if answer_type == SINGLE_CHOICE:
        return str(answer)
    if answer_type == MULTIPLE_CHOICE:
        return "|".join(sorted(str(x) for x in answer)) or "(none)"
    return ""


def gold_check_record(
    *,
    labeler_id: int,
    gold_item: GoldItem,
    project_id: int,
    assignment_id: int,
    answer_type: str,
    answer: Any,
    iou_threshold: float,
    now: datetime,
) -> bool:
    """Grade a control answer against the gold item's accepted answers and record the check
    (one INSERT; a second call for the same assignment records nothing). Returns whether the
    answer is right. A quarantined gold item's check is recorded but not counted."""
    correct = grade(answer_type, answer, gold_item.accepted_answers, iou_threshold)
    accepted = gold_item.accepted_answers or [None]
    GoldCheck.objects.bulk_create(
        [
            GoldCheck(
                labeler_id=labeler_id,
                gold_item_id=gold_item.pk,
                project_id=project_id,
                assignment_id=assignment_id,
                answer=answer,
                correct=correct,
                expected_class=answer_class(answer_type, accepted[0]),
                answer_class=answer_class(answer_type, answer),
                counted=gold_item.status == GoldItem.Status.ACTIVE,
                checked_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    return correct


@dataclass(frozen=True)
class LabeledAnswer:
    """One submission of a decided task, as ``assignments`` hands it down."""

    assignment_id: int
    labeler_id: int
    answer: Any
    submitted_at: datetime
    active_seconds: int


def label_outcomes_record(
    *,
    project_id: int,
    task_id: int,
    answer_type: str,
    iou_threshold: float,
    final_answer: Any,
    decided_by: str,
    answers: Sequence[LabeledAnswer],
    now: datetime,
) -> int:
    """Record (or, after a review overrides consensus, update in place) one outcome per answer
    of a decided task: whether it is the same as the final answer, and how many of the other
    answers are the same as it. One upsert; returns the rows written."""
    return label_outcomes_record_many(
        project_id=project_id,
        answer_type=answer_type,
        iou_threshold=iou_threshold,
        decided=[(task_id, final_answer, answers)],
        decided_by=decided_by,
        now=now,
    )


def label_outcomes_record_many(
    *,
    project_id: int,
    answer_type: str,
    iou_threshold: float,
    decided: Sequence[tuple[int, Any, Sequence[LabeledAnswer]]],
    decided_by: str,
    now: datetime | None = None,
    decided_at: Mapping[int, datetime] | None = None,
) -> int:
    """``label_outcomes_record`` for many tasks decided at once — ``decided`` holds (task id,
    final answer, its answers) — in one upsert. Each task's outcomes are stamped with its
    ``decided_at`` (task id → moment) when given, else ``now``. Returns the rows written."""
    rows = []
    for task_id, final_answer, answers in decided:
        stamp = decided_at[task_id] if decided_at is not None else now
        final_cls = answer_class(answer_type, final_answer)
        for i, a in enumerate(answers):
            agreeing = sum(
                1
                for j, b in enumerate(answers)
                if j != i and same(answer_type, a.answer, b.answer, iou_threshold)
            )
            rows.append(
                LabelOutcome(
                    project_id=project_id,
                    task_id=task_id,
                    assignment_id=a.assignment_id,
                    labeler_id=a.labeler_id,
                    answer=a.answer,
                    answer_class=answer_class(answer_type, a.answer),
                    final_class=final_cls,
                    agrees_final=same(answer_type, a.answer, final_answer, iou_threshold),
                    peers=len(answers) - 1,
                    peers_agreeing=agreeing,
                    decided_by=decided_by,
                    submitted_at=a.submitted_at,
                    decided_at=stamp,
                    active_seconds=max(int(a.active_seconds or 0), 0),
                )
            )
    if not rows:
        return 0
    LabelOutcome.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["assignment_id"],
        update_fields=[
            "final_class",
            "agrees_final",
            "peers",
            "peers_agreeing",
            "decided_by",
            "decided_at",
        ],
    )
    return len(rows)


def label_outcomes_redecide(
    *,
    project_id: int,
    finals: Mapping[int, str],
    decided_by: str,
    now: datetime,
    chunk: int = 2000,
) -> int:
    """Re-point the recorded outcomes of decided tasks at their new final class (a refit
    changed their decision): ``finals`` maps task id -> the new final class (``answer_class``
    form). Each outcome's ``agrees_final`` becomes whether its own class is that class — for
    choice answers the class key is equal exactly when the answers are the same — and its
    ``decided_by``/``decided_at`` the new decision's. Peers are unchanged (the answers are).
    Set-based: one UPDATE per (chunk of tasks, class). Box answers are never re-decided (no
    fit), so this is never asked for them. Returns the rows updated."""
    by_class: dict[str, list[int]] = {}
    for task_id, final_class in finals.items():
        by_class.setdefault(final_class, []).append(task_id)
    updated = 0
    for final_class, task_ids in by_class.items():
        for start in range(0, len(task_ids), chunk):
            # project_id first: the (project_id, task_id) index serves the lookup.
            updated += LabelOutcome.objects.filter(
                project_id=project_id, task_id__in=task_ids[start : start + chunk]
            ).update(
                final_class=final_class,
                agrees_final=Case(
                    When(answer_class=final_class, then=Value(True)), default=Value(False)
                ),
                decided_by=decided_by,
                decided_at=now,
            )
    return updated


__all__ = [
    "BOXES",
    "LabeledAnswer",
    "answer_class",
    "gold_check_record",
    "label_outcomes_record",
    "label_outcomes_record_many",
    "label_outcomes_redecide",
]
