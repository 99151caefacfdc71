"""Drill: an import that leaves the planner's statistics stale, against one that does not.

A table of ``--base-tasks`` tasks (imported through the API, so analyzed) gets a new project
with ``--new-tasks`` tasks two ways: through the import service with its after-commit ANALYZE
switched off (what every import did before it had one; too few rows for autovacuum to
re-analyze), and through the API as it is. For each it reports the claim statement's plan and
time when idle (EXPLAIN ANALYZE, median of ``--explains`` runs) and a short load on that project
alone (``--clients`` labelers for ``--seconds``): labels/s and next-task latency. Figures go to
BENCHMARKS.md between this drill's markers.

    .venv/bin/python bench/drill_import.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import drill_common as drill
from bench import next_task_load as load

BEGIN, END = "<!-- drill-import:begin -->", "<!-- drill-import:end -->"

SNIPPET = r"""
import sys, json, statistics, django
django.setup()
from django.db import connection
from django.utils import timezone
what = sys.argv[1]
if what == "project":
    from assignments import services
    from workforce.models import User
    project = services.project_create(
        actor=User.objects.get(username="ops-drill"), slug=sys.argv[2], name=sys.argv[2],
        answer_type="single_choice", classes=["ok", "crack", "rust"], overlap=2, max_overlap=3,
        lease_seconds=600,
    )
    print(json.dumps({"project": project.pk}))
elif what == "import-without-analyze":
    from assignments.models import Project
    from assignments.services import imports
    imports._refresh_statistics = lambda: None  # the import as it was: no ANALYZE after it
    project = Project.objects.get(pk=int(sys.argv[2]))
    n, first = int(sys.argv[3]), int(sys.argv[4])
    lines = "".join(
        json.dumps({"external_id": f"s{g}", "image_url": f"https://img.example.test/{g:08d}.jpg",
                    "priority": g % 100}) + "\n" for g in range(first, first + n))
    result = imports.tasks_import(actor=None, project=project, data=lines, file_format="jsonl")
    print(json.dumps({"created": result.created, "seconds": result.seconds}))
elif what == "explain":
    from assignments import sql
    from workforce.models import Labeler
    labeler = Labeler.objects.order_by("id").first()
    times, sort, index = [], False, set()
    for _ in range(int(sys.argv[3])):
        params = {"project": int(sys.argv[2]), "labeler": labeler.pk, "now": timezone.now()}
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.claim().sql, params)
            raw = cur.fetchone()[0]
        plan = json.loads(raw) if isinstance(raw, str) else raw
        times.append(plan[0]["Execution Time"])
        todo = [plan[0]["Plan"]]
        while todo:
            node = todo.pop()
            sort = sort or node["Node Type"] == "Sort"
            if node.get("Relation Name") == "assignments_task" and node.get("Index Name"):
                index.add(node["Index Name"])
            todo.extend(node.get("Plans", []))
    print(json.dumps({"median_ms": statistics.median(times), "sort": sort,
                      "task_index": sorted(index)}))
"""


def snippet(served: drill.Served, *argv) -> dict:
    out = subprocess.run(
        [load.PY, "-c", SNIPPET, *map(str, argv)],
        cwd=drill.ROOT,
        env=served.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(served: drill.Served, project: int, args) -> dict:
    plan = snippet(served, "explain", project, args.explains)
    stats = load.run_load(
        served.port,
        served.seeded["tokens"],
        project,
        args.clients,
        args.seconds,
        database=served.database,
    )
    return {
        **plan,
        "labels_s": len(stats.submitted_ids) / args.seconds,
        "next_p50": load.pct(stats.next_ms, 0.5),
        "next_p95": load.pct(stats.next_ms, 0.95),
        "errors": len(stats.errors),
    }


def run(args) -> list[dict]:
    served = drill.serve(
        args.database,
        args.broker,
        tasks=args.base_tasks,
        labelers=args.labelers,
        port=args.port,
        control_ratio=0,
    )
    rows = []
    try:
        first = args.base_tasks + 1
        stale = snippet(served, "project", "stale")["project"]
        snippet(served, "import-without-analyze", stale, args.new_tasks, first)
        load.activate(served.port, served.seeded["ops"], stale)
        rows.append({"case": "imported without ANALYZE", **measure(served, stale, args)})

        fresh = snippet(served, "project", "fresh")["project"]
        load.import_tasks(
            served.port,
            served.seeded["ops"],
            fresh,
            args.new_tasks,
            first=first + args.new_tasks,
            prefix="f",
        )
        load.activate(served.port, served.seeded["ops"], fresh)
        rows.append(
            {
                "case": "imported through the API (ANALYZE after commit)",
                **measure(served, fresh, args),
            }
        )
        rows.append(
            {"case": "the first project, after that import", **measure(served, stale, args)}
        )
        for row in rows:
            print(row, flush=True)
        return rows
    finally:
        served.stop()
        load.psql(drill.BASE, f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


def write(rows: list[dict], args) -> None:
    cmd = (
        f"`.venv/bin/python bench/drill_import.py --base-tasks {args.base_tasks} --new-tasks "
        f"{args.new_tasks} --clients {args.clients} --seconds {args.seconds:g}`"
    )
    lines = [
        BEGIN,
        "## Drill: an import without ANALYZE",
        "",
        f"Command: {cmd}",
        "",
        f"Run {drill.now_utc()}: {args.base_tasks:,} tasks of one project imported through the "
        f"API (analyzed), then {args.new_tasks:,} tasks of a new project imported by the "
        "import service with its after-commit ANALYZE switched off (as every import was "
        "before it had one: fewer rows than autovacuum's 10% re-analyze threshold), then "
        f"{args.new_tasks:,} tasks of another project through the API as it is. Claim: the "
        f"claim statement's EXPLAIN ANALYZE, median of {args.explains}, with no load; then "
        f"{args.clients} labelers on that project for {args.seconds:g} s (gunicorn 4 x 8, a "
        "Celery worker; the machine shared with other work).",
        "",
        "| project | claim plan | claim ms (idle) | labels/s | next-task p50 / p95 ms | errors |",
        "|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        plan = "sorts every open task" if r["sort"] else "walks the open-queue index"
        lines.append(
            f"| {r['case']} | {plan} ({', '.join(r['task_index'])}) | {r['median_ms']:.2f} | "
            f"{r['labels_s']:.0f} | {r['next_p50']:.1f} / {r['next_p95']:.1f} | "
            f"{r['errors']} |"
        )
    lines.append(END)
    load.write_section(BEGIN, END, lines, Path(args.output))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-tasks", type=int, default=80_000)
    ap.add_argument("--new-tasks", type=int, default=5_000)
    ap.add_argument("--labelers", type=int, default=64)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--explains", type=int, default=21)
    ap.add_argument("--port", type=int, default=8795)
    ap.add_argument("--database", default="lf_bench_h4_drill_import")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/10")
    ap.add_argument("--output", default=str(drill.ROOT / "BENCHMARKS.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = run(args)
    if not args.no_write:
        write(rows, args)


if __name__ == "__main__":
    main()
