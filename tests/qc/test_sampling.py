"""Stratified drawing of quiz questions (qc/sampling.py): no database."""

from __future__ import annotations

import itertools
import random

from qc.sampling import allocate, draw_stratified


def test_proportional_split():
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}


def test_largest_remainder_gets_the_leftover():
    # Quotas 2.0, 1.2, 0.8: floors 2, 1, 0 and one left over, for the largest remainder (c),
    # not the largest stratum.
    assert allocate({"a": 5, "b": 3, "c": 2}, 4) == {"a": 2, "b": 1, "c": 1}
    # Quotas 2.4, 1.2, 0.4: a and c tie at 0.4; the name decides.
    assert allocate({"c": 1, "b": 3, "a": 6}, 4) == {"a": 3, "b": 1, "c": 0}
    # Quotas 3.5, 1.0, 0.5: a and c tie at one half.
    assert allocate({"c": 1, "b": 2, "a": 7}, 5) == {"a": 4, "b": 1, "c": 0}


def test_equal_remainders_tie_by_name_not_by_float_noise():
    # Quotas 1/3, 1/3, 7/3: all three remainders are exactly one third. In floats 7 * 3 / 9 left
    # 0.33333333333333348 against 0.3333333333333333, and z took the seat that x should get.
    assert allocate({"z": 7, "y": 1, "x": 1}, 3) == {"x": 1, "y": 0, "z": 2}
    assert allocate({"a": 1, "b": 1, "c": 7}, 6) == {"a": 1, "b": 1, "c": 4}


def test_split_sums_to_n_and_respects_the_strata():
    for sizes in itertools.product(range(0, 6), repeat=3):
        strata = dict(zip("abc", sizes, strict=True))
        total = sum(sizes)
        for n in range(total + 3):
            counts = allocate(strata, n)
            assert sum(counts.values()) == min(n, total)
            assert all(0 <= counts[s] <= strata[s] for s in strata)


def test_fewer_items_than_questions_takes_everything():
    assert allocate({"a": 2, "b": 3}, 10) == {"a": 2, "b": 3}
    assert allocate({"a": 2, "b": 3}, 5) == {"a": 2, "b": 3}
    assert allocate({}, 4) == {}


def test_a_one_item_stratum_competes_by_remainder():
    # n = 51: quotas 51/101 = 0.505 and 50.495; a has the larger remainder and gets its one item.
    assert allocate({"a": 1, "b": 100}, 51) == {"a": 1, "b": 50}
    # n = 50: quotas 0.495 and 49.505; b's remainder is the larger.
    assert allocate({"a": 1, "b": 100}, 50) == {"a": 0, "b": 50}
    assert allocate({"a": 1, "b": 100}, 100) == {"a": 1, "b": 99}


ITEMS = {
    "crack": [f"c{i}" for i in range(50)],
    "rust": [f"r{i}" for i in range(30)],
    "dent": [f"d{i}" for i in range(20)],
}


def test_draw_is_stratified_and_without_repeats():
    drawn = draw_stratified(ITEMS, 10, random.Random(7))
    assert len(drawn) == len(set(drawn)) == 10
    by_stratum = {s: sum(item in items for item in drawn) for s, items in ITEMS.items()}
    assert by_stratum == {"crack": 5, "rust": 3, "dent": 2}


def test_draw_is_deterministic_under_a_seed():
    assert draw_stratified(ITEMS, 10, random.Random(42)) == draw_stratified(
        ITEMS, 10, random.Random(42)
    )


def test_draws_differ_across_seeds():
    draws = {tuple(draw_stratified(ITEMS, 10, random.Random(seed))) for seed in range(5)}
    assert len(draws) == 5
    # The order is shuffled too, not only the choice: the same items come out in other orders.
    small = {"a": ["a1", "a2"], "b": ["b1", "b2"]}
    orders = {tuple(draw_stratified(small, 4, random.Random(seed))) for seed in range(20)}
    assert len(orders) > 1
    assert all(sorted(order) == ["a1", "a2", "b1", "b2"] for order in orders)
