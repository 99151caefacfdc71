"""Full quality recompute of one project with a million submissions, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelforce \\
        .venv/bin/python bench/recompute.py

It replaces the database ``labelforce_bench_recompute`` on the server of ``DATABASE_URL`` (the
database named there is not touched), migrates it, and seeds one single-choice project in SQL
(``generate_series``, a few seconds): ``--labelers`` labelers (default 500) with accuracies
spread evenly over 0.55..0.95, ``--submissions`` / 3 tasks (default 1,000,000 submissions, three
per task) with a hidden true class, each answer right with its labeler's accuracy, a uniformly
drawn wrong class otherwise; ``--gold`` counted gold checks (default 50,000) on 200 gold items;
and one ``LabelOutcome`` per submission (the facts the scorecards read).

Then it times, in-process, each step of the recompute:

* ``project_refit`` — reading the answers and gold (two ``values_list``), the Dawid-Skene fit
  (``qc.dawid_skene``, auto method) and the write of the estimates;
* the scorecard aggregates of every labeler of the project at once
  (``qc.selectors.scores.labeler_score_table``) and the vendor comparison;
* one labeler's full scorecard (``assignments.selectors.quality.labeler_scorecard``);
* the project quality page (``project_quality``).

crowd-kit is not a dependency; when ``import crowdkit`` works its ``DawidSkene`` runs on the
same answers (the pandas frame building is not timed), otherwise the section says it was not
installed. The figures go to BENCHMARKS.md between ``<!-- recompute:begin -->`` and
``<!-- recompute:end -->`` (re-read just before writing; other sections are left alone). The
bench database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BEGIN, END = "<!-- recompute:begin -->", "<!-- recompute:end -->"
BENCH_DB = "labelforce_bench_recompute"
CLASSES = ["ok", "crack", "rust", "corrosion", "missing"]


def env_for(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-not-secret"),
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="ERROR",
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def recreate_database(url: str) -> str:
    import psycopg

    bench_url = with_database(url, BENCH_DB)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env_for(bench_url),
        check=True,
    )
    return bench_url


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def seed(*, labelers: int, submissions: int, gold: int) -> tuple[int, list[int], float]:
    """Seed the project in SQL; returns (project id, labeler ids, seconds)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from assignments.models import Project
    from qc.models import GoldItem, GoldSet
    from workforce.models import Labeler, User

    started = time.perf_counter()
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(username=f"bench-{i}", password="!") for i in range(labelers)
        )
        people = Labeler.objects.bulk_create(
            Labeler(user=u, kind="internal", status="active") for u in users
        )
        project = Project.objects.create(
            slug="bench-recompute",
            name="Recompute bench",
            status=Project.Status.ACTIVE,
            answer_type="single_choice",
            classes=CLASSES,
            overlap=3,
            max_overlap=4,
        )
        gold_set = GoldSet.objects.create(
            slug="bench-gold", name="Bench gold", answer_type="single_choice", classes=CLASSES
        )
        items = GoldItem.objects.bulk_create(
            GoldItem(
                gold_set=gold_set,
                external_id=f"g{i}",
                payload={"image_url": f"https://img.example.test/g{i}.jpg"},
                accepted_answers=[CLASSES[i % len(CLASSES)]],
            )
            for i in range(200)
        )
    ids = [p.pk for p in people]
    k = len(CLASSES)
    tasks = submissions // 3
    # The three labelers of task t: (t + j * step) mod L for j = 0, 1, 2 — distinct when
    # step * j is not a multiple of L.
    step = max(1, labelers // 3) + (1 if labelers % 3 == 0 else 0)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bl (idx int PRIMARY KEY, labeler_id bigint, acc float8) "
            "ON COMMIT DROP"
        )
        cur.execute(
            "INSERT INTO bl SELECT i - 1, id, 0.55 + 0.4 * (i - 1) / greatest(%s - 1, 1) "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, i)",
            [labelers, ids],
        )
        cur.execute("CREATE TEMP TABLE cls (c int PRIMARY KEY, name text) ON COMMIT DROP")
        cur.execute(
            "INSERT INTO cls SELECT i - 1, n FROM unnest(%s::text[]) WITH ORDINALITY AS u(n, i)",
            [CLASSES],
        )
        cur.execute("SELECT setseed(0.42)")
        cur.execute(
            "INSERT INTO assignments_task (project_id, external_id, payload, source, complexity,"
            " priority, state, target, submitted, is_open, decided_by, created_at) "
            "SELECT %s, 't' || g, jsonb_build_object('truth', g %% %s), '', '', 0, 'complete',"
            " 3, 3, false, '', now() FROM generate_series(0, %s - 1) g",
            [project.pk, k, tasks],
        )
        cur.execute(
            "CREATE TEMP TABLE bt ON COMMIT DROP AS SELECT id, row_number() OVER (ORDER BY id) - 1"
            " AS t, (payload->>'truth')::int AS truth FROM assignments_task WHERE project_id = %s",
            [project.pk],
        )
        now = timezone.now()
        cur.execute(
            "CREATE TEMP TABLE ba ON COMMIT DROP AS "
            "SELECT bt.id AS task_id, bl.labeler_id, bt.truth,"
            " CASE WHEN random() < bl.acc THEN bt.truth"
            "  ELSE (bt.truth + 1 + floor(random() * (%s - 1))::int) %% %s END AS answer,"
            " %s::timestamptz - (random() * interval '60 days') AS at "
            "FROM bt CROSS JOIN generate_series(0, 2) j "
            "JOIN bl ON bl.idx = (bt.t + j * %s) %% %s",
            [k, k, now, step, labelers],
        )
        cur.execute(
            "INSERT INTO assignments_assignment (task_id, project_id, labeler_id, is_control,"
            " status, leased_at, expires_at, submitted_at, answer, active_seconds) "
            "SELECT ba.task_id, %s, ba.labeler_id, false, 'submitted', ba.at - interval '1 min',"
            " ba.at + interval '10 min', ba.at, to_jsonb(cls.name), 5 + (random() * 40)::int "
            "FROM ba JOIN cls ON cls.c = ba.answer",
            [project.pk],
        )
        cur.execute(
            "INSERT INTO qc_labeloutcome (project_id, task_id, assignment_id, labeler_id, answer,"
            " answer_class, final_class, agrees_final, peers, peers_agreeing, decided_by,"
            " submitted_at, decided_at, active_seconds) "
            "SELECT a.project_id, a.task_id, a.id, a.labeler_id, a.answer, a.answer #>> '{}',"
            " tc.name, (a.answer #>> '{}') = tc.name, 2,"
            " count(*) OVER (PARTITION BY a.task_id, a.answer) - 1, 'consensus',"
            " a.submitted_at, a.submitted_at, a.active_seconds "
            "FROM assignments_assignment a JOIN bt ON bt.id = a.task_id"
            " JOIN cls tc ON tc.c = bt.truth WHERE a.project_id = %s",
            [project.pk],
        )
        cur.execute(
            "INSERT INTO qc_goldcheck (labeler_id, gold_item_id, project_id, assignment_id, answer,"
            " correct, expected_class, answer_class, counted, checked_at, contest, contest_note) "
            "SELECT x.labeler_id, x.item, %s, 1000000000 + x.g, to_jsonb(ac.name), x.ok,"
            " ec.name, ac.name, true, x.at, '', '' FROM ("
            "  SELECT g, bl.labeler_id, it.item, it.c, random() < bl.acc AS ok,"
            "   %s::timestamptz - (random() * interval '60 days') AS at"
            "  FROM generate_series(0, %s - 1) g JOIN bl ON bl.idx = g %% %s"
            "  JOIN (SELECT item, (i - 1) %% %s AS c, i - 1 AS pos"
            "        FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(item, i)) it"
            "   ON it.pos = (g / %s) %% 200"
            ") x JOIN cls ec ON ec.c = x.c"
            " JOIN cls ac ON ac.c = CASE WHEN x.ok THEN x.c ELSE (x.c + 1) %% %s END",
            [project.pk, now, gold, labelers, k, [i.pk for i in items], labelers, k],
        )
        cur.execute("ANALYZE")
    return project.pk, ids, time.perf_counter() - started


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def time_calls(module, name: str) -> list[float]:
    """Wrap ``module.name`` so the seconds spent in it add up in the returned one-item list."""
    spent = [0.0]
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        result, seconds = timed(original, *args, **kwargs)
        spent[0] += seconds
        return result

    setattr(module, name, wrapper)
    return spent


