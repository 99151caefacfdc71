"""Benchmark of a pay period's calculation over a million decided assignments, on PostgreSQL.

It builds a fresh database (``--database``, dropped and re-created, migrated) and takes the
path the product takes where it can: an operations manager, three vendors (contracts in EUR, INR
and USD), projects with their control gold sets, rates, policies, bonus tiers, contracts and the
period through the services (``payments.services.rates`` / ``periods`` when they exist; the rows
are written with the ORM otherwise, and the section says which). The labelers are written in
bulk with the ORM, as ``labeler_create`` then ``labeler_activate`` would leave them (a user with
an unusable password in the Labelers group, an active labeler, its two history rows): the
services take about 26 ms a labeler, four minutes for 10,000, and nothing here measures them.

The decided work is what months of labeling leave behind, so it is written in bulk with SQL
(``INSERT … SELECT generate_series``), not replayed through next-task and submit: real tasks of
overlap 2 with one qc ``LabelOutcome`` per label, control tasks (about 10% of the assignments)
with one ``GoldCheck`` each, a resolved disagreement review on one real task in 50, and some
submitted work not yet decided (pending). Every assignment carries ``active_seconds``; internal
staff are paid by the hour on every other project. All of it is earned in the period.

Then it measures the product itself, with no maintenance step by hand that the product does
not run itself. On a server with autovacuum off (this machine's; the section says which) the
load leaves the tables without statistics; ``period_calculate`` analyzes what it needs: first
those of ``calculate.READ_TABLES`` whose statistics are stale (never analyzed, or changed by more
than autovacuum's default threshold since), then, in each project batch whose items change, its
temporary tables before the items insert. The section says which tables had statistics when
each calculation started and which ones the calculation analyzed:

1. calculating the period as loaded: ``calculation_queue`` with Celery eager, i.e. the task
   ``payments.tasks.period_calculate_task`` calling ``period_calculate`` (target ≤ 60 s);
2. recalculating it unchanged (target ≤ 10 s), and the ledger hash of both;
3. the queries of the statement and invoice reads for the vendor of ``--vendor-labelers``
   labelers (``payments.selectors.statements.vendor_statements_for`` and
   ``payments.selectors.invoices.invoice_get_for``, when they exist; target ≤ 10).

Each SQL statement the calculation sends is timed (``connection.execute_wrapper``) and grouped
by what it does (its ANALYZE statements included), per project batch and in total, and so is
each commit (where PostgreSQL checks the deferred foreign keys); ``--explain`` adds the plan
(EXPLAIN ANALYZE) of the slowest project's desired items. A safety ``statement_timeout``
(``--statement-timeout``, 600 s) stops a calculation that runs away; the section says so if it
did. Results go to BENCHMARKS.md between this benchmark's markers.

    .venv/bin/python bench/payments_calculate.py                       # 1,000,000 assignments
    .venv/bin/python bench/payments_calculate.py --assignments 100000 --no-write

Needs PostgreSQL at BENCH_PG (default postgres://postgres@127.0.0.1:5432); the database's name
must contain ``bench``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import next_task_load as load

BEGIN, END = "<!-- payments-calculate:begin -->", "<!-- payments-calculate:end -->"
START = datetime(2026, 11, 1, tzinfo=UTC)  # the period: November 2026, UTC
END_AT = datetime(2026, 12, 1, tzinfo=UTC)
RATES_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VENDORS = (  # slug, name, contract currency, share of the labelers (the rest are internal)
    ("northwind", "Northwind Data", "EUR"),
    ("kestrel", "Kestrel Labeling", "INR"),
    ("meridian", "Meridian Annotations", "USD"),
)
GOLD_ITEMS = 20  # per project's control gold set
REVIEW_EVERY = 50  # one real task in 50 was decided by a resolved disagreement review
SENIOR_SHARE = 10  # one internal labeler in 10 is a senior (reviews)


def split_labelers(total: int, vendor_labelers: int) -> list[int]:
    """Labelers per vendor (in VENDORS order) and internal staff, last: the first vendor has
    ``vendor_labelers``; the rest is split 35/35/30 between the two others and internal staff."""
    first = min(vendor_labelers, total // 2)
    rest = total - first
    second = third = rest * 35 // 100
    return [first, second, third, rest - second - third]


# -- seeding through the services -------------------------------------------------------------


def seed(args) -> dict:
    """Everything but the decided work; returns the ids the rest needs and how each part was
    written."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from assignments import services as work
    from qc.services import gold
    from workforce import roles, services
    from workforce.models import Labeler, LabelerStatusChange, User, new_public_code

    ops = User.objects.create_user(username="ops-bench", is_staff=True)
    ops.groups.add(Group.objects.get(name=roles.OPS_MANAGERS))
    vendors, managers = [], []
    for slug, name, currency in VENDORS:
        vendor = services.vendor_create(actor=ops, name=name, slug=slug, default_currency=currency)
        manager = User.objects.create_user(username=f"manager-{slug}")
        services.vendor_manager_add(actor=ops, vendor=vendor, user=manager)
        vendors.append(vendor)
        managers.append(manager)

    # Labelers in bulk, as labeler_create + labeler_activate leave them (see the docstring).
    sizes = split_labelers(args.labelers, args.vendor_labelers)
    owners = [v for v, n in zip(vendors, sizes, strict=False) for _ in range(n)]
    owners += [None] * sizes[-1]
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"bench-{i:05d}", password=unusable) for i in range(len(owners))],
        batch_size=2000,
    )
    now = datetime.now(UTC)
    # Distinct public codes: labeler_create retries a taken one; a bulk write cannot.
    codes: set[str] = set()
    while len(codes) < len(owners):
        codes.add(new_public_code())
    internal_seen = 0
    labelers = []
    for user, vendor in zip(users, owners, strict=True):
        senior = False
        if vendor is None:
            senior = internal_seen % SENIOR_SHARE == 0
            internal_seen += 1
        labelers.append(
            Labeler(
                user=user,
                kind="vendor" if vendor else "internal",
                vendor=vendor,
                status=Labeler.Status.ACTIVE,
                seniority=Labeler.Seniority.SENIOR if senior else Labeler.Seniority.LABELER,
                status_changed_at=now,
                public_code=codes.pop(),
            )
        )
    labelers = Labeler.objects.bulk_create(labelers, batch_size=2000)
    group = Group.objects.get(name=roles.LABELERS)
    seniors = Group.objects.get(name=roles.SENIOR_LABELERS)
    through = User.groups.through
    through.objects.bulk_create(
        [through(user_id=u.pk, group_id=group.pk) for u in users]
        + [
            through(user_id=lab.user_id, group_id=seniors.pk)
            for lab in labelers
            if lab.seniority == Labeler.Seniority.SENIOR
        ],
        batch_size=5000,
    )
    LabelerStatusChange.objects.bulk_create(
        [
            LabelerStatusChange(labeler=lab, from_status=a, to_status=b, reason="bench")
            for lab in labelers
            for a, b in (("", "invited"), ("invited", "active"))
        ],
        batch_size=5000,
    )

    projects, gold_ids = [], []
    for p in range(args.projects):
        gold_set = gold.gold_set_create(
            actor=ops,
            slug=f"bench-controls-{p}",
            name=f"Bench controls {p}",
            answer_type="single_choice",
            classes=["ok", "crack", "rust"],
        )
        gold_ids.append(
            [
                gold.gold_item_create(
                    actor=ops,
                    gold_set=gold_set,
                    external_id=f"g{i}",
                    payload={
                        "image_url": f"https://img.example.test/{90_000_000 + i:08d}.jpg",
                        "metadata": {},
                    },
                    accepted_answers=["ok"],
                ).pk
                for i in range(GOLD_ITEMS)
            ]
        )
        projects.append(
            work.project_create(
                actor=ops,
                slug=f"bench-pay-{p}",
                name=f"Bench pay {p}",
                answer_type="single_choice",
                classes=["ok", "crack", "rust"],
                overlap=2,
                max_overlap=3,
                control_ratio=Decimal("0.1"),
                control_gold_set=gold_set,
            )
        )
    how = pay_setup(ops, projects, vendors)
    return {
        "ops": ops,
        "vendors": vendors,
        "managers": managers,
        "sizes": sizes,
        "projects": [pr.pk for pr in projects],
        "gold_ids": gold_ids,
        **how,
    }


