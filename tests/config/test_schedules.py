"""Every periodic job the code relies on is in the default schedule, as a django-celery-beat row
right after ``migrate`` (issue 14, "Schedules"): visible and editable in the admin, never
overwritten from the settings once ops edited it (health.schedules)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.celery import app, periodic_task_names
from health import schedules

# The jobs issue 14 names, by task: a rename must keep them periodic and scheduled.
NAMED_JOBS = {
    "assignments.audit_sample_weekly",  # weekly audits
    "qc.quiz_attempts_end_overdue",  # attempt sweep
    "assignments.consensus_sweep",  # consensus sweep
    "assignments.control_rates_rebuild",  # control-rate rebuild
    "assignments.quality_refit",  # hourly refit
    "assignments.drift_sweep",  # drift
}


def scheduled() -> dict[str, str]:
    return {entry["task"]: key for key, entry in settings.CELERY_BEAT_SCHEDULE.items()}


def test_the_named_jobs_are_periodic_tasks():
    assert periodic_task_names() >= NAMED_JOBS


def test_every_periodic_task_has_a_schedule_entry():
    missing = periodic_task_names() - set(scheduled())
    assert not missing, f"periodic tasks with no entry in CELERY_BEAT_SCHEDULE: {missing}"


@pytest.mark.django_db
def test_every_periodic_task_has_a_row_after_migrate():
    """The test database was made by migrate: its post_migrate receiver installed the rows."""
    rows = dict(PeriodicTask.objects.values_list("task", "name"))
    missing = {name for name in periodic_task_names() if name not in rows}
    assert not missing, f"periodic tasks with no PeriodicTask row after migrate: {missing}"
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        row = PeriodicTask.objects.select_related("interval", "crontab").get(name=key)
        assert row.task == entry["task"] and row.enabled
        if isinstance(entry["schedule"], crontab):
            assert row.crontab is not None and row.interval is None
            assert row.crontab.schedule == entry["schedule"]
        else:
            assert row.interval.period == IntervalSchedule.SECONDS
            assert row.interval.every == int(entry["schedule"])


@pytest.mark.django_db
def test_install_creates_what_is_missing_and_never_overwrites_an_edit():
    edited = PeriodicTask.objects.get(name="consensus-sweep")
    edited.interval = IntervalSchedule.objects.create(every=42, period=IntervalSchedule.MINUTES)
    edited.enabled = False
    edited.save()
    PeriodicTask.objects.filter(name="drift-sweep").delete()

    created = schedules.schedule_defaults_install()

    assert created == ["drift-sweep"]
    edited.refresh_from_db()
    assert (edited.interval.every, edited.interval.period, edited.enabled) == (42, "minutes", False)
    assert PeriodicTask.objects.get(name="drift-sweep").task == "assignments.drift_sweep"
    assert schedules.schedule_defaults_install() == []


@pytest.mark.django_db
def test_migrate_again_keeps_ops_edits(django_db_blocker):
    audit = PeriodicTask.objects.get(name="audit-sample-weekly")
    audit.crontab = CrontabSchedule.objects.create(minute="5", hour="6", day_of_week="2")
    audit.save()
    PeriodicTask.objects.filter(name="quality-refit").delete()

    call_command("migrate", verbosity=0, interactive=False)

    audit.refresh_from_db()
    assert (audit.crontab.minute, audit.crontab.hour) == ("5", "6")
    assert PeriodicTask.objects.filter(name="quality-refit").exists()


@pytest.mark.django_db
def test_beat_start_adds_missing_entries_without_overwriting():
    """The stock scheduler writes every settings entry over its row at start-up; ours only adds."""
    edited = PeriodicTask.objects.get(name="leases-expire")
    edited.interval = IntervalSchedule.objects.create(every=3, period=IntervalSchedule.HOURS)
    edited.save()
    PeriodicTask.objects.filter(name="gold-reviews-open").delete()

    assert settings.CELERY_BEAT_SCHEDULER == "health.schedules:CreateOnlyDatabaseScheduler"
    # Its start-up step alone (the constructor also closes the test's connection): the
    # stock scheduler's own default entries (celery.backend_cleanup) are not ours to test.
    scheduler = schedules.CreateOnlyDatabaseScheduler.__new__(schedules.CreateOnlyDatabaseScheduler)
    scheduler.app = app
    with (
        mock.patch.object(scheduler, "install_default_entries"),
        mock.patch.object(type(scheduler), "schedule", new_callable=mock.PropertyMock),
    ):
        scheduler.setup_schedule()

    edited.refresh_from_db()
    assert (edited.interval.every, edited.interval.period) == (3, "hours")
    assert (
        PeriodicTask.objects.get(name="gold-reviews-open").task == "assignments.gold_reviews_open"
    )


def test_a_fresh_sqlite_database_has_the_schedule_after_migrate(tmp_path):
    """What `make demo` does first: migrate a new SQLite file (the demo's embedded default)."""
    db = tmp_path / "fresh.sqlite3"
    code = (
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "from django_celery_beat.models import PeriodicTask;"
        "print(sorted(PeriodicTask.objects.values_list('name', flat=True)))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{db}",
        "SECRET_KEY": "x",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    out = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        timeout=300,
        check=True,
    ).stdout
    names = eval(out.strip().splitlines()[-1])  # noqa: S307 - our own subprocess's list
    assert set(settings.CELERY_BEAT_SCHEDULE) <= set(names)


def test_interval_entries_are_whole_seconds():
    for key, entry in settings.CELERY_BEAT_SCHEDULE.items():
        if not isinstance(entry["schedule"], crontab):
            seconds = entry["schedule"]
            seconds = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
            assert float(seconds).is_integer(), f"{key}: an interval row keeps whole seconds"
