"""What the fault drills (bench/drill_*.py) share: a served LabelForce on its own database with
a Celery worker, labelers working on it in the background, and the checks that must hold
after a fault.

Each drill builds the service the way a user does (bench/next_task_load.py: services for the
people and the project, tasks imported and the project activated through the API), runs the
load of ``--clients`` labelers (next task then submit, retrying a 5xx or a lost connection with
the same answer), injects its fault while the load runs, lets the system recover, and reports:

* acknowledged submits lost: a submit answered 200 whose assignment is not submitted in the
  database (must be 0);
* over-assignments: tasks with more live leases and submissions than slots (must be 0);
* completed tasks without consensus after recovery and one sweep (must be 0): counted once the
  queue has drained, then ``consensus_sweep`` runs once and they are counted again;
* submit latency around the fault, from the clients' log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from bench import next_task_load as load

ROOT, PY = load.ROOT, load.PY
BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]


@dataclass
class Served:
    database: str
    env: dict
    seeded: dict
    port: int
    app: subprocess.Popen
    worker: subprocess.Popen | None
    import_s: float

    @property
    def project(self) -> int:
        return self.seeded["project"]

    def stop(self) -> None:
        for proc in (self.app, self.worker):
            stop_tree(proc)


def stop_tree(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def serve(
    database: str,
    broker: str,
    *,
    tasks: int,
    labelers: int,
    port: int,
    workers: int = 4,
    threads: int = 8,
    control_ratio: float = 0.1,
    app_broker: str | None = None,
) -> Served:
    """A fresh database ``database`` (its name must contain ``bench``), migrated and seeded,
    served by gunicorn with a Celery worker on ``broker``; ``tasks`` imported and the project
    activated through the API. ``app_broker`` gives the app another broker URL than the
    worker's (an unreachable one, for the broker drill)."""
    assert "bench" in database, "drills drop their database: its name must contain 'bench'"
    load.psql(BASE, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    load.psql(BASE, f"CREATE DATABASE {database}")
    env = load.env_for(f"{BASE}/{database}", broker)
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = load.seed(env, "drill", labelers, control_ratio, 100)
    app_env = load.env_for(f"{BASE}/{database}", app_broker or broker)
    app = load.serve(app_env, port, workers, threads)
    worker = start_worker(env)
    try:
        import_s = load.import_tasks(port, seeded["ops"], seeded["project"], tasks, 50_000)
        load.activate(port, seeded["ops"], seeded["project"])
        wait_for_worker(port)
    except BaseException:
        stop_tree(app)
        stop_tree(worker)
        raise
    return Served(database, env, seeded, port, app, worker, import_s)


def wait_for_worker(port: int, timeout: float = 120.0) -> float:
    """Wait until readiness sees a live worker (its heartbeat), so that a fault never hits a
    worker still starting; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        _, body = load.api(port, "", "GET", "/healthz/ready", timeout=10)
        if isinstance(body, dict) and body["checks"].get("workers", {}).get("alive"):
            return time.monotonic() - started
        time.sleep(1)
    raise RuntimeError("no Celery worker came up")


def start_worker(env) -> subprocess.Popen | None:
    return load.celery_worker(env)


def start_worker_again(env) -> subprocess.Popen:
    """A worker that does not purge the queue first (a restart after a crash)."""
    return load.worker_start(env)


class BackgroundLoad:
    """``clients`` labelers working for ``seconds`` in a thread (each client its own
    process); ``result()`` waits and returns the merged Stats."""

    def __init__(self, served: Served, clients: int, seconds: float) -> None:
        self.started = time.time()
        self._out: list = []
        self._thread = threading.Thread(
            target=lambda: self._out.append(
                load.run_load(
                    served.port,
                    served.seeded["tokens"],
                    served.project,
                    clients,
                    seconds,
                    database=served.database,
                )
            ),
            daemon=True,
        )
        self._thread.start()

    def result(self) -> load.Stats:
        self._thread.join()
        return self._out[0]


SQL_SNIPPET = r"""
import sys, json, django
django.setup()
from django.db import connection
what = sys.argv[1]
out = {}
if what == "sweep":
    from assignments import services
    from assignments.services.consensus import consensus_sweep
    out["swept"] = consensus_sweep()
    # Control answers are graded by the same after-commit message: their sweep too.
    out["graded_by_sweep"] = services.control_answers_grade_sweep()
with connection.cursor() as cur:
    cur.execute("SELECT count(*) FROM assignments_task WHERE state = 'complete' "
                "AND decided_by = '' AND gold_item_id IS NULL")
    out["complete_without_consensus"] = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM assignments_task WHERE gold_item_id IS NULL "
                "AND state <> 'open'")
    out["completed"] = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM assignments_assignment a WHERE a.is_control "
                "AND a.status = 'submitted' AND NOT EXISTS (SELECT 1 FROM qc_goldcheck g "
                "WHERE g.assignment_id = a.id)")
    out["control_ungraded"] = cur.fetchone()[0]
print(json.dumps(out))
"""


def db_facts(served: Served, sweep: bool = False) -> dict:
    """Completed tasks and those without consensus; with ``sweep``, after one consensus sweep
    (run here, in-process, as the scheduled job would)."""
    out = subprocess.run(
        [PY, "-c", SQL_SNIPPET, "sweep" if sweep else "count"],
        cwd=ROOT,
        env=served.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def wait_until_settled(served: Served, timeout: float = 120.0, quiet: float = 10.0) -> dict:
    """Wait until the count of complete tasks without consensus stops changing for ``quiet``
    seconds (the worker has drained what it will), at most ``timeout``; the last count."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        facts = db_facts(served)
        if facts != last:
            last, since = facts, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(2)
    return last


