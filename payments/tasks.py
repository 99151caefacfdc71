"""Celery tasks of payments. Each reloads what it needs and calls one service; safe to run twice
(a calculation is idempotent)."""

from celery import shared_task

from config.errors import Conflict
from payments.models import Calculation
from payments.services import calculate


@shared_task(name="payments.period_calculate", ignore_result=True)
def period_calculate_task(calculation_id: int) -> None:
    """Run a queued calculation. A frozen period is recorded on the calculation (the admin shows
    it) and not retried; any other failure is recorded there too and raised, so the worker's
    retry of transient database errors applies (a rerun is idempotent)."""
    calculation = Calculation.objects.get(pk=calculation_id)
    try:
        calculate.period_calculate(
            actor=calculation.actor, period_id=calculation.period_id, calculation_id=calculation_id
        )
    except Conflict:  # the period was approved meanwhile: recorded on the calculation
        return
