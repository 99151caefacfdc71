"""The Celery application. Tasks carry primary keys, reload their rows and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("labelforce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