def pay_setup(ops, projects, vendors) -> dict:
    """Rates, policies, bonus tiers, contracts and the period: through
    ``payments.services.rates`` / ``periods`` where they exist, with the ORM where not."""
    from payments.models import BonusTier, PayPeriod, PayPolicy, PayRate, VendorContract

    try:
        from payments.services import rates as rate_services
    except ImportError:
        rate_services = None
    try:
        from payments.services import periods as period_services
    except ImportError:
        period_services = None

    def rate(project, unit, amount, currency, scope="project", vendor=None):
        values = {
            "project": project,
            "unit": unit,
            "amount": Decimal(amount),
            "currency": currency,
            "scope": scope,
            "vendor": vendor,
            "effective_from": RATES_FROM,
        }
        if rate_services:
            return rate_services.rate_create(actor=ops, **values)
        return PayRate.objects.create(created_by=ops, **values)

    eur, inr, usd = vendors
    for p, project in enumerate(projects):
        cents = Decimal(p) / 1000  # each project pays a little differently
        rate(project, "accepted_label", Decimal("0.040") + cents, "USD")
        rate(project, "resolved_review", "0.25", "USD")
        rate(project, "accepted_label", Decimal("0.036") + cents, "EUR", "vendor", eur)
        rate(project, "accepted_label", Decimal("3.40") + 10 * cents, "INR", "vendor", inr)
        rate(project, "submitted_label", Decimal("0.032") + cents, "USD", "vendor", usd)
        if p % 2 == 0:  # internal staff by the hour on every other project
            rate(project, "active_hour", "18.00", "USD", "internal")
        fraction = Decimal("0.25") if p % 2 == 0 else Decimal(0)
        tiers = ((Decimal("0.60"), 8, Decimal(5)), (Decimal("0.75"), 10, Decimal(10)))
        if rate_services:
            rate_services.policy_set(
                actor=ops, project=project, rejected_fraction=fraction, clawback=True
            )
            for lower, n, percent in tiers:
                rate_services.bonus_tier_create(
                    actor=ops, project=project, min_lower_bound=lower, min_checks=n, percent=percent
                )
        else:
            PayPolicy.objects.create(project=project, rejected_fraction=fraction, clawback=True)
            BonusTier.objects.bulk_create(
                BonusTier(project=project, min_lower_bound=lower, min_checks=n, percent=percent)
                for lower, n, percent in tiers
            )
    contracts = ((eur, "8", "0"), (inr, "5", "0.10"), (usd, "0", "0.002"))
    for vendor, percent, per_label in contracts:
        if rate_services:
            rate_services.contract_set(
                actor=ops,
                vendor=vendor,
                fee_percent=Decimal(percent),
                fee_per_label=Decimal(per_label),
            )
        else:
            VendorContract.objects.create(
                vendor=vendor, fee_percent=Decimal(percent), fee_per_label=Decimal(per_label)
            )
    if period_services:
        period = period_services.period_create(
            actor=ops, cadence="monthly", starts_on=date(2026, 11, 1), timezone="UTC"
        )
    else:
        period = PayPeriod.objects.create(
            cadence="monthly", timezone="UTC", starts_at=START, ends_at=END_AT
        )
    assert (period.starts_at, period.ends_at) == (START, END_AT), period
    return {
        "period": period.pk,
        "rates_by": "services" if rate_services else "ORM",
        "period_by": "services" if period_services else "ORM",
    }


