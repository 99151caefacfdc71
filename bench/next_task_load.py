"""Load benchmark of the hot path: next task then submit, over HTTP, on PostgreSQL.

For each N (tasks) it builds a fresh database, seeds N tasks and W labelers, serves the app with
gunicorn, and for each C (concurrent labelers) runs a fixed-duration loop in which every client
calls next-task then submit. It reports next and submit latency p50/p95/p99 and labels/s, then
checks the invariants (no task over its slots, no labeler twice on a task, every 2xx submit in
the database). In the same run it measures a trivial authenticated endpoint as the framework
floor (GET /api/v1/auth/whoami/). Results go to BENCHMARKS.md between this benchmark's markers.

    .venv/bin/python bench/next_task_load.py --tasks 10000 100000 1000000 --concurrency 1 8 32

Needs PostgreSQL at BENCH_PG (default postgres://postgres@127.0.0.1:5432). Traffic goes to
127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BEGIN, END = "<!-- next-task-load:begin -->", "<!-- next-task-load:end -->"


def env_for(db_url: str, broker: str) -> dict[str, str]:
    """The served app's environment. With a broker, consensus runs in a Celery worker as in
    production (started beside gunicorn on this machine); with ``eager`` it runs inside the
    submit request after commit, as in the demo."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY="bench-only-not-secret",
        DJANGO_SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="ERROR",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.pop("CELERY_BROKER_URL", None)
    if broker != "eager":
        env["CELERY_BROKER_URL"] = broker
    return env


def psql(base: str, sql: str) -> None:
    subprocess.run(
        ["psql", f"{base}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True
    )


SEED = r"""
import sys, django
django.setup()
from django.db import connection
from rest_framework.authtoken.models import Token
from assignments.models import Project, Task
from workforce import services
from workforce.models import Labeler, User

n_tasks, n_labelers = int(sys.argv[1]), int(sys.argv[2])
project = Project.objects.create(
    slug="bench", name="Bench", status="active", answer_type="single_choice",
    classes=["ok", "crack", "rust"], overlap=2, max_overlap=3, lease_seconds=600,
)
t = Task._meta.db_table
with connection.cursor() as cur:
    cur.execute(
        f"INSERT INTO {t} (project_id, payload, external_id, source, complexity, priority, "
        "target, submitted, is_open, state, decided_by, created_at) "
        "SELECT %s, jsonb_build_object('image_url', 'https://img.example.test/' || g || '.jpg'), "
        "'t' || g, 'bench', '', (g %% 100)::float, 2, 0, true, 'open', '', now() "
        "FROM generate_series(1, %s) g",
        [project.pk, n_tasks],
    )
    cur.execute(f"ANALYZE {t}")
tokens = []
for i in range(n_labelers):
    labeler = services.labeler_create(actor=None, username=f"bench{i}", kind="internal")
    services.labeler_activate(actor=None, labeler=labeler, reason="bench")
    tokens.append(Token.objects.create(user=labeler.user).key)
print(json.dumps({"project": project.pk, "tokens": tokens}))
""".replace("import sys, django", "import sys, json, django")


@dataclass
class Stats:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    submitted_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    empty: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def client_loop(port, token, project, deadline, stats, lock, floor: bool) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(method, path, body=None):
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, (time.perf_counter() - t0) * 1000

    local_next, local_submit, local_floor, local_ids, local_err = [], [], [], [], []
    empty = 0
    try:
        while time.monotonic() < deadline:
            if floor:
                status, _, ms = call("GET", "/api/v1/auth/whoami/")
                if status != 200:
                    local_err.append(f"whoami {status}")
                local_floor.append(ms)
                continue
            status, data, ms = call("POST", f"/api/v1/projects/{project}/next-task/")
            local_next.append(ms)
            if status == 204:
                empty += 1
                time.sleep(0.05)
                continue
            if status not in (200, 201):
                local_err.append(f"next {status} {data[:200]!r}")
                continue
            assignment = json.loads(data)["assignment"]
            status, data, ms = call(
                "POST", f"/api/v1/assignments/{assignment}/submit/", json.dumps({"answer": "ok"})
            )
            local_submit.append(ms)
            if status == 200:
                local_ids.append(assignment)
            else:
                local_err.append(f"submit {status} {data[:200]!r}")
    except Exception as exc:  # reported with the results
        local_err.append(repr(exc))
    finally:
        conn.close()
    with lock:
        stats.next_ms += local_next
        stats.submit_ms += local_submit
        stats.floor_ms += local_floor
        stats.submitted_ids += local_ids
        stats.errors += local_err
        stats.empty += empty


def _client_process(port, token, project, deadline, floor, out) -> None:
    stats = Stats()
    client_loop(port, token, project, deadline, stats, threading.Lock(), floor)
    out.put(stats)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BENCH_DB = "labelforce_bench_load"


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds used) of a process, from /proc; None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


