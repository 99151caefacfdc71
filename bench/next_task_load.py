"""Load benchmark of the hot path: next task then submit, over HTTP, on PostgreSQL.

For each N (tasks) it builds a fresh database and takes the path a user takes: W labelers, an
operations manager, a control gold set and a draft project are made through the services; the
app is served with gunicorn; the N tasks are imported through the API
(``POST /api/v1/projects/{id}/batches/``, JSONL batches of ``--import-batch`` rows) and the
project is activated through the API. Nothing in bench/ runs ANALYZE: the planner's statistics
are what the import leaves. For each C (concurrent labelers) a fixed-duration loop has every
client call next-task then submit. It reports next and submit latency p50/p95/p99 and
labels/s; control against real submits (count, median and p90 of each: the clients cannot tell
them apart, the database says afterwards which were control); and the invariants (no task over
its slots, no labeler twice on a task, every acknowledged submit in the database). In the same
run it measures a trivial authenticated endpoint as the framework floor
(GET /api/v1/auth/whoami/). Results go to BENCHMARKS.md between this benchmark's markers.

    .venv/bin/python bench/next_task_load.py --tasks 10000 100000 1000000 --concurrency 1 8 32

The drills (bench/drill_*.py) reuse its pieces: seeding, serving, the clients, the checks.

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
        # The code of the tree this script lives in (a worktree of a given commit, say).
        PYTHONPATH=str(ROOT),
    )
    env.pop("CELERY_BROKER_URL", None)
    if broker != "eager":
        env["CELERY_BROKER_URL"] = broker
    return env


def psql(base: str, sql: str) -> None:
    subprocess.run(
        ["psql", f"{base}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True
    )


# Everything but the tasks, through the services: labelers, an operations manager (who imports
# and activates over HTTP), a control gold set whose items look like the real tasks, and the
# project in draft.
SEED = r"""
import sys, json, django
django.setup()
from decimal import Decimal
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from assignments import services as work
from qc.services import gold
from workforce import roles, services
from workforce.models import User

slug, n_labelers = sys.argv[1], int(sys.argv[2])
control_ratio, gold_items = Decimal(sys.argv[3]), int(sys.argv[4])
ops = User.objects.create_user(username=f"ops-{slug}", is_staff=True)
ops.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))
control = {}
if control_ratio > 0:
    gold_set = gold.gold_set_create(
        actor=ops, slug=f"{slug}-controls", name="Bench controls",
        answer_type="single_choice", classes=["ok", "crack", "rust"],
    )
    for i in range(gold_items):
        gold.gold_item_create(
            actor=ops, gold_set=gold_set, external_id=f"g{i}",
            # Shaped like the real tasks' (import_tasks): eight digits.
            payload={"image_url": f"https://img.example.test/{90_000_000 + i:08d}.jpg",
                     "metadata": {}},
            accepted_answers=["ok"],
        )
    control = {"control_ratio": control_ratio, "control_gold_set": gold_set}
project = work.project_create(
    actor=ops, slug=slug, name="Bench", answer_type="single_choice",
    classes=["ok", "crack", "rust"], overlap=2, max_overlap=3, lease_seconds=600, **control,
)
tokens = []
for i in range(n_labelers):
    labeler = services.labeler_create(actor=None, username=f"{slug}{i}", kind="internal")
    services.labeler_activate(actor=None, labeler=labeler, reason="bench")
    tokens.append(Token.objects.create(user=labeler.user).key)
ops_token = Token.objects.create(user=ops).key
print(json.dumps({"project": project.pk, "tokens": tokens, "ops": ops_token}))
"""


def seed(env, slug, labelers, control_ratio=0.1, gold_items=200) -> dict:
    """Labelers, an operations manager and a draft project (with a control gold set when
    ``control_ratio`` > 0), through the services: {"project", "tokens", "ops"}."""
    out = subprocess.run(
        [PY, "-c", SEED, slug, str(labelers), str(control_ratio), str(gold_items)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def api(port, token, method, path, body=b"", content_type="application/json", timeout=600):
    """One HTTP call to the served app: (status, JSON body, or the first bytes of another)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Token {token}", "Content-Type": content_type}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        return response.status, (json.loads(data) if data else None)
    except ValueError:
        return response.status, data[:300]


