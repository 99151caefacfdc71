"""Celery tasks of the qc app. Each reloads its rows and calls a service; each is safe to run
twice and concurrently.

``qc.quiz_attempts_end_overdue`` ends quiz attempts whose time limit has passed (end reason
``time_limit``, finished at the deadline), granting the qualification where a passed
qualification quiz earns one. It ends nothing else: a qualification expires by its
``expires_at`` alone, read at the moment of use, and needs no job.

Correctness does not depend on this task: every path that touches an attempt (start, answer,
finish) ends an overdue one first, and gating counts an overdue attempt as ended at its
deadline. The task tidies up attempts their labeler never comes back to, so that reports and
vendor managers see them ended. ``CELERY_BEAT_SCHEDULE`` runs it every minute by default
(``QUIZ_OVERDUE_SECONDS``; docs/architecture.md, "Background jobs").
"""

from __future__ import annotations

from celery import shared_task

from qc.services.quizzes import quiz_attempts_end_overdue as _end_overdue


@shared_task(name="qc.quiz_attempts_end_overdue", ignore_result=True, periodic=True)
def quiz_attempts_end_overdue() -> int:
    """End the attempts past their deadline (a batch per run). Returns how many it found."""
    return _end_overdue()
