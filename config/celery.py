"""The Celery application. Tasks carry primary keys, reload their rows and call a service.

Every task of the project is a ``LabelforceTask``:

* it retries on a transient database error (``OperationalError``, ``InterfaceError``: the
  database restarting, a failover, a dropped connection) with exponential backoff and jitter,
  ``RETRY_BACKOFF_SECONDS`` doubling up to ``RETRY_BACKOFF_MAX_SECONDS``, at most
  ``MAX_RETRIES`` times — about 15 minutes of outage in all. The retry is a new message, sent
  before the failed one is acknowledged, so the work is not lost with it; every task is
  idempotent, so running again is safe. What outlasts the retries is caught by the sweeps.
* ``periodic`` says whether it is a scheduled job (a safety net such as ``consensus_sweep``, or
  a recurring one such as ``quality_refit``): every periodic task must have an entry in
  ``CELERY_BEAT_SCHEDULE``, which ``migrate`` installs as a django-celery-beat row
  (``health.schedules``); tests hold the three together (tests/config/test_schedules.py).
* a task that fails once its retries are spent is recorded as a ``health.FailedTask``
  (``health.failures``, from Celery's ``task_failure`` signal) and can be retried from the
  admin.

``BatchedTask`` is a ``LabelforceTask`` whose messages the worker gathers and runs together
(celery-batches: the task receives the list of requests). Its ``run`` handles a transient
database error itself, by sending each request's work again as a single-message task that
retries as above (``assignments.assignment_submitted`` → ``assignments.assignment_follow_up``).

A worker takes a longer broker socket timeout than the web processes
(``CELERY_WORKER_SOCKET_TIMEOUT``, set when the worker starts).

The backoff stays well under the broker's visibility timeout (``CELERY_VISIBILITY_TIMEOUT``),
so a retry waiting for its time is never redelivered as if its worker had died.
"""

import os

from celery import Celery, Task, signals
from celery_batches import Batches
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

RETRY_BACKOFF_SECONDS = 2
RETRY_BACKOFF_MAX_SECONDS = 300
MAX_RETRIES = 8


class LabelforceTask(Task):
    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = RETRY_BACKOFF_SECONDS
    retry_backoff_max = RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = MAX_RETRIES
    periodic = False


class BatchedTask(Batches, LabelforceTask):
    """A task run on batches of its messages (``flush_every`` messages, or what arrived within
    ``flush_interval`` seconds); in eager mode, a batch of one."""


app = Celery("labelforce", task_cls=LabelforceTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def periodic_task_names() -> set[str]:
    """The names of the registered tasks marked ``periodic=True``."""
    app.loader.import_default_modules()
    return {name for name, task in app.tasks.items() if getattr(task, "periodic", False)}


@signals.celeryd_init.connect
def _worker_socket_timeout(conf=None, **kwargs):
    """A worker reads and publishes with ``CELERY_WORKER_SOCKET_TIMEOUT`` instead of the web
    processes' short publish bound (settings: a consumer that times out on a slow read drops
    its connection, and the messages it held wait for the visibility timeout)."""
    from django.conf import settings

    # In place: the options are read under their namespaced name (CELERY_…), which an
    # attribute set here would not replace. Only a worker process sends this signal.
    conf.broker_transport_options["socket_timeout"] = settings.CELERY_WORKER_SOCKET_TIMEOUT