# -- the decided work, in bulk with SQL -------------------------------------------------------

# One row per assignment to write (real, control and pending), with explicit task and assignment
# ids (the identity sequences are moved past them afterwards). A real task has two labels from
# two labelers of the project's pool; a control task one label. Verdicts, seconds and times are
# spread deterministically (no randomness: every run writes the same work).
PLAN = """
CREATE UNLOGGED TABLE bench_plan AS
WITH pool AS (
    SELECT l.id AS labeler_id, (ROW_NUMBER() OVER (ORDER BY l.id) - 1) AS idx
    FROM workforce_labeler l
), pool_p AS (
    SELECT idx %% %(projects)s AS p, ROW_NUMBER() OVER (PARTITION BY idx %% %(projects)s
           ORDER BY idx) - 1 AS j, labeler_id, idx
    FROM pool
), sizes AS (SELECT p, COUNT(*) AS n FROM pool_p GROUP BY p),
proj AS (
    SELECT b.*, s.n AS pool_n FROM bench_proj b JOIN sizes s ON s.p = b.p
), work AS (
    SELECT pr.p, pr.project_id, 'real' AS what, i / 2 AS t, i %% 2 AS k,
           pr.tbase + i / 2 AS task_id, pr.abase + i AS assignment_id,
           i %% pr.pool_n AS j, CAST(NULL AS BIGINT) AS gold_item_id,
           %(start)s + make_interval(secs => (i / 2) * %(span)s / pr.real_tasks) AS earned_at
    FROM proj pr CROSS JOIN LATERAL generate_series(0, 2 * pr.real_tasks - 1) i
    UNION ALL
    SELECT pr.p, pr.project_id, 'control', c, 0, pr.tbase + pr.real_tasks + c,
           pr.abase + 2 * pr.real_tasks + c, (c * 7 + 3) %% pr.pool_n,
           pr.gold_ids[1 + c %% array_length(pr.gold_ids, 1)],
           %(start)s + make_interval(secs => c * %(span)s / pr.controls)
    FROM proj pr CROSS JOIN LATERAL generate_series(0, pr.controls - 1) c
    UNION ALL
    SELECT pr.p, pr.project_id, 'pending', q, 0, pr.tbase + pr.real_tasks + pr.controls + q,
           pr.abase + 2 * pr.real_tasks + pr.controls + q, (q * 11 + 5) %% pr.pool_n, NULL,
           %(start)s + make_interval(secs => q * %(span)s / GREATEST(pr.pending, 1))
    FROM proj pr CROSS JOIN LATERAL generate_series(0, pr.pending - 1) q
)
SELECT w.*, pp.labeler_id, pp.idx AS lidx,
       20 + (w.assignment_id * 37) %% 100 AS seconds,
       w.earned_at - make_interval(mins => 1 + (w.assignment_id %% 120)::int) AS submitted_at,
       CASE WHEN w.what = 'control'
            THEN (w.t * 31 + pp.idx * 17) %% 100 < 60 + pp.idx %% 40
            ELSE (w.t * 7 + w.k * 13 + pp.idx * 3) %% 100 < 85 END AS ok,
       w.what = 'real' AND w.t %% {review_every} = 0 AS reviewed
FROM work w JOIN pool_p pp ON pp.p = w.p AND pp.j = w.j
"""