def import_tasks(port, ops_token, project, n, batch_rows=50_000, first=1, prefix="t") -> float:
    """Import ``n`` tasks through the API as an operations manager would, in JSONL batches;
    returns the seconds taken. Task ``g`` has external id ``{prefix}{g}`` and priority g % 100."""
    started = time.perf_counter()
    for low in range(first, first + n, batch_rows):
        high = min(low + batch_rows, first + n)
        lines = (
            json.dumps(
                {
                    "external_id": f"{prefix}{g}",
                    "image_url": f"https://img.example.test/{g:08d}.jpg",
                    "priority": g % 100,
                }
            )
            for g in range(low, high)
        )
        body = ("\n".join(lines) + "\n").encode()
        path = f"/api/v1/projects/{project}/batches/?format=jsonl&source=bench"
        status, data = api(port, ops_token, "POST", path, body, "application/x-ndjson")
        if status != 201:
            raise RuntimeError(f"import refused: {status} {data}")
    return time.perf_counter() - started


def activate(port, ops_token, project) -> None:
    body = json.dumps({"reason": "bench"}).encode()
    status, data = api(port, ops_token, "POST", f"/api/v1/projects/{project}/activate/", body)
    if status != 200:
        raise RuntimeError(f"activation refused: {status} {data}")


