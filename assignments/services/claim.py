"""Writes of the work flow: claiming the next task, submitting, releasing.

The claim algorithm, its indexes and why it is correct are on docs/next-task.md; read it before
changing anything here. In short: one short transaction; the gate (labeler status,
qualifications, guide acknowledgement, a live lease to hand back) is one query; the claim is one
``SELECT … FOR NO KEY UPDATE SKIP LOCKED LIMIT 1`` over the partial index of open tasks; the
lease is one ``INSERT … SELECT … WHERE live < target`` that re-counts the task's live slots under
the task row's lock, so an expired lease frees its slot the moment it expires and a task is
never over-assigned.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from assignments import tasks as work_tasks
from assignments.models import Assignment, Project, Task
from assignments.selectors import claim as selectors
from config.errors import Conflict, Forbidden, NotFound
from config.rawsql import RowReader
from qc.answers import AnswerError, validate_answer
from qc.models import GoldCheck, GoldItem
from qc.services.control import control_rate_update
from qc.services.scoring import gold_check_record
from workforce.models import Labeler, User
from workforce.selectors import is_ops

logger = logging.getLogger(__name__)

# A claim whose re-count finds the task full (it filled between the SELECT's snapshot and the
# lock) tries again; each try is the same set-based query, so this is bounded, not a row loop.
CLAIM_TRIES = 3
# A claim that lost every try while tasks are still open for the labeler (their rows held by
# concurrent claims, or filled between snapshot and lock) starts over after a short randomised
# pause, at most this many times, then answers ``claim_contended``: a 204 means that nothing is
# left for the labeler, never that a race was lost (docs/next-task.md, "Contention").
CONTENDED_TRIES = 5
CONTENDED_PAUSE_SECONDS = 0.004  # the first pause; it doubles each time (jittered)

_rng = random.SystemRandom()


class ClaimContended(Conflict):
    """Tasks are open for the labeler but concurrent claims held or took each one this call
    tried: retryable (the API adds ``Retry-After``)."""

    code = "claim_contended"
    default_detail = (
        "Tasks are still open for you, but other labelers were taking them at the same moment; "
        "ask again in a second."
    )
    retry_after = 1


class _Contended(Exception):
    """Internal: one claim attempt found open tasks but leased none (rolls its transaction
    back)."""


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    project: Project
    created: bool  # False when the labeler's live lease was handed back


def assignment_claim_next(
    *,
    labeler: Labeler,
    project_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Claim | None:
    """Lease the labeler the next task of the project, or hand back their live lease.

    Returns None only when no task is available to this labeler (none open that they have not
    done, or every open one's slots taken by live leases and submissions). Raises NotFound for
    an unknown project and for one the labeler may not read (a draft or done project is
    invisible to non-ops, as in ``project_get_for``), Forbidden (with a code naming the missing
    requirement) when the labeler may not work on it, Conflict when the project is paused, and
    ``ClaimContended`` (409 ``claim_contended``, retryable) when tasks are open for the labeler
    but concurrent claims kept taking each one, after ``CONTENDED_TRIES`` short pauses. Takes a
    row lock on one task (skip-locked). No side effects besides the lease.
    """
    now = now or timezone.now()
    rng = rng or _rng
    integrity_failures = 0
    contended = 0
    pause = CONTENDED_PAUSE_SECONDS
    while True:
        try:
            return _claim(labeler=labeler, project_id=project_id, now=now, rng=rng)
        except IntegrityError:
            # The same labeler's concurrent call leased first (one live lease per labeler and
            # project is a constraint): the next try hands that lease back. Bounded: each try
            # is the same few set-based statements.
            integrity_failures += 1
            if integrity_failures == CLAIM_TRIES:
                raise Conflict(
                    "Another request of yours is taking a task right now; try again.",
                    code="concurrent_claim",
                ) from None
        except _Contended:
            contended += 1
            if contended == CONTENDED_TRIES:
                logger.info("claim contended: project %s labeler %s", project_id, labeler.pk)
                raise ClaimContended() from None
            # Outside the transaction (nothing held): concurrent claims commit in a few ms. The
            # jitter draws from the module's generator, never the caller's (seeded) one.
            time.sleep(pause * (0.5 + _rng.random()))
            pause *= 2


def _claim(*, labeler: Labeler, project_id: int, now: datetime, rng: random.Random) -> Claim | None:
    with transaction.atomic(durable=True):
        gate = selectors.project_gate(labeler=labeler, project_id=project_id, now=now)
        _check_gate(gate, labeler=labeler)
        project = gate.project
        if gate.live_assignment_id:
            assignment = Assignment.objects.select_related("task").get(pk=gate.live_assignment_id)
            return Claim(assignment, project, created=False)
        if gate.has_stale_lease:
            # A lease that ran out still holds the one-live-lease row; mark it expired first.
            Assignment.objects.filter(
                labeler_id=labeler.pk,
                project_id=project.pk,
                status=Assignment.Status.LEASED,
                expires_at__lte=now,
            ).update(status=Assignment.Status.EXPIRED)
        want_control = gate.control_rate > 0 and rng.random() < gate.control_rate
        assignment = None
        if want_control:
            assignment = _claim_control(project=project, labeler=labeler, now=now)
        if assignment is None:
            for _ in range(CLAIM_TRIES):
                task = _lock_next_open_task(project=project, labeler=labeler, now=now)
                if task is None:
                    break
                assignment = _lease_if_slot(task=task, project=project, labeler=labeler, now=now)
                if assignment is not None:
                    break
        if assignment is None:
            # Skip-locked and the lease's re-count cannot tell "nothing left" from "others hold
            # or just took the rest": ask the same question without locks (a fresh snapshot,
            # on this rare path only). A candidate seen means a lost race, never a 204.
            if _open_task_exists(project=project, labeler=labeler, now=now):
                raise _Contended()
            return None
        return Claim(assignment, project, created=True)


def _check_gate(gate: selectors.Gate, *, labeler: Labeler) -> None:
    if gate.project.status not in selectors.LABELER_VISIBLE_STATUSES and not is_ops(labeler.user):
        # What the labeler cannot read (``project_get_for``) does not exist for them here either.
        raise NotFound()
    if gate.project.status != Project.Status.ACTIVE:
        raise Conflict(
            f"The project is {gate.project.status}; no work is handed out.",
            code="project_not_active",
        )
    if gate.labeler_status != Labeler.Status.ACTIVE:
        raise Forbidden(
            f"Your labeler account is {gate.labeler_status}; only active labelers get work.",
            code="labeler_inactive",
        )
    if gate.missing_qualification:
        raise Forbidden(
            f"You need a valid '{gate.missing_qualification}' qualification for this project.",
            code="qualification_missing",
        )
    if gate.guide_ack_missing:
        raise Forbidden(
            "Read and acknowledge the current version of the project's guide first.",
            code="guide_not_acknowledged",
        )
    if gate.paused_by_rule:
        raise Forbidden(
            "A quality rule paused your work on this project; your vendor manager or the "
            "operations team can tell you more.",
            code="paused_on_project",
        )


def _not_done_by(labeler: Labeler):
    return ~Exists(Assignment.objects.filter(task_id=OuterRef("pk"), labeler_id=labeler.pk))


def _lock_clause(clause: str) -> str:
    """The row-lock clause where the database has row locks. SQLite (the demo) has none: it
    serializes writers with its database lock, as the ORM's select_for_update does there."""
    return clause if connection.features.has_select_for_update else ""


@cache
def _claim_sql(lock: bool = True) -> str:
    """Step 3 of docs/next-task.md as one fixed statement (written out once, not composed per
    call: it runs before every task handed out). Its WHERE is the open-queue index predicate
    plus two index probes per candidate row. Without ``lock``: the same question, no row
    locked or skipped (``_open_task_exists``)."""
    t, a = Task._meta.db_table, Assignment._meta.db_table
    return f"""
        SELECT t.id, t.payload, t.prelabel, t.prelabel_confidence FROM {t} t
         WHERE t.is_open AND t.project_id = %(project)s
           AND NOT EXISTS (SELECT 1 FROM {a} d WHERE d.task_id = t.id
                                                 AND d.labeler_id = %(labeler)s)
           AND (SELECT COUNT(*) FROM {a} u
                 WHERE u.task_id = t.id
                   AND (u.status = 'submitted'
                        OR (u.status = 'leased' AND u.expires_at > %(now)s))) < t.target
         ORDER BY t.priority DESC, t.id
         LIMIT 1
         {_lock_clause("FOR NO KEY UPDATE OF t SKIP LOCKED") if lock else ""}
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)


def _task_from_row(row) -> Task:
    # Raw cursors hand JSON back as text (Django decodes it in the ORM's converters).
    payload, prelabel = row[1], row[2]
    return Task(
        pk=row[0],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        prelabel=json.loads(prelabel) if isinstance(prelabel, str) else prelabel,
        prelabel_confidence=row[3],
    )


def _lock_next_open_task(*, project: Project, labeler: Labeler, now: datetime) -> Task | None:
    """Lock the highest-priority open task this labeler has not touched and whose slots are not
    all taken by live leases (as of this statement's snapshot; the lease insert re-counts);
    skip rows other claims hold. Walks the partial index ``assignments_task_open_queue``."""
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    return _task_from_row(row) if row else None


def _open_task_exists(*, project: Project, labeler: Labeler, now: datetime) -> bool:
    """Whether, as of a fresh snapshot, an open task this labeler has not done has a free slot
    (rows other claims hold included): ``_claim_sql`` without its lock clause."""
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(lock=False), params)
        return cursor.fetchone() is not None


def _lease_if_slot(
    *, task: Task, project: Project, labeler: Labeler, now: datetime, is_control: bool = False
) -> Assignment | None:
    """Insert the lease only if the task still has a free slot, counted afresh (a new statement
    sees every committed lease) while this transaction holds the task row's lock."""
    a = Assignment._meta.db_table
    t = Task._meta.db_table
    expires = now + timedelta(seconds=project.lease_seconds)
    slot_check = (
        "1 = 1"
        if is_control
        else f"""(SELECT COUNT(*) FROM {a} x WHERE x.task_id = t.id AND (x.status = 'submitted'
                  OR (x.status = 'leased' AND x.expires_at > %s))) < t.target"""  # noqa: S608
    )
    adapt = connection.ops.adapt_datetimefield_value
    params = [project.pk, labeler.pk, is_control, adapt(now), adapt(expires), task.pk]
    if not is_control:
        params.append(adapt(now))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {a} (task_id, project_id, labeler_id, is_control, status, leased_at,
                                 expires_at)
                SELECT t.id, %s, %s, %s, 'leased', %s, %s FROM {t} t
                WHERE t.id = %s AND {slot_check}
                RETURNING id""",  # noqa: S608 (table names come from model metadata)
            params,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Assignment(
        pk=row[0],
        task=task,
        project_id=project.pk,
        labeler_id=labeler.pk,
        is_control=is_control,
        status=Assignment.Status.LEASED,
        leased_at=now,
        expires_at=expires,
    )


# The control pick looks at this many control tasks on each side of its random pivot before it
# falls back to scanning all of the project's (only a labeler who met that many in a row does).
CONTROL_WINDOW = 64


@cache
def _control_sql() -> str:
    """``_claim_control``'s one statement, written out once (as ``_claim_sql``). Each exclusion
    is a correlated ``(SELECT … LIMIT 1) IS NULL`` rather than ``NOT EXISTS``: a ``NOT
    EXISTS`` lets the planner turn it into an anti-join, or a hashed sub-plan, that reads all of
    the labeler's exposures and checks (or every labeler's rows of the items); this way each
    exclusion is one index probe per candidate. The candidates are the first ``CONTROL_WINDOW``
    control tasks from the pivot in gold item order (``assignments_task_controls``), then as
    many before it; only when none of those passes are all the project's control tasks tried,
    in random order."""
    # Imported here: qc's exposure and check tables are read by this statement only.
    from qc.models import GoldCheck, GoldExposure

    t, a = Task._meta.db_table, Assignment._meta.db_table
    g, e, c = GoldItem._meta.db_table, GoldExposure._meta.db_table, GoldCheck._meta.db_table
    eligible = f"""t.project_id = %(project)s AND t.gold_item_id IS NOT NULL
           AND (SELECT g.status FROM {g} g WHERE g.id = t.gold_item_id) = 'active'
           AND (SELECT 1 FROM {t} s JOIN {a} d ON d.task_id = s.id
                 WHERE s.gold_item_id = t.gold_item_id AND d.labeler_id = %(labeler)s
                 LIMIT 1) IS NULL
           AND (SELECT 1 FROM {e} e WHERE e.labeler_id = %(labeler)s
                                      AND e.gold_item_id = t.gold_item_id LIMIT 1) IS NULL
           AND (SELECT 1 FROM {c} c WHERE c.labeler_id = %(labeler)s
                                      AND c.gold_item_id = t.gold_item_id LIMIT 1) IS NULL"""  # noqa: S608
    columns = "t.id, t.payload, t.prelabel, t.prelabel_confidence"
    controls = f"SELECT * FROM {t} WHERE project_id = %(project)s AND gold_item_id IS NOT NULL"  # noqa: S608
    return f"""
        WITH pivot AS (
            SELECT lo + CAST(%(u)s * (hi - lo) AS BIGINT) AS at
              FROM (SELECT MIN(id) AS lo, MAX(id) AS hi FROM {g}
                     WHERE gold_set_id = %(gold_set)s) bounds
        )
        SELECT * FROM (SELECT {columns}
                         FROM ({controls} AND gold_item_id >= (SELECT at FROM pivot)
                               ORDER BY gold_item_id LIMIT {CONTROL_WINDOW}) t
                        WHERE {eligible} ORDER BY t.gold_item_id LIMIT 1) after_pivot
        UNION ALL
        SELECT * FROM (SELECT {columns}
                         FROM ({controls} AND gold_item_id < (SELECT at FROM pivot)
                               ORDER BY gold_item_id LIMIT {CONTROL_WINDOW}) t
                        WHERE {eligible} ORDER BY t.gold_item_id LIMIT 1) before_pivot
        UNION ALL
        SELECT * FROM (SELECT {columns} FROM {t} t
                        WHERE {eligible} ORDER BY random() LIMIT 1) any_left
        LIMIT 1
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)


