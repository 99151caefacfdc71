"""Labels the model believes: the public crowdsourcing data sets replayed through the
application's own services on PostgreSQL, with the live decision policy, and scored on what the
export delivers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labelforce_bench_real \\
    CROWDKIT_PYTHON=/path/to/a/venv/with/crowd-kit-1.4.2/bin/python \\
        .venv/bin/python bench/real_data_services.py [--write] [--datasets NAME ...]
        [--sample NAME=ITEMS ...] [--refit-every N] [--threshold T]
        [--sweep-refit N ...] [--sweep-threshold T ...] [--sweep-datasets NAME ...]
        [--seed N] [--datasets-dir DIR] [--output FILE] [--an-hour-later]

The database named by DATABASE_URL (default above) is DROPPED, re-created and migrated
(``manage.py migrate``); its name must contain ``bench``. With ``--an-hour-later`` it is kept:
on the projects an earlier run left there (same ``--datasets`` and ``--sample``), the hourly
refit's path runs once and the export is scored again. Celery runs eagerly
(CELERY_BROKER_URL is removed from the environment): each submission's follow-up
(``assignments.assignment_submitted``) runs right after its commit, as in the demo — the
consensus of a task it fills, and the label count that sends ``assignments.project_refit``
every ``refit_every`` labels, which refits the model and re-decides the tasks the new fit
changes.

Per data set (``bench/real_data.py`` loads the files):

1. one labeler per worker (``labeler_create`` + ``labeler_activate``, kind internal);
2. a single-choice project (``project_create``: classes = the label values in
   ``bench/real_data.py``'s order; consensus method weighted — majority until the first fit,
   then the fit's posterior; ``refit_every`` = N; ``confidence_threshold`` = T; overlap and
   max_overlap = the smallest recorded number of labels per item, so a disagreement goes to
   review: the files hold no further label to fill an extra slot), activated by
   ``project_set_status``; one task per item by ``tasks_import`` (JSONL, external_id = the
   item id, in the files' order); one set-based UPDATE sets each task's ``target`` to its
   recorded number of labels;
3. the labels in the order the claim fills tasks (by task id: every label of the first item,
   then of the second, ...). The claim cannot replay a given (item, worker) pair, so the
   leases of the recorded pairs are inserted in bulk (Assignment rows, status leased) in
   batches with at most one lease per labeler (a labeler holds one live lease per project: a
   database constraint), and every label is submitted through ``assignment_submit``;
4. the export: ``GET /api/v1/projects/{id}/export/?format=jsonl`` as an operations manager;
   its final answers are scored against gold. A task not in the export (in review, or a tie
   under the fit) is not delivered and counts as wrong in *accuracy of all items*.

Compared on exactly the labels submitted: crowd-kit 1.4.2's MajorityVote, DawidSkene and
OneCoinDawidSkene (run in the interpreter named by ``--crowdkit-python`` / CROWDKIT_PYTHON,
a subprocess; without it the full-file reference figures of ``bench/real_data.py`` are shown,
marked as such); Spearman's rho between the stored ``LabelerEstimate.accuracy`` and each
labeler's fraction correct on gold items (labelers with at least 10 gold items) against
crowd-kit's (the better of DS and one-coin DS on the same labels). ``bench/real_data.py``'s
file-level DS on the same labels is shown as a *model-only* figure: no export delivers it.

``--sweep-refit`` replays ``--sweep-datasets`` once per refit frequency (0: hourly only — no
counted refit; the hourly job is run once after the last label, and the export before it is
reported too) and reports refits, their time and the delivered accuracy at the end and during
the replay; ``--sweep-threshold`` does the same per confidence threshold (review share against
accuracy).

A labeler can answer a task once (a unique constraint), so a repeated (item, worker) pair —
adult has 2,922 — keeps its first label only. ``--sample NAME=ITEMS`` replays ITEMS items (all
their labels) of a data set instead of all of it: every gold item first, then others, each in a
seeded random order (trec and adult have gold on 12% and 3% of their items).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import real_data as rd  # noqa: E402
from qc.stats import spearman, wilson  # noqa: E402

BEGIN = "<!-- real-data-services:begin -->"
END = "<!-- real-data-services:end -->"
AFTER = rd.END  # a new section goes right after the file-level one
NAMES = rd.NAMES
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/labelforce_bench_real"
DEFAULT_SEED = 20250601
# The live policy the main figures use: refit after every REFIT_EVERY labels (the product's
# default, Project.refit_every), and the confidence threshold THRESHOLD (the product's default).
REFIT_EVERY = 1000
THRESHOLD = 0.0
# Items replayed per data set when not all (``--sample``). Empty: all nine in full.
DEFAULT_SAMPLE: dict[str, int] = {}
# Points of the replay (shares of its labels) at which the delivered accuracy is read, for the
# accuracy *during* the replay (what an export taken then would have held).
CHECKPOINTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


# -- the data ----------------------------------------------------------------------------------


@dataclass
class Replay:
    """What is replayed: ``data`` holds exactly the labels submitted, coded as in
    ``bench/real_data.py``; ``item_names`` / ``worker_names`` are the ids in the files."""

    data: rd.Dataset
    item_names: list[str]
    worker_names: list[str]
    dropped_repeats: int  # repeated (item, worker) labels left out (only the first is given)
    sampled_from: int | None  # items in the file when a random subset was taken, else None


def _first_seen(root: Path, name: str) -> tuple[list[str], list[str]]:
    """Item and worker ids in the order ``rd.load`` codes them (first appearance)."""
    items: dict[str, None] = {}
    workers: dict[str, None] = {}
    with (root / name / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            items.setdefault(row["item"], None)
            workers.setdefault(row["worker"], None)
    return list(items), list(workers)


def _recode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes in order of first appearance, the original value of each code)."""
    unique, first = np.unique(values, return_index=True)
    order = unique[np.argsort(first, kind="stable")]
    lookup = np.full(int(values.max()) + 1 if values.size else 0, -1, dtype=np.int64)
    lookup[order] = np.arange(order.size)
    return lookup[values], order


