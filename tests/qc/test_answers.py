"""Answer validation, canonical forms and grading (qc/answers.py): no database."""

from __future__ import annotations

import pytest

from qc.answers import (
    BOXES,
    MAX_BOXES,
    MULTIPLE_CHOICE,
    SINGLE_CHOICE,
    AnswerError,
    boxes_match,
    grade,
    iou,
    stratum_of,
    validate_accepted,
    validate_answer,
)

CLASSES = ["crack", "rust", "dent"]


def box(x, y, w=10, h=10, label="crack"):
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def messages(answer_type, value, classes=CLASSES):
    with pytest.raises(AnswerError) as info:
        validate_answer(answer_type, classes, value)
    return info.value.messages


# --- validation and canonical forms ----------------------------------------------------------


def test_single_choice():
    assert validate_answer(SINGLE_CHOICE, CLASSES, "rust") == "rust"
    assert messages(SINGLE_CHOICE, 3) == ["Expected one label (a string)."]
    assert messages(SINGLE_CHOICE, ["rust"]) == ["Expected one label (a string)."]
    assert messages(SINGLE_CHOICE, "hole") == ["'hole' is not one of the labels."]
    # A long label is cut in the message.
    assert messages(SINGLE_CHOICE, "x" * 500) == [f"{'x' * 80!r} is not one of the labels."]


def test_multiple_choice_is_sorted_and_distinct():
    assert validate_answer(MULTIPLE_CHOICE, CLASSES, ["rust", "crack", "rust"]) == [
        "crack",
        "rust",
    ]
    assert validate_answer(MULTIPLE_CHOICE, CLASSES, []) == []
    assert messages(MULTIPLE_CHOICE, "rust") == ["Expected a list of labels."]
    assert messages(MULTIPLE_CHOICE, ["rust", 1]) == ["Expected a list of labels."]
    assert messages(MULTIPLE_CHOICE, ["rust", "hole", "bent", "hole"]) == [
        "Not labels of this set: bent, hole."
    ]


def test_unknown_answer_type():
    assert messages("polygon", []) == ["Unknown answer type 'polygon'."]


def test_boxes_canonical_form():
    value = [
        {"label": "rust", "x": 1, "y": 2, "w": 3, "h": 4},
        {"label": "crack", "x": 5.5, "y": 0, "w": 1, "h": 1},
        {"label": "crack", "x": 2, "y": 9, "w": 1, "h": 1},
    ]
    assert validate_answer(BOXES, CLASSES, value) == [
        {"label": "crack", "x": 2.0, "y": 9.0, "w": 1.0, "h": 1.0},
        {"label": "crack", "x": 5.5, "y": 0.0, "w": 1.0, "h": 1.0},
        {"label": "rust", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0},
    ]
    canonical = validate_answer(BOXES, CLASSES, value)
    assert all(isinstance(b[k], float) for b in canonical for k in ("x", "y", "w", "h"))
    assert validate_answer(BOXES, CLASSES, []) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"label": "crack"}, "Expected a list of boxes."),
        ([box(0, 0)] * (MAX_BOXES + 1), f"At most {MAX_BOXES} boxes."),
        (["crack"], "Box 0: expected an object with label, x, y, w, h."),
        ([{**box(0, 0), "z": 1, "color": "red"}], "Box 0: unknown keys color, z."),
        ([box(0, 0, label="hole")], "Box 0: label must be one of the set's labels."),
        ([{**box(0, 0), "label": None}], "Box 0: label must be one of the set's labels."),
        ([box(0, 0), {**box(0, 0), "x": True}], "Box 1: x must be a number."),
        ([{**box(0, 0), "y": "3"}], "Box 0: y must be a number."),
        ([{k: v for k, v in box(0, 0).items() if k != "h"}], "Box 0: h must be a number."),
        ([{**box(0, 0), "w": float("nan")}], "Box 0: w is out of range."),
        ([{**box(0, 0), "w": float("inf")}], "Box 0: w is out of range."),
        ([{**box(0, 0), "x": 2_000_000}], "Box 0: x is out of range."),
        # JSON carries integers of any size; one too large for a float is out of range too.
        ([{**box(0, 0), "x": 10**400}], "Box 0: x is out of range."),
        ([box(0, 0, w=0)], "Box 0: w and h must be positive."),
        ([box(0, 0, h=-2)], "Box 0: w and h must be positive."),
        ([box(-1, 0)], "Box 0: x and y must not be negative."),
    ],
)
def test_box_validation_messages(value, message):
    assert messages(BOXES, value) == [message]


def test_accepted_answers():
    assert validate_accepted(MULTIPLE_CHOICE, CLASSES, [["rust", "crack"], ["crack", "rust"]]) == [
        ["crack", "rust"]
    ]
    with pytest.raises(AnswerError) as info:
        validate_accepted(SINGLE_CHOICE, CLASSES, [])
    assert info.value.messages == ["Expected a non-empty list of accepted answers."]
    with pytest.raises(AnswerError) as info:
        validate_accepted(SINGLE_CHOICE, CLASSES, "rust")
    assert info.value.messages == ["Expected a non-empty list of accepted answers."]
    with pytest.raises(AnswerError) as info:
        validate_accepted(SINGLE_CHOICE, CLASSES, ["rust", "hole"])
    assert info.value.messages == ["Accepted answer 1: 'hole' is not one of the labels."]
    assert str(info.value) == "Accepted answer 1: 'hole' is not one of the labels."


