"""Drill: the broker unreachable from the app while labelers work.

Serves LabelForce (gunicorn and one Celery worker on Redis, bench/drill_common) and runs
``--clients`` labelers twice on the same database: first with the broker reachable, then with
gunicorn restarted with ``CELERY_BROKER_URL`` pointing at a closed port (``--dead-broker``), as
when the broker is down or blocked. Submits must still succeed; the consensus messages they
send after commit cannot be published, and the consensus sweep must catch every task they left
without a decision. Reports the drill's checks (bench/drill_common), the latency of the submits
that complete a task against the others in both phases (every submit publishes one message),
and what the health routes said while the broker was unreachable. Figures go to BENCHMARKS.md
between this drill's markers.

    .venv/bin/python bench/drill_broker.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import drill_common as drill
from bench import next_task_load as load

BEGIN, END = "<!-- drill-broker:begin -->", "<!-- drill-broker:end -->"


def restart_app(served: drill.Served, broker: str, args) -> None:
    drill.stop_tree(served.app)
    env = load.env_for(f"{drill.BASE}/{served.database}", broker)
    served.app = load.serve(env, served.port, 4, 8)


def latency(stats: load.Stats, completing: set[int]) -> dict:
    done = [ms for i, ms in stats.submit_by_id.items() if i in completing]
    other = [ms for i, ms in stats.submit_by_id.items() if i not in completing]
    return {
        "completing_n": len(done),
        "completing_p50": load.pct(done, 0.5),
        "completing_p95": load.pct(done, 0.95),
        "other_n": len(other),
        "other_p50": load.pct(other, 0.5),
        "other_p95": load.pct(other, 0.95),
        "errors": len(stats.errors),
    }


def run(args) -> dict:
    served = drill.serve(
        args.database, args.broker, tasks=args.tasks, labelers=args.labelers, port=args.port
    )
    try:
        up = drill.BackgroundLoad(served, args.clients, args.seconds).result()
        restart_app(served, args.dead_broker, args)
        probe = drill.HealthProbe(args.port)
        started = time.time()
        down = drill.BackgroundLoad(served, args.clients, args.seconds).result()
        probe.stop()
        health = probe.summary(started, time.time())
        restart_app(served, args.broker, args)
        completing = drill.completing_ids(served, up.submitted_ids + down.submitted_ids)
        merged = load.Stats()
        merged.add(up)
        merged.add(down)
        result = {
            "up": latency(up, completing),
            "down": latency(down, completing),
            "health": health,
            **drill.outcome(served, merged),
        }
        print(result, flush=True)
        return result
    finally:
        served.stop()
        load.psql(drill.BASE, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


def write(r: dict, args) -> None:
    cmd = (
        f"`.venv/bin/python bench/drill_broker.py --tasks {args.tasks} --clients "
        f"{args.clients} --seconds {args.seconds:g} --dead-broker {args.dead_broker}`"
    )
    health = r["health"]
    lines = [
        BEGIN,
        "## Drill: broker unreachable from the app",
        "",
        f"Command: {cmd}",
        "",
        f"Run {drill.now_utc()}: gunicorn (4 workers x 8 threads) and one Celery worker on "
        f"Redis, {args.tasks:,} tasks imported through the API, {args.clients} labelers for "
        f"{args.seconds:g} s with the broker reachable, then {args.seconds:g} s more after "
        f"gunicorn was restarted with `CELERY_BROKER_URL={args.dead_broker}` (nothing "
        "listens there). Every submit publishes one message after commit (grading, control "
        "rate, and consensus when it completes its task: a completing submit fills the task's "
        "last slot). After the load: wait "
        "until the count of complete tasks without consensus stops moving, then one "
        "`consensus_sweep` and one sweep of ungraded control answers.",
        "",
        "| broker | completing submits: n / p50 / p95 ms | other submits: n / p50 / p95 ms | "
        "errors |",
        "|---|---|---|---:|",
    ]
    for name in ("up", "down"):
        x = r[name]
        lines.append(
            f"| {'reachable' if name == 'up' else 'unreachable'} | {x['completing_n']} / "
            f"{drill.fmt(x['completing_p50'])} / {drill.fmt(x['completing_p95'])} | "
            f"{x['other_n']} / {drill.fmt(x['other_p50'])} / {drill.fmt(x['other_p95'])} | "
            f"{x['errors']} |"
        )
    lines += [
        "",
        "| acknowledged submits | lost | over-assigned | without consensus (settled / after "
        "one sweep) | control answers ungraded (settled / after sweep) "
        "| swept | /healthz while unreachable | /healthz/ready while unreachable |",
        "|---:|---:|---:|---|---|---:|---|---|",
        f"| {r['acknowledged']} | {r['lost_submits']} | {r['over_assigned']} | "
        f"{r['without_consensus_before_sweep']} / {r['without_consensus_after_sweep']} | "
        f"{r['ungraded_before_sweep']} / {r['ungraded_after_sweep']} | "
        f"{r['swept']} | {drill.health_text(health['/healthz'])} | "
        f"{drill.health_text(health['/healthz/ready'])} |",
        END,
    ]
    load.write_section(BEGIN, END, lines, Path(args.output))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--labelers", type=int, default=64)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--port", type=int, default=8794)
    ap.add_argument("--database", default="lf_bench_h4_drill_broker")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    ap.add_argument("--dead-broker", default="redis://127.0.0.1:6399/0")
    ap.add_argument("--output", default=str(drill.ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    result = run(args)
    if not args.no_write:
        write(result, args)


if __name__ == "__main__":
    main()
