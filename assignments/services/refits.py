"""Refits of a project's Dawid-Skene model: what a refit does (``project_refit``: the project's
answers fitted, the estimates replaced, the tasks the new fit changes re-decided) and when it
runs — after every ``Project.refit_every`` new labels, besides the hourly refit, and never twice
at the same time.

* Counting, off the request path: the submission follow-up (Celery,
  ``assignments.assignment_submitted``) counts each submitted real label into its project's
  ``ProjectRefit.labels_since`` with one upsert (``project_label_count``). The count that brings
  ``labels_since`` to a multiple of ``refit_every`` sends ``assignments.project_refit`` when no
  refit is running: one message per ``refit_every`` labels, not one per label past the
  threshold. A message that is lost, or a crossing that met a running refit, is made up at the
  next multiple (``refit_every`` labels later) or by the hourly refit.
* One refit per project at a time (``project_refit_run``): a run claims the project's row with
  a guarded UPDATE (``running_since`` empty, or older than ``REFIT_STALE_AFTER`` — the run of a
  worker that died), runs ``project_refit`` (the fit and the re-decision of the tasks it
  changes), then subtracts the labels it counted at its start: labels that arrive during the
  refit stay counted for the next one. The hourly job (``projects_refit_run``) goes through the
  same claim.

A count is at least once, not exactly once: a redelivered follow-up counts its label again,
and a follow-up lost with the broker counts nothing. Either only moves the next refit by a
label; the hourly refit bounds how stale a fit can get.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from assignments import sql
from assignments.models import Assignment, ConsensusMethod, Project, ProjectRefit
from assignments.services.decisions import project_redecide
from config.errors import NotFound
from qc.answers import BOXES, MULTIPLE_CHOICE, SINGLE_CHOICE
from qc.models import GoldCheck
from qc.services.estimates import FitSummary, estimates_fit
from qc.services.quality_facts import answer_class

logger = logging.getLogger(__name__)

# A run whose claim is older than this is taken for dead (its worker was killed: the hard task
# time limit, CELERY_TASK_TIME_LIMIT = 900 s, or the machine) and may be claimed again. Above
# the time limit, so a live run is never taken over.
REFIT_STALE_AFTER = timedelta(minutes=30)

_REFIT = ProjectRefit._meta.db_table
_PROJECT = Project._meta.db_table
_ASSIGNMENT = Assignment._meta.db_table

# The row of a project that never had a label counted (the hourly refit of an imported or a
# new project), so that the claim below has a row to guard.
_ENSURE_SQL = f"""
INSERT INTO {_REFIT} (project_id, labels_since, last_redecided)
SELECT p.id, 0, 0 FROM {_PROJECT} p WHERE p.id = %s
ON CONFLICT (project_id) DO NOTHING
"""  # noqa: S608 (table names come from model metadata; values are parameters)

# The claim: at most one caller gets a row back. ``due`` (the counted trigger) also asks that
# the labels still be due, so that a duplicate message after a refit finds nothing to do.
_CLAIM_SQL = f"""
UPDATE {_REFIT} SET running_since = %s
 WHERE project_id = %s AND (running_since IS NULL OR running_since < %s)
   AND (%s OR labels_since >= (
        SELECT p.refit_every FROM {_PROJECT} p
         WHERE p.id = {_REFIT}.project_id AND p.refit_every > 0))
