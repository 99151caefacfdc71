"""Where the tests find the public data sets: ``LABELFORCE_DATASETS`` if set, else the full
collection in the directory the benchmarks default to, when it is there, else the two small
sets copied into ``tests/data/datasets`` (gal_toy and temp)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = Path(__file__).resolve().parent / "data" / "datasets"


def datasets_dir(*needed: str) -> Path:
    """The first folder that holds every data set in ``needed``."""
    candidates = [Path(p) for p in [os.environ.get("LABELFORCE_DATASETS", "")] if p] + [
        REPO.parent / "shared" / "datasets",
        COPIED,
    ]
    for folder in candidates:
        if all((folder / name / "labels.csv").is_file() for name in needed):
            return folder
    return COPIED
