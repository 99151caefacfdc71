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

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from assignments.models import Assignment, Project, Task
from assignments.selectors import gate as selectors
from assignments.selectors.projects import LABELER_VISIBLE_STATUSES
from config.errors import Conflict, Forbidden, NotFound
from qc.models import GoldCheck, GoldItem
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
    if gate.project.status not in LABELER_VISIBLE_STATUSES and not is_ops(labeler.user):
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
    from qc.models import GoldExposure

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
