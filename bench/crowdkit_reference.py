"""crowd-kit's figures on the problems bench/real_data.py hands over; run by crowd-kit's Python.

    <crowd-kit python> bench/crowdkit_reference.py IN.npz OUT.npz [--repeat N]

crowd-kit is not a dependency of the app (it pins its own pandas, scikit-learn and more): install
it into a virtualenv of its own, ``python3.11 -m venv /tmp/ck && /tmp/ck/bin/pip install
'.[bench]'`` or ``crowd-kit==1.4.2``, and pass that interpreter to ``bench/real_data.py
--crowd-kit /tmp/ck/bin/python``, which writes IN.npz and reads OUT.npz. This file imports only
numpy, pandas and crowd-kit, so it runs there.

IN.npz holds, for every problem ``name`` in ``names``: ``name.items``, ``name.workers``,
``name.labels`` (integer codes as real_data.py made them), ``name.shape`` = (n_items, n_workers,
n_classes) and ``name.timed`` (1: time the fits). OUT.npz holds, for each model ``m`` of
``mv``, ``ds`` (DawidSkene), ``one_coin`` (OneCoinDawidSkene), at their defaults:
``name.m.labels`` (n_items,) (-1 for an item without labels), ``name.m.probas``
(n_items, n_classes), ``name.m.skill`` (n_workers,) (DS: sum_c prior_c * errors[c, c];
one-coin: ``skills_``; NaN for majority vote and for workers without labels) and
``name.m.iterations``; for timed problems ``name.m.seconds`` (the fastest of ``--repeat`` fits,
wall clock) and ``name.m.cpu_seconds`` (the process time of that fit).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene

MODELS = {"mv": MajorityVote, "ds": DawidSkene, "one_coin": OneCoinDawidSkene}


def _skill(name: str, model, n_workers: int, k: int) -> np.ndarray:
    skill = np.full(n_workers, np.nan)
    if name == "one_coin":
        skill[model.skills_.index.to_numpy(dtype=np.int64)] = model.skills_.to_numpy()
    elif name == "ds":
        # errors_: rows (worker, answered label), columns the true label.
        errors = model.errors_
        priors = model.priors_.reindex(range(k), fill_value=0.0).to_numpy()
        for worker, block in errors.groupby(level=0):
            matrix = block.droplevel(0).reindex(index=range(k), columns=range(k), fill_value=0.0)
            skill[int(worker)] = float(np.diag(matrix.to_numpy()) @ priors)
    return skill


def run(data: np.lib.npyio.NpzFile, repeat: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in data["names"].tolist():
        n_items, n_workers, k = (int(v) for v in data[f"{name}.shape"])
        frame = pd.DataFrame(
            {
                "task": data[f"{name}.items"],
                "worker": data[f"{name}.workers"],
                "label": data[f"{name}.labels"],
            }
        )
        timed = bool(data[f"{name}.timed"])
        for model_name, cls in MODELS.items():
            best = (np.inf, 0.0)
            for _ in range(repeat if timed else 1):
                model = cls()
                wall, cpu = time.perf_counter(), time.process_time()
                model.fit(frame)
                best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
            probas = model.probas_.reindex(index=range(n_items), columns=range(k))
            labels = np.full(n_items, -1)
            found = model.labels_.index.to_numpy(dtype=np.int64)
            labels[found] = model.labels_.to_numpy(dtype=np.int64)
            key = f"{name}.{model_name}"
            out[f"{key}.labels"] = labels
            out[f"{key}.probas"] = probas.to_numpy(dtype=float)
            out[f"{key}.skill"] = _skill(model_name, model, n_workers, k)
            out[f"{key}.iterations"] = np.array(len(getattr(model, "loss_history_", []) or []))
            if timed:
                out[f"{key}.seconds"], out[f"{key}.cpu_seconds"] = (
                    np.array(best[0]),
                    np.array(best[1]),
                )
            print(f"crowd-kit {key}: {best[0]:.2f} s", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs")
    parser.add_argument("outputs")
    parser.add_argument("--repeat", type=int, default=1, help="fits per timed model (fastest)")
    args = parser.parse_args(argv)
    with np.load(args.inputs) as data:
        np.savez(args.outputs, **run(data, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
