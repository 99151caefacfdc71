"""The default schedule in the database: every entry of ``settings.CELERY_BEAT_SCHEDULE`` as a
django-celery-beat ``PeriodicTask`` row, there right after ``migrate`` (not only once beat has
started), visible and editable in the admin (Periodic tasks).

``schedule_defaults_install`` creates the rows that are missing, by entry name, and leaves every
existing row alone: an interval ops changed, a job ops disabled, stays as ops left it. It runs

* after every ``migrate`` (a ``post_migrate`` receiver connected in ``HealthConfig.ready``), so a
  fresh database — the demo's SQLite, a new production database, the test database — has its
  schedule at once;
* when beat starts (``CreateOnlyDatabaseScheduler``, the ``CELERY_BEAT_SCHEDULER``): the stock
  ``DatabaseScheduler`` writes every settings entry over its row at each start
  (``update_or_create``), which would undo ops' edits; this one only adds what is missing.

A job removed from the settings keeps its row (ops delete it in the admin); a job renamed in the
settings gets a new row beside the old one. docs/architecture.md, "Background jobs".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

logger = logging.getLogger(__name__)


def schedule_defaults_install(
    *, schedule: Mapping[str, Mapping[str, Any]] | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Create a ``PeriodicTask`` row (and its interval or crontab row) for each entry of
    ``schedule`` (default ``settings.CELERY_BEAT_SCHEDULE``) whose name has no row yet; never
    updates an existing row. One transaction; safe to run twice and concurrently (the row's
    name is unique: a concurrent insert of the same entry loses to ``get_or_create``). Returns
    the names it created."""
    schedule = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
    created: list[str] = []
    with transaction.atomic(using=using):
        existing = set(
            PeriodicTask.objects.using(using)
            .filter(name__in=list(schedule))
            .values_list("name", flat=True)
        )
        for name, entry in schedule.items():
            if name in existing:
                continue
            # The scheduler's own translation of a settings entry into model fields (the
            # interval or crontab row is found or created there).
            fields = ModelEntry._unpack_fields(**dict(entry))
            _, made = PeriodicTask.objects.using(using).get_or_create(name=name, defaults=fields)
            if made:
                created.append(name)
    if created:
        logger.info("beat schedule: created %s", ", ".join(sorted(created)))
    return created


def install_after_migrate(sender=None, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """``post_migrate`` receiver: install the default schedule once the tables exist (a partial
    migrate that stopped before django-celery-beat's tables does nothing)."""
    tables = connections[using].introspection.table_names()
    if PeriodicTask._meta.db_table not in tables:
        return
    schedule_defaults_install(using=using)


class CreateOnlyDatabaseScheduler(DatabaseScheduler):
    """django-celery-beat's database scheduler, except that at start-up it only adds the
    settings entries that have no row (``schedule_defaults_install``) instead of writing every
    entry over its row: what ops edited in the admin survives a restart of beat."""

    def setup_schedule(self) -> None:
        schedule_defaults_install(schedule=self.app.conf.beat_schedule or {})
        self.install_default_entries(self.schedule)
