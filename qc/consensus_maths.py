"""Consensus maths over the answers of one task: majority voting, and (``weighted_posterior``) votes
weighted by each labeler's estimated confusion matrix. Pure; no ORM.

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

import math
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


# -- weighted consensus ------------------------------------------------------------------------
# Votes weighted by each labeler's estimated confusion (Dawid-Skene): the posterior of each class
# given the task's answers. See docs/quality.md ("Weighted consensus").

DEFAULT_ONE_COIN = 0.7  # the accuracy of a labeler when nothing at all is estimated
_FLOOR = 1e-6  # no probability in a labeler's model is taken below this (nor above 1 - it)


@dataclass(frozen=True)
class Posterior:
    label: str | None  # the argmax class; None on a tie for the top posterior or no votes
    confidence: float  # the top posterior (0.0 with no votes)
    posteriors: dict[str, float]  # class -> posterior, summing to 1


def one_coin_matrix(accuracy: float, k: int) -> list[list[float]]:
    """The confusion matrix of a labeler right with probability ``accuracy`` whatever the class,
    whose errors are spread evenly over the other k - 1 classes."""
    if k == 1:
        return [[1.0]]
    off = (1.0 - accuracy) / (k - 1)
    return [[accuracy if i == j else off for j in range(k)] for i in range(k)]


def weighted_posterior(
    votes: Sequence[str],
    models: Sequence[Sequence[Sequence[float]] | float | None],
    *,
    classes: Sequence[str],
    priors: Sequence[float] | None = None,
    default_accuracy: float = DEFAULT_ONE_COIN,
) -> Posterior:
    """Posterior over ``classes`` of one task's true class given its answers, under the
    Dawid-Skene model: P(c | votes) ~ prior_c * prod_w pi_w[c, vote_w].

    ``votes[i]`` is the class the i-th labeler answered; ``models[i]`` is that labeler's
    confusion matrix (rows: true class, columns: answered class, in the order of ``classes``),
    or a float — a one-coin accuracy — or None for ``default_accuracy`` as a one-coin.
    ``priors`` default to uniform. Probabilities are kept within [1e-6, 1 - 1e-6] so that no
    single vote can rule a class out. The label is the argmax; a tie for the top posterior
    (within 1e-12) has no label, like a majority tie. Raises ValueError on a vote outside
    ``classes``, misaligned inputs or a matrix of the wrong shape.
    """
    k = len(classes)
    index = {name: i for i, name in enumerate(classes)}
    if len(votes) != len(models):
        raise ValueError("votes and models must be aligned.")
    if priors is None:
        priors = [1.0 / k] * k
    if len(priors) != k:
        raise ValueError("priors must have one entry per class.")
    if not votes:
        prior = {c: float(p) for c, p in zip(classes, priors, strict=True)}
        return Posterior(label=None, confidence=0.0, posteriors=prior)
    log_post = [math.log(max(float(p), _FLOOR)) for p in priors]
    for vote, model in zip(votes, models, strict=True):
        if vote not in index:
            raise ValueError(f"{vote!r} is not one of the classes.")
        if model is None or isinstance(model, int | float):
            accuracy = default_accuracy if model is None else float(model)
            matrix = one_coin_matrix(accuracy, k)
        else:
            matrix = model
            if len(matrix) != k or any(len(row) != k for row in matrix):
                raise ValueError(f"A confusion matrix must be {k} x {k}.")
        column = index[vote]
        for c in range(k):
            p = min(max(float(matrix[c][column]), _FLOOR), 1.0 - _FLOOR)
            log_post[c] += math.log(p)
    top = max(log_post)
    weights = [math.exp(v - top) for v in log_post]
    total = sum(weights)
    post = [w / total for w in weights]
    best = max(post)
    leaders = [i for i, p in enumerate(post) if best - p <= 1e-12]
    label = classes[leaders[0]] if len(leaders) == 1 else None
    return Posterior(label=label, confidence=best, posteriors=dict(zip(classes, post, strict=True)))