def _claim_control(*, project: Project, labeler: Labeler, now: datetime) -> Assignment | None:
    """Lease a random control task (a gold item served as a task) that the labeler has never
    met: not served to them in any project (a lease of any status on a control task of the same
    gold item), no gold check of theirs on it in any project (one gold set may be the control
    set of two projects), no exposure of it (``qc.GoldExposure``: a quiz showed it, they wrote
    its answer, they labeled the task it came from), and the item is active (a quarantined or
    retired item is not served). None when no such task is left.

    One statement (then the lease's INSERT): a random pivot between the lowest and highest item
    id of the project's control set (two probes of ``qc_golditem_set_id``), and the first
    eligible control task among the ``CONTROL_WINDOW`` at or after it in gold item order, else
    among the first ``CONTROL_WINDOW`` (wrapping round), else any eligible one at random.
    Each candidate costs index probes only — the tasks of its gold item (``gold_item_id``
    index) then ``assignments_assignment_one_per_labeler``, ``qc_goldexposure_once`` and
    ``qc_goldcheck_labeler_item`` — so the usual cost is bounded by the window, and never
    follows the size of the labeler's history or of anyone else's.
    Control tasks have no slot limit, so no lock is needed; the unique (task, labeler)
    constraint backs "never the same control task twice"."""
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "gold_set": project.control_gold_set_id,
        "u": _rng.random(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_control_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    task = _task_from_row(row)
    return _lease_if_slot(task=task, project=project, labeler=labeler, now=now, is_control=True)


@dataclass(frozen=True)
class Submission:
    assignment: Assignment
    created: bool  # False when the same answer was already submitted (an idempotent retry)
    task_completed: bool  # this submission filled the task's last slot


def assignment_submit(
    *, labeler: Labeler, assignment_id: int, answer: object, now: datetime | None = None
) -> Submission:
    """Submit the labeler's answer on their assignment.

    The answer is validated against the project's schema (ValidationError with the field
    ``answer``). Idempotent: the same answer again returns the stored submission; a different
    one is a Conflict (``already_submitted``). A released assignment cannot be submitted
    (Conflict ``released``); nor can one whose lease expired (Conflict ``lease_expired``; nothing
    is written) — the same rule for real and control tasks. Locks the assignment row, then (via
    the update) the task row.

    A real and a control task take the same path: the same two statements (the lock; the count
    and the store in one), and the same single side effect, the after-commit message
    ``assignments.assignment_submitted`` carrying the assignment id, whose task grades a control
    answer, counts it in the labeler's control rate and runs consensus on a task this filled
    (``submission_follow_up``). Nothing that tells a control task apart runs in the request
    (docs/next-task.md, "Submit"). A lost message is caught by the sweeps
    (``control_answers_grade_sweep``, ``consensus_sweep``).
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        assignment = _lock_assignment(labeler=labeler, assignment_id=assignment_id)
        project = assignment.project
        try:
            canonical = validate_answer(project.answer_type, project.classes, answer)
        except AnswerError as exc:
            raise ValidationError({"answer": exc.messages}) from None
        if assignment.status == Assignment.Status.SUBMITTED:
            if assignment.answer == canonical:
                return Submission(assignment, created=False, task_completed=False)
            raise Conflict(
                "This assignment was already submitted with a different answer.",
                code="already_submitted",
            )
        if assignment.status == Assignment.Status.RELEASED:
            raise Conflict("This assignment was released; it cannot be submitted.", code="released")
        if assignment.expires_at <= now:
            raise Conflict(
                "Your lease on this task expired before you submitted, so the answer was not "
                "saved; ask for the next task.",
                code="lease_expired",
            )
        active = max(
            int(min((now - assignment.leased_at).total_seconds(), project.lease_seconds)), 0
        )
        completed = _store_submission(
            assignment=assignment, answer=canonical, active=active, now=now
        )
        # One message for every submission, real or control, sent after commit (a broker
        # failure cannot undo the submission; the publish is bounded by the broker timeouts in
        # settings, and the sweeps catch a lost message).
        transaction.on_commit(
            # A named callable: a robust callback that fails is logged by its __qualname__,
            # which a functools.partial lacks (the submit then answered 500 with the broker down).
            lambda pk=assignment.pk: work_tasks.assignment_submitted.delay(pk),
            robust=True,
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.answer = canonical
        assignment.submitted_at = now
        assignment.active_seconds = active
    return Submission(assignment, created=True, task_completed=completed)


@cache
def _submit_lock_sql() -> tuple[str, RowReader, RowReader]:
    """The submit's first statement, written out once: the caller's assignment locked, with its
    project (the ORM composed this per call at a CPU cost larger than the query's). The same
    for real and control tasks."""
    a, p = RowReader(Assignment), RowReader(Project)
    sql = f"""
        SELECT {a.columns("a")}, {p.columns("p")}
          FROM {Assignment._meta.db_table} a
          JOIN {Project._meta.db_table} p ON p.id = a.project_id
         WHERE a.id = %s AND a.labeler_id = %s
         {_lock_clause("FOR NO KEY UPDATE OF a")}
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)
    return sql, a, p


def _lock_assignment(*, labeler: Labeler, assignment_id: int) -> Assignment:
    """Lock the labeler's assignment (NotFound when it is not theirs) and load its project, in
    one statement."""
    sql, a, p = _submit_lock_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [assignment_id, labeler.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    assignment = a.read(row[: len(a)])
    assignment.project = p.read(row[len(a) :])
    return assignment


@cache
def _store_sql() -> tuple[str, str, str]:
    """The submit's store: (PostgreSQL's one statement, SQLite's count, SQLite's store).

    The count takes a slot on a real task: ``submitted < target`` under the task row's lock (the
    on-time lease held that slot; the guard refuses the rare submit whose slot a claim re-counted
    as free at the very instant of expiry). On a control task (``%(control)s``, no slots) it
    matches no row, and the store does not wait for it. One text for both kinds: the same
    statement, the same plan shape."""
    t = Task._meta.db_table
    a = Assignment._meta.db_table
    count_sql = f"""UPDATE {t} SET submitted = submitted + 1,
                                   is_open = (submitted + 1 < target),
                                   state = CASE WHEN submitted + 1 >= target THEN 'complete'
                                                ELSE state END
                     WHERE id = %(task)s AND submitted < target AND NOT %(control)s
                 RETURNING submitted >= target AS filled"""  # noqa: S608
    store_sql = f"""UPDATE {a} SET status = 'submitted', answer = %(answer)s,
                                   submitted_at = %(now)s, active_seconds = %(active)s
                     WHERE id = %(assignment)s"""  # noqa: S608
    both = f"""WITH counted AS ({count_sql})
               {store_sql} AND (%(control)s OR EXISTS (SELECT 1 FROM counted))
               RETURNING (SELECT filled FROM counted)"""  # noqa: S608
    return both, count_sql, store_sql


def _store_submission(
    *, assignment: Assignment, answer: object, active: int, now: datetime
) -> bool:
    """Store the answer and, on a real task, count the submission on the task — one statement
    on PostgreSQL, the same for real and control tasks; returns whether it filled the task's
    last slot. Conflict ``slot_taken`` (the transaction rolls back) when a real task has no slot
    left for it."""
    both, count_sql, store_sql = _store_sql()
    params = {
        "task": assignment.task_id,
        "control": bool(assignment.is_control),
        "answer": Assignment._meta.get_field("answer").get_db_prep_value(answer, connection),
        "now": connection.ops.adapt_datetimefield_value(now),
        "active": active,
        "assignment": assignment.pk,
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip: the count and the store in one statement; on a real task the
            # store happens only if the count found room.
            cursor.execute(both, params)
            row = cursor.fetchone()
        else:
            # SQLite has no data-modifying CTE: two statements (for both kinds), serialized by
            # its write lock.
            cursor.execute(count_sql, params)
            row = cursor.fetchone()
            if row is not None or assignment.is_control:
                cursor.execute(store_sql, params)
                row = row or (False,)
    if row is None:
        raise Conflict(
            "The task's slots were all taken when your answer arrived; it was not saved.",
            code="slot_taken",
        )
    return bool(row[0])


@dataclass(frozen=True)
class FollowUp:
    """What ``submission_follow_up`` did."""

    graded: bool  # a control answer was graded now (False: not a control answer, or done)
    consensus: str  # the ConsensusAction of a completed task's consensus ("" when none ran)


def submission_follow_up(*, assignment_id: int) -> FollowUp:
    """After a submission commits (the Celery task ``assignments.assignment_submitted``): grade
    a control answer (``control_answer_grade``) and run consensus on a task whose last slot is
    filled (``task_consensus_run``). Reloads everything; idempotent and safe to run
    concurrently (each step is; a second run does nothing more). An unknown or unsubmitted
    assignment is a no-op."""
    # Imported here: review imports this module's package (consensus lives there).
    from assignments.services.review import task_consensus_run

    row = (
        Assignment.objects.filter(pk=assignment_id, status=Assignment.Status.SUBMITTED)
        .values_list("is_control", "task_id", "task__state")
        .first()
    )
    if row is None:
        return FollowUp(graded=False, consensus="")
    is_control, task_id, state = row
    if is_control:
        return FollowUp(graded=control_answer_grade(assignment_id=assignment_id), consensus="")
    if state != Task.State.COMPLETE:
        return FollowUp(graded=False, consensus="")
    return FollowUp(graded=False, consensus=task_consensus_run(task_id=task_id))


def control_answer_grade(*, assignment_id: int, now: datetime | None = None) -> bool:
    """Grade a submitted control answer against its gold item into a ``qc.GoldCheck`` (checked
    at the submission's time) and, when the item is active, count it in the labeler's control
    rate (``qc.services.control.control_rate_update``). Once per assignment: under the
    assignment row's lock, an existing check means it was done (a redelivered message, the
    sweep, a concurrent run). Returns whether it graded now. One durable transaction; locks the
    assignment row, then the labeler's control-rate row."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        assignment = (
            Assignment.objects.select_related("project", "task__gold_item")
            .select_for_update(of=("self",), no_key=True)
            .filter(pk=assignment_id, status=Assignment.Status.SUBMITTED, is_control=True)
            .first()
        )
        if assignment is None or assignment.task.gold_item is None:
            return False
        if GoldCheck.objects.filter(assignment_id=assignment.pk).exists():
            return False
        project, gold_item = assignment.project, assignment.task.gold_item
        correct = gold_check_record(
            labeler_id=assignment.labeler_id,
            gold_item=gold_item,
            project_id=project.pk,
            assignment_id=assignment.pk,
            answer_type=project.answer_type,
            answer=assignment.answer,
            iou_threshold=float(project.iou_threshold),
            now=assignment.submitted_at,
        )
        if gold_item.status == GoldItem.Status.ACTIVE:
            # The labeler's control rate follows their interval (qc.services.control).
            control_rate_update(
                labeler_id=assignment.labeler_id,
                project_id=project.pk,
                correct=correct,
                ratio=float(project.control_ratio),
                floor=float(project.control_floor),
                now=now,
            )
    return True


# How far back the grading sweep looks: longer than any broker outage it must cover, short
# enough that its index range stays small (``assignments_assignment_control_submitted``).
CONTROL_SWEEP_HOURS = 24


def control_answers_grade_sweep(*, hours: int = CONTROL_SWEEP_HOURS, limit: int = 1000) -> int:
    """Safety net for lost after-commit messages: grade the control answers submitted in the
    last ``hours`` that have no gold check (``control_answer_grade`` each, oldest first, at most
    ``limit`` a run). One query finds them: a range scan of the partial index
    ``assignments_assignment_control_submitted (submitted_at) WHERE is_control AND status =
    'submitted'`` with one probe of the gold checks' unique assignment index per row — its cost
    follows the window's control answers, not the table. Idempotent; returns how many it
    graded."""
    since = timezone.now() - timedelta(hours=hours)
    ids = list(
        Assignment.objects.filter(
            is_control=True, status=Assignment.Status.SUBMITTED, submitted_at__gte=since
        )
        .exclude(Exists(GoldCheck.objects.filter(assignment_id=OuterRef("pk"))))
        .order_by("submitted_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(1 for pk in ids if control_answer_grade(assignment_id=pk))


def assignment_release(
    *, labeler: Labeler, assignment_id: int, now: datetime | None = None
) -> Assignment:
    """Give a leased task back: its slot is free at once. Releasing an already released or
    expired lease is a no-op; a submitted assignment cannot be released (Conflict)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        assignment = (
            Assignment.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk=assignment_id, labeler_id=labeler.pk)
            .first()
        )
        if assignment is None:
            raise NotFound()
        if assignment.status == Assignment.Status.SUBMITTED:
            raise Conflict("A submitted assignment cannot be released.", code="already_submitted")
        if assignment.status == Assignment.Status.LEASED:
            Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.RELEASED)
            assignment.status = Assignment.Status.RELEASED
    return assignment


def leases_expire(*, now: datetime | None = None) -> int:
    """Mark leases past their expiry as expired. Tidying only: an expired lease already frees
    its slot at claim time whether or not this ran. Idempotent; returns the rows changed."""
    now = now or timezone.now()
    return Assignment.objects.filter(status=Assignment.Status.LEASED, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED
    )


def project_sync_control_tasks(*, actor: User | None, project: Project) -> int:
    """Make one control task for each active gold item of the project's control gold set that
    has none yet (idempotent). Control tasks carry the gold item's payload exactly as a real
    task carries its own, never the answer, and a decoy pre-label: the (pre-label, confidence)
    of a real task of the project chosen at random, or none as often as real tasks have none
    (``control_decoy_prelabels``; docs/next-task.md, "Pre-labels"). Returns how many were
    created."""
    # Imported here, not at the top: this module is the claim path's, kept to its own imports.
    from assignments.selectors.tasks import control_decoy_prelabels

    if project.control_gold_set_id is None:
        return 0
    with transaction.atomic():
        have = set(
            Task.objects.filter(project=project, gold_item__isnull=False).values_list(
                "gold_item_id", flat=True
            )
        )
        items = list(
            GoldItem.objects.filter(
                gold_set_id=project.control_gold_set_id, status=GoldItem.Status.ACTIVE
            )
            .exclude(pk__in=have)
            .only("pk", "payload")
        )
        decoys = control_decoy_prelabels(project_id=project.pk, n=len(items), rng=_rng)
        created = Task.objects.bulk_create(
            Task(
                project=project,
                gold_item=item,
                payload=item.payload,
                prelabel=prelabel,
                prelabel_confidence=confidence,
                target=0,
                is_open=False,
            )
            for item, (prelabel, confidence) in zip(items, decoys, strict=True)
        )
    return len(created)
