"""Full quality recompute of one project with a million submissions, on PostgreSQL: the
refit through the product's path (``assignments.services.refits.project_refit_run``), split
into read, fit, write and re-decide, on decisions a fit overturns and after refit_every new
labels counted as the submission follow-up counts them; crowd-kit's DawidSkene on the same
answers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelforce \\
    CROWDKIT_PYTHON=/path/to/a/venv/with/crowd-kit/bin/python \\
        .venv/bin/python bench/recompute.py [--submissions N] [--labelers N] [--gold N]
        [--stale SHARE] [--keep] [--no-write]

It replaces the database ``labelforce_bench_recompute`` on the server of ``DATABASE_URL`` (the
database named there is not touched), migrates it, and seeds in SQL (``generate_series``) one
single-choice project deciding by the model (``refit_every`` at its default): ``--labelers``
labelers (default 500) with accuracies spread evenly over 0.55..0.95, ``--submissions`` / 3
tasks (default 1,000,000 submissions, three per task) with a hidden true class, each answer
right with its labeler's accuracy, a uniformly drawn wrong class otherwise; ``--gold`` counted
gold checks (default 50,000) on 200 gold items. The tasks are decided as a project deciding by
majority leaves them (resolved by consensus with their label outcomes, three-way ties in review
with an open disagreement review), and a ``--stale`` share (default 0.25) of the resolved ones
carries another class, decided by an earlier fit. No ANALYZE by hand: the product runs one
after a task import, not after submissions, so the refit meets what autovacuum left.

Then, each refit timed by hooks on the module attributes the product calls through (the calls
are unchanged):

1. ``project_refit_run`` as the hourly job runs it: the fit overturns the stale decisions and
   decides the ties — read (answers and gold checks, votes), fit (``qc.dawid_skene``), write
   (the fit and the estimates), re-decide (``decisions.project_redecide``);
2. ``refit_every`` (rounded up to whole tasks) new labels, each counted by
   ``refits.project_label_count`` as the submission follow-up counts it; the count that
   reaches ``refit_every`` sends ``assignments.project_refit`` (Celery in-process: it runs
   inside that count) — the refit every N labels, timed the same way;
3. the scorecard aggregates (``labeler_score_table``, ``vendor_comparison``), one labeler's
   scorecard and the project quality page, on read.

crowd-kit is not a dependency: with ``--crowdkit-python`` / ``CROWDKIT_PYTHON`` naming an
interpreter that has it, its ``DawidSkene(n_iter=100)`` runs there on the same answers (the fit
alone timed) and its labels are scored against the hidden truth; otherwise the section says it
was not run. The figures go to BENCHMARKS.md between ``<!-- recompute:begin -->`` and
``<!-- recompute:end -->`` (re-read just before writing; other sections are left alone). The
bench database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
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


def seed(*, labelers: int, gold: int) -> tuple[int, list[int]]:
    """The labelers, the project (deciding by the model, the default ``refit_every``), the gold
    set and the counted gold checks; returns (project id, labeler ids)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from assignments.models import DEFAULT_REFIT_EVERY, ConsensusMethod, Project
    from qc.models import GoldItem, GoldSet
    from workforce.models import Labeler, User

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
            consensus_method=ConsensusMethod.WEIGHTED,
            refit_every=DEFAULT_REFIT_EVERY,
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
    with transaction.atomic(), connection.cursor() as cur:
        _temp_tables(cur, labelers=labelers, ids=ids)
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
            [project.pk, timezone.now(), gold, labelers, k, [i.pk for i in items], labelers, k],
        )
    return project.pk, ids


