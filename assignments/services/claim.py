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

import logging
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assignments import sql
from assignments.models import Assignment, Project, Review, Task
from assignments.selectors import gate as selectors
from assignments.selectors.projects import LABELER_VISIBLE_STATUSES
from config.errors import ApplicationError, Conflict, Forbidden, NotFound
from qc.models import GoldItem
from workforce.models import Labeler, User, Vendor, VendorStatusChange
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
    default_detail = gettext_lazy(
        "Tasks are still open for you, but other labelers were taking them at the same moment; "
        "ask again in a second."
    )
    retry_after = 1


class _Contended(Exception):
    """Internal: one claim attempt found open tasks but leased none (rolls its transaction
    back)."""


class _Moved(Exception):
    """Internal: the look-ahead lease the gate saw was no longer one when the claim came to
    promote it (a concurrent call of the same labeler promoted, released or submitted it):
    start again from a fresh gate, as after a concurrent lease."""


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    project: Project
    created: bool  # False when a live lease was handed back (or the look-ahead one promoted)
    # ``ahead=True`` only: the labeler's look-ahead lease, handed back or claimed (None: no
    # other task is available to them now).
    ahead: Claim | None = None


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def assignment_claim_next(
    *,
    labeler: Labeler,
    project_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
    ahead: bool = False,
) -> Claim | None:
    """Lease the labeler the next task of the project, or hand back their live lease.

    The labeler's current lease is, in this order: their live current lease handed back; else
    their live look-ahead lease promoted to current (``ahead`` cleared; ``leased_at`` set to
    ``now``, so that the time on it is counted from now; its expiry moved to a full lease from
    ``now`` when that is later and the lease still holds its slot); else a new lease. With
    ``ahead`` (the labeler pages, docs/next-task.md "Look-ahead lease"), the same call then
    hands back their live look-ahead lease or claims one (``Assignment.ahead``: their
    next task, leased while they work on the current one; never the current one's task), in the
    same transaction and from the same gate, and returns it as ``claim.ahead`` (None when no
    other task is available now, or when the claims of others took every one this call tried:
    a look-ahead lease is an optimisation, so its contention is not retried). A labeler holds at
    most one lease of each kind per project (a constraint); a look-ahead lease is a live lease
    like any other, holding its task's slot.

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
            return _claim(labeler=labeler, project_id=project_id, now=now, rng=rng, ahead=ahead)
        except (IntegrityError, _Moved, OperationalError) as exc:
            # The same labeler's concurrent call leased (or promoted) first (one live lease of
            # each kind per labeler and project is a constraint): the next try hands that lease
            # back. A deadlock between two calls of one labeler (PostgreSQL aborts one) is the
            # same race. Bounded: each try is the same few set-based statements.
            if isinstance(exc, OperationalError) and not _deadlock(exc):
                raise
            integrity_failures += 1
            if integrity_failures == CLAIM_TRIES:
                raise Conflict(
                    _("Another request of yours is taking a task right now; try again."),
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


def _claim(
    *, labeler: Labeler, project_id: int, now: datetime, rng: random.Random, ahead: bool
) -> Claim | None:
    with transaction.atomic(durable=True):
        gate = selectors.project_gate(labeler=labeler, project_id=project_id, now=now)
        _check_gate(gate, labeler=labeler)
        project = gate.project
        stale = gate.has_stale_lease
        if gate.live_assignment_id:
            assignment = Assignment.objects.select_related("task").get(pk=gate.live_assignment_id)
            current = Claim(assignment, project, created=False)
            if not ahead:
                return current
        else:
            if stale:
                _expire_stale(project=project, labeler=labeler, now=now)
                stale = False
            if gate.ahead_assignment_id:
                assignment = _promote(
                    assignment_id=gate.ahead_assignment_id,
                    project=project,
                    labeler=labeler,
                    now=now,
                )
                current = Claim(assignment, project, created=False)
            else:
                assignment = _lease_next(
                    project=project,
                    labeler=labeler,
                    now=now,
                    rng=rng,
                    control_rate=gate.control_rate,
                )
                if assignment is None:
                    # Skip-locked and the lease's re-count cannot tell "nothing left" from
                    # "others hold or just took the rest": ask the same question without locks
                    # (a fresh snapshot, on this rare path only). A candidate seen means a lost
                    # race, never a 204.
                    if _open_task_exists(project=project, labeler=labeler, now=now):
                        raise _Contended()
                    return None
                current = Claim(assignment, project, created=True)
            if not ahead:
                return current
        # The look-ahead lease: the one the gate saw, unless it was just promoted; else a new one.
        if gate.ahead_assignment_id and gate.live_assignment_id:
            assignment = Assignment.objects.select_related("task").get(pk=gate.ahead_assignment_id)
            return replace(current, ahead=Claim(assignment, project, created=False))
        if stale:
            # A run-out lease of either kind still holds its one-live-lease row.
            _expire_stale(project=project, labeler=labeler, now=now)
        assignment = _lease_next(
            project=project,
            labeler=labeler,
            now=now,
            rng=rng,
            control_rate=gate.control_rate,
            ahead=True,
        )
        look = None if assignment is None else Claim(assignment, project, created=True)
        return replace(current, ahead=look)


def _expire_stale(*, project: Project, labeler: Labeler, now: datetime) -> None:
    """Mark the labeler's run-out leases in the project expired: a lease that ran out still
    holds its one-live-lease row (current or look-ahead)."""
    Assignment.objects.filter(
        labeler_id=labeler.pk,
        project_id=project.pk,
        status=Assignment.Status.LEASED,
        expires_at__lte=now,
    ).update(status=Assignment.Status.EXPIRED)


def _lease_next(
    *,
    project: Project,
    labeler: Labeler,
    now: datetime,
    rng: random.Random,
    control_rate: float,
    ahead: bool = False,
) -> Assignment | None:
    """Steps 2 to 4 of docs/next-task.md: a control task with probability ``control_rate``,
    else the next open task, leased (``ahead``: as the look-ahead lease). None when nothing was
    leased (nothing left, or every try lost to concurrent claims: the caller tells which)."""
    assignment = None
    if control_rate > 0 and rng.random() < control_rate:
        assignment = _claim_control(project=project, labeler=labeler, now=now, ahead=ahead)
    if assignment is None:
        for _ in range(CLAIM_TRIES):
            task = _lock_next_open_task(project=project, labeler=labeler, now=now)
            if task is None:
                break
            assignment = _lease_if_slot(
                task=task, project=project, labeler=labeler, now=now, ahead=ahead
            )
            if assignment is not None:
                break
    return assignment


def _promote(
    *, assignment_id: int, project: Project, labeler: Labeler, now: datetime
) -> Assignment:
    """Make the labeler's look-ahead lease their current one (``sql.promote_lock``, then
    ``sql.promote``): leased as of ``now`` (a submission's ``active_seconds`` counts from
    there, not the time the labeler spent on the task before, which is paid and counted on that
    task); its expiry becomes a full lease from ``now`` when that is later — only
    while it still holds its slot, counted under its task row's lock, so that a slot a
    concurrent claim saw as freed (the lease run out at that claim's ``now``) is never held
    twice. Raises ``_Moved`` when it is no longer a live look-ahead lease (a concurrent call
    promoted, released or submitted it)."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "assignment": assignment_id,
        "labeler": labeler.pk,
        "now": adapt(now),
        "expires": adapt(now + timedelta(seconds=project.lease_seconds)),
    }
    locked = sql.promote_lock().one(params)
    row = sql.promote().one(params) if locked else None
    if row is None:
        raise _Moved()
    (assignment,) = row
    (assignment.task,) = locked
    return assignment


