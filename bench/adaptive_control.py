"""Adaptive control rate against a fixed one, by simulation.

    .venv/bin/python bench/adaptive_control.py [--runs R] [--tasks N] [--seed S] [--no-write]

A labeler works through a stream of ``N`` tasks (default 10,000) on a project with control
ratio 0.10 and floor 0.02. Before each task the claim serves a control task with probability
equal to the labeler's current rate (as ``assignment_claim_next`` does); the rate changes only
when a control answer is graded, so the gap to the next control task is geometric with the
current rate and the simulation steps from check to check. Each answer on gold is right with
the labeler's true accuracy at that point of the stream.

Policies:

* **fixed** — the project's ratio throughout;
* **adaptive** — ``qc.services.control.adaptive_rate`` after every check (vectorised here with
  numpy and checked against the pure function on every step of the first run).

Labelers: stable ones with true accuracy 0.70 … 0.99, and drifting ones whose accuracy drops
at task N/2. Both policies run the same drift detector on the checks they have — the one
inside ``adaptive_rate``: the recent accuracy (EWMA, lambda 0.1) at least ``DRIFT_Z`` (2.0) of
its standard deviations below the long-run Wilson lower bound.

Measured, averaged over ``R`` runs (default 400) per labeler:

* gold — control tasks over the whole stream;
* to width ≤ 0.10 — tasks and control tasks until the Wilson 95% interval of gold accuracy is
  first at most 0.10 wide (over the runs that got there; the share that did is shown);
* final width — the interval's width at the end of the stream;
* drift delay — tasks (and control tasks) from the drift until the detector fires (runs where
  it never fired count as the rest of the stream; the share detected is shown);
* false alarms — detector firings per 10,000 tasks before the drift (stable labelers: all
  stream), counting each entry into the alarm state once.

The section between ``<!-- adaptive-control:begin -->`` and ``<!-- adaptive-control:end -->`` of
BENCHMARKS.md is rewritten (``--no-write`` prints only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qc.services.control import (
    DRIFT_START,
    DRIFT_Z,
    EWMA_LAMBDA,
    TARGET_WIDTH,
    WIDE_WIDTH,
    Z,
    adaptive_rate,
)

RATIO = 0.10
FLOORS = (0.02, 0.05)  # the project default, and a safer one
BEGIN = "<!-- adaptive-control:begin -->"
END = "<!-- adaptive-control:end -->"


@dataclass(frozen=True)
class Labeler:
    name: str
    before: float  # true accuracy before the drift point
    after: float  # … and after it (== before for a stable labeler)

    @property
    def drifts(self) -> bool:
        return self.after != self.before


LABELERS = [
    Labeler("stable 0.70", 0.70, 0.70),
    Labeler("stable 0.80", 0.80, 0.80),
    Labeler("stable 0.90", 0.90, 0.90),
    Labeler("stable 0.95", 0.95, 0.95),
    Labeler("stable 0.99", 0.99, 0.99),
    Labeler("drift 0.95 → 0.85", 0.95, 0.85),
    Labeler("drift 0.95 → 0.75", 0.95, 0.75),
    Labeler("drift 0.90 → 0.70", 0.90, 0.70),
    Labeler("drift 0.99 → 0.90", 0.99, 0.90),
]


def vector_rate(n, k, recent, *, floor: float, ratio: float = RATIO):
    """``adaptive_rate`` over arrays (n > 0 everywhere); returns (rate, drift score d)."""
    floor = min(floor, ratio)
    p = k / n
    zz = Z * Z
    den = 1.0 + zz / n
    half = Z / den * np.sqrt(p * (1.0 - p) / n + zz / (4.0 * n * n))
    width = 2.0 * half
    w_rate = np.where(
        width >= WIDE_WIDTH,
        ratio,
        np.where(
            width <= TARGET_WIDTH,
            floor,
            floor + (ratio - floor) * (width - TARGET_WIDTH) / (WIDE_WIDTH - TARGET_WIDTH),
        ),
    )
    sm = (k + 1.0) / (n + 2.0)
    s = np.sqrt((EWMA_LAMBDA / (2.0 - EWMA_LAMBDA) + 1.0 / n) * sm * (1.0 - sm))
    d = (p - recent) / s
    share = (d - DRIFT_START) / (DRIFT_Z - DRIFT_START)
    d_rate = floor + (ratio - floor) * np.clip(share, 0.0, 1.0)
    return np.minimum(ratio, np.maximum(w_rate, d_rate)), d, width


def simulate(
    labeler: Labeler, *, adaptive: bool, floor: float, runs: int, tasks: int, seed: int
) -> dict:
    rng = np.random.default_rng(seed)
    drift_at = tasks // 2
    pos = np.zeros(runs)  # the task index of the last control task (0: none yet)
    n = np.zeros(runs)
    k = np.zeros(runs)
    recent = np.zeros(runs)
    rate = np.full(runs, RATIO)
    alive = np.ones(runs, dtype=bool)
    width_now = np.ones(runs)
    reach_task = np.full(runs, np.nan)
    reach_gold = np.full(runs, np.nan)
    detect_task = np.full(runs, np.nan)
    detect_gold = np.full(runs, np.nan)
    gold_at_drift = np.full(runs, np.nan)
    alarm = np.zeros(runs, dtype=bool)
    false_alarms = np.zeros(runs)
    checked = False
    while alive.any():
        gap = rng.geometric(rate)
        new_pos = pos + gap
        alive &= new_pos <= tasks
        if not alive.any():
            break
        pos = np.where(alive, new_pos, pos)
        truth = np.where(pos > drift_at, labeler.after, labeler.before)
        right = rng.random(runs) < truth
        first = n == 0
        recent = np.where(
            alive,
            np.where(first, right * 1.0, (1 - EWMA_LAMBDA) * recent + EWMA_LAMBDA * right),
            recent,
        )
        gold_at_drift = np.where(
            alive & (pos > drift_at) & np.isnan(gold_at_drift), n, gold_at_drift
        )
        n = np.where(alive, n + 1, n)
        k = np.where(alive & right, k + 1, k)
        new_rate, d, width = vector_rate(n, k, recent, floor=floor)
        if not checked:  # the vectorised rule is the pure one
            i = int(np.argmax(alive))
            pure, _ = adaptive_rate(
                checks=int(n[i]),
                correct=int(k[i]),
                recent=float(recent[i]),
                ratio=RATIO,
                floor=floor,
            )
            assert abs(pure - new_rate[i]) < 1e-12, (pure, new_rate[i])
        width_now = np.where(alive, width, width_now)
        hit = alive & np.isnan(reach_task) & (width <= TARGET_WIDTH)
        reach_task = np.where(hit, pos, reach_task)
        reach_gold = np.where(hit, n, reach_gold)
        fired = alive & (d >= DRIFT_Z)
        entering = fired & ~alarm
        if labeler.drifts:
            false_alarms += entering & (pos <= drift_at)
            found = entering & (pos > drift_at) & np.isnan(detect_task)
            # A run already in alarm when the drift comes counts at its first check after it.
            found |= fired & (pos > drift_at) & np.isnan(detect_task)
            detect_task = np.where(found, pos - drift_at, detect_task)
            detect_gold = np.where(found, n - gold_at_drift, detect_gold)
        else:
            false_alarms += entering
        alarm = np.where(alive, fired, alarm)
        if adaptive:
            rate = np.where(alive, new_rate, rate)
    gold_total = n
    stable_tasks = drift_at if labeler.drifts else tasks
    out = {
        "gold": gold_total.mean(),
        "reached": np.mean(~np.isnan(reach_task)),
        "reach_task": np.nanmean(reach_task) if (~np.isnan(reach_task)).any() else float("nan"),
        "reach_gold": np.nanmean(reach_gold) if (~np.isnan(reach_gold)).any() else float("nan"),
        "final_width": width_now.mean(),
        "false_alarms": false_alarms.mean() * 10_000 / stable_tasks,
    }
    if labeler.drifts:
        detected = ~np.isnan(detect_task)
        out["detected"] = detected.mean()
        out["delay_task"] = np.where(detected, detect_task, tasks - drift_at).mean()
        out["delay_task_median"] = float(
            np.median(np.where(detected, detect_task, tasks - drift_at))
        )
        out["delay_gold"] = np.nanmean(detect_gold) if detected.any() else float("nan")
    return out


def _fmt(x: float, digits: int = 0) -> str:
    if x != x:  # nan
        return "—"
    return f"{x:,.{digits}f}"


def run(runs: int, tasks: int, seed: int) -> str:
    started = time.perf_counter()
    low, high = FLOORS
    stable_rows, drift_rows = [], []
    for i, labeler in enumerate(LABELERS):
        common = {"runs": runs, "tasks": tasks, "seed": seed + i}
        fixed = simulate(labeler, adaptive=False, floor=low, **common)
        a1 = simulate(labeler, adaptive=True, floor=low, **common)
        a2 = simulate(labeler, adaptive=True, floor=high, **common)
        stable_rows.append(
            f"| {labeler.name} | {_fmt(fixed['gold'])} | {_fmt(a1['gold'])} "
            f"({1 - a1['gold'] / fixed['gold']:.0%} less) | {_fmt(a2['gold'])} "
            f"({1 - a2['gold'] / fixed['gold']:.0%} less) | {_fmt(fixed['reach_gold'])} / "
            f"{_fmt(a1['reach_gold'])} | {_fmt(fixed['reach_task'])} / {_fmt(a1['reach_task'])} "
            f"({a1['reached']:.0%}) | {fixed['final_width']:.3f} / {a1['final_width']:.3f} / "
            f"{a2['final_width']:.3f} | {fixed['false_alarms']:.1f} / "
            f"{a1['false_alarms']:.1f} / {a2['false_alarms']:.1f} |"
        )
        if labeler.drifts:
            cells = []
            for r in (fixed, a1, a2):
                cells.append(
                    f"{_fmt(r['delay_task'])} (median {_fmt(r['delay_task_median'])}; "
                    f"{_fmt(r['delay_gold'], 1)} gold; {r['detected']:.0%})"
                )
            drift_rows.append(f"| {labeler.name} | " + " | ".join(cells) + " |")
    elapsed = time.perf_counter() - started
    head = (
        "## Adaptive control rate\n\n"
        "Method and reading: [docs/adaptive-control.md](docs/adaptive-control.md).\n\n"
        f"`.venv/bin/python bench/adaptive_control.py --runs {runs} --tasks {tasks} "
        f"--seed {seed}` — {dt.date.today().isoformat()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.machine()}; {elapsed:.0f} s.\n\n"
        f"Project ratio {RATIO}; adaptive with floor {low} (the default) and {high}; "
        f"{tasks:,} tasks per labeler, {runs} runs each; drifting labelers change at task "
        f"{tasks // 2:,}. Width: of the Wilson 95% interval of gold accuracy. Gold: control "
        "tasks served over the stream (mean).\n"
    )
    table1 = (
        f"| labeler | gold, fixed {RATIO} | gold, adaptive floor {low} | … floor {high} | "
        "gold to width ≤ 0.10, fixed / adaptive | tasks to width ≤ 0.10, fixed / adaptive "
        "(runs that got there) | final width, fixed / floor "
        f"{low} / {high} | false alarms per 10k tasks, fixed / {low} / {high} |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(stable_rows) + "\n"
    )
    table2 = (
        f"| drifting labeler | detection delay in tasks, fixed {RATIO} | … adaptive floor {low} "
        f"| … adaptive floor {high} |\n"
        "| --- | ---: | ---: | ---: |\n" + "\n".join(drift_rows) + "\n\n"
        "Delay: mean tasks from the drift to the alarm (a run never alarmed counts the rest of "
        "the stream), its median, the control tasks it took, and the share of runs alarmed.\n"
    )
    return head + "\n" + table1 + "\n" + table2


def write(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--output", default="BENCHMARKS.md")
    args = parser.parse_args()
    section = run(args.runs, args.tasks, args.seed)
    print(section)
    if not args.no_write:
        write(section, Path(args.output))


if __name__ == "__main__":
    main()