WRITE = (
    (
        "tasks",
        """
INSERT INTO assignments_task
    (id, external_id, payload, source, complexity, priority, state, target, submitted, is_open,
     created_at, batch_id, gold_item_id, project_id, decided_at, decided_by, final_answer)
SELECT task_id, '',
       jsonb_build_object('image_url',
           'https://img.example.test/' || lpad(task_id::text, 8, '0') || '.jpg'),
       'bench', '', 0,
       CASE what WHEN 'pending' THEN 'open' WHEN 'control' THEN 'complete'
            ELSE CASE WHEN reviewed THEN 'resolved' ELSE 'complete' END END,
       CASE what WHEN 'control' THEN 1 ELSE 2 END,
       CASE what WHEN 'real' THEN 2 ELSE 1 END,
       what = 'pending', %(start)s - interval '40 days', NULL, gold_item_id, project_id,
       CASE WHEN what = 'real' THEN earned_at END,
       CASE WHEN what <> 'real' THEN '' WHEN reviewed THEN 'review' ELSE 'consensus' END,
       CASE WHEN what = 'real' THEN '"ok"'::jsonb END
FROM bench_plan WHERE k = 0
""",
    ),
    (
        "assignments",
        """
INSERT INTO assignments_assignment
    (id, is_control, status, leased_at, expires_at, submitted_at, answer, active_seconds,
     labeler_id, project_id, task_id)
SELECT assignment_id, what = 'control', 'submitted',
       submitted_at - make_interval(secs => seconds + 5),
       submitted_at - make_interval(secs => seconds + 5) + interval '10 minutes',
       submitted_at, CASE WHEN ok THEN '"ok"'::jsonb ELSE '"crack"'::jsonb END, seconds,
       labeler_id, project_id, task_id
FROM bench_plan
""",
    ),
    (
        "label outcomes",
        """
INSERT INTO qc_labeloutcome
    (project_id, task_id, assignment_id, answer, answer_class, final_class, agrees_final, peers,
     peers_agreeing, decided_by, submitted_at, decided_at, active_seconds, labeler_id)
SELECT project_id, task_id, assignment_id,
       CASE WHEN ok THEN '"ok"'::jsonb ELSE '"crack"'::jsonb END,
       CASE WHEN ok THEN 'ok' ELSE 'crack' END, 'ok', ok, 1, CASE WHEN ok THEN 1 ELSE 0 END,
       CASE WHEN reviewed THEN 'review' ELSE 'consensus' END, submitted_at, earned_at, seconds,
       labeler_id
FROM bench_plan WHERE what = 'real'
""",
    ),
    (
        "gold checks",
        """
INSERT INTO qc_goldcheck
    (project_id, assignment_id, answer, correct, expected_class, answer_class, counted,
     checked_at, contest, contest_note, contested_at, gold_item_id, labeler_id)
SELECT project_id, assignment_id, CASE WHEN ok THEN '"ok"'::jsonb ELSE '"crack"'::jsonb END,
       ok, 'ok', CASE WHEN ok THEN 'ok' ELSE 'crack' END, t %% 20 <> 0, earned_at, '', '', NULL,
       gold_item_id, labeler_id
FROM bench_plan WHERE what = 'control'
""",
    ),
    (
        "reviews",
        """
INSERT INTO assignments_review
    (kind, status, leased_at, expires_at, resolved_at, answer, note, question, audit_week,
     for_ops, decided_task, created_at, assignment_id, gold_item_id, project_id, reviewer_id,
     task_id)
SELECT 'disagreement', 'resolved', earned_at - interval '3 minutes',
       earned_at + interval '7 minutes', earned_at, '"ok"'::jsonb, '', '', NULL, FALSE, TRUE,
       earned_at - interval '1 hour', NULL, NULL, project_id,
       (SELECT s.id FROM bench_seniors s WHERE s.n = (t / {review_every}) %% (SELECT COUNT(*)
        FROM bench_seniors)), task_id
FROM bench_plan WHERE reviewed AND k = 0
""",
    ),
)