def _check_gate(gate: selectors.Gate, *, labeler: Labeler) -> None:
    refusal = claim_refusal(gate, labeler=labeler)
    if refusal is not None:
        raise refusal


def claim_refusal(gate: selectors.Gate, *, labeler: Labeler) -> ApplicationError | None:
    """Why the claim refuses this labeler on the gate's project — the error it raises, the
    first of: NotFound (a project they may not read), Conflict ``project_not_active``,
    Forbidden ``labeler_inactive``, ``vendor_inactive`` (their vendor is suspended or
    offboarded), ``project_internal_only``, ``vendor_not_allowed``, ``skill_missing``,
    ``language_missing`` (docs/next-task.md, "Who may work on a project"),
    ``qualification_missing``, ``guide_not_acknowledged``, ``paused_on_project`` — or None when
    it hands out work (a task, or none left). Pure: for pages that show why before anyone asks
    for a task."""
    if gate.project.status not in LABELER_VISIBLE_STATUSES and not is_ops(labeler.user):
        # What the labeler cannot read (``project_get_for``) does not exist for them here either.
        return NotFound()
    if gate.project.status != Project.Status.ACTIVE:
        return Conflict(
            _("The project is %(status)s; no work is handed out.")
            % {"status": gate.project.status},
            code="project_not_active",
        )
    if gate.labeler_status != Labeler.Status.ACTIVE:
        return Forbidden(
            _("Your labeler account is %(status)s; only active labelers get work.")
            % {"status": gate.labeler_status},
            code="labeler_inactive",
        )
    if gate.vendor_status is not None and gate.vendor_status != Vendor.Status.ACTIVE:
        return Forbidden(
            _("Your vendor is offboarded; its labelers get no more work.")
            if gate.vendor_status == Vendor.Status.OFFBOARDED
            else _("Your vendor is suspended; its labelers get no work until it is reactivated."),
            code="vendor_inactive",
        )
    if gate.excluded == "internal_only":
        return Forbidden(
            _("This project is restricted to internal staff."), code="project_internal_only"
        )
    if gate.excluded == "vendor_not_allowed":
        return Forbidden(
            _("This project is restricted to other vendors' labelers."),
            code="vendor_not_allowed",
        )
    if gate.missing_skill:
        return Forbidden(
            _("This project needs the skill '%(name)s'.") % {"name": gate.missing_skill},
            code="skill_missing",
        )
    if gate.missing_language:
        return Forbidden(
            _("This project needs the language '%(code)s'.") % {"code": gate.missing_language},
            code="language_missing",
        )
    if gate.missing_qualification:
        return Forbidden(
            _("You need a valid '%(name)s' qualification for this project.")
            % {"name": gate.missing_qualification},
            code="qualification_missing",
        )
    if gate.guide_ack_missing:
        return Forbidden(
            _("Read and acknowledge the current version of the project's guide first."),
            code="guide_not_acknowledged",
        )
    if gate.paused_by_rule:
        return Forbidden(
            _(
                "A quality rule paused your work on this project; your vendor manager or the "
                "operations team can tell you more."
            ),
            code="paused_on_project",
        )
    return None


