"""Celery tasks of the work flow. Each reloads what it needs and calls one service.

Every task retries on a transient database error with exponential backoff (the base class in
``config.celery``). A task marked ``periodic=True`` is a safety net or a scheduled job: it must
have an entry in ``CELERY_BEAT_SCHEDULE`` (a test holds every such task to it), and the list of
them, with what each catches, is in docs/architecture.md ("Background jobs").
"""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from assignments import services
from assignments.models import Project
from assignments.services import consensus as consensus_services
from assignments.services import drift as drift_services
from assignments.services import refits as refit_services
from assignments.services import review as review_services
from config.celery import BatchedTask
from qc.services import control as control_services
from qc.services import rules as rules_services

logger = logging.getLogger(__name__)


@shared_task(name="assignments.leases_expire", ignore_result=True, periodic=True)
def leases_expire() -> int:
    """Tidy-up for reports: relabel lapsed leases as expired. Slots are already free without it."""
    return services.leases_expire()


@shared_task(
    name="assignments.assignment_submitted",
    base=BatchedTask,
    ignore_result=True,
    flush_every=settings.FOLLOW_UP_BATCH,
    flush_interval=settings.FOLLOW_UP_BATCH_SECONDS,
)
def assignment_submitted(requests) -> None:
    """Sent after every submission commits, real or control alike, with the assignment id.
    The worker takes these messages in batches (``FOLLOW_UP_BATCH`` messages, or what came
    within ``FOLLOW_UP_BATCH_SECONDS``; one in eager mode) and follows them up together
    (``submissions_follow_up``): grade a control answer, count it in the control rate, run
    consensus on a task it completed, count the real answers as new labels of their projects
    (a refit every ``refit_every`` labels), and refit a project whose last open task was just
    completed. Idempotent but for the count (a redelivered message counts one label twice:
    one label early on the next refit).

    A batch that fails — a transient database error, or a bug one submission meets — sends each
    id again as ``assignment_follow_up``: a transient error is retried with backoff like every
    task (config.celery), and a submission that fails alone is recorded as a failed task with
    its own id (``health.FailedTask``, retried from the admin) without holding up the rest of
    the batch. What outlasts that is caught by the sweeps."""
    ids = [request.args[0] for request in requests]
    try:
        services.submissions_follow_up(assignment_ids=ids)
    except Exception as exc:  # each id is followed up again on its own, as said above
        level = (
            logging.WARNING if isinstance(exc, OperationalError | InterfaceError) else logging.ERROR
        )
        logger.log(
            level,
            "follow-up of %d submissions sent again one by one: %r",
            len(ids),
            exc,
            exc_info=level == logging.ERROR,
        )
        for assignment_id in ids:
            assignment_follow_up.delay(assignment_id)


@shared_task(name="assignments.assignment_follow_up", ignore_result=True)
def assignment_follow_up(assignment_id: int) -> None:
    """The follow-up of one submission (``submissions_follow_up`` of one id): what a batch of
    ``assignment_submitted`` that met a transient database error sends again, per id."""
    services.submissions_follow_up(assignment_ids=[assignment_id])


@shared_task(name="assignments.project_refit", ignore_result=True)
def project_refit(project_id: int, due_only: bool = True) -> bool:
    """Refit one project's model and re-decide its tasks, sent by the label count every
    ``refit_every`` labels (``refits.project_refit_run``). Skips when a refit of the project is
    running or, with ``due_only`` (the default), when its labels are no longer due — a
    duplicate message is harmless. ``due_only=False`` refits now (by hand). Returns whether it
    refitted."""
    return refit_services.project_refit_run(project_id=project_id, due_only=due_only) is not None


@shared_task(name="assignments.task_consensus", ignore_result=True)
def task_consensus(task_id: int) -> str:
    """Consensus on one task (kept for messages queued before ``assignment_submitted`` took its
    place). Idempotent: a second run, or a run on a decided task, does nothing."""
    return consensus_services.task_consensus_run(task_id=task_id)


@shared_task(name="assignments.consensus_sweep", ignore_result=True, periodic=True)
def consensus_sweep() -> int:
    """Safety net for lost after-commit messages: consensus on complete tasks that have none.
    Scheduled by ``CELERY_BEAT_SCHEDULE`` (every 5 minutes by default,
    ``CONSENSUS_SWEEP_SECONDS``)."""
    return consensus_services.consensus_sweep()


@shared_task(name="assignments.control_answers_sweep", ignore_result=True, periodic=True)
def control_answers_sweep() -> int:
    """Safety net for lost after-commit messages: grade the control answers of the last
    ``CONTROL_SWEEP_HOURS`` that have no gold check. Scheduled by ``CELERY_BEAT_SCHEDULE``
    (every 5 minutes by default, ``CONTROL_SWEEP_SECONDS``). Returns how many it graded."""
    return services.control_answers_grade_sweep()