def prepare(
    root: Path, name: str, *, sample: int | None = None, seed: int = DEFAULT_SEED
) -> Replay:
    """Load a data set with ``rd.load``; keep ``sample`` of its items when given (every gold item
    first, then others, each in a seeded random order);
    keep the first label of each (item, worker) pair."""
    full = rd.load(root, name)
    item_names, worker_names = _first_seen(root, name)
    if len(item_names) != full.n_items or len(worker_names) != full.n_workers:
        raise RuntimeError(f"{name}: ids do not line up with bench/real_data.py's coding")
    keep = np.ones(full.labels.size, dtype=bool)
    sampled_from = None
    if sample is not None and sample < full.n_items:
        # Gold items first (trec and adult have gold on a few percent of their items only):
        # a seeded random order of the gold items, then of the others, cut at ``sample``.
        rng = np.random.default_rng(seed)
        is_gold = np.zeros(full.n_items, dtype=bool)
        is_gold[full.gold_items] = True
        order = np.concatenate(
            [rng.permutation(np.flatnonzero(is_gold)), rng.permutation(np.flatnonzero(~is_gold))]
        )
        chosen = np.zeros(full.n_items, dtype=bool)
        chosen[order[:sample]] = True
        keep &= chosen[full.items]
        sampled_from = full.n_items
    pair = full.items.astype(np.int64) * full.n_workers + full.workers
    _, first = np.unique(pair, return_index=True)
    once = np.zeros(full.labels.size, dtype=bool)
    once[first] = True
    dropped = int((keep & ~once).sum())
    keep &= once
    items, item_old = _recode(full.items[keep])
    workers, worker_old = _recode(full.workers[keep])
    old_to_new = np.full(full.n_items, -1, dtype=np.int64)
    old_to_new[item_old] = np.arange(item_old.size)
    gold_new = old_to_new[full.gold_items]
    scored = gold_new >= 0
    order = np.argsort(gold_new[scored], kind="stable")
    data = rd.Dataset(
        name=name,
        items=items,
        workers=workers,
        labels=full.labels[keep],
        n_items=int(item_old.size),
        n_workers=int(worker_old.size),
        classes=full.classes,
        gold_items=gold_new[scored][order],
        gold_classes=full.gold_classes[scored][order],
    )
    return Replay(
        data=data,
        item_names=[item_names[i] for i in item_old],
        worker_names=[worker_names[w] for w in worker_old],
        dropped_repeats=dropped,
        sampled_from=sampled_from,
    )


# -- the replay through the services -------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The project's live decision policy in a replay."""

    refit_every: int = REFIT_EVERY  # Project.refit_every; 0 = hourly only
    threshold: float = THRESHOLD  # Project.confidence_threshold
    hourly_at_end: bool = False  # run the hourly refit once after the last label, then export

    @property
    def label(self) -> str:
        if self.refit_every:
            return f"{self.refit_every:,}"
        return "hourly only, job run at the end" if self.hourly_at_end else "hourly only, no job"


@dataclass
class Delivered:
    """What an export delivered, scored on the gold items."""

    tasks: int  # tasks of the project
    exported: int  # tasks in the export
    by: dict[str, int]  # exported tasks per decided_by
    gold: int  # gold items replayed
    gold_exported: int
    gold_correct: int  # exported and right
    gold_correct_unreviewed: int  # exported, decided by consensus or the model, and right
    gold_unreviewed: int  # exported and decided by consensus or the model
    in_review: int  # tasks waiting in review (not delivered)
    waiting: int  # other tasks not delivered (a tie under the fit, a slot still open)

    @property
    def accuracy_all(self) -> float:  # undelivered items count as wrong
        return self.gold_correct / self.gold

    @property
    def accuracy_delivered(self) -> float:
        return self.gold_correct / self.gold_exported if self.gold_exported else 0.0

    @property
    def accuracy_unreviewed(self) -> float:
        return self.gold_correct_unreviewed / self.gold_unreviewed if self.gold_unreviewed else 0.0

    @property
    def share_delivered(self) -> float:
        return self.exported / self.tasks

    @property
    def share_review(self) -> float:
        return self.in_review / self.tasks


@dataclass
class Result:
    name: str
    policy: Policy
    labels: int
    items: int
    labelers: int
    overlap: int
    max_target: int
    min_target: int
    gold_scored: int
    dropped_repeats: int
    sampled_from: int | None
    submitted: int
    submit_errors: int
    delivered: Delivered  # the export after the replay (after the hourly job, if run)
    before_hourly: Delivered | None  # hourly only: the export before the job ran
    during: list[float]  # delivered accuracy (all gold items) at each checkpoint
    refits: int
    refit_seconds: float
    redecided: int  # decisions the refits changed (tasks out of review included)
    from_review: int  # tasks the refits took out of review
    fit_method: str
    rho: float | None  # stored LabelerEstimate.accuracy against gold fraction correct
    rho_labelers: int
    rho_missing: int  # labelers with enough gold but no stored estimate
    model_only_ds: float  # bench/real_data.py's DS auto on the same labels (model-only)
    crowdkit: dict[str, float]  # mv, ds, oc accuracies on the same labels (or the files)
    crowdkit_rho: float | None
    crowdkit_same_labels: bool
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def crowdkit_best(self) -> float:
        return max(self.crowdkit.values(), default=0.0)

    @property
    def mean_during(self) -> float:
        return float(np.mean(self.during)) if self.during else 0.0

    @property
    def submit_rate(self) -> float:
        return self.submitted / self.seconds["submit"] if self.seconds.get("submit") else 0.0


