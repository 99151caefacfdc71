"""Drill: PostgreSQL restarted, and PostgreSQL stopped for 10 s, under load.

This stops PostgreSQL for EVERY database on the machine (``pg_ctlcluster 15 main``): run it
once, keep the outage short, and it always starts PostgreSQL again (in a ``finally``). It asks
for ``--yes`` so that it never runs by accident.

For each mode it serves LabelForce (gunicorn and a Celery worker on Redis, bench/drill_common),
starts ``--clients`` labelers, injects the fault ``--fault-at`` seconds in, and reports the
drill's checks (bench/drill_common): acknowledged submits lost, over-assignments, completed
tasks without consensus after recovery and one sweep, and what clients and the health routes
saw during the fault. Figures go to BENCHMARKS.md between this drill's markers.

    .venv/bin/python bench/drill_postgres.py --yes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import drill_common as drill
from bench import next_task_load as load

BEGIN, END = "<!-- drill-postgres:begin -->", "<!-- drill-postgres:end -->"


def run(mode: str, args) -> dict:
    served = drill.serve(
        args.database, args.broker, tasks=args.tasks, labelers=args.labelers, port=args.port
    )
    try:
        background = drill.BackgroundLoad(served, args.clients, args.seconds)
        time.sleep(args.fault_at)
        probe = drill.HealthProbe(args.port)
        fault_started = time.time()
        try:
            if mode == "restart":
                drill.pg("restart")
            else:
                # The whole outage, stopping and starting included, stays within
                # --outage-seconds (PostgreSQL is shared; starting takes about a second).
                stopping = drill.pg("stop")
                time.sleep(max(0.0, args.outage_seconds - stopping - 1.0))
        finally:
            if not drill.pg_is_up():
                drill.pg("start")
        back = time.time()
        stats = background.result()
        probe.stop()
        firsts = sorted(t for t, status, _ in stats.submit_log if status == 200 and t >= back)
        result = {
            "mode": mode,
            "fault_seconds": back - fault_started,
            "before": drill.window(stats, background.started, fault_started),
            "during": drill.window(stats, fault_started, back),
            "after": drill.window(stats, back, back + 10),
            "first_ok_after_s": (firsts[0] - back) if firsts else float("nan"),
            "health": probe.summary(fault_started, back),
            **drill.outcome(served, stats),
        }
        print(result, flush=True)
        return result
    finally:
        served.stop()
        load.psql(drill.BASE, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


def write(results: list[dict], args) -> None:
    cmd = (
        f"`.venv/bin/python bench/drill_postgres.py --yes --modes {' '.join(args.modes)} "
        f"--tasks {args.tasks} --clients {args.clients} --seconds {args.seconds:g} "
        f"--fault-at {args.fault_at:g} --outage-seconds {args.outage_seconds:g}`"
    )
    lines = [
        BEGIN,
        "## Drill: PostgreSQL restarted and stopped for 10 s",
        "",
        f"Command: {cmd}",
        "",
        f"Run {drill.now_utc()}: gunicorn (4 workers x 8 threads) and one Celery worker on "
        f"Redis, {args.tasks:,} tasks imported through the API, {args.clients} labelers "
        f"looping next-task then submit for {args.seconds:g} s (a 5xx or a lost connection "
        f"is retried after 0.2 s with the same answer); the fault {args.fault_at:g} s in. "
        "Restart: `pg_ctlcluster 15 main restart -m fast`; outage: `stop -m fast`, "
        f"{args.outage_seconds:g} s, `start`. After the load: wait until the count of "
        "complete tasks without consensus stops moving, then one `consensus_sweep` and one "
        "sweep of ungraded control answers.",
        "",
        "| fault | s down | acknowledged submits | lost | over-assigned | without consensus "
        "(settled / after one sweep) | control answers ungraded (settled / after sweep) | "
        "submits during the fault: statuses; p50 / max ms | "
        "first 200 after | /healthz during | /healthz/ready during |",
        "|---|---:|---:|---:|---:|---|---|---|---:|---|---|",
    ]
    for r in results:
        during, health = r["during"], r["health"]
        lines.append(
            f"| {r['mode']} | {r['fault_seconds']:.1f} | {r['acknowledged']} | "
            f"{r['lost_submits']} | {r['over_assigned']} | "
            f"{r['without_consensus_before_sweep']} / {r['without_consensus_after_sweep']} | "
            f"{r['ungraded_before_sweep']} / {r['ungraded_after_sweep']} | "
            f"{drill.statuses_text(during['statuses'])}; {drill.fmt(during['p50'])} / "
            f"{drill.fmt(during['max'])} | {drill.fmt(r['first_ok_after_s'])} s | "
            f"{drill.health_text(health['/healthz'])} | "
            f"{drill.health_text(health['/healthz/ready'])} |"
        )
    lines.append(END)
    load.write_section(BEGIN, END, lines, Path(args.output))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--yes", action="store_true", help="yes, stop PostgreSQL for everyone")
    ap.add_argument("--modes", nargs="+", default=["restart", "outage"])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--labelers", type=int, default=64)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--fault-at", type=float, default=10)
    ap.add_argument("--outage-seconds", type=float, default=10)
    ap.add_argument("--port", type=int, default=8792)
    ap.add_argument("--database", default="lf_bench_h4_drill_pg")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    ap.add_argument("--output", default=str(drill.ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not args.yes:
        sys.exit("This stops PostgreSQL for every database on the machine; say --yes.")
    if args.outage_seconds > 10:
        sys.exit("Keep the outage at 10 s or less: PostgreSQL is shared.")
    results = [run(mode, args) for mode in args.modes]
    if not args.no_write:
        write(results, args)


if __name__ == "__main__":
    main()