def _claim_params(*, project: Project, labeler: Labeler, now: datetime) -> dict:
    return {
        "project": project.pk,
        "labeler": labeler.pk,
        "now": connection.ops.adapt_datetimefield_value(now),
    }


def _lock_next_open_task(*, project: Project, labeler: Labeler, now: datetime) -> Task | None:
    """Lock the highest-priority open task this labeler has not touched and whose slots are not
    all taken by live leases (as of this statement's snapshot; the lease insert re-counts);
    skip rows other claims hold. Walks the partial index ``assignments_task_open_queue``."""
    row = sql.claim().one(_claim_params(project=project, labeler=labeler, now=now))
    return row[0] if row else None


def _open_task_exists(*, project: Project, labeler: Labeler, now: datetime) -> bool:
    """Whether, as of a fresh snapshot, an open task this labeler has not done has a free slot
    (rows other claims hold included): ``sql.claim`` without its lock clause."""
    params = _claim_params(project=project, labeler=labeler, now=now)
    return sql.claim(lock=False).one(params) is not None


def _lease_if_slot(
    *,
    task: Task,
    project: Project,
    labeler: Labeler,
    now: datetime,
    is_control: bool = False,
    ahead: bool = False,
) -> Assignment | None:
    """Insert the lease only if the task still has a free slot, counted afresh (a new statement
    sees every committed lease) while this transaction holds the task row's lock
    (``sql.lease``)."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "project": project.pk,
        "labeler": labeler.pk,
        "control": is_control,
        "now": adapt(now),
        "expires": adapt(now + timedelta(seconds=project.lease_seconds)),
        "task": task.pk,
    }
    row = sql.lease(control=is_control, ahead=ahead).one(params)
    if row is None:
        return None
    (assignment,) = row
    assignment.task = task
    return assignment


def _claim_control(
    *, project: Project, labeler: Labeler, now: datetime, ahead: bool = False
) -> Assignment | None:
    """Lease a random control task (a gold item served as a task) that the labeler has never
    met: not served to them in any project (a lease of any status on a control task of the same
    gold item), no gold check of theirs on it in any project (one gold set may be the control
    set of two projects), no exposure of it (``qc.GoldExposure``: a quiz showed it, they wrote
    its answer, they labeled the task it came from), and the item is active (a quarantined or
    retired item is not served). None when no such task is left.

    One statement (then the lease's INSERT): a random pivot between the lowest and highest item
    id of the project's control set (two probes of ``qc_golditem_set_id``), and the first
    eligible control task among the ``sql.CONTROL_WINDOW`` at or after it in gold item order, else
    among the first ``sql.CONTROL_WINDOW`` (wrapping round), else any eligible one at random.
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
    row = sql.control_claim().one(params)
    if row is None:
        return None
    (task,) = row
    return _lease_if_slot(
        task=task, project=project, labeler=labeler, now=now, is_control=True, ahead=ahead
    )


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
            raise Conflict(
                _("A submitted assignment cannot be released."), code="already_submitted"
            )
        if assignment.status == Assignment.Status.LEASED:
            Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.RELEASED)
            assignment.status = Assignment.Status.RELEASED
    return assignment