def _timer(seconds: dict[str, float], key: str) -> Callable[[], None]:
    started = time.perf_counter()

    def stop() -> None:
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started

    return stop


@dataclass
class _RefitLog:
    count: int = 0
    seconds: float = 0.0
    redecided: int = 0
    from_review: int = 0
    method: str = ""


@contextlib.contextmanager
def _refits_timed() -> Iterator[_RefitLog]:
    """Count and time every ``project_refit`` (the counted trigger reaches it through the
    module attribute): a measurement hook only, the call itself is unchanged."""
    from assignments.services import refits

    log = _RefitLog()
    original = refits.project_refit

    def timed(**kwargs):
        started = time.perf_counter()
        refit = original(**kwargs)
        log.seconds += time.perf_counter() - started
        log.count += 1
        log.redecided += getattr(refit, "redecided", 0)
        log.from_review += getattr(refit, "from_review", 0)
        if refit.summary is not None:
            log.method = refit.summary.method
        return refit

    refits.project_refit = timed
    try:
        yield log
    finally:
        refits.project_refit = original


def export_jsonl(project_id: int, user) -> list[dict]:
    """The project's export as the API returns it (JSONL), read as an operations manager."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    response = client.get(f"/api/v1/projects/{project_id}/export/?format=jsonl", secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"export: HTTP {response.status_code}")
    text = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in text.splitlines() if line]


def score_export(rows: list[dict], *, project_id: int, gold: dict[str, str]) -> Delivered:
    """Score exported rows on ``gold`` (external id -> class); the project's task states give
    what was not delivered."""
    from assignments.models import Task

    unreviewed = {Task.DecidedBy.CONSENSUS, Task.DecidedBy.MODEL}
    states = Counter(Task.objects.filter(project_id=project_id).values_list("state", flat=True))
    by = Counter(row["decided_by"] for row in rows)
    exported = gold_correct = correct_unreviewed = n_unreviewed = gold_exported = 0
    for row in rows:
        exported += 1
        truth = gold.get(row["task_external_id"])
        if truth is None:
            continue
        gold_exported += 1
        right = row["final_answer"] == truth
        gold_correct += right
        if row["decided_by"] in unreviewed:
            n_unreviewed += 1
            correct_unreviewed += right
    tasks = sum(states.values())
    in_review = states.get(Task.State.REVIEW, 0)
    return Delivered(
        tasks=tasks,
        exported=exported,
        by=dict(by),
        gold=len(gold),
        gold_exported=gold_exported,
        gold_correct=gold_correct,
        gold_correct_unreviewed=correct_unreviewed,
        gold_unreviewed=n_unreviewed,
        in_review=in_review,
        waiting=tasks - exported - in_review,
    )


def gold_answers(prepared: Replay) -> dict[str, str]:
    """External id -> gold class name, for the gold items replayed."""
    data = prepared.data
    return {
        prepared.item_names[i]: data.classes[c]
        for i, c in zip(data.gold_items.tolist(), data.gold_classes.tolist(), strict=True)
    }


def hourly_job_export(project_id: int, user, gold: dict[str, str]) -> Delivered:
    """Run the hourly refit's path for one project (``refits.project_refit_run``: the fit and
    the re-decision), then export and score again."""
    from assignments.services.refits import project_refit_run

    project_refit_run(project_id=project_id)
    return score_export(export_jsonl(project_id, user), project_id=project_id, gold=gold)


@dataclass
class Later:
    """A replayed project an hour later: after the hourly job, exported again."""

    name: str
    sampled: str
    before: Delivered
    after: Delivered
    refit_seconds: float
    redecided: int
    from_review: int
    crowdkit: dict[str, float]


def an_hour_later(prepared: Replay, *, slug: str, crowdkit_python: str | None = None) -> Later:
    """On the project ``slug`` an earlier ``replay`` left (same ``prepared``): the export as it
    stands, then the hourly job and the export again."""
    from django.contrib.auth import get_user_model

    from assignments.models import Project

    project = Project.objects.get(slug=slug)
    staff = get_user_model().objects.get(username=f"{slug}-ops")
    gold = gold_answers(prepared)
    before = score_export(export_jsonl(project.pk, staff), project_id=project.pk, gold=gold)
    with _refits_timed() as log:
        after = hourly_job_export(project.pk, staff, gold)
    reference = crowdkit_figures(
        prepared.data, crowdkit_python, sampled=prepared.sampled_from is not None
    )
    sampled = (
        f" ({prepared.data.n_items:,} of {prepared.sampled_from:,} items, gold first)"
        if prepared.sampled_from
        else ""
    )
    return Later(
        name=prepared.data.name,
        sampled=sampled,
        before=before,
        after=after,
        refit_seconds=log.seconds,
        redecided=log.redecided,
        from_review=log.from_review,
        crowdkit=reference.accuracy,
    )


def _gold_correct_now(project_id: int, gold_task_answer: dict[int, str]) -> int:
    """Gold tasks whose current final answer is right (what an export now would deliver)."""
    from assignments.models import Task

    rows = Task.objects.filter(project_id=project_id, pk__in=list(gold_task_answer)).exclude(
        decided_by=""
    )
    return sum(
        answer == gold_task_answer[pk] for pk, answer in rows.values_list("id", "final_answer")
    )


def _fill_order(data: rd.Dataset) -> list[list[int]]:
    """Label rows in the order the claim fills tasks (by task id, i.e. the files' item order),
    cut into batches with at most one label per labeler (one live lease per labeler)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    busy: set[int] = set()
    for row in np.argsort(data.items, kind="stable").tolist():
        w = int(data.workers[row])
        if w in busy:
            batches.append(batch)
            batch, busy = [], set()
        batch.append(row)
        busy.add(w)
    if batch:
        batches.append(batch)
    return batches


def replay(
    prepared: Replay,
    *,
    slug: str,
    policy: Policy | None = None,
    crowdkit_python: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Replay ``prepared`` through the services into a new project ``slug`` with ``policy``,
    export it through the API and score the export against gold. Needs a migrated database
    and Celery eager (each submission's follow-up runs after its commit). Writes only rows of
    the new project, its labelers and one staff user."""
    # Django is set up by the caller (main() or pytest-django): imported here, not at the top.
    from django.contrib.auth import get_user_model
    from django.db import connection

    from assignments.models import Assignment, Task
    from assignments.services import assignment_submit, project_create, project_set_status
    from assignments.services.imports import tasks_import
    from qc.models import LabelerEstimate
    from workforce.services import labeler_activate, labeler_create

    policy = policy or Policy()
    say = progress or (lambda _text: None)
    data = prepared.data
    seconds: dict[str, float] = {}

    # 1. labelers
    stop = _timer(seconds, "labelers")
    labelers = []
    for worker in prepared.worker_names:
        labeler = labeler_create(actor=None, username=f"{slug}-{worker}"[:150], kind="internal")
        labelers.append(labeler_activate(actor=None, labeler=labeler, reason="bench replay"))
    stop()

    # 2. project, tasks, targets
    stop = _timer(seconds, "project and tasks")
    per_item = np.bincount(data.items, minlength=data.n_items)
    overlap = int(Counter(per_item.tolist()).most_common(1)[0][0])
    smallest = int(per_item.min())
    project = project_create(
        actor=None,
        slug=slug,
        name=f"Replay of {data.name}",
        answer_type="single_choice",
        classes=list(data.classes),
        overlap=smallest,
        max_overlap=smallest,  # a disagreement goes to review: no label left for a slot
        require_guide_ack=False,
        consensus_method="weighted",
        confidence_threshold=policy.threshold,
        refit_every=policy.refit_every,
    )
    project = project_set_status(actor=None, project=project, status="active", reason="bench")
    lines = (
        json.dumps(
            {
                "external_id": item,
                "payload": {"image_url": f"items/{data.name}/{i}.jpg", "metadata": {"item": item}},
            }
        )
        for i, item in enumerate(prepared.item_names)
    )
    tasks_import(actor=None, project=project, data="\n".join(lines) + "\n", file_format="jsonl")
    t = Task._meta.db_table
    with connection.cursor() as cursor:
        # The recorded overlap varies per item: each task wants as many labels as it got.
        cursor.execute(
            f"""UPDATE {t} SET target = x.n FROM unnest(%s::text[], %s::int[]) AS x(ext, n)
                 WHERE {t}.project_id = %s AND {t}.external_id = x.ext""",
            [prepared.item_names, per_item.tolist(), project.pk],
        )
        updated = cursor.rowcount
    if updated != data.n_items:
        raise RuntimeError(f"{data.name}: {updated} targets set for {data.n_items} items")
    task_of = dict(Task.objects.filter(project_id=project.pk).values_list("external_id", "id"))
    task_ids = np.array([task_of[item] for item in prepared.item_names], dtype=np.int64)
    gold = gold_answers(prepared)
    gold_task_answer = {task_of[item]: answer for item, answer in gold.items()}
    stop()
    say(f"{len(labelers)} labelers, {data.n_items} tasks")

    # 3. the labels in fill order, leases in batches, each submitted through the service
    marks = [round(share * data.labels.size) for share in CHECKPOINTS]
    during: list[float] = []
    submitted = errors = 0
    started = time.perf_counter()
    with _refits_timed() as log:
        for batch in _fill_order(data):
            stop = _timer(seconds, "leases")
            now = dt.datetime.now(dt.UTC)
            leases = Assignment.objects.bulk_create(
                [
                    Assignment(
                        task_id=int(task_ids[data.items[row]]),
                        project_id=project.pk,
                        labeler_id=labelers[data.workers[row]].pk,
                        status=Assignment.Status.LEASED,
                        leased_at=now,
                        expires_at=now + dt.timedelta(seconds=project.lease_seconds),
                    )
                    for row in batch
                ]
            )
            stop()
            stop = _timer(seconds, "submit")
            for row, lease in zip(batch, leases, strict=True):
                try:
                    assignment_submit(
                        labeler=labelers[data.workers[row]],
                        assignment_id=lease.pk,
                        answer=data.classes[data.labels[row]],
                    )
                    submitted += 1
                except Exception as exc:  # counted and reported; the replay goes on
                    errors += 1
                    if errors <= 5:
                        say(f"submit failed: {exc!r}")
                    continue
                if marks and submitted == marks[0]:
                    marks.pop(0)
                    during.append(_gold_correct_now(project.pk, gold_task_answer) / len(gold))
            stop()
            if progress and submitted // 10_000 != (submitted - len(batch)) // 10_000:
                rate = submitted / (time.perf_counter() - started)
                say(f"{submitted:,} submitted, {rate:.0f}/s, {log.count} refits")
        stop = _timer(seconds, "export")
        staff = get_user_model().objects.create_user(username=f"{slug}-ops", is_staff=True)
        delivered = score_export(export_jsonl(project.pk, staff), project_id=project.pk, gold=gold)
        stop()
        before_hourly = None
        if policy.hourly_at_end:
            before_hourly = delivered
            delivered = hourly_job_export(project.pk, staff, gold)
    during.append(delivered.accuracy_all)
    seconds["refits"] = log.seconds
    say(
        f"{submitted:,} submitted ({errors} errors), {log.count} refits in {log.seconds:.1f} s; "
        f"delivered {delivered.share_delivered:.1%}, accuracy {delivered.accuracy_all:.4f}, "
        f"review {delivered.share_review:.1%}"
    )

    # 4. labeler estimates against gold; the references on the same labels
    estimate = dict(
        LabelerEstimate.objects.filter(project_id=project.pk).values_list("labeler_id", "accuracy")
    )
    chosen, fraction = rd.labeler_gold_accuracy(data)
    pairs = [
        (estimate[labelers[w].pk], f)
        for w, f in zip(chosen.tolist(), fraction.tolist(), strict=True)
        if labelers[w].pk in estimate
    ]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    stop = _timer(seconds, "references")
    model_only_ds = rd.evaluate(data, method="auto")[0]
    reference = crowdkit_figures(data, crowdkit_python, sampled=prepared.sampled_from is not None)
    stop()
    return Result(
        name=data.name,
        policy=policy,
        labels=int(data.labels.size),
        items=data.n_items,
        labelers=data.n_workers,
        overlap=overlap,
        max_target=int(per_item.max()),
        min_target=smallest,
        gold_scored=int(data.gold_items.size),
        dropped_repeats=prepared.dropped_repeats,
        sampled_from=prepared.sampled_from,
        submitted=submitted,
        submit_errors=errors,
        delivered=delivered,
        before_hourly=before_hourly,
        during=during,
        refits=log.count,
        refit_seconds=log.seconds,
        redecided=log.redecided,
        from_review=log.from_review,
        fit_method=log.method,
        rho=rho,
        rho_labelers=len(pairs),
        rho_missing=int(chosen.size) - len(pairs),
        model_only_ds=model_only_ds,
        crowdkit=reference.accuracy,
        crowdkit_rho=reference.rho,
        crowdkit_same_labels=reference.same_labels,
        seconds=seconds,
    )


# -- crowd-kit on the same labels ----------------------------------------------------------------


@dataclass
class Reference:
    accuracy: dict[str, float]  # mv, ds, oc
    rho: float | None  # the better of DS's and one-coin's
    same_labels: bool  # False: the stored full-file figures of bench/real_data.py


def crowdkit_figures(data: rd.Dataset, python: str | None, *, sampled: bool) -> Reference:
    """crowd-kit 1.4.2 on exactly ``data``'s labels (``bench/real_data.py``'s runner, in the
    interpreter ``python``), scored on its gold items; without an interpreter,
    ``bench/real_data.py``'s stored full-file figures (none for a sample)."""
    if python:
        out = rd.crowdkit_run(python, {data.name: rd.problem(data)}, repeat=1)
        figures = rd.crowdkit_figures(data, out)
    else:
        figures = {} if sampled else rd.CK.get(data.name, {})
    accuracy = {
        short: figures[model]
        for short, model in (("mv", "mv"), ("ds", "ds"), ("oc", "one_coin"))
        if figures.get(model) is not None
    }
    rhos = [r for r in (figures.get("rho_ds"), figures.get("rho_one_coin")) if r is not None]
    return Reference(accuracy=accuracy, rho=max(rhos, default=None), same_labels=bool(python))


# -- the database ------------------------------------------------------------------------------


def recreate_database(url: str) -> str:
    """Drop and re-create the database of ``url`` (its name must contain "bench")."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the benchmark database's name has 'bench'")
    admin = urlunsplit(parts._replace(path="/postgres"))
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)
    return name


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)  # eager Celery: the follow-up runs after each commit
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the export is read through the API
    import django

    django.setup()


# -- output ------------------------------------------------------------------------------------


def _pct_ci(successes: int, n: int) -> str:
    interval = wilson(successes, n)
    return f"{successes / n:.4f} [{interval.low:.3f}, {interval.high:.3f}]"


def _gap(ours: float, reference: float) -> str:
    gap = (ours - reference) * 100
    return f"yes ({gap:+.2f} pt)" if gap >= 0 else f"**no** ({gap:+.2f} pt)"


def write_section(path: Path, body: str) -> None:
    section = f"{BEGIN}\n{body.rstrip()}\n{END}"
    text = path.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    elif AFTER in text:
        head, tail = text.split(AFTER, 1)
        text = head + AFTER + "\n\n" + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def _name(r: Result) -> str:
    return (
        f"{r.name} ({r.items:,} of {r.sampled_from:,} items, gold first)"
        if r.sampled_from
        else r.name
    )


def render(
    results: Sequence[Result],
    *,
    refit_sweep: Sequence[Result] = (),
    threshold_sweep: Sequence[Result] = (),
    command: str,
    host: str,
    pg: str,
    total: float,
) -> str:
    out: list[str] = []
    emit = out.append
    today = dt.date.today().isoformat()
    policy = results[0].policy if results else Policy()
    repeats = [r for r in results if r.dropped_repeats]
    same = all(r.crowdkit_same_labels for r in results)
    emit("## Labels the model believes: the public data sets through the services")
    emit("")
    end_load = f", {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    emit(f"`{command}`, {today}, on {host}{end_load}; {pg}.")
    emit("")
    emit(
        "Every figure here is computed from **the labels the export returns** "
        "(`GET /api/v1/projects/{id}/export/?format=jsonl` as an operations manager) after each "
        "data set is replayed through the application with the live policy: a project "
        "deciding by the model (consensus method *weighted*: majority until the first fit, "
        f"then the fit's posterior), `refit_every` = {policy.refit_every:,}, confidence "
        f"threshold {policy.threshold:g}, Celery eager — each submission's follow-up decides "
        "the task it completes and counts the label; every "
        f"{policy.refit_every:,}th label sends the refit, which re-decides the tasks the new "
        "fit changes and takes out of review those it is confident of. No refit is added "
        "before the export and no senior reviews anything: a task in review is not delivered "
        "and counts as wrong in *accuracy of all items*. The only figure not from the export "
        "is marked *model-only*."
    )
    emit("")
    emit(
        "The replay, per data set on a freshly migrated database: `labeler_create` + "
        "`labeler_activate` per worker; `project_create` (single choice, classes = the label "
        "values; overlap and max_overlap = the smallest recorded number of labels per item, so "
        "a disagreement goes to review — the files hold no further label for an extra slot) "
        "and `project_set_status`; one task per item by `tasks_import` in the files' order, "
        "then one UPDATE sets each task's `target` to its recorded number of labels. The "
        "labels go in the order the claim fills tasks (by task id: all labels of the first "
        "item, then the second, ...), leases inserted in bulk in batches of at most one per "
        "labeler (the claim cannot replay a given pair), **every label submitted through "
        "`assignment_submit`**. Repeated (item, worker) pairs keep their first label ("
        + (", ".join(f"{r.name}: {r.dropped_repeats:,} left out" for r in repeats) or "none")
        + "). crowd-kit 1.4.2 (MajorityVote, DawidSkene, OneCoinDawidSkene at their defaults) "
        + (
            "runs on exactly the labels submitted, in a subprocess."
            if same
            else "figures are **the full files'** (no crowd-kit interpreter was given)."
        )
        + " Script: `bench/real_data_services.py` (loading from `bench/real_data.py`)."
    )
    emit("")
    emit("### Delivered labels against gold")
    emit("")
    emit(
        "Over the gold items replayed (*n*). *delivered*: share of all tasks in the export; "
        "*review*: share of all tasks waiting for a senior. *accuracy of all items*: exported "
        "and right over *n* (Wilson 95%); *of delivered*: over the gold items exported; "
        "*without a senior*: over those decided by consensus or the model (no senior acts in "
        "the replay, so the two agree unless a review decided). *by consensus / model*: how "
        "the exported tasks were last decided. *≥ best*: accuracy of all items against the "
        "best of crowd-kit's three. *model-only*: `bench/real_data.py`'s Dawid-Skene (auto) "
        "fitted on the same labels after the fact — what a final refit's posterior would say, "
        "not a delivered label."
    )
    emit("")
    emit(
        "| data set | n | overlap (mode; min to max) | delivered | review | accuracy of all "
        "items | of delivered | without a senior | by consensus / model | crowd-kit MV | DS | "
        "one-coin DS | ≥ best | model-only DS |"
    )
    emit("|---|---:|---|---:|---:|---|---:|---:|---|---:|---:|---:|---|---:|")
    for r in results:
        d, ck = r.delivered, r.crowdkit
        emit(
            f"| {_name(r)} | {r.gold_scored:,} | {r.overlap}; {r.min_target} to {r.max_target} | "
            f"{d.share_delivered:.1%} | {d.share_review:.2%} | "
            f"**{_pct_ci(d.gold_correct, d.gold)}** | {d.accuracy_delivered:.4f} | "
            f"{d.accuracy_unreviewed:.4f} | {d.by.get('consensus', 0):,} / "
            f"{d.by.get('model', 0):,} | {rd.fmt(ck.get('mv'))} | {rd.fmt(ck.get('ds'))} | "
            f"{rd.fmt(ck.get('oc'))} | {_gap(d.accuracy_all, r.crowdkit_best)} | "
            f"{r.model_only_ds:.4f} |"
        )
    emit("")
    emit("### Labeler accuracy: stored estimate against gold")
    emit("")
    emit(
        "Spearman's rho between `LabelerEstimate.accuracy` as the last refit stored it and each "
        f"labeler's fraction correct on gold items, over labelers with at least "
        f"{rd.MIN_GOLD_ITEMS} gold items (*missing*: such labelers without a stored estimate — "
        "their labels all came after the last refit); crowd-kit's is the better of DS's "
        "(prior-weighted diagonal of the confusion matrix) and one-coin DS's skill on the same "
        "labels."
    )
    emit("")
    emit("| data set | labelers | missing | fit | rho (stored) | crowd-kit | ≥ crowd-kit |")
    emit("|---|---:|---:|---|---:|---:|---|")
    for r in results:
        ref = r.crowdkit_rho
        verdict = (
            "—"
            if ref is None or r.rho is None
            else ("yes" if r.rho >= ref else f"**no** ({r.rho - ref:+.3f})")
        )
        emit(
            f"| {_name(r)} | {r.rho_labelers} | {r.rho_missing} | {r.fit_method or '—'} | "
            f"{rd.fmt(r.rho, 3)} | {rd.fmt(ref, 3)} | {verdict} |"
        )
    emit("")
    emit("### The replay's cost")
    emit("")
    emit(
        "*refits*: how many the submission follow-up's label count sent, their total time, and "
        "the decisions they changed (of which out of review). "
        "*submit s* includes the refits (they run inside the eager follow-up)."
    )
    emit("")
    emit(
        "| data set | labels | items | labelers | refits | refit s | re-decided (from "
        "review) | submit s | submits / s | export s | errors |"
    )
    emit("|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|")
    for r in results:
        s = r.seconds
        emit(
            f"| {_name(r)} | {r.submitted:,} | {r.items:,} | {r.labelers:,} | "
            f"{r.refits} | {r.refit_seconds:.1f} | {r.redecided:,} "
            f"({r.from_review:,}) | {s.get('submit', 0):.0f} | {r.submit_rate:.0f} | "
            f"{s.get('export', 0):.1f} | {r.submit_errors} |"
        )
    if refit_sweep:
        emit("")
        emit("### Refit frequency: cost against accuracy")
        emit("")
        emit(
            "The same replay per `refit_every` (threshold as above). *during*: the mean, over "
            "the points at 10%, 20%, ..., 90% and 100% of the labels, of the accuracy of all "
            "gold items an export taken then would deliver (items not complete yet count as "
            "wrong, so it is a relative figure: compare rows of one data set). *end*: the "
            "export after the last label. For hourly only the job runs once after the last "
            "label (*end*), shown beside the export before it."
        )
        emit("")
        emit(
            "| data set | refit_every | refits | refit s | refit s per 1,000 labels | submit s "
            "| during | end | review at end |"
        )
        emit("|---|---|---:|---:|---:|---:|---:|---|---:|")
        for r in refit_sweep:
            end = f"{r.delivered.accuracy_all:.4f}"
            if r.before_hourly is not None:
                end = f"{end} (before the job: {r.before_hourly.accuracy_all:.4f})"
            emit(
                f"| {_name(r)} | {r.policy.label} | {r.refits} | {r.refit_seconds:.1f} | "
                f"{r.refit_seconds / r.submitted * 1000:.2f} | "
                f"{r.seconds.get('submit', 0):.0f} | {r.mean_during:.4f} | {end} | "
                f"{r.delivered.share_review:.2%} |"
            )
    if threshold_sweep:
        emit("")
        emit("### Confidence threshold: review share against accuracy")
        emit("")
        emit(
            "The same replay per `confidence_threshold` (refit_every as above). A task whose "
            "posterior is below the threshold waits for a senior (*review*, not delivered); a "
            "refit takes it out of review when the new fit reaches the threshold."
        )
        emit("")
        emit(
            "| data set | threshold | delivered | review | accuracy of all items | of "
            "delivered | refits |"
        )
        emit("|---|---:|---:|---:|---|---:|---:|")
        for r in threshold_sweep:
            d = r.delivered
            emit(
                f"| {_name(r)} | {r.policy.threshold:g} | {d.share_delivered:.1%} | "
                f"{d.share_review:.2%} | {_pct_ci(d.gold_correct, d.gold)} | "
                f"{d.accuracy_delivered:.4f} | {r.refits} |"
            )
    emit("")
    emit("### Findings")
    emit("")
    for line in findings(results):
        emit(f"- {line}")
    emit("")
    emit(f"Run time: {total:.0f} s (migrations included).")
    return "\n".join(out)


LATER_BEGIN = "<!-- real-data-services-later:begin -->"
LATER_END = "<!-- real-data-services-later:end -->"


def render_later(rows: Sequence[Later], *, command: str) -> str:
    out = [
        "### An hour later: after the hourly job",
        "",
        f"`{command}`, {dt.date.today().isoformat()}: on the projects the run above left, "
        "the hourly refit's path (`refits.project_refit_run`: the fit on every label and the "
        "re-decision) once, then the export again. The tasks completed after the last counted "
        "refit were decided by a fit that had not seen their labels; this is what the same "
        "export holds once the hourly job has run.",
        "",
        "| data set | accuracy of all items: after the replay | an hour later | delivered | "
        "review | re-decided (from review) | refit s | crowd-kit best | ≥ best |",
        "|---|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        best = max(r.crowdkit.values(), default=0.0)
        out.append(
            f"| {r.name}{r.sampled} | {r.before.accuracy_all:.4f} | "
            f"**{_pct_ci(r.after.gold_correct, r.after.gold)}** | "
            f"{r.after.share_delivered:.1%} | {r.after.share_review:.2%} | {r.redecided:,} "
            f"({r.from_review:,}) | {r.refit_seconds:.1f} | {best:.4f} | "
            f"{_gap(r.after.accuracy_all, best)} |"
        )
    return "\n".join(out)


def write_later(path: Path, body: str) -> None:
    """Put the an-hour-later block inside the section (before its end marker)."""
    text = path.read_text()
    block = f"{LATER_BEGIN}\n{body.rstrip()}\n{LATER_END}"
    if LATER_BEGIN in text and LATER_END in text:
        head, rest = text.split(LATER_BEGIN, 1)
        _, tail = rest.split(LATER_END, 1)
        text = head + block + tail
    else:
        head, tail = text.split(END, 1)
        text = head.rstrip() + "\n\n" + block + "\n" + END + tail
    path.write_text(text)


def findings(results: Sequence[Result]) -> list[str]:
    lines = []
    misses = [r for r in results if r.delivered.accuracy_all < r.crowdkit_best]
    lines.append(
        f"Exported-label accuracy (all items) is at least crowd-kit's best of MV, DS and "
        f"one-coin DS on {len(results) - len(misses)} of {len(results)} data sets"
        + (
            "; below on "
            + ", ".join(
                f"{r.name} ({r.delivered.accuracy_all:.4f} against {r.crowdkit_best:.4f}; "
                f"model-only {r.model_only_ds:.4f})"
                for r in misses
            )
            if misses
            else ""
        )
        + "."
    )
    high = [r for r in results if r.overlap >= 3]
    worst = max(high, key=lambda r: r.delivered.share_review, default=None)
    if worst is not None:
        lines.append(
            f"Review share at overlap ≥ 3: at most {worst.delivered.share_review:.2%} "
            f"({worst.name}); the goal is ≤ 5%."
        )
    with_ref = [r for r in results if r.crowdkit_rho is not None and r.rho is not None]
    rho_ok = [r for r in with_ref if r.rho >= r.crowdkit_rho]
    lines.append(
        f"Spearman: the stored estimates are at least crowd-kit's on {len(rho_ok)} of "
        f"{len(with_ref)} data sets with gold per labeler"
        + (
            "; below on "
            + ", ".join(
                f"{r.name} ({r.rho:.3f} against {r.crowdkit_rho:.3f})"
                for r in with_ref
                if r not in rho_ok
            )
            if len(rho_ok) < len(with_ref)
            else ""
        )
        + "."
    )
    return lines


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"


def _sample_arg(value: str) -> tuple[str, int]:
    name, _, items = value.partition("=")
    if name not in NAMES or not items.isdigit():
        raise argparse.ArgumentTypeError("expected NAME=ITEMS, e.g. trec=5000")
    return name, int(items)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets-dir",
        type=Path,
        default=os.environ.get("LABELFORCE_DATASETS") or REPO.parent / "shared" / "datasets",
    )
    parser.add_argument("--datasets", nargs="*", choices=NAMES, default=list(NAMES))
    parser.add_argument("--sample", type=_sample_arg, action="append", default=[])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--refit-every", type=int, default=REFIT_EVERY)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--sweep-refit", type=int, nargs="*", default=[])
    parser.add_argument("--sweep-threshold", type=float, nargs="*", default=[])
    parser.add_argument("--sweep-datasets", nargs="*", choices=NAMES, default=[])
    parser.add_argument(
        "--crowdkit-python",
        default=os.environ.get("CROWDKIT_PYTHON"),
        help="an interpreter with crowd-kit 1.4.2 (default: $CROWDKIT_PYTHON)",
    )
    parser.add_argument(
        "--an-hour-later",
        action="store_true",
        help="do not re-create the database: on the projects an earlier run (same --datasets "
        "and --sample) left, run the hourly job and export again",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    host = rd.machine()
    url = os.environ.get("DATABASE_URL") or DEFAULT_DB
    samples = {**DEFAULT_SAMPLE, **dict(args.sample)}
    if args.an_hour_later:
        setup_django(url)
        rows = [
            an_hour_later(
                prepare(args.datasets_dir, name, sample=samples.get(name), seed=args.seed),
                slug=f"real-{name}",
                crowdkit_python=args.crowdkit_python,
            )
            for name in args.datasets
        ]
        command = "DATABASE_URL=… CROWDKIT_PYTHON=… .venv/bin/python bench/real_data_services.py"
        command += "".join(f" --sample {n}={k}" for n, k in args.sample)
        if args.datasets != list(NAMES):
            command += " --datasets " + " ".join(args.datasets)
        command += " --an-hour-later"
        body = render_later(rows, command=command + (" --write" if args.write else ""))
        print(body)
        if args.write:
            write_later(args.output, body)
        return 0
    recreate_database(url)
    setup_django(url)
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - t0:.1f} s", flush=True)
    prepared: dict[str, Replay] = {}

    def run(name: str, policy: Policy, slug: str) -> Result:
        if name not in prepared:
            prepared[name] = prepare(
                args.datasets_dir, name, sample=samples.get(name), seed=args.seed
            )
        print(f"== {name}, refit_every {policy.label}, threshold {policy.threshold:g}", flush=True)
        return replay(
            prepared[name],
            slug=slug,
            policy=policy,
            crowdkit_python=args.crowdkit_python,
            progress=lambda text: print(f"   {text}", flush=True),
        )

    main_policy = Policy(refit_every=args.refit_every, threshold=args.threshold)
    results = [run(name, main_policy, f"real-{name}") for name in args.datasets]
    refit_sweep = [
        run(name, Policy(refit_every=n, threshold=args.threshold, hourly_at_end=n == 0), slug)
        for name in args.sweep_datasets
        for n in args.sweep_refit
        for slug in [f"refit-{n}-{name}"]
    ]
    threshold_sweep = [
        run(
            name,
            Policy(refit_every=args.refit_every, threshold=t),
            f"threshold-{t:g}-{name}".replace(".", "_"),
        )
        for name in args.sweep_datasets
        for t in args.sweep_threshold
    ]
    command = "DATABASE_URL=… CROWDKIT_PYTHON=… .venv/bin/python bench/real_data_services.py"
    command += "".join(f" --sample {n}={k}" for n, k in args.sample)
    if args.datasets != list(NAMES):
        command += " --datasets" + "".join(f" {name}" for name in args.datasets)
    if args.refit_every != REFIT_EVERY:
        command += f" --refit-every {args.refit_every}"
    if args.threshold != THRESHOLD:
        command += f" --threshold {args.threshold:g}"
    if args.sweep_refit:
        command += " --sweep-refit " + " ".join(map(str, args.sweep_refit))
    if args.sweep_threshold:
        command += " --sweep-threshold " + " ".join(f"{t:g}" for t in args.sweep_threshold)
    if args.sweep_datasets:
        command += " --sweep-datasets " + " ".join(args.sweep_datasets)
    if args.write:
        command += " --write"
    body = render(
        results,
        refit_sweep=refit_sweep,
        threshold_sweep=threshold_sweep,
        command=command,
        host=host,
        pg=postgres_version(),
        total=time.perf_counter() - started,
    )
    print(body)
    if args.write:
        write_section(args.output, body)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
