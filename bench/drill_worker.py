"""Drill: the Celery worker killed with SIGKILL mid-run, then started again.

Serves LabelForce (gunicorn and one Celery worker on Redis, bench/drill_common), starts
``--clients`` labelers, kills the worker's whole process group with ``kill -9`` ``--kill-at``
seconds in (a message it was running stays unacknowledged in Redis until the broker's
visibility timeout), starts a new worker ``--down-seconds`` later, and reports the drill's
checks: acknowledged submits lost, over-assignments, completed tasks without consensus once the
queue settled and after one sweep, and what readiness said while no worker ran. Figures go to
BENCHMARKS.md between this drill's markers.

    .venv/bin/python bench/drill_worker.py
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import drill_common as drill
from bench import next_task_load as load

BEGIN, END = "<!-- drill-worker:begin -->", "<!-- drill-worker:end -->"


def run(args) -> dict:
    served = drill.serve(
        args.database, args.broker, tasks=args.tasks, labelers=args.labelers, port=args.port
    )
    try:
        background = drill.BackgroundLoad(served, args.clients, args.seconds)
        time.sleep(args.kill_at)
        probe = drill.HealthProbe(args.port)
        killed = time.time()
        drill.stop_tree(served.worker, signal.SIGKILL)
        time.sleep(args.down_seconds)
        served.worker = drill.start_worker_again(served.env)
        restarted = time.time()
        stats = background.result()
        probe.stop()
        result = {
            "during": drill.window(stats, killed, restarted),
            "health": probe.summary(killed, restarted),
            "down_seconds": restarted - killed,
            **drill.outcome(served, stats),
        }
        print(result, flush=True)
        return result
    finally:
        served.stop()
        load.psql(drill.BASE, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


def write(r: dict, args) -> None:
    cmd = (
        f"`.venv/bin/python bench/drill_worker.py --tasks {args.tasks} --clients "
        f"{args.clients} --seconds {args.seconds:g} --kill-at {args.kill_at:g} "
        f"--down-seconds {args.down_seconds:g}`"
    )
    during, health = r["during"], r["health"]
    lines = [
        BEGIN,
        "## Drill: Celery worker killed (SIGKILL) mid-run",
        "",
        f"Command: {cmd}",
        "",
        f"Run {drill.now_utc()}: gunicorn (4 workers x 8 threads) and one Celery worker on "
        f"Redis, {args.tasks:,} tasks imported through the API, {args.clients} labelers for "
        f"{args.seconds:g} s; the worker's process group killed with SIGKILL "
        f"{args.kill_at:g} s in, a new worker started {args.down_seconds:g} s later. After "
        "the load: wait until the count of complete tasks without consensus stops moving, "
        "then one `consensus_sweep` and one sweep of ungraded control answers.",
        "",
        "| acknowledged submits | lost | over-assigned | without consensus (settled / after "
        "one sweep) | control answers ungraded (settled / after sweep) "
        "| submits while no worker: statuses; p50 / max ms | /healthz while no "
        "worker | /healthz/ready while no worker |",
        "|---:|---:|---:|---|---|---|---|---|",
        f"| {r['acknowledged']} | {r['lost_submits']} | {r['over_assigned']} | "
        f"{r['without_consensus_before_sweep']} / {r['without_consensus_after_sweep']} | "
        f"{r['ungraded_before_sweep']} / {r['ungraded_after_sweep']} | "
        f"{drill.statuses_text(during['statuses'])}; {drill.fmt(during['p50'])} / "
        f"{drill.fmt(during['max'])} | {drill.health_text(health['/healthz'])} | "
        f"{drill.health_text(health['/healthz/ready'])} |",
        END,
    ]
    load.write_section(BEGIN, END, lines, Path(args.output))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--labelers", type=int, default=64)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--kill-at", type=float, default=10)
    ap.add_argument("--down-seconds", type=float, default=45)
    ap.add_argument("--port", type=int, default=8793)
    ap.add_argument("--database", default="lf_bench_h4_drill_worker")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--output", default=str(drill.ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    result = run(args)
    if not args.no_write:
        write(result, args)


if __name__ == "__main__":
    main()
