"""Majority consensus, by hand: every expected value below was worked out on paper (the box
IoUs are in the comments). No database."""

from __future__ import annotations

import pytest

from qc.consensus_maths import agreement_with, consensus, majority, same

SC, MC, BX = "single_choice", "multiple_choice", "boxes"


def box(x: float, label: str = "crack", y: float = 0.0, w: float = 10.0, h: float = 10.0):
    return {"label": label, "x": float(x), "y": float(y), "w": w, "h": h}


# 10x10 boxes on one row: a shift of s along x leaves an intersection of (10 - s) * 10 and a
# union of 200 - (10 - s) * 10, so IoU = (10 - s) / (10 + s).
A = [box(0)]
B = [box(1)]  # vs A: 9/11 = 0.818
C = [box(5)]  # vs A: 5/15 = 0.333; vs B (shift 4): 6/14 = 0.429
L, M, R = [box(0)], [box(3)], [box(6)]  # L~M and M~R: 7/13 = 0.538; L vs R: 4/16 = 0.25


@pytest.mark.parametrize(("n", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_majority_is_strict(n, needed):
    assert majority(n) == needed


@pytest.mark.parametrize(
    ("answers", "winner", "agreement", "support", "decided"),
    [
        ([], None, 0.0, 0, False),
        (["crack"], "crack", 1.0, 1, True),  # overlap 1: the one answer stands
        (["crack", "crack"], "crack", 1.0, 2, True),
        (["crack", "rust"], None, 0.5, 1, False),  # k=2: both must agree; 1-1 is a tie
        (["crack", "rust", "crack"], "crack", 2 / 3, 2, True),  # 2 of 3
        (["rust", "crack", "crack"], "crack", 2 / 3, 2, True),
        (["crack", "rust", "ok"], None, 1 / 3, 1, False),  # 1-1-1 tie
        (["crack", "crack", "rust", "rust"], None, 0.5, 2, False),  # 2-2 tie
        (["crack", "crack", "crack", "rust"], "crack", 0.75, 3, True),  # 3 of 4
        # a plurality without a majority: 2 of 5 is a winner but not a decision
        (["crack", "crack", "rust", "ok", "dent"], "crack", 0.4, 2, False),
        (["crack", "crack", "crack", "rust", "rust"], "crack", 0.6, 3, True),
    ],
)
def test_single_choice(answers, winner, agreement, support, decided):
    result = consensus(SC, answers)
    assert result.answer == winner
    assert result.agreement == pytest.approx(agreement)
    assert result.support == support
    assert result.total == len(answers)
    assert result.decided is decided


@pytest.mark.parametrize(
    ("answers", "winner", "agreement", "decided"),
    [
        ([["crack", "rust"], ["rust", "crack"]], ["crack", "rust"], 1.0, True),  # same set
        ([["crack"], ["crack", "rust"]], None, 0.5, False),  # a subset is not the same
        ([["crack", "rust"], ["crack"], ["crack", "rust"]], ["crack", "rust"], 2 / 3, True),
        ([[], []], [], 1.0, True),  # "none of these" agreed
        ([[], ["crack"], ["rust"]], None, 1 / 3, False),
    ],
)
def test_multiple_choice_is_exact_set_equality(answers, winner, agreement, decided):
    result = consensus(MC, answers)
    assert result.answer == winner
    assert result.agreement == pytest.approx(agreement)
    assert result.decided is decided


def test_boxes_same_within_the_iou_threshold():
    assert same(BX, A, B, 0.5)  # 0.818
    assert not same(BX, A, C, 0.5)  # 0.333
    assert not same(BX, A, B, 0.9)  # 0.818 < 0.9
    assert not same(BX, A, [box(0, label="rust")], 0.5)  # same place, other label
    assert not same(BX, A, [*A, box(50)], 0.5)  # an extra box
    assert same(BX, [], [], 0.5)  # both saw nothing


@pytest.mark.parametrize(
    ("answers", "winner", "agreement", "decided"),
    [
        ([A, B], A, 1.0, True),  # the earliest of equals represents them
        ([A, C], None, 0.5, False),
        ([A, C, B], A, 2 / 3, True),  # supports A=2, C=1, B=2; A and B the same
        ([C, A, B], A, 2 / 3, True),
        ([A, B, C], A, 2 / 3, True),
        # Not transitive: M matches both L and R, which do not match each other. M is the
        # answer matching the most others (3 of 3 counting itself), so it is the consensus.
        ([L, M, R], M, 1.0, True),
        # Two pairs that each agree inside but not with each other: a 2-2 tie.
        ([L, R, [box(1)], [box(7)]], None, 0.5, False),
    ],
)
def test_boxes_majority_of_the_answer_matching_most_others(answers, winner, agreement, decided):
    result = consensus(BX, answers, 0.5)
    assert result.answer == winner
    assert result.agreement == pytest.approx(agreement)
    assert result.decided is decided


def test_boxes_threshold_changes_the_decision():
    assert consensus(BX, [A, B], 0.5).decided
    strict = consensus(BX, [A, B], 0.9)
    assert (strict.answer, strict.decided, strict.agreement) == (None, False, 0.5)


def test_agreement_with_a_reviewers_answer():
    assert agreement_with(SC, ["crack", "rust", "ok"], "rust") == pytest.approx(1 / 3)
    assert agreement_with(SC, ["crack", "crack"], "crack") == 1.0
    assert agreement_with(MC, [["rust", "crack"], ["crack"]], ["crack", "rust"]) == 0.5
    assert agreement_with(BX, [A, B, C], A, 0.5) == pytest.approx(2 / 3)
    assert agreement_with(SC, [], "crack") is None


def test_unknown_answer_type():
    with pytest.raises(ValueError, match="Unknown answer type"):
        consensus("free_text", ["a", "b"])