@shared_task(name="assignments.audit_sample_weekly", ignore_result=True, periodic=True)
def audit_sample_weekly(week_start: str | None = None) -> int:
    """Audit sampling of last week — each project's, from Monday 00:00 in its time zone — (or of
    the week starting ``week_start``, ISO date) for every project with an audit percent.
    Idempotent per (project, labeler, week). Scheduled by ``CELERY_BEAT_SCHEDULE`` on Mondays
    at 12:00 UTC (when last week has ended in every zone)."""
    start = date.fromisoformat(week_start) if week_start else None
    return review_services.audit_sample_all(week_start=start)


@shared_task(name="assignments.quality_refit", ignore_result=True, periodic=True)
def quality_refit() -> int:
    """Refit Dawid-Skene for every active project (estimates for scorecards and weighted
    consensus, and the re-decision of the tasks a fit changes), each through the one-run-at-a-
    time claim of ``refits.projects_refit_run`` (a project being refitted is skipped).
    Scheduled by ``CELERY_BEAT_SCHEDULE`` (hourly by default, ``QUALITY_REFIT_SECONDS``).
    Idempotent. Returns how many projects were fitted."""
    return sum(1 for refit in refit_services.projects_refit_run() if not refit.skipped)


@shared_task(name="assignments.labeler_rules_evaluate", ignore_result=True)
def labeler_rules_evaluate(labeler_id: int, project_id: int) -> int:
    """Evaluate the project's quality rules for one labeler. Nothing sends it any more (rules
    are decided by ``quality_rules_sweep`` on the facts of past days, never after a submission:
    docs/quality.md); kept for messages already queued and for running by hand. Returns the
    firings made; safe to run twice and concurrently (a breach fires once)."""
    return len(rules_services.rules_evaluate(labeler_id=labeler_id, project_id=project_id))


@shared_task(name="assignments.quality_rules_sweep", ignore_result=True, periodic=True)
def quality_rules_sweep(hours: int = 24) -> int:
    """The evaluation of quality rules (``rules_sweep``): for every labeler with facts on a
    ruled project since the start of the previous day — or since ``hours`` ago, when that is
    earlier — or a pending firing, on the facts recorded before the start of the current day.
    Nothing else evaluates rules (docs/quality.md, "Rules"). Idempotent. Scheduled by
    ``CELERY_BEAT_SCHEDULE`` (hourly by default, ``QUALITY_RULES_SWEEP_SECONDS``). Returns the
    firings made."""
    since = timezone.now() - timedelta(hours=hours)
    return rules_services.rules_sweep(since=since)


@shared_task(name="assignments.gold_reviews_open", ignore_result=True, periodic=True)
def gold_reviews_open() -> int:
    """Open a gold review for each control task of a quarantined gold item (and withdraw open
    ones whose item was settled meanwhile). Scheduled by ``CELERY_BEAT_SCHEDULE`` every minute
    by default (``GOLD_REVIEWS_SECONDS``): the delay between a quarantine and its review.
    Idempotent. Returns the reviews opened."""
    return review_services.gold_reviews_open()


@shared_task(name="assignments.drift_sweep", ignore_result=True, periodic=True)
def drift_sweep() -> int:
    """Label drift (``drift.drift_sweep``): test the batches of active projects that had a task
    decided in the last hours and have no drift event yet; record an event (once per batch)
    and fire the project's ``label_drift`` rules where a batch drifted. Scheduled by
    ``CELERY_BEAT_SCHEDULE`` (every 15 minutes by default, ``DRIFT_SWEEP_SECONDS``).
    Idempotent. Returns the events recorded."""
    return drift_services.drift_sweep()


@shared_task(name="assignments.control_rates_rebuild", ignore_result=True, periodic=True)
def control_rates_rebuild() -> int:
    """Recount the adaptive control rate of every labeler on every active adaptive-control
    project from its counted gold checks (``qc.services.control.control_rates_rebuild``): the
    running counters miss what a quarantine voided or a correction re-graded. Scheduled by
    ``CELERY_BEAT_SCHEDULE`` (nightly at 02:30 by default). Idempotent. Returns the rows
    written."""
    projects = Project.objects.filter(
        status=Project.Status.ACTIVE, adaptive_control=True
    ).values_list("pk", "control_ratio", "control_floor")
    now = timezone.now()
    return sum(
        control_services.control_rates_rebuild(
            project_id=pk, ratio=float(ratio), floor=float(floor), now=now
        )
        for pk, ratio, floor in projects
    )
