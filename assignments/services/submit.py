"""Writes of a submission: storing a labeler's answer on their assignment, and what follows it
after commit (grading a control answer, consensus on a filled task).

The submit is two statements on PostgreSQL (the lock; the count and the store in one) and the
same for real and control tasks; docs/next-task.md, "Submit", says why. Read it before changing
anything here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from assignments import sql
from assignments import tasks as work_tasks
from assignments.models import Assignment, Task
from config.errors import Conflict, NotFound
from config.rawsql import prepared_cursor
from qc.answers import AnswerError, validate_answer
from qc.models import GoldCheck, GoldItem
from qc.services.control import control_rate_update
from qc.services.quality_facts import gold_check_record
from workforce.models import Labeler


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
                _("This assignment was already submitted with a different answer."),
                code="already_submitted",
            )
        if assignment.status == Assignment.Status.RELEASED:
            raise Conflict(
                _("This assignment was released; it cannot be submitted."), code="released"
            )
        if assignment.expires_at <= now:
            raise Conflict(
                _(
                    "Your lease on this task expired before you submitted, so the answer was not "
                    "saved; ask for the next task."
                ),
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


def _lock_assignment(*, labeler: Labeler, assignment_id: int) -> Assignment:
    """Lock the labeler's assignment (NotFound when it is not theirs) and load its project, in
    one statement (``sql.submit_lock``: written out once; the ORM composed it per call at a CPU
    cost larger than the query's)."""
    row = sql.submit_lock().one({"assignment": assignment_id, "labeler": labeler.pk})
    if row is None:
        raise NotFound()
    assignment, assignment.project = row
    return assignment


def _store_submission(
    *, assignment: Assignment, answer: object, active: int, now: datetime
) -> bool:
    """Store the answer and, on a real task, count the submission on the task — one statement
    on PostgreSQL, the same for real and control tasks; returns whether it filled the task's
    last slot. Conflict ``slot_taken`` (the transaction rolls back) when a real task has no slot
    left for it. The statements are ``sql.store``."""
    statements = sql.store()
    params = {
        "task": assignment.task_id,
        "control": bool(assignment.is_control),
        "answer": Assignment._meta.get_field("answer").get_db_prep_value(answer, connection),
        "now": connection.ops.adapt_datetimefield_value(now),
        "active": active,
        "assignment": assignment.pk,
    }
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip: the count and the store in one statement; on a real task the
            # store happens only if the count found room.
            cursor.execute(statements.both.sql, params)
            row = cursor.fetchone()
        else:
            # SQLite has no data-modifying CTE: two statements (for both kinds), serialized by
            # its write lock.
            cursor.execute(statements.count.sql, params)
            row = cursor.fetchone()
            if row is not None or assignment.is_control:
                cursor.execute(statements.store.sql, params)
                row = row or (False,)
    if row is None:
        raise Conflict(
            _("The task's slots were all taken when your answer arrived; it was not saved."),
            code="slot_taken",
        )
    return bool(row[0])


@dataclass(frozen=True)
class FollowUp:
    """What ``submission_follow_up`` did."""

    graded: bool  # a control answer was graded now (False: not a control answer, or done)
    consensus: str  # the ConsensusAction of a completed task's consensus ("" when none ran)


def submission_follow_up(*, assignment_id: int) -> FollowUp:
    """After a submission commits: grade a control answer (``control_answer_grade``) and run
    consensus on a task whose last slot is filled (``task_consensus_run``, deciding it as of
    its last label's submission). Reloads everything; idempotent and safe to run concurrently
    (each step is; a second run does nothing more). An unknown or unsubmitted assignment is a
    no-op. The one-submission case of what ``submissions_follow_up`` does before counting."""
    return _follow_up([assignment_id])[assignment_id]


def _follow_up(assignment_ids: Sequence[int]) -> dict[int, FollowUp]:
    """``submission_follow_up`` of each id: one read for all of them (``sql.follow_up``), each
    control answer graded, and consensus on every task they filled in one run
    (``tasks_consensus_run``; two answers of one task in the batch share its action)."""
    # Imported here: consensus imports this module's package.
    from assignments.services.consensus import tasks_consensus_run

    ids = list(dict.fromkeys(assignment_ids))
    done = dict.fromkeys(ids, FollowUp(graded=False, consensus=""))
    if not ids:
        return done
    # When each task's last label came in: a task is decided when it is complete, as a control
    # answer is graded at its submission, so that neither kind of label is earned (paid, scored)
    # at a moment of its own (the worker's delay is not the labeler's).
    rows = sql.follow_up(len(ids)).all(sql.id_params("assignment", ids))
    runs: dict[int, datetime] = {}
    filled_by: dict[int, list[int]] = {}
    for assignment, task, last in rows:
        if assignment.is_control:
            graded = control_answer_grade(assignment_id=assignment.pk)
            done[assignment.pk] = FollowUp(graded=graded, consensus="")
        elif task.state == Task.State.COMPLETE:
            runs[assignment.task_id] = last.submitted_at
            filled_by.setdefault(assignment.task_id, []).append(assignment.pk)
    if runs:
        actions = tasks_consensus_run(runs=runs)
        for task_id, pks in filled_by.items():
            for pk in pks:
                done[pk] = FollowUp(graded=False, consensus=actions[task_id])
    return done


def submissions_follow_up(*, assignment_ids: Sequence[int]) -> dict[int, FollowUp]:
    """The follow-up of submissions after they commit (the worker's batch of
    ``assignments.assignment_submitted`` messages, or one): each one's
    ``submission_follow_up`` (one read for all, consensus on the tasks they filled in one
    transaction); then their real answers counted as new labels of their projects, one
    statement for all (``refits.project_labels_count``, which sends a refit every
    ``refit_every`` labels); then, when one of them filled a task and its project's count sent
    no refit, a refit now if that was the project's last open task
    (``refits.project_refit_if_finished``: a finished project's export carries a fit of all
    its labels). Returns each id's ``FollowUp``.

    Idempotent but for the count, which comes last, so that a follow-up that fails before it
    and is run again does not count twice."""
    # Imported here: these modules import this one's package.
    from assignments.services import refits
    from assignments.services.consensus import FILLED

    done = _follow_up(assignment_ids)
    counts = refits.project_labels_count(assignment_ids=list(done))
    if any(follow_up.consensus in FILLED for follow_up in done.values()):
        for count in counts:
            if not count.refit_sent:
                refits.project_refit_if_finished(project_id=count.project_id)
    return done


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