SHARED_PG = ("walwriter", "checkpointer", "background writer")


def _serves_bench(pid: int, database: str) -> bool:
    """Whether a postgres process works for the benchmark: a backend (or autovacuum worker) of
    its database, or one of the server-wide writers every write goes through. Backends of other
    databases on the same server are left out."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return f" {database} " in f"{title} " or any(name in title for name in SHARED_PG)


def cpu_by_group(roots: dict[str, int], database: str = "") -> dict[str, float]:
    """CPU seconds used so far by each served process tree (``roots``: group → root pid) and by
    PostgreSQL for ``database`` (see ``_serves_bench``). Linux only; empty elsewhere."""
    if not Path("/proc/self/stat").exists():
        return {}
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            got = _stat(int(entry.name))
            if got:
                stats[int(entry.name)] = got
    used = dict.fromkeys(roots, 0.0) | {"db": 0.0}
    for pid, (comm, ppid, seconds) in stats.items():
        if comm.startswith("postgres"):
            if _serves_bench(pid, database):
                used["db"] += seconds
            continue
        for group, root in roots.items():
            if pid == root or ppid == root:
                used[group] += seconds
    return used


def run_load(port, tokens, project, concurrency, seconds, floor=False, roots=None) -> Stats:
    """Each simulated labeler is its own process (one HTTP connection, one loop), so the load
    generator is not throttled by one interpreter's lock; they all stop at the same deadline."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    deadline = time.monotonic() + seconds
    procs = [
        ctx.Process(
            target=_client_process,
            args=(port, tokens[i % len(tokens)], project, deadline, floor, out),
        )
        for i in range(concurrency)
    ]
    before = cpu_by_group(roots or {}, BENCH_DB)
    clients_before = os.times()
    for proc in procs:
        proc.start()
    stats = Stats()
    for _ in procs:
        part = out.get()
        stats.next_ms += part.next_ms
        stats.submit_ms += part.submit_ms
        stats.floor_ms += part.floor_ms
        stats.submitted_ids += part.submitted_ids
        stats.errors += part.errors
        stats.empty += part.empty
    for proc in procs:
        proc.join()
    after = cpu_by_group(roots or {}, BENCH_DB)
    clients_after = os.times()
    stats.cpu = {group: after[group] - before.get(group, 0.0) for group in after}
    stats.cpu["clients"] = (clients_after.children_user + clients_after.children_system) - (
        clients_before.children_user + clients_before.children_system
    )
    return stats


