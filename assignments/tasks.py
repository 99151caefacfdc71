"""Celery tasks of the work flow. Each reloads what it needs and calls one service."""

from datetime import date

from celery import shared_task

from assignments import services
from assignments.services import review as review_services


@shared_task(name="assignments.leases_expire", ignore_result=True)
def leases_expire() -> int:
    """Tidy-up for reports: relabel lapsed leases as expired. Slots are already free without it."""
    return services.leases_expire()


@shared_task(name="assignments.task_consensus", ignore_result=True)
def task_consensus(task_id: int) -> str:
    """Consensus on a task whose last slot was just filled (sent after the submit commits).
    Idempotent: a second run, or a run on a decided task, does nothing."""
    return review_services.task_consensus_run(task_id=task_id)


@shared_task(name="assignments.consensus_sweep", ignore_result=True)
def consensus_sweep() -> int:
    """Safety net for lost after-commit messages: consensus on complete tasks that have none.
    Schedule it with celery beat, e.g. every 10 minutes."""
    return review_services.consensus_sweep()


@shared_task(name="assignments.audit_sample_weekly", ignore_result=True)
def audit_sample_weekly(week_start: str | None = None) -> int:
    """Audit sampling of last week (or of the week starting ``week_start``, ISO date) for every
    project with an audit percent. Idempotent per (project, labeler, week). Schedule it with
    celery beat once a week, e.g. Mondays 03:00 (task ``assignments.audit_sample_weekly``)."""
    start = date.fromisoformat(week_start) if week_start else None
    return review_services.audit_sample_all(week_start=start)
