"""The Celery application: background report generation (billing/tasks.py).

Configured from Django settings (every ``CELERY_*`` setting). Without ``CELERY_BROKER_URL``
tasks run in-process when they are sent (eager mode), so nothing else has to be running.
Start a worker with ``celery -A backend worker -l info`` (docs/background-jobs.md).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("ledgerlink")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