# --- IoU and box matching ------------------------------------------------------------------


def test_iou_by_hand():
    assert iou(box(0, 0), box(0, 0)) == 1.0
    # Offset by 5 both ways: 5 x 5 = 25 shared, 100 + 100 - 25 = 175 in all.
    assert iou(box(0, 0), box(5, 5)) == pytest.approx(25 / 175)
    # Offset by 5 one way: 50 / 150.
    assert iou(box(0, 0), box(5, 0)) == pytest.approx(1 / 3)
    # A 10 x 10 box inside a 20 x 20 one: 100 / 400.
    assert iou(box(5, 5), box(0, 0, 20, 20)) == pytest.approx(0.25)
    # Touching edges and disjoint boxes share nothing.
    assert iou(box(0, 0), box(10, 0)) == 0.0
    assert iou(box(0, 0), box(50, 50)) == 0.0


def test_match_needs_the_same_label():
    assert boxes_match([box(0, 0, label="crack")], [box(0, 0, label="crack")], 0.5)
    assert not boxes_match([box(0, 0, label="rust")], [box(0, 0, label="crack")], 0.5)


def test_match_threshold_is_inclusive():
    # 10 x 10 against 10 x 5 at the same corner: 50 / 100 = 0.5 exactly.
    assert iou(box(0, 0), box(0, 0, 10, 5)) == 0.5
    assert boxes_match([box(0, 0, 10, 5)], [box(0, 0)], 0.5)
    assert not boxes_match([box(0, 0, 10, 5)], [box(0, 0)], 0.51)


def test_extra_or_missing_boxes_fail():
    gold = [box(0, 0), box(50, 50)]
    assert boxes_match([box(1, 1), box(50, 50)], gold, 0.5)
    assert not boxes_match([box(1, 1), box(50, 50), box(100, 100)], gold, 0.5)
    assert not boxes_match([box(1, 1)], gold, 0.5)
    # Two answers on the same gold box: one-to-one, so the second gold box stays unmatched.
    assert not boxes_match([box(0, 0), box(1, 1)], gold, 0.5)
    assert boxes_match([], [], 0.5)


def _greedy_match(answer, gold, threshold):
    """Each gold box in turn takes the first free answer box that fits — what a maximum
    matching must do better than."""
    used: set[int] = set()
    for g in gold:
        for j, a in enumerate(answer):
            if j not in used and a["label"] == g["label"] and iou(a, g) >= threshold:
                used.add(j)
                break
        else:
            return False
    return True


def test_crowded_scene_needs_a_maximum_matching():
    # Gold G1 at (0, 0) and G2 at (0, 3); answers A1 at (0, 0) and A2 at (3, 0).
    # IoU: G1-A1 1.0, G1-A2 70/130 = 0.54, G2-A1 70/130 = 0.54, G2-A2 49/151 = 0.32.
    # G1 grabbing its best (and first) box A1 strands G2; G1-A2 with G2-A1 matches both.
    gold = validate_answer(BOXES, CLASSES, [box(0, 0), box(0, 3)])
    answer = validate_answer(BOXES, CLASSES, [box(3, 0), box(0, 0)])
    assert iou(gold[0], answer[1]) == pytest.approx(70 / 130)
    assert iou(gold[1], answer[0]) == pytest.approx(70 / 130)
    assert iou(gold[1], answer[1]) == pytest.approx(49 / 151)
    assert not _greedy_match(answer, gold, 0.5)
    assert boxes_match(answer, gold, 0.5)


# --- grading -------------------------------------------------------------------------------


def test_grade_with_several_accepted_answers():
    assert grade(SINGLE_CHOICE, "dent", ["crack", "dent"])
    assert not grade(SINGLE_CHOICE, "rust", ["crack", "dent"])
    accepted = validate_accepted(MULTIPLE_CHOICE, CLASSES, [["crack"], ["rust", "crack"]])
    assert grade(MULTIPLE_CHOICE, ["crack", "rust"], accepted)
    assert grade(MULTIPLE_CHOICE, ["crack"], accepted)
    assert not grade(MULTIPLE_CHOICE, ["rust"], accepted)
    # Boxes: one or two boxes are both accepted; the answer fits the second alternative only.
    alternatives = validate_accepted(
        BOXES, CLASSES, [[box(0, 0)], [box(0, 0), box(40, 40, label="rust")]]
    )
    two = validate_answer(BOXES, CLASSES, [box(41, 41, label="rust"), box(1, 0)])
    assert grade(BOXES, two, alternatives)
    assert not grade(BOXES, two, alternatives, iou_threshold=0.9)
    assert not grade(BOXES, validate_answer(BOXES, CLASSES, [box(30, 30)]), alternatives)


def test_stratum_of():
    assert stratum_of(SINGLE_CHOICE, ["rust", "crack"]) == "rust"
    assert stratum_of(MULTIPLE_CHOICE, [["crack", "rust"]]) == "crack+rust"
    assert stratum_of(MULTIPLE_CHOICE, [[]]) == "none"
    boxes = validate_answer(BOXES, CLASSES, [box(0, 0, label="rust"), box(5, 5), box(9, 9)])
    assert stratum_of(BOXES, [boxes]) == "crack+rust"
    assert stratum_of(BOXES, [[]]) == "none"