RETURNING labels_since
"""  # noqa: S608 (table names come from model metadata; values are parameters)


# -- the refit ---------------------------------------------------------------------------------

# Item keys for the fit: a real task is its id, a gold item its negated id (ids are positive),
# so the two never collide.
BOXES_SKIPPED = (
    "Box projects are not refitted: Dawid-Skene models class labels, and box answers are "
    "compared by IoU-matched F1 instead."
)


@dataclass(frozen=True)
class Refit:
    project_id: int
    skipped: str  # why nothing was fitted ("" when fitted)
    summary: FitSummary | None
    redecided: int = 0  # tasks the fit re-decided (changed decisions and tasks out of review)
    from_review: int = 0  # of which tasks that were waiting in review


def project_refit(*, project_id: int, now: datetime | None = None) -> Refit:
    """Refit Dawid-Skene on a project's answers and replace its estimates (qc).

    Answers: every submitted real (non-control) assignment of the project, as (task, labeler,
    class) — the class is the label for single choice and the sorted labels joined by ``|`` for
    multiple choice (``qc.services.quality_facts.answer_class``). Gold anchors: the project's
    counted gold checks, each an answer on its gold item with the gold class as that item's truth.
    Box projects are skipped (``skipped`` says why). NotFound for an unknown project.

    Then, for a project deciding by the model, the tasks whose decision the new fit changes
    are re-decided (``assignments.services.decisions.project_redecide``; ``redecided`` counts
    them).

    Four queries to read (the project, the answers, the gold checks) and a constant number to
    write the fit, whatever the number of labelers or answers; the re-decision reads the
    candidate tasks once and writes only the tasks it changes. Idempotent: the same answers
    give the same estimates, and a second refit on them re-decides nothing. The read is not
    locked: a submission that lands during the refit is picked up by the next one.
    """
    now = now or timezone.now()
    project = (
        Project.objects.filter(pk=project_id)
        .only(
            "id",
            "answer_type",
            "classes",
            "consensus_method",
            "confidence_threshold",
            "iou_threshold",
        )
        .first()
    )
    if project is None:
        raise NotFound()
    if project.answer_type == BOXES:
        return Refit(project_id=project_id, skipped=BOXES_SKIPPED, summary=None)
    rows = Assignment.objects.filter(
        project_id=project_id, status=Assignment.Status.SUBMITTED, is_control=False
    ).values_list("task_id", "labeler_id", "answer")
    checks = GoldCheck.objects.filter(project_id=project_id, counted=True).values_list(
        "gold_item_id", "labeler_id", "answer_class", "expected_class"
    )
    if project.answer_type == SINGLE_CHOICE:
        answers = list(rows)
    else:
        answers = [(t, w, answer_class(MULTIPLE_CHOICE, a)) for t, w, a in rows]
    gold: dict[int, str] = {}
    for item, labeler_id, answered, expected in checks:
        answers.append((-item, labeler_id, answered))
        gold[-item] = expected
    if project.answer_type == SINGLE_CHOICE:
        classes = list(project.classes)
        seen = {name for _, _, name in answers} | set(gold.values())
        classes += sorted(seen - set(classes))  # a class dropped from the schema since
    else:
        classes = sorted({name for _, _, name in answers} | set(gold.values()))
    summary = estimates_fit(
        project_id=project_id, classes=classes, answers=answers, gold=gold, now=now
    )
    if not summary.verdicts or project.consensus_method != ConsensusMethod.WEIGHTED:
        return Refit(project_id=project_id, skipped="", summary=summary)
    votes: dict[int, list[str]] = {}
    for item, _, name in answers:
        if item > 0:  # real tasks only (gold items are negated)
            votes.setdefault(item, []).append(name)
    result = project_redecide(
        project=project,
        classes=classes,
        verdicts=summary.verdicts,
        votes=votes,
        fit_version=summary.version,
        fit_method=summary.method,
        now=now,
    )
    return Refit(
        project_id=project_id,
        skipped="",
        summary=summary,
        redecided=result.changed + result.from_review,
        from_review=result.from_review,
    )


# -- when it runs ------------------------------------------------------------------------------


def _at(moment: datetime):
    """A timestamp as the database stores it (SQLite compares the ORM's text form)."""
    return connection.ops.adapt_datetimefield_value(moment)


@dataclass(frozen=True)
class LabelCount:
    project_id: int
    labels_since: int  # the project's labels since its last refit, these included
    refit_sent: bool  # whether this count sent ``assignments.project_refit``
    counted: int = 1  # the labels this count added


def _count_sql(n: int) -> str:
    """The count of ``n`` submissions: one upsert per project adding how many of them are
    submitted real answers (the row made at a project's first label), returning each
    project's new count, how many it added, whether a live refit runs, and ``refit_every``.
    Parameters: the ``n`` ids, then the status, the control flag (False) and the live-since
    time. Portable to SQLite (the demo): upsert with a WHERE on its SELECT, RETURNING with
    subqueries."""
    ids = ", ".join(["%s"] * n)
    return f"""
WITH added AS (
    SELECT a.project_id, COUNT(*) AS n FROM {_ASSIGNMENT} a
     WHERE a.id IN ({ids}) AND a.status = %s AND a.is_control = %s
     GROUP BY a.project_id)
INSERT INTO {_REFIT} (project_id, labels_since, last_redecided)
SELECT project_id, n, 0 FROM added WHERE true
ON CONFLICT (project_id) DO UPDATE SET labels_since = {_REFIT}.labels_since + excluded.labels_since
RETURNING project_id, labels_since,
 (SELECT n FROM added WHERE added.project_id = {_REFIT}.project_id),
 running_since IS NOT NULL AND running_since >= %s,
 (SELECT p.refit_every FROM {_PROJECT} p WHERE p.id = {_REFIT}.project_id)
"""  # noqa: S608 (table names come from model metadata; values are parameters)


def project_label_count(*, assignment_id: int, now: datetime | None = None) -> LabelCount | None:
    """Count a submitted real (non-control) answer as a new label of its project
    (``project_labels_count`` of one); None for a control answer or an unknown or unsubmitted
    assignment."""
    counts = project_labels_count(assignment_ids=[assignment_id], now=now)
    return counts[0] if counts else None


def project_labels_count(
    *, assignment_ids: Sequence[int], now: datetime | None = None
) -> list[LabelCount]:
    """Count submitted real (non-control) answers as new labels of their projects and send
    ``assignments.project_refit`` for a project whose count passes a multiple of
    ``refit_every`` (> 0; 0 refits hourly only) while no live refit is running.

    One statement (an upsert of each project's ``ProjectRefit`` row adding its labels among
    ``assignment_ids``, returning the new count, the running refit and ``refit_every``) and,
    when due, one message per project. Not idempotent: each submission is counted once, by its
    follow-up (module docstring for what a double count costs). Control answers and unknown
    or unsubmitted assignments count nothing; a project with none of the ids counted is not
    in the result. A broker that refuses the message is logged, not raised: the next multiple
    or the hourly refit makes up for it. Runs outside a transaction (the row is a hot spot;
    its lock is held for the statement only).
    """
    # Imported here: the tasks module imports this one.
    from assignments import tasks as work_tasks

    ids = list(dict.fromkeys(assignment_ids))
    if not ids:
        return []
    now = now or timezone.now()
    live_since = _at(now - REFIT_STALE_AFTER)
    with connection.cursor() as cursor:
        cursor.execute(_count_sql(len(ids)), [*ids, Assignment.Status.SUBMITTED, False, live_since])
        rows = cursor.fetchall()
    counts = []
    for project_id, labels_since, added, running, every in rows:
        # Due when this count passed a multiple of refit_every (one count may add several).
        due = bool(every) and labels_since // every > (labels_since - added) // every
        due = due and not running
        if due:
            try:
                work_tasks.project_refit.delay(project_id)
            except BrokerError as exc:
                logger.warning("refit of project %s not sent: %s", project_id, exc)
                due = False
        counts.append(
            LabelCount(
                project_id=project_id, labels_since=labels_since, refit_sent=due, counted=added
            )
        )
    return counts


def project_refit_if_finished(*, project_id: int) -> bool:
    """Send a refit now when the project has no open real task left: its last labels were just
    counted (the caller's label completed a task), and without this refit the tasks completed
    since the last counted one would keep decisions made by a fit that never saw their labels
    until the hourly job (BENCHMARKS.md, "Labels the model believes"). One statement: open
    tasks (the open-task queue's partial index), the project's setting (``refit_every`` 0:
    hourly only) and whether it has a fit at all (a project never fitted is decided by
    majority until the hourly job or its ``refit_every``-th label fits it), then at most one
    message. Returns whether it sent one."""
    # Imported here: the tasks module imports this one.
    from assignments import tasks as work_tasks

    # One fixed statement (``sql.project_finished``): once per completed task in the worker.
    row = sql.project_finished().one({"project": project_id})
    if not row or not row[0]:
        return False
    try:
        work_tasks.project_refit.delay(project_id, due_only=False)
    except BrokerError as exc:
        logger.warning("refit of finished project %s not sent: %s", project_id, exc)
        return False
    return True


def project_refit_run(*, project_id: int, due_only: bool = False) -> Refit | None:
    """Refit one project unless a refit of it is running: the only way the project's model is
    refitted in the background (the counted trigger and the hourly job).

    Claims the project's ``ProjectRefit`` row (``running_since`` set to now) with a guarded
    UPDATE: it is taken when no run holds it or the holder's claim is older than
    ``REFIT_STALE_AFTER``; with ``due_only`` (the counted trigger) also only while the labels
    since the last refit are at least ``refit_every`` (> 0). A claim that finds nothing
    returns None at once (a run holds it, nothing is due, or no such project). The claim
    returns ``labels_since``; after ``project_refit`` succeeds that many are subtracted
    (the labels counted during the refit stay counted) and the run's time and re-decided tasks
    are kept (``last_refit_at``, ``last_duration_ms``, ``last_redecided``). The claim is
    released whether the refit succeeds or raises (the error propagates); the release and the
    bookkeeping are guarded by this run's claim, so a run taken over as stale writes nothing.

    Each statement commits on its own: call it outside a transaction (the claim must be seen
    by other workers while the refit runs; the refit's own transactions are its own). Returns
    the ``Refit``.
    """
    started = timezone.now()
    with connection.cursor() as cursor:
        if not due_only:
            cursor.execute(_ENSURE_SQL, [project_id])
        cursor.execute(
            _CLAIM_SQL,
            [_at(started), project_id, _at(started - REFIT_STALE_AFTER), not due_only],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    counted = row[0]
    ours = ProjectRefit.objects.filter(pk=project_id, running_since=started)
    clock = time.perf_counter()
    refit = None
    try:
        refit = project_refit(project_id=project_id, now=started)
    finally:
        if refit is None:  # the refit raised: release the claim, keep the count
            ours.update(running_since=None)
    ours.update(
        running_since=None,
        labels_since=Greatest(F("labels_since") - counted, Value(0)),
        last_refit_at=started,
        last_duration_ms=round((time.perf_counter() - clock) * 1000),
        last_redecided=getattr(refit, "redecided", 0),
    )
    return refit


def projects_refit_run() -> list[Refit]:
    """The hourly refit: ``project_refit_run`` for every active project, through the same claim
    (a project whose counted refit is running is skipped). A project whose refit fails is
    logged and the others still run. Returns the refits done."""
    done = []
    ids = Project.objects.filter(status=Project.Status.ACTIVE).order_by("id")
    for project_id in ids.values_list("id", flat=True):
        try:
            refit = project_refit_run(project_id=project_id)
        except Exception:  # one project's bad data must not stop the others' refit
            logger.exception("refit of project %s failed", project_id)
            continue
        if refit is not None:
            done.append(refit)
    return done