def crowdkit_run(project_id: int) -> tuple[str, float | None]:
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return "crowd-kit was not installed (`import crowdkit` failed): not run.", None
    from assignments.models import Assignment

    rows = Assignment.objects.filter(project_id=project_id, status="submitted").values_list(
        "task_id", "labeler_id", "answer"
    )
    frame = pd.DataFrame(list(rows), columns=["task", "worker", "label"])
    _, seconds = timed(DawidSkene(n_iter=100).fit_predict, frame)
    return f"crowd-kit DawidSkene(n_iter=100) on the same answers: {seconds:.1f} s.", seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--labelers", type=int, default=500)
    parser.add_argument("--gold", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (postgres://...).", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    bench_url = recreate_database(url)
    os.environ.update(env_for(bench_url))

    import django

    django.setup()
    from django.db import connection

    from assignments.models import Project
    from assignments.selectors import quality as quality_selectors
    from assignments.services import quality as quality_services
    from qc.models import LabelerEstimate
    from qc.selectors import scores
    from qc.services import estimates as estimates_module
    from qc.stats import spearman
    from workforce.models import Labeler

    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
        project_id, labeler_ids, seed_seconds = seed(
            labelers=args.labelers, submissions=args.submissions, gold=args.gold
        )
        print(f"seeded {args.submissions:,} submissions in {seed_seconds:.1f} s")
        steps: list[tuple[str, float]] = []
        inner = time_calls(quality_services, "estimates_fit")
        em = time_calls(estimates_module, "dawid_skene")
        refit, seconds = timed(quality_services.project_refit, project_id=project_id)
        steps.append(("`project_refit` (read answers and gold, fit, write estimates)", seconds))
        split = (
            f"of which reading the answers and gold {seconds - inner[0]:.1f} s, the EM fit "
            f"{em[0]:.1f} s, indexing and writing the estimates {inner[0] - em[0]:.1f} s"
        )
        table, seconds = timed(scores.labeler_score_table, project_id=project_id)
        steps.append((f"`labeler_score_table`: all {len(table)} labelers' aggregates", seconds))
        _, seconds = timed(scores.vendor_comparison, project_id=project_id)
        steps.append(("`vendor_comparison`", seconds))
        full = sum(s for _, s in steps)
        labeler = Labeler.objects.get(pk=labeler_ids[len(labeler_ids) // 2])
        _, one_card = timed(
            quality_selectors.labeler_scorecard, labeler=labeler, project_id=project_id
        )
        project = Project.objects.get(pk=project_id)
        _, page = timed(quality_selectors.project_quality, project=project)
        # Do the estimates rank labelers as the seeded accuracies do?
        estimated = dict(
            LabelerEstimate.objects.filter(project_id=project_id).values_list(
                "labeler_id", "accuracy"
            )
        )
        true_acc = [0.55 + 0.4 * i / max(len(labeler_ids) - 1, 1) for i in range(len(labeler_ids))]
        rho = spearman(true_acc, [estimated[pk] for pk in labeler_ids])
        crowdkit_note, _ = crowdkit_run(project_id)
        print(crowdkit_note)
    finally:
        if not args.keep:
            drop_database(url)

    summary = refit.summary
    lines = [
        BEGIN,
        f"## Full quality recompute ({args.submissions:,} submissions, PostgreSQL)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores "
        f"(load average before the run {load_before[0]:.1f}, shared with other work), "
        f"PostgreSQL {pg_version}, Python {platform.python_version()}. Reproduce:",
        "",
        "```sh",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelforce .venv/bin/python "
        "bench/recompute.py",
        "```",
        "",
        f"One single-choice project ({len(CLASSES)} classes), {args.submissions:,} submissions "
        f"(three per task, {args.submissions // 3:,} tasks) by {args.labelers} labelers with "
        f"accuracies 0.55..0.95, {args.gold:,} gold checks and one label outcome per "
        f"submission, seeded in SQL in {seed_seconds:.0f} s. The fit chose "
        f"**{summary.method}** ({summary.iterations} EM iterations, "
        f"{'converged' if summary.converged else 'stopped at the iteration cap'}), "
        f"{summary.n_items:,} items of which {summary.n_gold} gold-anchored.",
        "",
        "| step | seconds |",
        "| --- | ---: |",
        *[f"| {name} | {seconds:.1f} |" for name, seconds in steps],
        f"| **full recompute** | **{full:.1f}** |",
        f"| one labeler's scorecard (`labeler_scorecard`, for comparison) | {one_card:.2f} |",
        f"| the project quality page (`project_quality`) | {page:.1f} |",
        "",
        f"`project_refit` {split}. The scores themselves are aggregates on read (nothing to "
        "recompute); the refit is what the hourly beat job runs.",
        "",
        f"Spearman's rank correlation of the estimated accuracies with the seeded ones: "
        f"{rho:.3f} ({len(estimated)} labelers).",
        "",
        crowdkit_note,
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section(Path(args.output), section)
    return 0


def write_section(path: Path, section: str) -> None:
    # Re-read right before writing: other benchmarks write their own sections concurrently.
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
