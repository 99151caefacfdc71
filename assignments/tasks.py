"""Celery tasks of the work flow. Each reloads what it needs and calls one service."""

from celery import shared_task

from assignments import services


@shared_task(name="assignments.leases_expire", ignore_result=True)
def leases_expire() -> int:
    """Tidy-up for reports: relabel lapsed leases as expired. Slots are already free without it."""
    return services.leases_expire()