CHECK = r"""
import sys, json, django
django.setup()
from django.db import connection
ids = json.load(open(sys.argv[1]))
with connection.cursor() as cur:
    cur.execute('''SELECT count(*) FROM assignments_task t WHERE t.gold_item_id IS NULL AND
        (SELECT count(*) FROM assignments_assignment a WHERE a.task_id = t.id AND
         (a.status = 'submitted' OR (a.status = 'leased' AND a.expires_at > now()))) > t.target''')
    over = cur.fetchone()[0]
    cur.execute('''SELECT count(*) FROM (SELECT task_id, labeler_id FROM assignments_assignment
        GROUP BY 1, 2 HAVING count(*) > 1) x''')
    twice = cur.fetchone()[0]
    cur.execute("CREATE TEMP TABLE ok_ids (id bigint)")
    with cur.copy("COPY ok_ids (id) FROM STDIN") as copy:
        for i in ids:
            copy.write_row((i,))
    cur.execute('''SELECT count(*) FROM ok_ids o LEFT JOIN assignments_assignment a ON a.id = o.id
        WHERE a.id IS NULL OR a.status <> 'submitted' ''')
    lost = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM assignments_task WHERE submitted > target")
    counter = cur.fetchone()[0]
print(json.dumps({"over_assigned": over, "labeler_twice": twice, "lost_submits": lost,
                  "counter_over_target": counter}))
"""