def write_work(seeded: dict, args) -> dict:
    """The decided work, in bulk with SQL; returns the seconds each part took and its rows."""
    from django.db import connection, transaction

    per = args.assignments // args.projects
    sizes = [per + (1 if p < args.assignments % args.projects else 0) for p in range(args.projects)]
    pending = args.pending // args.projects
    rows, tbase, abase = [], 1, 1
    for p, (project_id, n) in enumerate(zip(seeded["projects"], sizes, strict=True)):
        real_tasks = (n - n // 10) // 2
        controls = n - 2 * real_tasks
        rows.append((p, project_id, tbase, abase, real_tasks, controls, pending,
                     seeded["gold_ids"][p]))  # fmt: skip
        tbase += real_tasks + controls + pending
        abase += 2 * real_tasks + controls + pending
    params = {
        "projects": args.projects,
        "start": START,
        "span": (END_AT - START).total_seconds() - 1,
    }
    took = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_proj (p int, project_id bigint, tbase bigint, "
            "abase bigint, real_tasks int, controls int, pending int, gold_ids bigint[])"
        )
        cursor.executemany("INSERT INTO bench_proj VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_seniors AS SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1"
            " AS n FROM workforce_labeler WHERE kind = 'internal' AND seniority = 'senior'"
        )
        started = time.perf_counter()
        cursor.execute(PLAN.format(review_every=REVIEW_EVERY), params)
        took["plan"] = (time.perf_counter() - started, cursor.rowcount)
        for name, sql in WRITE:
            started = time.perf_counter()
            cursor.execute(sql.format(review_every=REVIEW_EVERY), params)
            took[name] = (time.perf_counter() - started, cursor.rowcount)
            print(f"  {name}: {cursor.rowcount:,} rows in {took[name][0]:.1f}s", flush=True)
        for table in ("assignments_task", "assignments_assignment"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        cursor.execute("DROP TABLE bench_plan, bench_proj, bench_seniors")
    return took


# -- measuring --------------------------------------------------------------------------------

STEPS = (  # (pattern, step), first match wins: what each statement of the calculation does
    (r"^\s*ANALYZE pay_", "statistics of the temporary tables (ANALYZE)"),
    (
        r"^\s*ANALYZE |pg_stat_user_tables|pg_try_advisory_xact_lock",
        "statistics of the read tables (ANALYZE, stale only)",
    ),
    (r"CREATE TEMP TABLE pay_desired", "desired items (CREATE TEMP TABLE … AS SELECT)"),
    (r"CREATE TEMP TABLE pay_groups", "lines-to-be (GROUP BY into a temp table)"),
    (r"CREATE TEMP TABLE pay_lines", "line map table"),
    (r"INSERT INTO pay_lines", "line map rows (executemany)"),
    (r"EXCEPT", "unchanged? (desired EXCEPT stored)"),
    (r"SELECT COUNT\(\*\) FROM \(", "unchanged? (stored item count)"),
    (r"FROM pay_groups ORDER BY g", "read lines-to-be"),
    (r"DELETE FROM payments_paiditem", "delete items"),
    (r"DELETE FROM payments_ledgerline", "delete lines"),
    (r'INSERT INTO "payments_ledgerline"', "insert lines (bulk_create)"),
    (r"INSERT INTO payments_paiditem", "insert items (INSERT … SELECT)"),
    (r'FROM "payments_ledgerline"', "read lines (bonus, fees, ledger hash)"),
    (r'FROM "qc_goldcheck"', "gold checks per labeler (bonus)"),
    (r"DROP TABLE IF EXISTS", "drop temp tables"),
)
TEMP_STATS_STEP, READ_STATS_STEP = STEPS[0][1], STEPS[1][1]
DESIRED_STEP = STEPS[2][1]
COMMIT_STEP = "commits (deferred foreign-key checks)"
READ_ANALYZE = re.compile(r"^\s*ANALYZE (?!pay_)(.+)$", re.S)


class StatementTimer:
    """Times every statement Django sends (``connection.execute_wrapper``), by step and batch,
    and every commit (``commit``); notes the tables the read-table ANALYZE names."""

    def __init__(self):
        self.by_step: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.batch: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.statements = 0
        self.analyzed: list[str] = []
        self.statistics_done = 0.0  # when the last statement on the read tables' statistics ended

    def add(self, step: str, seconds: float) -> None:
        for bucket in (self.by_step, self.batch):
            bucket[step][0] += seconds
            bucket[step][1] += 1

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            step = next((name for pattern, name in STEPS if re.search(pattern, sql)), "other")
            self.add(step, seconds)
            self.statements += 1
            if step == READ_STATS_STEP:  # before the first batch: not counted in it
                self.statistics_done = time.perf_counter()
                self.batch.clear()
                if match := READ_ANALYZE.match(sql):
                    self.analyzed += [t.strip() for t in match.group(1).split(",")]

    def commit(self, commit):
        """Wrap the connection's ``_commit``: the deferred foreign keys are checked there,
        outside any statement."""

        def timed():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.add(COMMIT_STEP, time.perf_counter() - started)

        return timed


def statistics() -> dict[str, str]:
    """When each table the calculation reads (``calculate.READ_TABLES``) was last analyzed, and
    how many of its rows changed since."""
    from django.db import connection

    from payments.services import calculate as engine

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_autoanalyze, last_analyze, n_mod_since_analyze, n_live_tup "
            "FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname",
            [list(engine.READ_TABLES)],
        )
        rows = cursor.fetchall()
    out = {}
    for name, auto, manual, mods, live in rows:
        when = max((t for t in (auto, manual) if t), default=None)
        out[name] = {
            "analyzed": f"{when:%H:%M:%S}" if when else None,
            "by": ("autovacuum" if when == auto else "ANALYZE") if when else "",
            "changed": mods,
            "rows": live,
        }
    return out


def calculate(seeded: dict, label: str, timeout: int) -> dict:
    """One calculation as ops starts it: queued, run by the Celery task (eager here). A
    statement running longer than ``timeout`` seconds is cancelled (``statement_timeout``, a
    safety net): the calculation then fails and the result says so."""
    from django.db import DEFAULT_DB_ALIAS, connection, connections

    from payments.ledger import ledger_hash
    from payments.models import Calculation, PayPeriod
    from payments.services import calculate as engine

    timer = StatementTimer()
    batches = []
    last = [0.0]

    def after_batch(calculation, project_id):
        now = time.perf_counter()
        # The first batch is timed from the end of the read tables' statistics, not the call.
        since = last[0] if batches else max(last[0], timer.statistics_done)
        slowest = sorted(timer.batch.items(), key=lambda kv: -kv[1][0])[:3]
        batches.append((project_id, now - since, {k: v[0] for k, v in timer.batch.items()}))
        print(
            f"  {label} batch {calculation.batches_done}/{calculation.batches_total} "
            f"(project {project_id}): {now - since:.2f}s; "
            + ", ".join(f"{name} {s:.2f}s" for name, (s, _) in slowest),
            flush=True,
        )
        timer.batch.clear()
        last[0] = now

    before = statistics()
    engine.after_batch = after_batch
    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper._commit = timer.commit(wrapper._commit)
    try:
        started = last[0] = time.perf_counter()
        with connection.execute_wrapper(timer):
            try:
                engine.calculation_queue(actor=seeded["ops"], period_id=seeded["period"])
            except Exception as exc:  # the eager task's retry of a cancelled statement
                print(f"  {label}: {type(exc).__name__}: {exc}", flush=True)
        seconds = time.perf_counter() - started
    finally:
        engine.after_batch = lambda calculation, project_id: None
        del wrapper._commit
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    calculation = Calculation.objects.filter(period_id=seeded["period"]).latest("id")
    period = PayPeriod.objects.get(pk=seeded["period"])
    sql_seconds = sum(s for s, _ in timer.by_step.values())
    result = {
        "seconds": seconds,
        "sql_seconds": sql_seconds,
        "statements": timer.statements,
        "steps": dict(timer.by_step),
        "batches": batches,
        "batches_total": calculation.batches_total,
        "lines": calculation.lines,
        "items": calculation.items,
        "hash": period.ledger_hash,
        "statistics": before,
        "analyzed": timer.analyzed,
        "done": calculation.status == Calculation.Status.DONE,
        "error": calculation.error,
    }
    read_stats = timer.by_step.get(READ_STATS_STEP, [0.0, 0])[0]
    print(
        f"{label}: tables analyzed first: {', '.join(timer.analyzed) or 'none'} "
        f"({read_stats:.1f}s)",
        flush=True,
    )
    if not result["done"]:
        slow = sorted(timer.batch.items(), key=lambda kv: -kv[1][0])[:1]
        result["stuck"] = slow[0][0] if slow else "?"
        print(f"{label}: stopped after {seconds:.1f}s: {calculation.error}", flush=True)
        return result
    hash_started = time.perf_counter()
    assert ledger_hash(period.pk) == period.ledger_hash == calculation.ledger_hash
    result["hash_seconds"] = time.perf_counter() - hash_started
    print(
        f"{label}: {seconds:.1f}s (SQL and commits {sql_seconds:.1f}s, {timer.statements} "
        f"statements), {calculation.lines:,} lines and {calculation.items:,} items written, "
        f"hash {period.ledger_hash[:16]}…",
        flush=True,
    )
    return result


def server_setting(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def ledger_counts(period_id: int) -> dict:
    from django.db.models import Count, Sum

    from payments.models import LedgerLine, PaidItem

    by_kind = dict(
        LedgerLine.objects.filter(period_id=period_id)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    totals = {
        row["currency"]: row["total"]
        for row in LedgerLine.objects.filter(period_id=period_id)
        .values("currency")
        .annotate(total=Sum("amount"))
    }
    items = PaidItem.objects.filter(period_id=period_id).count()
    return {"lines_by_kind": by_kind, "totals": totals, "items": items}


def read_queries(seeded: dict) -> dict:
    """Queries of the vendor statement and invoice reads for the vendor of
    ``--vendor-labelers`` labelers, as its manager. A manager sees approved periods only, so
    the period is approved first (``period_approve``, which issues the invoices); what has not
    landed is said instead of a figure."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments.models import Invoice, PayPeriod

    vendor, manager = seeded["vendors"][0], seeded["managers"][0]
    try:
        from payments.selectors import invoices, statements
        from payments.services import periods
    except ImportError as exc:
        return {"statements": str(exc), "invoice": str(exc)}
    period = PayPeriod.objects.get(pk=seeded["period"])
    started = time.perf_counter()
    periods.period_approve(
        actor=seeded["ops"], period_id=period.pk, reason="bench", expected_hash=period.ledger_hash
    )
    out = {"approve_s": time.perf_counter() - started}
    with CaptureQueriesContext(connection) as captured:
        statements.vendor_statements_for(actor=manager, vendor_id=vendor.pk, period_id=period.pk)
    out["statements"] = len(captured)
    invoice = Invoice.objects.get(vendor=vendor, period_id=period.pk)
    with CaptureQueriesContext(connection) as captured:
        invoices.invoice_get_for(actor=manager, vendor_id=vendor.pk, invoice_id=invoice.pk)
    out["invoice"] = len(captured)
    return out


def explain_slowest(seeded: dict, result: dict) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the desired items of the project whose batch took longest,
    run in a transaction that is rolled back."""
    from django.db import connection, transaction

    from payments.models import PayPeriod
    from payments.services import calculate as engine

    project_id = max(result["batches"], key=lambda b: b[1])[0]
    period = PayPeriod.objects.get(pk=seeded["period"])
    params = {
        "project": project_id,
        "period": period.pk,
        "start": period.starts_at,
        "end": period.ends_at,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pay_desired")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + engine.DESIRED, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return f"project {project_id}\n{plan}"


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assignments", type=int, default=1_000_000, help="decided assignments")
    ap.add_argument("--labelers", type=int, default=10_000)
    ap.add_argument("--projects", type=int, default=20)
    ap.add_argument(
        "--vendor-labelers",
        type=int,
        default=2000,
        help="labelers of the first vendor (EUR), whose statements and invoice are read",
    )
    ap.add_argument(
        "--pending",
        type=int,
        default=None,
        help="submitted assignments not yet decided (default 2%% of --assignments)",
    )
    ap.add_argument("--database", default="lf_bench_pay")
    ap.add_argument(
        "--statement-timeout",
        type=int,
        default=600,
        help="seconds a statement of a calculation may run (a safety net)",
    )
    ap.add_argument("--explain", action="store_true", help="print the slowest batch's plan")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--no-write", action="store_true", help="print only; BENCHMARKS.md untouched")
    ap.add_argument("--output", type=Path, default=None, help="default: BENCHMARKS.md")
    args = ap.parse_args()
    if args.pending is None:
        args.pending = args.assignments // 50
    if "bench" not in args.database:
        ap.error("--database must contain 'bench': it is dropped and re-created")
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    db = args.database
    load.psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    load.psql(base, f"CREATE DATABASE {db}")
    env = load.env_for(f"{base}/{db}", "eager")
    subprocess.run([load.PY, "manage.py", "migrate", "-v", "0"], cwd=load.ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()

    started = time.perf_counter()
    seeded = seed(args)
    seed_s = time.perf_counter() - started
    print(f"seeded {args.labelers:,} labelers, {args.projects} projects in {seed_s:.1f}s")
    started = time.perf_counter()
    took = write_work(seeded, args)
    work_s = time.perf_counter() - started
    print(f"decided work written in {work_s:.1f}s", flush=True)

    autovacuum = server_setting("autovacuum")
    print(f"autovacuum {autovacuum}; no ANALYZE by hand", flush=True)
    # As loaded: the product analyzes what it finds stale itself, inside the calculation.
    first = calculate(seeded, "calculate", timeout=args.statement_timeout)
    counts = ledger_counts(seeded["period"])
    second = calculate(seeded, "recalculate", timeout=args.statement_timeout)
    plan = explain_slowest(seeded, second) if args.explain else ""
    if plan:
        print(plan)
    queries = read_queries(seeded) if first["done"] and second["done"] else {}
    print("reads:", queries, flush=True)
    results = {
        "seed_s": seed_s,
        "work_s": work_s,
        "took": took,
        "autovacuum": autovacuum,
        "first": first,
        "second": second,
        "counts": counts,
        "queries": queries,
        "seeded": {k: seeded[k] for k in ("sizes", "rates_by", "period_by")},
    }
    if not args.no_write:
        write(results, args)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        load.psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _steps_table(first: dict, second: dict) -> list[str]:
    names = sorted(set(first["steps"]) | set(second["steps"]), key=lambda n: -first["steps"].get(
        n, [0])[0])  # fmt: skip
    lines = [
        "| step (SQL statements; commits) | calculate: s (statements) "
        "| recalculate: s (statements) |",
        "|---|---:|---:|",
    ]
    for name in names:
        cells = []
        for run in (first, second):
            s, n = run["steps"].get(name, [0.0, 0])
            cells.append(f"{s:.2f} ({n})" if n else "—")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    for run_name, run in (("calculate", first), ("recalculate", second)):
        python = run["seconds"] - run["sql_seconds"]
        lines.append(f"| outside SQL and commits ({run_name}: Python, fetches) | "
                     + (f"{python:.2f} | |" if run is first else f"| {python:.2f} |"))  # fmt: skip
    return lines


def _statistics_text(name: str, run: dict) -> str:
    """Which of the tables the calculation reads had statistics when it started, how much of
    each changed since, and what the calculation analyzed first (the product's own ANALYZE of
    the stale ones) and in its batches (the temporary tables)."""
    stats = run["statistics"]
    never = [t for t, v in stats.items() if not v["analyzed"]]
    had = {t: v for t, v in stats.items() if v["analyzed"]}
    when = sorted({f"by {v['by']} at {v['analyzed']} UTC" for v in had.values()})
    changed = [f"{t} {v['changed']:,} of {v['rows']:,}" for t, v in had.items() if v["changed"]]
    if not had:
        out = f"When the {name} started, none of the tables it reads had statistics."
    else:
        since = ", ".join(changed) if changed else "none"
        if changed and len(changed) < len(had):
            since += ", none in the others"
        who = (
            f"{', '.join(never)} had never been analyzed and the others"
            if never
            else "all the tables it reads"
        )
        out = (
            f"When the {name} started, {who} had statistics ({'; '.join(when)}); rows changed "
            f"since: {since}."
        )
    seconds, _ = run["steps"].get(READ_STATS_STEP, [0.0, 0])
    if run["analyzed"]:
        out += (
            f" It analyzed {', '.join(run['analyzed'])} first ({seconds:.1f} s, the stale "
            "check included)."
        )
    else:
        out += f" It found none stale and analyzed nothing ({seconds:.2f} s to check)."
    temp_s, temp_n = run["steps"].get(TEMP_STATS_STEP, [0.0, 0])
    if temp_n:
        out += f" Its temporary tables were analyzed in {temp_n} batches ({temp_s:.1f} s)."
    else:
        out += " No batch's items changed, so no temporary tables were analyzed."
    return out


def _figure(run: dict, target: int, args) -> str:
    if not run["done"]:
        return (
            f"stopped after {run['seconds']:.0f} s in batch {len(run['batches']) + 1} of "
            f"{run['batches_total']} (`statement_timeout` {args.statement_timeout} s: "
            f"{run['error']}) | ≤ {target} s: **over target**"
        )
    verdict = "within target" if run["seconds"] <= target else "**over target**"
    return f"{run['seconds']:.1f} s | ≤ {target} s: {verdict}"


def _over_target(first: dict, second: dict) -> list[str]:
    """A sentence per figure over its target naming the step that took most of it."""
    out = []
    for name, run, target in (("calculating", first, 60), ("recalculating", second, 10)):
        if not run["steps"] or (run["done"] and run["seconds"] <= target):
            continue
        step, (seconds, _) = max(run["steps"].items(), key=lambda kv: kv[1][0])
        took = f"took {run['seconds']:.1f} s" if run["done"] else "was stopped"
        out.append(
            f"Over target: {name} {took} against {target} s; its largest step was {step}, "
            f"{seconds:.1f} s."
        )
    return ["", " ".join(out)] if out else []


def write(results: dict, args) -> None:
    from payments.services import calculate as engine

    first, second, counts = results["first"], results["second"], results["counts"]
    sizes = results["seeded"]["sizes"]
    queries = results["queries"]
    cmd = (
        f"`.venv/bin/python bench/payments_calculate.py --assignments {args.assignments} "
        f"--labelers {args.labelers} --projects {args.projects} "
        f"--vendor-labelers {args.vendor_labelers} --pending {args.pending} "
        f"--statement-timeout {args.statement_timeout} --database {args.database}`"
    )

    def query_cell(value):
        if isinstance(value, int):
            verdict = "within target" if value <= 10 else "**over target**"
            return f"{value} ({verdict})"
        return f"not measured: {value or 'a calculation did not finish'}"

    hashes = (
        f"{'yes' if first['hash'] == second['hash'] else '**no**'} (`{first['hash'][:16]}…`)"
        if first["done"] and second["done"]
        else "not compared (a calculation did not finish)"
    )
    stopped = not (first["done"] and second["done"])
    slowest = max(first["batches"], key=lambda b: b[1]) if first["batches"] else None
    lines = [
        BEGIN,
        "## Pay period calculation (PostgreSQL)",
        "",
        f"Command: {cmd}",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other work during the run; PostgreSQL on the "
        "same machine. A fresh database, migrated. Through the services: an operations "
        "manager, three vendors with a manager each, "
        f"{args.projects} projects with a control gold set of {GOLD_ITEMS} items each. "
        f"Rates, policies, bonus tiers, contracts: {results['seeded']['rates_by']}; the period "
        f"(November 2026, UTC, monthly): {results['seeded']['period_by']}. "
        f"{args.labelers:,} labelers ({sizes[0]:,} Northwind (EUR contract), {sizes[1]:,} "
        f"Kestrel (INR), {sizes[2]:,} Meridian (USD), {sizes[3]:,} internal staff, one in "
        f"{SENIOR_SHARE} senior) were written in bulk with the ORM as labeler_create and "
        "labeler_activate leave them (the services take about 26 ms a labeler). Rates: a "
        "project rate per accepted label (USD), a review rate (USD), vendor overrides (EUR and "
        "INR per accepted label, USD per submitted label), internal staff per active hour on "
        "every other project; rejected labels paid at 25% on those projects, 0 on the others; "
        "two bonus tiers per project; vendor fees by percent and per label.",
        "",
        "The decided work is what months of labeling leave, written in bulk with SQL "
        "(INSERT … SELECT generate_series), not through next-task and submit: "
        f"{args.assignments:,} decided assignments earned in the period (real tasks of "
        "overlap 2 with a qc label outcome per label, about 10% control tasks with a gold "
        f"check each, one real task in {REVIEW_EVERY} decided by a resolved disagreement "
        f"review) and {args.pending:,} submitted but undecided (pending); every assignment "
        f"has active seconds. Written in {results['work_s']:.0f} s.",
        "",
        "No maintenance step by hand that the product does not run itself: no ANALYZE by "
        f"hand at any point, on a server running with autovacuum {results['autovacuum']}, so "
        "the load leaves the tables without statistics. The product analyzes them itself: "
        "`period_calculate` first runs ANALYZE on those of the tables it reads ("
        + ", ".join(engine.READ_TABLES)
        + ") whose statistics are stale (never analyzed, or more rows changed since than "
        "autovacuum's default threshold, 50 + 10 % of the table), and each project batch "
        "whose items change runs ANALYZE on its temporary tables (pay_desired, pay_groups, "
        "pay_lines) before inserting the items. Each calculation is started as ops starts it "
        "(`calculation_queue`, the Celery task run eagerly in the bench process, which calls "
        "`period_calculate`), timed from the call to its return, with a safety "
        f"`statement_timeout` of {args.statement_timeout} s "
        + ("(reached: see below)." if stopped else "(not reached)."),
        "",
        _statistics_text("calculation", first) + " " + _statistics_text("recalculation", second),
        "",
        "| measure | figure | target |",
        "|---|---:|---|",
        f"| calculate the period, as loaded | {_figure(first, 60, args)} |",
        f"| recalculate it unchanged | {_figure(second, 10, args)} |",
        f"| same ledger hash | {hashes} | equal |",
        f"| rows written by calculate: lines / items | {first['lines']:,} / {first['items']:,} | |",
        f"| rows written by recalculate: lines / items | {second['lines']:,} / "
        f"{second['items']:,} | |",
        f"| queries: vendor statements, as its manager ({sizes[0]:,} labelers) | "
        f"{query_cell(queries.get('statements'))} | ≤ 10 |",
        f"| queries: the vendor's invoice, as its manager | "
        f"{query_cell(queries.get('invoice'))} | ≤ 10 |",
        "",
        "Lines by kind: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(counts["lines_by_kind"].items()))
        + f"; paid items {counts['items']:,}; totals "
        + ", ".join(f"{c} {t}" for c, t in sorted(counts["totals"].items()))
        + (
            f". The period was then approved (`period_approve`, invoices issued: "
            f"{queries['approve_s']:.1f} s) so that the vendor's manager may read it."
            if "approve_s" in queries
            else "."
        ),
        "",
        "Where the time goes (every statement the calculation sent, timed in the bench process "
        "and grouped by what it does, and every commit, where PostgreSQL checks the deferred "
        "foreign keys; one batch per project"
        + (
            f", the slowest batch {slowest[1]:.1f} s (from the end of the read tables' "
            "statistics for the first)"
            if slowest
            else ""
        )
        + (
            f"; ledger_hash alone took {first['hash_seconds']:.1f} s"
            if "hash_seconds" in first
            else ""
        )
        + "):",
        "",
        *_steps_table(first, second),
        *_over_target(first, second),
        END,
    ]
    load.write_section(BEGIN, END, lines, args.output)


if __name__ == "__main__":
    main()