def vendor_leases_end(*, vendor_id: int, now: datetime | None = None) -> int:
    """End the live leases (current and look-ahead) of every labeler of vendor ``vendor_id``:
    ``leased`` → ``released``, so each task's slot is free at once and a late submit is refused
    (409 ``released``). Returns how many ended. Run-out leases are left for ``leases_expire``.

    Called by a vendor's suspension or offboarding, inside its transaction and under the
    vendor row's ``FOR UPDATE`` lock (``on_vendor_status_changed``): the claim's gate reads the
    vendor under a share lock, so a claim that read the vendor as active has committed its lease
    before this statement runs (and this statement, a fresh snapshot, sees it), and a claim
    that had not yet read it will read the new status (docs/next-task.md, "Who may work on a
    project")."""
    now = now or timezone.now()
    # The status test must be on the updated table itself, not inside a sub-select: a submit
    # that holds a lease's row lock makes this UPDATE wait, and PostgreSQL then re-checks only
    # the row's own conditions on its new version (submitted: skipped). A join on the labeler
    # would make Django write ``id IN (SELECT …)``, whose old snapshot would still say leased.
    return Assignment.objects.filter(
        labeler_id__in=Labeler.objects.filter(vendor_id=vendor_id).values("pk"),
        status=Assignment.Status.LEASED,
        expires_at__gt=now,
    ).update(status=Assignment.Status.RELEASED)


def on_vendor_status_changed(sender, *, vendor, change, **kwargs) -> None:
    """Receiver of ``workforce.signals.vendor_status_changed`` (connected by
    ``AssignmentsConfig``; workforce cannot import this app): a vendor that is no longer active
    loses its labelers' live leases (``vendor_leases_end``) and its seniors' review leases
    (back to the queue), counted on the history row
    (``VendorStatusChange.leases_ended``). Runs inside the status change's transaction, so the
    change and the ended leases commit or roll back together."""
    if change.to_status == Vendor.Status.ACTIVE:
        return
    ended = vendor_leases_end(vendor_id=vendor.pk)
    # Its senior labelers' review leases go back to the queue for other seniors.
    # (The status test on the updated table itself, as in ``vendor_leases_end``.)
    ended += Review.objects.filter(
        reviewer_id__in=Labeler.objects.filter(vendor_id=vendor.pk).values("pk"),
        status=Review.Status.LEASED,
    ).update(status=Review.Status.OPEN, reviewer=None, leased_at=None, expires_at=None)
    if ended:
        VendorStatusChange.objects.filter(pk=change.pk).update(
            leases_ended=F("leases_ended") + ended
        )
        change.leases_ended += ended


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
