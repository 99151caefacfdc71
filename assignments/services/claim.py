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

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from assignments import tasks as work_tasks
from assignments.models import Assignment, Project, Task
from assignments.selectors import claim as selectors
from config.errors import Conflict, Forbidden, NotFound
from qc.answers import AnswerError, validate_answer
from qc.models import GoldItem
from workforce.models import Labeler, User

# A claim whose re-count finds the task full (it filled between the SELECT's snapshot and the
# lock) tries again; each try is the same set-based query, so this is bounded, not a row loop.
CLAIM_TRIES = 3

_rng = random.SystemRandom()


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

    Returns None when no task is left for this labeler. Raises NotFound for an unknown project,
    Forbidden (with a code naming the missing requirement) when the labeler may not work on it,
    Conflict when the project is not active. Takes a row lock on one task (skip-locked). No side
    effects besides the lease.
    """
    now = now or timezone.now()
    rng = rng or _rng
    for attempt in range(CLAIM_TRIES):
        try:
            return _claim(labeler=labeler, project_id=project_id, now=now, rng=rng)
        except IntegrityError:
            # The same labeler's concurrent call leased first (one live lease per labeler and
            # project is a constraint): the next try hands that lease back. Bounded: each try
            # is the same few set-based statements.
            if attempt == CLAIM_TRIES - 1:
                raise Conflict(
                    "Another request of yours is taking a task right now; try again.",
                    code="concurrent_claim",
                ) from None
    raise AssertionError("unreachable")


def _claim(*, labeler: Labeler, project_id: int, now: datetime, rng: random.Random) -> Claim | None:
    with transaction.atomic(durable=True):
        gate = selectors.project_gate(labeler=labeler, project_id=project_id, now=now)
        _check_gate(gate)
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
        want_control = project.control_ratio > 0 and rng.random() < float(project.control_ratio)
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
            return None
        return Claim(assignment, project, created=True)


def _check_gate(gate: selectors.Gate) -> None:
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


def _not_done_by(labeler: Labeler):
    return ~Exists(Assignment.objects.filter(task_id=OuterRef("pk"), labeler_id=labeler.pk))


def _used_slots(now: datetime):
    """Live leases plus submissions of the outer task, as a correlated count (an index probe on
    ``assignments_task_slots``)."""
    used = (
        Assignment.objects.filter(task_id=OuterRef("pk"))
        .filter(
            Q(status=Assignment.Status.SUBMITTED)
            | Q(status=Assignment.Status.LEASED, expires_at__gt=now)
        )
        .order_by()
        .values("task_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(used), 0)


def _lock_next_open_task(*, project: Project, labeler: Labeler, now: datetime) -> Task | None:
    """Lock the highest-priority open task this labeler has not touched and whose slots are not
    all taken by live leases (as of this statement's snapshot; the lease insert re-counts);
    skip rows other claims hold. Walks the partial index ``assignments_task_open_queue``."""
    row = (
        Task.objects.filter(project_id=project.pk, is_open=True)
        .filter(_not_done_by(labeler))
        .alias(used=_used_slots(now))
        .filter(used__lt=F("target"))
        .order_by("-priority", "id")
        .select_for_update(skip_locked=True, no_key=True, of=("self",))
        .values_list("id", "payload")[:1]
    )
    found = next(iter(row), None)
    return Task(pk=found[0], payload=found[1]) if found else None


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


def _claim_control(*, project: Project, labeler: Labeler, now: datetime) -> Assignment | None:
    """Lease a random control task (a gold item served as a task) the labeler has not seen.
    Control tasks have no slot limit, so no lock is needed; the unique (task, labeler)
    constraint keeps one labeler from seeing a gold item twice."""
    found = (
        Task.objects.filter(project_id=project.pk, gold_item__isnull=False)
        .filter(_not_done_by(labeler))
        .order_by("?")
        .values_list("id", "payload")
        .first()
    )
    if found is None:
        return None
    task = Task(pk=found[0], payload=found[1])
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
    one is a Conflict (``already_submitted``). A late submission — after the lease expired — is
    accepted only while the task still has a free slot for it, counted under the task row's lock;
    otherwise Conflict (``slot_taken``). A released assignment cannot be submitted (Conflict).
    Locks the assignment row, then (via the update) the task row.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        assignment = (
            Assignment.objects.select_related("project")
            .select_for_update(of=("self",), no_key=True)
            .filter(pk=assignment_id, labeler_id=labeler.pk)
            .first()
        )
        if assignment is None:
            raise NotFound()
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
        late = assignment.expires_at <= now
        completed = False
        if not assignment.is_control:
            completed = _count_submission(assignment=assignment, late=late, now=now)
        if completed:
            # Consensus runs after commit, in a Celery task that reloads the task: no SQL here,
            # and a broker failure cannot undo the submission (consensus_sweep catches up).
            task_id = assignment.task_id
            transaction.on_commit(lambda: work_tasks.task_consensus.delay(task_id), robust=True)
        lease_seconds = project.lease_seconds
        active = int(min((now - assignment.leased_at).total_seconds(), lease_seconds))
        Assignment.objects.filter(pk=assignment.pk).update(
            status=Assignment.Status.SUBMITTED,
            answer=canonical,
            submitted_at=now,
            active_seconds=max(active, 0),
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.answer = canonical
        assignment.submitted_at = now
        assignment.active_seconds = max(active, 0)
    return Submission(assignment, created=True, task_completed=completed)


def _count_submission(*, assignment: Assignment, late: bool, now: datetime) -> bool:
    """Count the submission on its task; returns whether it filled the last slot.

    On time, the lease held a slot, so the count can only reach the target. Late, the slot may
    have gone to someone else: the guarded UPDATE takes it only if live leases plus submissions,
    other than this one, leave room — evaluated while the UPDATE holds the task row's lock.
    """
    t = Task._meta.db_table
    a = Assignment._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    room = ""
    params: list = []
    if late:
        room = f"""AND (SELECT COUNT(*) FROM {a} x WHERE x.task_id = {t}.id AND x.id <> %s
                   AND (x.status = 'submitted' OR (x.status = 'leased' AND x.expires_at > %s)))
                   < {t}.target"""  # noqa: S608
        params = [assignment.pk, adapt(now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {t} SET submitted = submitted + 1,
                               is_open = (submitted + 1 < target),
                               state = CASE WHEN submitted + 1 >= target THEN 'complete'
                                            ELSE state END
                WHERE id = %s AND submitted < target {room}
                RETURNING submitted >= target""",  # noqa: S608
            [assignment.task_id, *params],
        )
        row = cursor.fetchone()
    if row is None:
        raise Conflict(
            "Your lease expired and the slot was given to another labeler.", code="slot_taken"
        )
    return bool(row[0])


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
    task carries its own, never the answer. Returns how many were created."""
    if project.control_gold_set_id is None:
        return 0
    with transaction.atomic():
        have = set(
            Task.objects.filter(project=project, gold_item__isnull=False).values_list(
                "gold_item_id", flat=True
            )
        )
        items = GoldItem.objects.filter(
            gold_set_id=project.control_gold_set_id, status=GoldItem.Status.ACTIVE
        ).exclude(pk__in=have)
        created = Task.objects.bulk_create(
            Task(
                project=project,
                gold_item=item,
                payload=item.payload,
                target=0,
                is_open=False,
            )
            for item in items
        )
    return len(created)