def celery_worker(env) -> subprocess.Popen | None:
    """A Celery worker (one process) for the deferred consensus work, or None when eager."""
    if not env.get("CELERY_BROKER_URL"):
        return None
    subprocess.run(
        [str(Path(PY).parent / "celery"), "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.Popen(
        [
            str(Path(PY).parent / "celery"),
            "-A",
            "config",
            "worker",
            "-c",
            "1",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def serve(env, port, workers, threads) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--labelers", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/14",
        help="Celery broker for the deferred consensus work, or 'eager' to run it in-request.",
    )
    args = ap.parse_args()
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    rows = []
    for n in args.tasks:
        db = BENCH_DB
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(base, f"CREATE DATABASE {db}")
        env = env_for(f"{base}/{db}", args.broker)
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        t0 = time.perf_counter()
        out = subprocess.run(
            [PY, "-c", SEED, str(n), str(args.labelers)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        seeded = json.loads(out.strip().splitlines()[-1])
        print(f"N={n}: seeded in {time.perf_counter() - t0:.1f}s", flush=True)
        proc = serve(env, args.port, args.workers, args.threads)
        worker = celery_worker(env)
        try:
            for c in args.concurrency:
                roots = {"app": proc.pid} | ({"worker": worker.pid} if worker else {})
                floor = run_load(
                    args.port,
                    seeded["tokens"],
                    seeded["project"],
                    c,
                    args.seconds / 2,
                    floor=True,
                    roots=roots,
                )
                stats = run_load(
                    args.port, seeded["tokens"], seeded["project"], c, args.seconds, roots=roots
                )
                ids_file = ROOT / "bench" / ".submitted.json"
                ids_file.write_text(json.dumps(stats.submitted_ids))
                check = json.loads(
                    subprocess.run(
                        [PY, "-c", CHECK, str(ids_file)],
                        cwd=ROOT,
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                ids_file.unlink()
                labels_s = len(stats.submitted_ids) / args.seconds
                floor_rps = len(floor.floor_ms) / (args.seconds / 2)
                row = {
                    "N": n,
                    "C": c,
                    "next_p50": pct(stats.next_ms, 0.5),
                    "next_p95": pct(stats.next_ms, 0.95),
                    "next_p99": pct(stats.next_ms, 0.99),
                    "submit_p50": pct(stats.submit_ms, 0.5),
                    "submit_p95": pct(stats.submit_ms, 0.95),
                    "submit_p99": pct(stats.submit_ms, 0.99),
                    "labels_s": labels_s,
                    "floor_rps": floor_rps,
                    "floor_p50": pct(floor.floor_ms, 0.5),
                    "floor_cycle_s": floor_rps / 2,
                    "errors": len(stats.errors),
                    "empty": stats.empty,
                    # CPU milliseconds per label (per floor cycle: two whoami requests), by process
                    "cpu_label": {
                        k: round(1000 * v / max(len(stats.submitted_ids), 1), 2)
                        for k, v in stats.cpu.items()
                    },
                    "cpu_floor": {
                        k: round(2000 * v / max(len(floor.floor_ms), 1), 2)
                        for k, v in floor.cpu.items()
                    },
                    **check,
                }
                if stats.errors:
                    print("  errors:", stats.errors[:3], flush=True)
                print(
                    "  "
                    + json.dumps(
                        {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
                    ),
                    flush=True,
                )
                rows.append(row)
        finally:
            for p in (proc, worker):
                if p is not None:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=60)
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    if not args.no_write:
        write(rows, args)


def write(rows, args) -> None:
    cmd = (
        "`.venv/bin/python bench/next_task_load.py "
        + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in (
                ("tasks", args.tasks),
                ("concurrency", args.concurrency),
                ("labelers", args.labelers),
                ("seconds", args.seconds),
                ("workers", args.workers),
                ("threads", args.threads),
                ("broker", args.broker),
            )
        )
        + "`"
    )
    lines = [
        BEGIN,
        "## Next task under load (HTTP, PostgreSQL, gunicorn)",
        "",
        f"Command: {cmd}",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores; PostgreSQL, gunicorn ({args.workers} workers x {args.threads} "
        "threads), "
        + (
            "a Celery worker (1 process, consensus after each completed task) "
            if args.broker != "eager"
            else "consensus in-request (eager Celery) "
        )
        + "and the load generator (one process per client) share the machine. Overlap k = 2, "
        f"{args.labelers} labelers, each client loops next-task then submit for "
        f"{args.seconds:g} s. Floor: GET /api/v1/auth/whoami/ (token auth: one query) for half "
        "that time at the same concurrency; a floor cycle is two such requests.",
        "",
        "| N tasks | C | next p50 / p95 / p99 ms | submit p50 / p95 / p99 ms | labels/s | "
        "floor cycles/s | labels/s ÷ floor | violations (over / twice / lost) | errors |",
        "|---:|---:|---|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['N']:,} | {r['C']} | {r['next_p50']:.1f} / {r['next_p95']:.1f} / "
            f"{r['next_p99']:.1f} | {r['submit_p50']:.1f} / {r['submit_p95']:.1f} / "
            f"{r['submit_p99']:.1f} | {r['labels_s']:.0f} | {r['floor_cycle_s']:.0f} | "
            f"{r['labels_s'] / r['floor_cycle_s']:.2f} | {r['over_assigned']} / "
            f"{r['labeler_twice']} / {r['lost_submits']} | {r['errors']} |"
        )
    lines += [
        "",
        "Where the CPU goes (milliseconds of CPU per label, and per floor cycle of two whoami "
        "requests, read from /proc for the process trees: app = gunicorn, db = PostgreSQL, "
        "worker = Celery, clients = the load generator):",
        "",
        "| N tasks | C | per label: app / db / worker / clients | per floor cycle: app / db / "
        "clients | server CPU (app + db + worker) label ÷ floor cycle |",
        "|---:|---:|---|---|---:|",
    ]
    for r in rows:
        lab, flo = r.get("cpu_label", {}), r.get("cpu_floor", {})
        if not lab or not flo:
            continue
        server_label = lab.get("app", 0) + lab.get("db", 0) + lab.get("worker", 0)
        server_floor = flo.get("app", 0) + flo.get("db", 0) + flo.get("worker", 0)
        lines.append(
            f"| {r['N']:,} | {r['C']} | {lab.get('app', 0):.1f} / {lab.get('db', 0):.1f} / "
            f"{lab.get('worker', 0):.1f} / {lab.get('clients', 0):.1f} | "
            f"{flo.get('app', 0):.1f} / {flo.get('db', 0):.1f} / {flo.get('clients', 0):.1f} | "
            f"{server_label / max(server_floor, 1e-9):.2f} |"
        )
    by = {(r["N"], r["C"]): r for r in rows}
    lo, hi = min(args.tasks), max(args.tasks)
    for c in args.concurrency:
        if (lo, c) in by and (hi, c) in by:
            ratio = by[(hi, c)]["next_p95"] / by[(lo, c)]["next_p95"]
            lines.append("")
            lines.append(f"next-task p95 at {hi:,} ÷ at {lo:,} tasks, C={c}: {ratio:.2f}")
    lines.append(END)
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = "\n".join(lines)
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
