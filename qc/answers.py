"""Answers: validation, canonical form and grading for each answer type. Pure; no ORM.

Canonical forms (what is stored and compared):

* single choice — a label string, e.g. ``"crack"``;
* multiple choice — a sorted list of distinct labels, e.g. ``["crack", "rust"]`` (may be empty
  only if the set allows "none of these", which is expressed by an empty accepted answer);
* boxes — a list of ``{"label": str, "x": float, "y": float, "w": float, "h": float}`` sorted by
  (label, x, y, w, h); x, y is the top-left corner, w and h are positive.

A box answer matches an accepted answer when every accepted box is matched one-to-one by a box
of the same label at IoU >= the threshold and there are no extra boxes. The one-to-one matching
is a maximum bipartite matching, so a crowded scene is not failed by a greedy choice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
BOXES = "boxes"
ANSWER_TYPES = (SINGLE_CHOICE, MULTIPLE_CHOICE, BOXES)

MAX_BOXES = 500
MAX_COORDINATE = 1_000_000.0


class AnswerError(ValueError):
    """The answer is malformed; ``messages`` says why, for the ``answer`` field (in the active
    language: English in the API, the labeler's on the labeler pages)."""

    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(messages))


def validate_answer(answer_type: str, classes: list[str], value: Any) -> Any:
    """Check ``value`` against the answer type and the allowed classes and return its canonical
    form. Raises AnswerError with human-readable messages."""
    allowed = set(classes)
    if answer_type == SINGLE_CHOICE:
        if not isinstance(value, str):
            raise AnswerError(_("Expected one label (a string)."))
        if value not in allowed:
            raise AnswerError(
                _("%(value)s is not one of the labels.") % {"value": repr(value[:80])}
            )
        return value
    if answer_type == MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AnswerError(_("Expected a list of labels."))
        unknown = sorted({v for v in value if v not in allowed})
        if unknown:
            raise AnswerError(
                _("Not labels of this set: %(labels)s.")
                % {"labels": ", ".join(u[:80] for u in unknown[:5])}
            )
        return sorted(set(value))
    if answer_type == BOXES:
        return _validate_boxes(allowed, value)
    raise AnswerError(_("Unknown answer type %(type)s.") % {"type": repr(answer_type)})


def _out_of_range() -> str:
    return _("Box %(index)s: %(key)s is out of range.")


def _number(box: dict, key: str, index: int) -> float:
    raw = box.get(key)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise AnswerError(
            _("Box %(index)s: %(key)s must be a number.") % {"index": index, "key": key}
        )
    try:
        number = float(raw)
    except OverflowError:  # an int too large for a float: JSON allows it
        raise AnswerError(_out_of_range() % {"index": index, "key": key}) from None
    if not math.isfinite(number) or abs(number) > MAX_COORDINATE:
        raise AnswerError(_out_of_range() % {"index": index, "key": key})
    return number


def _validate_boxes(allowed: set[str], value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise AnswerError(_("Expected a list of boxes."))
    if len(value) > MAX_BOXES:
        raise AnswerError(_("At most %(n)s boxes.") % {"n": MAX_BOXES})
    boxes = []
    for index, box in enumerate(value):
        if not isinstance(box, dict):
            raise AnswerError(
                _("Box %(index)s: expected an object with label, x, y, w, h.") % {"index": index}
            )
        extra = set(box) - {"label", "x", "y", "w", "h"}
        if extra:
            raise AnswerError(
                _("Box %(index)s: unknown keys %(keys)s.")
                % {"index": index, "keys": ", ".join(sorted(extra))}
            )
        label = box.get("label")
        if not isinstance(label, str) or label not in allowed:
            raise AnswerError(
                _("Box %(index)s: label must be one of the set's labels.") % {"index": index}
            )
        x, y, w, h = (_number(box, k, index) for k in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0:
            raise AnswerError(_("Box %(index)s: w and h must be positive.") % {"index": index})
        if x < 0 or y < 0:
            raise AnswerError(_("Box %(index)s: x and y must not be negative.") % {"index": index})
        boxes.append({"label": label, "x": x, "y": y, "w": w, "h": h})
    boxes.sort(key=lambda b: (b["label"], b["x"], b["y"], b["w"], b["h"]))
    return boxes


def validate_accepted(answer_type: str, classes: list[str], value: Any) -> list[Any]:
    """Accepted answers: a non-empty list of answers, each valid; returned canonical, distinct.
    Raises AnswerError."""
    if not isinstance(value, list) or not value:
        raise AnswerError(_("Expected a non-empty list of accepted answers."))
    out: list[Any] = []
    for index, answer in enumerate(value):
        try:
            canonical = validate_answer(answer_type, classes, answer)
        except AnswerError as exc:
            raise AnswerError(
                *(
                    _("Accepted answer %(index)s: %(problem)s") % {"index": index, "problem": m}
                    for m in exc.messages
                )
            ) from None
        if canonical not in out:
            out.append(canonical)
    return out


def iou(a: dict[str, float], b: dict[str, float]) -> float:
    """Intersection over union of two boxes given as x, y (top-left), w, h."""
    ix = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
    inter = ix * iy
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


def box_matching(left: list[dict], right: list[dict], threshold: float) -> Iterator[bool]:
    """A maximum one-to-one matching of the boxes of ``left`` with those of ``right`` (same
    label, IoU >= ``threshold``), grown one ``left`` box at a time by augmenting paths: yields,
    for each ``left`` box in order, whether the matching grew by it. Its sum is the matching's
    size; it is all True when every ``left`` box is matched (lazy, so ``all`` stops at the first
    box that cannot be)."""
    edges = [
        [j for j, r in enumerate(right) if r["label"] == b["label"] and iou(r, b) >= threshold]
        for b in left
    ]
    owner: dict[int, int] = {}  # right index -> left index

    def augment(li: int, seen: set[int]) -> bool:
        for rj in edges[li]:
            if rj in seen:
                continue
            seen.add(rj)
            if rj not in owner or augment(owner[rj], seen):
                owner[rj] = li
                return True
        return False

    for li in range(len(left)):
        yield augment(li, set())


def boxes_match(answer: list[dict], gold: list[dict], threshold: float) -> bool:
    """True when the boxes correspond one to one: same label and IoU >= ``threshold``."""
    return len(answer) == len(gold) and all(box_matching(gold, answer, threshold))


def grade(
    answer_type: str, answer: Any, accepted_answers: list[Any], iou_threshold: float = 0.5
) -> bool:
    """Whether a canonical ``answer`` matches any of the canonical ``accepted_answers``."""
    if answer_type == BOXES:
        return any(boxes_match(answer, gold, iou_threshold) for gold in accepted_answers)
    return any(answer == gold for gold in accepted_answers)


def stratum_of(answer_type: str, accepted_answers: list[Any]) -> str:
    """The class a gold item counts under when a quiz is stratified by class: the label of a
    single-choice answer, the joined labels of a multiple-choice one, and the sorted distinct
    box labels (or "none") for boxes. Taken from the first accepted answer."""
    first = accepted_answers[0]
    if answer_type == SINGLE_CHOICE:
        return str(first)
    if answer_type == MULTIPLE_CHOICE:
        return "+".join(first) or "none"
    labels = sorted({b["label"] for b in first})
    return "+".join(labels) or "none"
