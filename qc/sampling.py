"""Drawing quiz questions: stratified by class, random order. Pure; no ORM."""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence


def allocate(strata_sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Split ``n`` questions across strata in proportion to their sizes (largest remainder),
    never taking more than a stratum holds. Ties are broken by stratum name, so the split is
    deterministic. When the strata hold fewer than ``n`` items in all, every item is taken."""
    total = sum(strata_sizes.values())
    if total <= n:
        return dict(strata_sizes)
    # Quotas n * size / total split into floor and remainder in integers: in floats 7 * 3 / 9
    # leaves a larger remainder than 1 * 3 / 9, and the name would no longer break the tie.
    counts = {s: min(n * size // total, size) for s, size in strata_sizes.items()}
    remainders = {s: n * size % total for s, size in strata_sizes.items()}
    remaining = n - sum(counts.values())
    order = sorted(strata_sizes, key=lambda s: (-remainders[s], s))
    while remaining > 0:
        progressed = False
        for s in order:
            if remaining and counts[s] < strata_sizes[s]:
                counts[s] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            break
    return counts


def draw_stratified(
    items_by_stratum: Mapping[str, Sequence[Hashable]], n: int, rng: random.Random
) -> list[Hashable]:
    """Pick ``n`` items, each stratum represented in proportion to its size, in random order."""
    counts = allocate({s: len(v) for s, v in items_by_stratum.items()}, n)
    chosen: list[Hashable] = []
    for stratum in sorted(counts):
        chosen.extend(rng.sample(list(items_by_stratum[stratum]), counts[stratum]))
    rng.shuffle(chosen)
    return chosen
