"""Where a label's server CPU goes: one labeler's next-task → submit loop (or submit-and-next),
in process, under cProfile, on PostgreSQL.

The world is built as ``bench/next_task_load.py`` builds it (labelers and a control gold set
through the services, the tasks imported and the project activated through the API, served by
gunicorn for those two steps only). Then this process loads the app and sends the requests
straight to Django's WSGI handler (no HTTP server: what is left is the app's own cost), with
the after-commit message published to the broker as in production. It warms up, then profiles
``--labels`` labels and prints the CPU milliseconds per label, the SQL statements per label,
and the functions that cost most (cumulative and own time).

    .venv/bin/python bench/profile_label.py --tasks 20000 --labels 2000 --mode two-call
    .venv/bin/python bench/profile_label.py --mode submit-next

The printout is for reading, not for BENCHMARKS.md; what it led to is recorded there.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import next_task_load as load


def wsgi_call(app, method, path, token, body=b""):
    """One request through the WSGI handler: (status code, body bytes)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(int(line.split()[0]))

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return status[0], data


def label_loop(app, token, project, n, mode) -> list[int]:
    """``n`` labels by one labeler; returns the assignments submitted."""
    done = []
    answer = {"answer": "ok"}
    status, data = wsgi_call(app, "POST", f"/api/v1/projects/{project}/next-task/", token)
    while len(done) < n and status in (200, 201):
        assignment = json.loads(data)["id"]
        if mode == "submit-next":
            body = json.dumps(answer | {"next": True}).encode()
            status, data = wsgi_call(
                app, "POST", f"/api/v1/assignments/{assignment}/submit/", token, body
            )
            if status != 200:
                raise RuntimeError(f"submit {status} {data[:200]!r}")
            done.append(assignment)
            following = json.loads(data).get("next")
            if following is None:
                break
            data, status = json.dumps(following).encode(), 200
        else:
            body = json.dumps(answer).encode()
            status, data = wsgi_call(
                app, "POST", f"/api/v1/assignments/{assignment}/submit/", token, body
            )
            if status != 200:
                raise RuntimeError(f"submit {status} {data[:200]!r}")
            done.append(assignment)
            status, data = wsgi_call(app, "POST", f"/api/v1/projects/{project}/next-task/", token)
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--labels", type=int, default=2_000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--mode", choices=["two-call", "submit-next"], default="two-call")
    ap.add_argument("--database", default="labelforce_bench_profile")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--top", type=int, default=45)
    ap.add_argument("--sort", default="cumulative,tottime", help="pstats orders, comma-separated")
    args = ap.parse_args()
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    db = args.database
    load.psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    load.psql(base, f"CREATE DATABASE {db}")
    env = load.env_for(f"{base}/{db}", args.broker)
    subprocess.run([load.PY, "manage.py", "migrate", "-v", "0"], cwd=load.ROOT, env=env, check=True)
    seeded = load.seed(env, "prof", 4)
    server = load.serve(env, args.port, 1, 4)
    try:
        load.import_tasks(args.port, seeded["ops"], seeded["project"], args.tasks)
        load.activate(args.port, seeded["ops"], seeded["project"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    subprocess.run(
        [str(Path(load.PY).parent / "celery"), "-A", "config", "purge", "-f"],
        cwd=load.ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    app = WSGIHandler()
    # Statements counted as they go (the request cycle clears connection.queries).
    queries = []

    def counter(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    label_loop(app, seeded["tokens"][2], seeded["project"], args.warmup, args.mode)
    # CPU time, not wall time: waiting on PostgreSQL or the broker is not the app's cost.
    profiler = cProfile.Profile(time.process_time)
    with connection.execute_wrapper(counter):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        profiler.enable()
        # Two labelers, one after the other on the same tasks: the second fills each task's
        # last slot (overlap 2), so the worker's share below includes consensus.
        submitted = [
            pk
            for key in seeded["tokens"][:2]
            for pk in label_loop(app, key, seeded["project"], args.labels // 2, args.mode)
        ]
        profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    done = len(submitted)
    # Without the profiler, for the CPU figure itself.
    cpu1 = time.process_time()
    plain_ids = [
        pk
        for key in seeded["tokens"][2:4]
        for pk in label_loop(app, key, seeded["project"], args.labels // 2, args.mode)
    ]
    plain = len(plain_ids)
    plain_cpu = time.process_time() - cpu1
    print(
        f"mode={args.mode} labels={done}: app CPU {1000 * plain_cpu / max(plain, 1):.2f} ms per "
        f"label without the profiler ({1000 * cpu / max(done, 1):.2f} with it, wall "
        f"{1000 * wall / max(done, 1):.2f}); {len(queries) / max(done, 1):.2f} SQL statements "
        "per label"
    )
    for order in args.sort.split(","):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())
    app_statements = len(queries)
    # The worker's share: the follow-up of the profiled labels, in the worker's batches (its
    # body only: the Celery worker's own cost per message is in the load benchmark's figures).
    from django.conf import settings

    from assignments.services import submissions_follow_up

    batch = settings.FOLLOW_UP_BATCH

    def follow_up(ids):
        # The worker's batches, in the order the messages came.
        for start in range(0, len(ids), batch):
            submissions_follow_up(assignment_ids=ids[start : start + batch])

    cpu0 = time.process_time()
    follow_up(plain_ids)
    print(
        f"worker: {1000 * (time.process_time() - cpu0) / max(plain, 1):.2f} ms CPU per label "
        f"without the profiler (the task's body on batches of {batch}, no Celery)"
    )
    worker = cProfile.Profile(time.process_time)
    with connection.execute_wrapper(counter):
        cpu0 = time.process_time()
        worker.enable()
        follow_up(submitted)
        worker.disable()
        cpu = time.process_time() - cpu0
    queries = queries[app_statements:]
    print(
        f"worker: {1000 * cpu / max(done, 1):.2f} ms CPU per label with the profiler; "
        f"{len(queries) / max(done, 1):.2f} SQL statements per label"
    )
    out = io.StringIO()
    pstats.Stats(worker, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    connection.close()
    load.psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