def outcome(served: Served, stats: load.Stats) -> dict:
    """The checks every drill reports, after the load stopped."""
    checked = load.check(served.env, stats.submitted_ids)
    settled = wait_until_settled(served)
    swept = db_facts(served, sweep=True)
    return {
        "acknowledged": len(stats.submitted_ids),
        "lost_submits": checked["lost_submits"],
        "over_assigned": checked["over_assigned"],
        "labeler_twice": checked["labeler_twice"],
        "completed": swept["completed"],
        "without_consensus_before_sweep": settled["complete_without_consensus"],
        "swept": swept["swept"],
        "without_consensus_after_sweep": swept["complete_without_consensus"],
        "ungraded_before_sweep": settled["control_ungraded"],
        "ungraded_after_sweep": swept["control_ungraded"],
        "errors": len(stats.errors),
        "retries": stats.retries,
    }


def window(stats: load.Stats, start: float, end: float) -> dict:
    """Submit calls that started in [start, end) (wall clock): count, statuses, latency."""
    calls = [(status, ms) for t, status, ms in stats.submit_log if start <= t < end]
    ms = [m for _, m in calls]
    statuses: dict[str, int] = {}
    for status, _ in calls:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "n": len(calls),
        "statuses": statuses,
        "p50": load.pct(ms, 0.5),
        "p95": load.pct(ms, 0.95),
        "max": max(ms) if ms else float("nan"),
    }


def pg(action: str) -> float:
    """Stop, start or restart PostgreSQL (every database on this machine); seconds taken."""
    started = time.monotonic()
    subprocess.run([*PG_CTL, action, *(["-m", "fast"] if action != "start" else [])], check=True)
    return time.monotonic() - started


def pg_is_up() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0


def fmt(value) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.1f}"
    return str(value)


def now_utc() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


COMPLETING = r"""
import sys, json, django
django.setup()
from django.db import connection
ids = json.load(open(sys.argv[1]))
with connection.cursor() as cur:
    cur.execute('''SELECT a.id FROM assignments_assignment a JOIN assignments_task t
        ON t.id = a.task_id WHERE a.id = ANY(%s) AND t.submitted = t.target
        AND t.gold_item_id IS NULL AND a.submitted_at = (SELECT max(b.submitted_at)
        FROM assignments_assignment b WHERE b.task_id = t.id AND b.status = 'submitted')''',
        [ids])
    print(json.dumps([r[0] for r in cur.fetchall()]))
"""


def completing_ids(served: Served, ids) -> set[int]:
    """Of the acknowledged submits ``ids``, those that filled their task's last slot (the
    submits that send a consensus message)."""
    path = ROOT / "bench" / f".completing-{os.getpid()}.json"
    path.write_text(json.dumps(list(ids)))
    try:
        out = subprocess.run(
            [PY, "-c", COMPLETING, str(path)],
            cwd=ROOT,
            env=served.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        path.unlink()
    return set(json.loads(out.strip().splitlines()[-1]))


class HealthProbe:
    """Polls /healthz and /healthz/ready every ``every`` seconds in a thread while a fault
    runs: (wall time, path, status, ms) per call."""

    def __init__(self, port: int, every: float = 0.5) -> None:
        self.calls: list[tuple[float, str, int, float]] = []
        self.failing: dict[str, int] = {}  # readiness checks seen failing, and how often
        self._stop = threading.Event()
        self._port, self._every = port, every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import http.client

        while not self._stop.is_set():
            for path in ("/healthz", "/healthz/ready"):
                started, t0 = time.time(), time.perf_counter()
                failing: tuple[str, ...] = ()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
                    conn.request("GET", path)
                    response = conn.getresponse()
                    status, body = response.status, response.read()
                    conn.close()
                    if status == 503 and path.endswith("ready"):
                        failing = tuple(json.loads(body).get("failing", ()))
                except (OSError, ValueError):
                    status = 0
                ms = (time.perf_counter() - t0) * 1000
                self.calls.append((started, path, status, ms))
                for name in failing:
                    self.failing[name] = self.failing.get(name, 0) + 1
            self._stop.wait(self._every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, start: float, end: float) -> dict:
        """Per path, in [start, end): statuses seen and the slowest answer (ms)."""
        out = {}
        for path in ("/healthz", "/healthz/ready"):
            calls = [(s, ms) for t, p, s, ms in self.calls if p == path and start <= t < end]
            statuses: dict[str, int] = {}
            for status, _ in calls:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            out[path] = {
                "statuses": statuses,
                "failing": dict(self.failing) if path.endswith("ready") else {},
                "max_ms": max((ms for _, ms in calls), default=float("nan")),
                "p50_ms": load.pct([ms for _, ms in calls], 0.5),
            }
        return out


def health_text(summary: dict) -> str:
    """One health route's line in a drill's table: statuses, p50 and max milliseconds, and
    the readiness checks seen failing."""
    failing = summary.get("failing") or {}
    text = (
        f"{statuses_text(summary['statuses'])}; p50 {fmt(summary['p50_ms'])}, "
        f"max {fmt(summary['max_ms'])} ms"
    )
    return text + (f"; failing: {', '.join(sorted(failing))}" if failing else "")


def statuses_text(statuses: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) or "none"
