"""Consensus over the answers of one task: majority voting. Pure; no ORM.

Answers are canonical (see ``qc.answers``). Two answers are *the same* when:

* single choice — the labels are equal;
* multiple choice — the label sets are equal (exact set equality: ``["a", "b"]`` is not the
  same as ``["a"]``);
* boxes — ``qc.answers.boxes_match`` at the IoU threshold (one-to-one, same label, IoU ≥ t,
  no extra boxes). This relation is not transitive, so the consensus answer is one of the
  answers given: the one that is the same as the most others (a medoid), not an average box.

The rule
--------
``support`` of an answer = how many of the n answers are the same as it (itself included). The
winner is the answer with the highest support; among equal-support answers that are the same
as each other the earliest one given is the representative (callers pass answers in submission
order, so the result is deterministic).

A task is **decided** iff the winner has a strict majority: ``support >= n // 2 + 1`` (which is
``ceil((n + 1) / 2)``). So with k = 2 both labelers must agree; with 3, two of three; with 4,
three of four. With one answer (overlap 1) that answer is decided.

A **tie** is a disagreement: when two answers with the highest support are *not* the same as
each other, there is no winner (``answer`` is None) and the task is not decided. (For choice
answers a tie cannot be a strict majority anyway; for boxes two different answers can each be
the same as a majority, e.g. a middle box that matches both of two boxes which do not match
each other — that too is reported as a tie.)

``agreement`` is the share of answers that are the same as the winner (``support / n``); with a
tie it is the highest support over n; with no answers it is 0.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qc.answers import BOXES, MULTIPLE_CHOICE, SINGLE_CHOICE, boxes_match


@dataclass(frozen=True)
class Consensus:
    answer: Any | None  # the winning answer (one of those given), None on a tie or no answers
    agreement: float  # share of answers the same as the winner, 0.0 to 1.0
    support: int  # how many answers are the same as the winner (itself included)
    total: int  # how many answers were given
    decided: bool  # the winner has a strict majority


def same(answer_type: str, a: Any, b: Any, iou_threshold: float = 0.5) -> bool:
    """Whether two canonical answers count as the same answer for consensus."""
    if answer_type == SINGLE_CHOICE:
        return a == b
    if answer_type == MULTIPLE_CHOICE:
        return set(a) == set(b)
    if answer_type == BOXES:
        return boxes_match(a, b, iou_threshold)
    raise ValueError(f"Unknown answer type {answer_type!r}.")


def majority(n: int) -> int:
    """The support a winner needs out of ``n`` answers: a strict majority, ceil((n + 1) / 2)."""
    return n // 2 + 1


def consensus(answer_type: str, answers: Sequence[Any], iou_threshold: float = 0.5) -> Consensus:
    """Majority decision over ``answers`` (canonical, in submission order); see the module
    docstring for the rule. O(n²) comparisons, n being the overlap (a handful)."""
    n = len(answers)
    if n == 0:
        return Consensus(answer=None, agreement=0.0, support=0, total=0, decided=False)
    matrix = [
        [i == j or same(answer_type, answers[i], answers[j], iou_threshold) for j in range(n)]
        for i in range(n)
    ]
    supports = [sum(row) for row in matrix]
    best = max(supports)
    leaders = [i for i in range(n) if supports[i] == best]
    first = leaders[0]
    tie = any(not matrix[first][other] for other in leaders[1:])
    if tie:
        return Consensus(answer=None, agreement=best / n, support=best, total=n, decided=False)
    return Consensus(
        answer=answers[first],
        agreement=best / n,
        support=best,
        total=n,
        decided=best >= majority(n),
    )


def agreement_with(
    answer_type: str, answers: Sequence[Any], reference: Any, iou_threshold: float = 0.5
) -> float | None:
    """Share of ``answers`` that are the same as ``reference`` (e.g. a reviewer's final
    answer); None when there are no answers."""
    if not answers:
        return None
    hits = sum(1 for a in answers if same(answer_type, a, reference, iou_threshold))
    return hits / len(answers)