@dataclass
class Stats:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    submitted_ids: list[int] = field(default_factory=list)
    # Acknowledged (200) submits: assignment id → latency of the call that was acknowledged.
    submit_by_id: dict[int, float] = field(default_factory=dict)
    # Every submit call: (wall-clock time it started, HTTP status or 0 for no answer, ms).
    submit_log: list[tuple[float, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    empty: int = 0
    retries: int = 0  # calls repeated after a 5xx or a broken connection
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group
    drain_s: float = 0.0  # seconds the worker needed after the clients stopped

    def add(self, part: Stats) -> None:
        self.next_ms += part.next_ms
        self.submit_ms += part.submit_ms
        self.floor_ms += part.floor_ms
        self.submitted_ids += part.submitted_ids
        self.submit_by_id.update(part.submit_by_id)
        self.submit_log += part.submit_log
        self.errors += part.errors
        self.empty += part.empty
        self.retries += part.retries


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


RETRY_PAUSE = 0.2  # seconds a client waits before repeating a call that got a 5xx or no answer


def client_loop(
    port, token, project, deadline, stats, lock, floor: bool, mode: str = "two-call"
) -> None:
    """One labeler: next-task then submit until the deadline (``mode`` "two-call"), or one
    next-task and then submit-and-next (``{"answer": …, "next": true}``: one request per
    label, the next task in the answer; ``mode`` "submit-next"). A call answered 5xx or not at
    all (the server or its database restarting) is repeated after a pause, as a client with
    retries would — a submit with the same answer, which the API makes idempotent — so every
    lease taken is submitted unless the deadline comes first."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    out = Stats()

    def call(method, path, body=None):
        nonlocal conn
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, data = 0, repr(exc).encode()
        return status, data, (time.perf_counter() - t0) * 1000

    following = None  # submit-and-next: the task the last answer handed out
    try:
        while time.monotonic() < deadline:
            if floor:
                status, _, ms = call("GET", "/api/v1/auth/whoami/")
                if status != 200:
                    out.errors.append(f"whoami {status}")
                out.floor_ms.append(ms)
                continue
            if following is not None:
                status, data, following = 200, following, None
            else:
                status, data, ms = call("POST", f"/api/v1/projects/{project}/next-task/")
                out.next_ms.append(ms)
            if status == 204:
                out.empty += 1
                time.sleep(0.05)
                continue
            if status not in (200, 201):
                out.errors.append(f"next {status} {data[:200]!r}")
                if status == 0 or status >= 500:
                    out.retries += 1
                    time.sleep(RETRY_PAUSE)
                continue
            assignment = json.loads(data)["assignment"]
            body = json.dumps(
                {"answer": "ok", "next": True} if mode == "submit-next" else {"answer": "ok"}
            )
            while time.monotonic() < deadline:
                started = time.time()
                status, data, ms = call("POST", f"/api/v1/assignments/{assignment}/submit/", body)
                out.submit_ms.append(ms)
                out.submit_log.append((started, status, ms))
                if status == 200:
                    out.submitted_ids.append(assignment)
                    out.submit_by_id[assignment] = ms
                    if mode == "submit-next":
                        handed = json.loads(data).get("next")
                        # None: no task left, or a refused claim; ask next-task as usual.
                        following = json.dumps(handed).encode() if handed else None
                    break
                out.errors.append(f"submit {status} {data[:200]!r}")
                if status != 0 and status < 500:
                    break
                out.retries += 1
                time.sleep(RETRY_PAUSE)
    except Exception as exc:  # reported with the results
        out.errors.append(repr(exc))
    finally:
        conn.close()
    with lock:
        stats.add(out)


def _client_process(port, token, project, deadline, floor, out, mode="two-call") -> None:
    stats = Stats()
    client_loop(port, token, project, deadline, stats, threading.Lock(), floor, mode)
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


def run_load(
    port,
    tokens,
    project,
    concurrency,
    seconds,
    floor=False,
    roots=None,
    database=None,
    mode="two-call",
    env=None,
) -> Stats:
    """Each simulated labeler is its own process (one HTTP connection, one loop), so the load
    generator is not throttled by one interpreter's lock; they all stop at the same deadline.
    CPU is counted for the process trees ``roots`` and PostgreSQL's work for ``database``."""
    database = database or BENCH_DB
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    deadline = time.monotonic() + seconds
    procs = [
        ctx.Process(
            target=_client_process,
            args=(port, tokens[i % len(tokens)], project, deadline, floor, out, mode),
        )
        for i in range(concurrency)
    ]
    before = cpu_by_group(roots or {}, database)
    clients_before = os.times()
    for proc in procs:
        proc.start()
    stats = Stats()
    for _ in procs:
        stats.add(out.get())
    for proc in procs:
        proc.join()
    if env is not None:
        # The worker's share of these labels includes the backlog it still has to do.
        stats.drain_s = wait_for_worker(env)
    after = cpu_by_group(roots or {}, database)
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
    cur.execute("SELECT a.id FROM ok_ids o JOIN assignments_assignment a ON a.id = o.id "
                "WHERE a.is_control")
    control_ids = [r[0] for r in cur.fetchall()]
print(json.dumps({"over_assigned": over, "labeler_twice": twice, "lost_submits": lost,
                  "counter_over_target": counter, "control_ids": control_ids}))
"""


def check(env, ids) -> dict:
    """The invariants over the database, given the acknowledged submits ``ids``:
    over_assigned, labeler_twice, lost_submits, counter_over_target, and which ids were
    control tasks (control_ids)."""
    ids_file = ROOT / "bench" / f".submitted-{os.getpid()}.json"
    ids_file.write_text(json.dumps(list(ids)))
    try:
        out = subprocess.run(
            [PY, "-c", CHECK, str(ids_file)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        ids_file.unlink()
    return json.loads(out.strip().splitlines()[-1])


def control_split(submit_by_id: dict[int, float], control_ids) -> dict:
    """Submit latency of control against real submits: count, median and p90 of each, and the
    share of control submits slower than the real ones' p90 (about 10% when alike)."""
    control_ids = set(control_ids)
    control = [ms for i, ms in submit_by_id.items() if i in control_ids]
    real = [ms for i, ms in submit_by_id.items() if i not in control_ids]
    real_p90 = pct(real, 0.9)
    over = sum(ms > real_p90 for ms in control) / len(control) if control and real else None
    return {
        "control_n": len(control),
        "control_p50": pct(control, 0.5),
        "control_p90": pct(control, 0.9),
        "real_n": len(real),
        "real_p50": pct(real, 0.5),
        "real_p90": real_p90,
        "control_over_real_p90": over,
    }


def wait_for_worker(env, timeout=180.0) -> float:
    """Wait until the Celery worker has done every queued message (acks are late: a message
    leaves the broker's unacked set when its task has run); returns the seconds waited, or
    gives up after ``timeout`` (said on standard output; messages a worker held when it lost
    its broker connection stay unacked until the visibility timeout). A no-op when consensus
    runs in-request."""
    url = env.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis"):
        return 0.0
    import redis

    client = redis.Redis.from_url(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            if not client.llen("celery") and not client.hlen("unacked"):
                return time.monotonic() - started
            time.sleep(0.1)
    finally:
        client.close()
    print(f"  the worker did not drain its queue within {timeout:.0f} s", flush=True)
    return timeout


def celery_worker(env, pool="prefork", concurrency=1) -> subprocess.Popen | None:
    """A Celery worker for the deferred consensus work (``pool`` and ``concurrency`` as the
    worker's -P and -c), or None when eager."""
    if not env.get("CELERY_BROKER_URL"):
        return None
    subprocess.run(
        [str(Path(PY).parent / "celery"), "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return worker_start(env, pool, concurrency)


def worker_start(env, pool="prefork", concurrency=1) -> subprocess.Popen:
    """A Celery worker in its own session (so a drill can kill its whole group): one process
    by default."""
    return subprocess.Popen(
        [
            str(Path(PY).parent / "celery"),
            "-A",
            "config",
            "worker",
            "-P",
            pool,
            "-c",
            str(concurrency),
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


def serve(env, port, workers, threads, worker_class="gthread") -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            worker_class,
            *(["--threads", str(threads)] if worker_class == "gthread" else []),
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
    ap.add_argument("--worker-class", default="gthread", help="gunicorn's -k: gthread or sync")
    ap.add_argument(
        "--modes",
        nargs="+",
        default=["two-call", "submit-next"],
        choices=["two-call", "submit-next"],
        help="two-call: next-task then submit; submit-next: one submit-and-next per label",
    )
    ap.add_argument("--celery-pool", default="prefork", help="the Celery worker's -P")
    ap.add_argument("--celery-concurrency", type=int, default=1, help="the Celery worker's -c")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--import-batch", type=int, default=50_000, help="rows per import request")
    ap.add_argument("--control-ratio", type=float, default=0.1)
    ap.add_argument("--gold-items", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--database", default=BENCH_DB, help="dropped and re-created for each N")
    ap.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/14",
        help="Celery broker for the deferred consensus work, or 'eager' to run it in-request.",
    )
    args = ap.parse_args()
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    rows = []
    for n in args.tasks:
        db = args.database
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(base, f"CREATE DATABASE {db}")
        env = env_for(f"{base}/{db}", args.broker)
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        seeded = seed(env, "bench", args.labelers, args.control_ratio, args.gold_items)
        proc = serve(env, args.port, args.workers, args.threads, args.worker_class)
        worker = celery_worker(env, args.celery_pool, args.celery_concurrency)
        try:
            import_s = import_tasks(
                args.port, seeded["ops"], seeded["project"], n, args.import_batch
            )
            activate(args.port, seeded["ops"], seeded["project"])
            print(f"N={n}: imported through the API in {import_s:.1f}s", flush=True)
            for c in args.concurrency:
                roots = {"app": proc.pid} | ({"worker": worker.pid} if worker else {})
                wait_for_worker(env)
                floor = run_load(
                    args.port,
                    seeded["tokens"],
                    seeded["project"],
                    c,
                    args.seconds / 2,
                    floor=True,
                    roots=roots,
                    database=db,
                )
                for mode in args.modes:
                    wait_for_worker(env)
                    stats = run_load(
                        args.port,
                        seeded["tokens"],
                        seeded["project"],
                        c,
                        args.seconds,
                        roots=roots,
                        database=db,
                        mode=mode,
                        env=env,
                    )
                    checked = check(env, stats.submitted_ids)
                    split = control_split(stats.submit_by_id, checked.pop("control_ids"))
                    labels_s = len(stats.submitted_ids) / args.seconds
                    floor_rps = len(floor.floor_ms) / (args.seconds / 2)
                    row = {
                        "N": n,
                        "C": c,
                        "mode": mode,
                        "import_s": import_s,
                        "next_p50": pct(stats.next_ms, 0.5),
                        "next_p95": pct(stats.next_ms, 0.95),
                        "next_p99": pct(stats.next_ms, 0.99),
                        "submit_p50": pct(stats.submit_ms, 0.5),
                        "submit_p95": pct(stats.submit_ms, 0.95),
                        "submit_p99": pct(stats.submit_ms, 0.99),
                        "labels_s": labels_s,
                        "drain_s": stats.drain_s,
                        "floor_rps": floor_rps,
                        "floor_p50": pct(floor.floor_ms, 0.5),
                        "floor_cycle_s": floor_rps / 2,
                        "errors": len(stats.errors),
                        "empty": stats.empty,
                        # CPU ms per label (per floor cycle: two whoami requests), by process
                        "cpu_label": {
                            k: round(1000 * v / max(len(stats.submitted_ids), 1), 2)
                            for k, v in stats.cpu.items()
                        },
                        "cpu_floor": {
                            k: round(2000 * v / max(len(floor.floor_ms), 1), 2)
                            for k, v in floor.cpu.items()
                        },
                        **split,
                        **checked,
                    }
                    if stats.errors:
                        print("  errors:", stats.errors[:3], flush=True)
                    print(
                        "  "
                        + json.dumps(
                            {
                                k: (round(v, 1) if isinstance(v, float) else v)
                                for k, v in row.items()
                            }
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
                ("worker-class", args.worker_class),
                ("modes", args.modes),
                ("celery-pool", args.celery_pool),
                ("celery-concurrency", args.celery_concurrency),
                ("import-batch", args.import_batch),
                ("control-ratio", args.control_ratio),
                ("gold-items", args.gold_items),
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
        f"{os.cpu_count()} cores; PostgreSQL, gunicorn ({args.workers} {args.worker_class} "
        "workers"
        + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        + "), "
        + (
            f"a Celery worker (-P {args.celery_pool} -c {args.celery_concurrency}) "
            if args.broker != "eager"
            else "consensus in-request (eager Celery) "
        )
        + "and the load generator (one process per client) share the machine. The tasks were "
        "imported through the API in batches of "
        f"{args.import_batch:,} rows and the project activated through the API; no ANALYZE "
        "was run by hand (the import analyzes after it commits). Overlap k = 2, control ratio "
        f"{args.control_ratio:g} ({args.gold_items} gold items), {args.labelers} labelers, "
        f"each client loops for {args.seconds:g} s: *two-call* is next-task then submit, "
        '*submit-next* one submit-and-next per label (`"next": true`: the next task comes '
        "in the submit's answer; a next-task call only when it brought none). Floor: "
        "GET /api/v1/auth/whoami/ (token auth: one query) for half that time at the same "
        "concurrency, before the loops. The goal compares two-call labels/s with the floor's "
        "two-request cycles/s and submit-next labels/s with its requests/s (each ≥ 0.5). "
        "CPU is counted until the Celery worker has done every message of the loop "
        "(drain: how long that took after the clients stopped). In *submit-next* rows the "
        "next-task figures are of the few next-task calls left: each client's first, and those "
        "after an answer that brought no task.",
        "",
        "| N tasks | import s | C | loop | next p50 / p95 / p99 ms | submit p50 / p95 / p99 ms | "
        "labels/s | floor requests/s | labels/s ÷ floor | violations (over / twice / lost) | "
        "errors | drain s |",
        "|---:|---:|---:|---|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        per = r["floor_cycle_s"] if r["mode"] == "two-call" else r["floor_rps"]
        unit = "cycles" if r["mode"] == "two-call" else "requests"
        lines.append(
            f"| {r['N']:,} | {r['import_s']:.1f} | {r['C']} | {r['mode']} | "
            f"{r['next_p50']:.1f} / {r['next_p95']:.1f} / {r['next_p99']:.1f} | "
            f"{r['submit_p50']:.1f} / {r['submit_p95']:.1f} / {r['submit_p99']:.1f} | "
            f"{r['labels_s']:.0f} | {r['floor_rps']:.0f} | "
            f"{r['labels_s'] / per:.2f} ({unit}) | "
            f"{r['over_assigned']} / {r['labeler_twice']} / {r['lost_submits']} | "
            f"{r['errors']} | {r['drain_s']:.1f} |"
        )
    lines += [
        "",
        "Control against real submits (acknowledged submits only; which were control is read "
        "from the database afterwards). Alike means close medians and p90s, and about 10% of "
        "control submits above the real submits' p90:",
        "",
        "| N tasks | C | loop | control: n / median / p90 ms | real: n / median / p90 ms | "
        "control above real p90 |",
        "|---:|---:|---|---|---|---:|",
    ]
    for r in rows:
        over = r["control_over_real_p90"]
        lines.append(
            f"| {r['N']:,} | {r['C']} | {r['mode']} | {r['control_n']} / "
            f"{r['control_p50']:.1f} / "
            f"{r['control_p90']:.1f} | {r['real_n']} / {r['real_p50']:.1f} / "
            f"{r['real_p90']:.1f} | {'' if over is None else f'{over:.0%}'} |"
        )
    lines += [
        "",
        "Where the CPU goes (milliseconds of CPU per label, and per floor cycle of two whoami "
        "requests, read from /proc for the process trees: app = gunicorn, db = PostgreSQL, "
        "worker = Celery, clients = the load generator):",
        "",
        "| N tasks | C | loop | per label: app / db / worker / clients | server CPU per label "
        "(goal ≤ 10) | per floor cycle: app / db / clients | server CPU label ÷ floor cycle |",
        "|---:|---:|---|---|---:|---|---:|",
    ]
    for r in rows:
        lab, flo = r.get("cpu_label", {}), r.get("cpu_floor", {})
        if not lab or not flo:
            continue
        server_label = lab.get("app", 0) + lab.get("db", 0) + lab.get("worker", 0)
        server_floor = flo.get("app", 0) + flo.get("db", 0) + flo.get("worker", 0)
        lines.append(
            f"| {r['N']:,} | {r['C']} | {r['mode']} | {lab.get('app', 0):.1f} / "
            f"{lab.get('db', 0):.1f} / {lab.get('worker', 0):.1f} / {lab.get('clients', 0):.1f} | "
            f"{server_label:.1f} | {flo.get('app', 0):.1f} / {flo.get('db', 0):.1f} / "
            f"{flo.get('clients', 0):.1f} | "
            f"{server_label / max(server_floor, 1e-9):.2f} |"
        )
    by = {(r["N"], r["C"]): r for r in rows if r["mode"] == "two-call"}
    lo, hi = min(args.tasks), max(args.tasks)
    for c in args.concurrency:
        if lo != hi and (lo, c) in by and (hi, c) in by:
            ratio = by[(hi, c)]["next_p95"] / by[(lo, c)]["next_p95"]
            lines.append("")
            lines.append(f"next-task p95 at {hi:,} ÷ at {lo:,} tasks, C={c}: {ratio:.2f}")
    lines.append(END)
    write_section(BEGIN, END, lines)


def write_section(begin: str, end: str, lines: list[str], path: Path | None = None) -> None:
    """Replace one benchmark's section of BENCHMARKS.md (between ``begin`` and ``end``), or
    append it; the other sections are left alone."""
    path = path or ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = "\n".join(lines)
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