def _temp_tables(cur, *, labelers: int, ids: list[int]) -> None:
    """The labelers with their seeded accuracies (0.55..0.95) and the classes, for this
    transaction."""
    cur.execute(
        "CREATE TEMP TABLE bl (idx int PRIMARY KEY, labeler_id bigint, acc float8) ON COMMIT DROP"
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


def seed_tasks(
    *, project_id: int, labeler_ids: list[int], first: int, tasks: int, stale: float, seed: float
) -> list[int]:
    """Tasks ``first`` .. ``first + tasks - 1`` of the project, each with a hidden true class and
    three answers (each right with its labeler's accuracy, a uniformly drawn wrong class
    otherwise), decided as a project deciding by majority leaves them: a task with a majority
    is resolved by consensus (its label outcomes recorded), a three-way tie waits in review with
    an open disagreement review. A ``stale`` share of the resolved tasks carries another class,
    decided by an earlier fit (``decided_by = model``): what the next fit overturns. Returns the
    new assignments' ids, in id order."""
    from django.db import connection, transaction
    from django.utils import timezone

    labelers = len(labeler_ids)
    k = len(CLASSES)
    # The three labelers of task t: (t + j * step) mod L for j = 0, 1, 2 — distinct when
    # step * j is not a multiple of L.
    step = max(1, labelers // 3) + (1 if labelers % 3 == 0 else 0)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        _temp_tables(cur, labelers=labelers, ids=labeler_ids)
        cur.execute("SELECT setseed(%s)", [seed])
        cur.execute(
            "INSERT INTO assignments_task (project_id, external_id, payload, source, complexity,"
            " priority, state, target, submitted, is_open, decided_by, created_at) "
            "SELECT %s, 't' || g, jsonb_build_object('truth', g %% %s), '', '', 0, 'complete',"
            " 3, 3, false, '', %s FROM generate_series(%s, %s - 1) g",
            [project_id, k, now, first, first + tasks],
        )
        cur.execute(
            "CREATE TEMP TABLE bt ON COMMIT DROP AS SELECT id, substr(external_id, 2)::int AS t,"
            " (payload->>'truth')::int AS truth FROM assignments_task"
            " WHERE project_id = %s AND state = 'complete'",
            [project_id],
        )
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
            "FROM ba JOIN cls ON cls.c = ba.answer ORDER BY ba.task_id, ba.labeler_id "
            "RETURNING id",
            [project_id],
        )
        new_ids = sorted(row[0] for row in cur.fetchall())
        # Majority per task (3 answers: a class with 2 or 3 of them, else a tie); the stale
        # share of the decided ones carries the next class instead.
        cur.execute(
            "CREATE TEMP TABLE bd ON COMMIT DROP AS SELECT task_id, answer AS majority, n,"
            " n >= 2 AND random() < %s AS stale FROM ("
            "  SELECT DISTINCT ON (task_id) task_id, answer, n FROM ("
            "   SELECT task_id, answer, count(*) AS n FROM ba GROUP BY 1, 2) x"
            "  ORDER BY task_id, n DESC, answer) m",
            [stale],
        )
        cur.execute(
            "UPDATE assignments_task t SET state = 'resolved', final_answer = to_jsonb(c.name),"
            " decided_by = CASE WHEN bd.stale THEN 'model' ELSE 'consensus' END,"
            " agreement = CASE WHEN bd.stale THEN NULL ELSE bd.n / 3.0 END,"
            " confidence = CASE WHEN bd.stale THEN 0.9 END, decided_at = %s "
            "FROM bd JOIN cls c ON c.c = CASE WHEN bd.stale THEN (bd.majority + 1) %% %s"
            " ELSE bd.majority END WHERE t.id = bd.task_id AND bd.n >= 2",
            [now, k],
        )
        cur.execute(
            "UPDATE assignments_task t SET state = 'review' FROM bd"
            " WHERE t.id = bd.task_id AND bd.n = 1"
        )
        cur.execute(
            "INSERT INTO assignments_review (task_id, project_id, kind, status, note, question,"
            " for_ops, decided_task, created_at) "
            "SELECT task_id, %s, 'disagreement', 'open', '', '', false, false, %s FROM bd"
            " WHERE n = 1",
            [project_id, now],
        )
        cur.execute(
            "INSERT INTO qc_labeloutcome (project_id, task_id, assignment_id, labeler_id, answer,"
            " answer_class, final_class, agrees_final, peers, peers_agreeing, decided_by,"
            " submitted_at, decided_at, active_seconds) "
            "SELECT a.project_id, a.task_id, a.id, a.labeler_id, a.answer, a.answer #>> '{}',"
            " t.final_answer #>> '{}', a.answer = t.final_answer, 2,"
            " count(*) OVER (PARTITION BY a.task_id, a.answer) - 1, t.decided_by,"
            " a.submitted_at, t.decided_at, a.active_seconds "
            "FROM assignments_assignment a JOIN bd ON bd.task_id = a.task_id"
            " JOIN assignments_task t ON t.id = a.task_id WHERE bd.n >= 2",
        )
    return new_ids


def decided_right(project_id: int) -> tuple[int, int, int]:
    """(tasks resolved, of which with the hidden true class, tasks in review)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE state = 'resolved'),"
            " count(*) FILTER (WHERE state = 'resolved' AND final_answer #>> '{}' = ("
            "  %s::text[])[(payload->>'truth')::int + 1]),"
            " count(*) FILTER (WHERE state = 'review') "
            "FROM assignments_task WHERE project_id = %s",
            [CLASSES, project_id],
        )
        return cur.fetchone()


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def time_calls(module, name: str, last: list | None = None) -> list[float]:
    """Wrap ``module.name`` so the seconds spent in it add up in the returned one-item list
    (and its last result goes in ``last``). Callers reach it through the module attribute, so
    the product's own calls are timed; the call itself is unchanged."""
    spent = [0.0]
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        result, seconds = timed(original, *args, **kwargs)
        spent[0] += seconds
        if last is not None:
            last[:] = [result]
        return result

    setattr(module, name, wrapper)
    return spent


@dataclass
class RefitTimes:
    """One refit through ``refits.project_refit_run``, split by the hooks."""

    total: float  # project_refit_run: the claim, the refit, the bookkeeping
    refit: float  # refits.project_refit
    fit_and_write: float  # qc.services.estimates.estimates_fit
    em: float  # the Dawid-Skene fit (qc.dawid_skene)
    choice: float  # the model's choice by held-out likelihood (first fit, labels doubled)
    redecide: float  # decisions.project_redecide (0 where the module has not landed)
    runs: int
    redecided: int = 0
    from_review: int = 0
    method: str = ""
    iterations: int = 0
    converged: bool = False

    @property
    def read(self) -> float:
        """Reading the answers and gold checks, and building the votes for the re-decision."""
        return self.refit - self.fit_and_write - self.redecide

    @property
    def write(self) -> float:
        """Indexing the answers, the warm start, writing the fit and the estimates."""
        return self.fit_and_write - self.em - self.choice


class Hooks:
    """Time the refit's steps wherever the product calls them from."""

    def __init__(self) -> None:
        from assignments.services import refits
        from qc.services import estimates

        self.last: list = []
        self.runs = [0]
        self.spent = {
            "total": time_calls(refits, "project_refit_run", self.last),
            "refit": time_calls(refits, "project_refit"),
            "fit_and_write": time_calls(refits, "estimates_fit"),
            "em": time_calls(estimates, "dawid_skene"),
        }
        if hasattr(estimates, "choose_method"):
            self.spent["choice"] = time_calls(estimates, "choose_method")
        self.redecide = hasattr(refits, "project_redecide")
        if self.redecide:
            self.spent["redecide"] = time_calls(refits, "project_redecide")
        counted = refits.project_refit

        def count(**kwargs):
            self.runs[0] += 1
            return counted(**kwargs)

        refits.project_refit = count

    def take(self) -> RefitTimes:
        spent = {k: v[0] for k, v in self.spent.items()}
        spent.setdefault("redecide", 0.0)
        spent.setdefault("choice", 0.0)
        times = RefitTimes(runs=self.runs[0], **spent)
        for v in self.spent.values():
            v[0] = 0.0
        self.runs[0] = 0
        refit = self.last[0] if self.last else None
        self.last[:] = []
        if refit is not None:
            times.redecided = getattr(refit, "redecided", 0)
            times.from_review = getattr(refit, "from_review", 0)
            if refit.summary is not None:
                times.method = refit.summary.method
                times.iterations = refit.summary.iterations
                times.converged = refit.summary.converged
        return times


# crowd-kit's DawidSkene on the answers read from stdin (task,worker,label): the fit alone is
# timed, not the frame building; prints {"seconds": ..., "labels": {task: class}}.
_CROWDKIT_SCRIPT = """
import json, sys, time
import pandas as pd
from crowdkit.aggregation import DawidSkene
df = pd.read_csv(sys.stdin, names=["task", "worker", "label"])
started = time.perf_counter()
out = DawidSkene(n_iter=100).fit_predict(df)
seconds = time.perf_counter() - started
json.dump({"seconds": seconds, "labels": {int(t): str(c) for t, c in out.items()}}, sys.stdout)
"""


@dataclass
class CrowdKit:
    note: str
    seconds: float | None = None
    right: int = 0
    items: int = 0


def crowdkit_run(project_id: int, python: str | None) -> CrowdKit:
    """crowd-kit's ``DawidSkene(n_iter=100)`` on the project's real answers (crowd-kit takes no
    gold anchors: the gold checks are left out), in the interpreter ``python`` (a virtualenv
    with crowd-kit: it is not a dependency); its labels scored against the hidden truth."""
    if not python or not Path(python).exists():
        return CrowdKit("crowd-kit was not run (no `--crowdkit-python` / `CROWDKIT_PYTHON`).")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT task_id, labeler_id, answer #>> '{}' FROM assignments_assignment"
            " WHERE project_id = %s AND status = 'submitted' AND NOT is_control",
            [project_id],
        )
        lines = "".join(f"{t},{w},{c}\n" for t, w, c in cur.fetchall())
        cur.execute(
            "SELECT id, (payload->>'truth')::int FROM assignments_task WHERE project_id = %s",
            [project_id],
        )
        truth = {t: CLASSES[c] for t, c in cur.fetchall()}
    done = subprocess.run(
        [python, "-c", _CROWDKIT_SCRIPT], input=lines, capture_output=True, text=True, check=True
    )
    out = json.loads(done.stdout)
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('crowd-kit'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    right = sum(truth.get(int(t)) == c for t, c in out["labels"].items())
    return CrowdKit(
        f"crowd-kit {version} `DawidSkene(n_iter=100).fit_predict`",
        out["seconds"],
        right,
        len(out["labels"]),
    )


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = git("status", "--porcelain", "--untracked-files=all", "--", "assignments", "qc")
    head = git("rev-parse", "--short", "HEAD").strip()
    return f"{head} (with uncommitted changes to assignments/ or qc/)" if dirty.strip() else head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--labelers", type=int, default=500)
    parser.add_argument("--gold", type=int, default=50_000)
    parser.add_argument(
        "--stale",
        type=float,
        default=0.25,
        help="share of the decided tasks an earlier fit decided otherwise (default 0.25)",
    )
    parser.add_argument(
        "--crowdkit-python",
        default=os.environ.get("CROWDKIT_PYTHON"),
        help="an interpreter with crowd-kit installed (default: $CROWDKIT_PYTHON)",
    )
    parser.add_argument(
        "--skip-scores",
        action="store_true",
        help="do not time the scorecards and the quality page (they need table statistics)",
    )
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

    from assignments.models import Project, ProjectRefit
    from assignments.selectors import quality_pages as quality_selectors
    from assignments.services import refits
    from qc.models import LabelerEstimate
    from qc.selectors import quality_facts
    from qc.stats import spearman
    from workforce.models import Labeler

    tasks = args.submissions // 3
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
        started = time.perf_counter()
        project_id, labeler_ids = seed(labelers=args.labelers, gold=args.gold)
        seed_tasks(
            project_id=project_id,
            labeler_ids=labeler_ids,
            first=0,
            tasks=tasks,
            stale=args.stale,
            seed=0.42,
        )
        seed_seconds = time.perf_counter() - started
        before = decided_right(project_id)
        print(f"seeded {tasks * 3:,} submissions in {seed_seconds:.1f} s; decided {before}")
        hooks = Hooks()

        # (1) The hourly refit's path on the seeded decisions: the first fit re-decides the
        # tasks it disagrees with (the stale share among them) and the tasks in review.
        refits.project_refit_run(project_id=project_id)
        first = hooks.take()
        after = decided_right(project_id)
        print(f"first refit: {first}; decided {after}")
        crowdkit = crowdkit_run(project_id, args.crowdkit_python)
        print(crowdkit.note, crowdkit.seconds)

        # (2) refit_every new labels, counted one by one as the submission follow-up counts
        # them: the count that reaches refit_every sends assignments.project_refit (Celery
        # in-process here, as in the demo), which runs inside that count.
        every = Project.objects.get(pk=project_id).refit_every
        new_ids = seed_tasks(
            project_id=project_id,
            labeler_ids=labeler_ids,
            first=tasks,
            tasks=-(-every // 3),
            stale=0.0,
            seed=0.24,
        )
        counts, count_seconds = timed(
            lambda: [refits.project_label_count(assignment_id=pk) for pk in new_ids]
        )
        second = hooks.take()
        sent = sum(c.refit_sent for c in counts)
        left = ProjectRefit.objects.get(pk=project_id).labels_since
        count_ms = (count_seconds - second.total) / len(new_ids) * 1000
        print(
            f"{len(new_ids)} labels counted ({count_ms:.2f} ms each), {sent} refit sent: {second}"
        )

        steps: list[tuple[str, float]] = []
        one_card = page = 0.0
        estimated: dict[int, float] = {}
        rho = None
        if not args.skip_scores:
            table, seconds = timed(quality_facts.labeler_score_table, project_id=project_id)
            steps.append((f"`labeler_score_table`: all {len(table)} labelers' aggregates", seconds))
            _, seconds = timed(quality_facts.vendor_comparison, project_id=project_id)
            steps.append(("`vendor_comparison`", seconds))
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
            n = len(labeler_ids)
            true_acc = [0.55 + 0.4 * i / max(n - 1, 1) for i in range(n)]
            rho = spearman(true_acc, [estimated[pk] for pk in labeler_ids])
    finally:
        if not args.keep:
            drop_database(url)

    def row(name: str, t: RefitTimes) -> str:
        return (
            f"| {name} | {t.read:.1f} | {t.choice:.1f} | {t.em:.1f} | {t.write:.1f} "
            f"| {t.redecide:.1f} "
            f"| {t.total - t.refit:.2f} | **{t.total:.1f}** | {t.redecided:,} "
            f"({t.from_review:,} from review) | {t.method}, {t.iterations} iterations"
            f"{'' if t.converged else ' (cap)'} |"
        )

    def share(right: int, n: int) -> str:
        return f"{right / n:.4f}" if n else "n/a"

    redecide_note = (
        ""
        if hooks.redecide
        else " `assignments.services.decisions` had not landed: the refit re-decided nothing."
    )
    if crowdkit.seconds is not None:
        crowdkit_line = (
            f"{crowdkit.note} on the same {tasks * 3:,} answers (no gold anchors: crowd-kit "
            f"takes none): **{crowdkit.seconds:.1f} s** for the fit alone, its labels right on "
            f"{share(crowdkit.right, crowdkit.items)} of the tasks. Ours on those answers: the "
            f"fit {first.em:.1f} s cold, {second.em:.1f} s for the refit {len(new_ids):,} "
            f"labels later."
        )
    else:
        crowdkit_line = crowdkit.note

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    goals = [
        "Goals of issue 10 on this run:",
        "",
        "- a refit of a million labels in at most crowd-kit's DS time on the same labels: "
        + (
            f"the refit every N labels (2) took {second.total:.1f} s against crowd-kit's "
            f"{crowdkit.seconds:.1f} s — {verdict(second.total <= crowdkit.seconds)}; the "
            f"refit on stale decisions (1) took {first.total:.1f} s — "
            f"{verdict(first.total <= crowdkit.seconds)}."
            if crowdkit.seconds is not None
            else "not compared (crowd-kit was not run)."
        ),
        f"- re-deciding a 1M-label project in at most 60 s: refit (1) re-decided "
        f"{first.redecided:,} tasks in {first.redecide:.1f} s — "
        f"{verdict(first.redecide <= 60)}; refit (2) {second.redecided:,} tasks in "
        f"{second.redecide:.1f} s.",
    ]
    scores_lines = (
        ["The scores on read were not timed (`--skip-scores`)."]
        if args.skip_scores
        else [
            "| scores on read, after the refits | seconds |",
            "| --- | ---: |",
            *[f"| {name} | {seconds:.1f} |" for name, seconds in steps],
            f"| one labeler's scorecard (`labeler_scorecard`) | {one_card:.2f} |",
            f"| the project quality page (`project_quality`) | {page:.1f} |",
            "",
            f"Spearman's rank correlation of the estimated accuracies with the seeded ones: "
            f"{rho:.3f} ({len(estimated)} labelers).",
        ]
    )
    lines = [
        BEGIN,
        f"## Full quality recompute ({args.submissions:,} submissions, PostgreSQL)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} at commit {git_state()} on {platform.machine()}, "
        f"{os.cpu_count()} cores (load average before the run {load_before[0]:.1f}, shared "
        f"with other work), PostgreSQL {pg_version}, Python {platform.python_version()}. "
        "Reproduce:",
        "",
        "```sh",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelforce "
        "CROWDKIT_PYTHON=/path/to/a/venv/with/crowd-kit/bin/python "
        ".venv/bin/python bench/recompute.py",
        "```",
        "",
        f"One single-choice project ({len(CLASSES)} classes) deciding by the model, "
        f"{args.submissions:,} submissions (three per task, {tasks:,} tasks) by "
        f"{args.labelers} labelers with accuracies 0.55..0.95, {args.gold:,} counted gold "
        f"checks, seeded in SQL in {seed_seconds:.0f} s (no ANALYZE by hand: the refit reads "
        "tables as autovacuum leaves them after a bulk load). The tasks are decided as a "
        f"majority-vote project leaves them — {before[0]:,} resolved, {before[2]:,} three-way "
        f"ties in review — and {args.stale:.0%} of the resolved ones carry another class, "
        "decided by an earlier fit.",
        "",
        "Both refits go through the product's path, `assignments.services.refits."
        "project_refit_run` (the claim, `project_refit`, the bookkeeping): (1) the "
        "refit the hourly job runs, on those decisions — the fit overturns many; (2) "
        f"{len(new_ids):,} new labels later, counted one by one by `project_label_count` (the "
        f"submission follow-up's count, {count_ms:.2f} ms each), the count that reaches "
        f"`refit_every` = {every:,} sent `assignments.project_refit` ({sent} sent; Celery "
        f"in-process, so it ran inside that count; {left} labels counted after it).",
        "",
        "| refit | read (s) | model choice (s) | fit (s) | write (s) | re-decide (s) "
        "| claim + bookkeeping (s) | total (s) | tasks re-decided | model |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        row("(1) hourly, on stale decisions", first),
        row(f"(2) counted, {len(new_ids):,} labels later", second),
        "",
        "read: the answers and gold checks read and the votes built; model choice: "
        "`qc.dawid_skene.choose_method` (held-out likelihood, on the first fit and when the "
        "labels have doubled); fit: the Dawid-Skene EM (`qc.dawid_skene`); write: indexing the "
        "answers, the warm start from the previous fit, writing the fit and the estimates; "
        "re-decide: `decisions.project_redecide` (the candidate tasks read, the "
        f"changed ones written with their history and label outcomes).{redecide_note} "
        f"Resolved tasks with the hidden true class: {share(before[1], before[0])} before the "
        f"refit ({before[0]:,} resolved), {share(after[1], after[0])} after ({after[0]:,} "
        f"resolved, {after[2]:,} left in review).",
        "",
        crowdkit_line,
        "",
        *goals,
        "",
        *scores_lines,
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
