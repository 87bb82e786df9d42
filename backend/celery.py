"""The Celery application: background report generation (billing/tasks.py).

Configured from Django settings (every ``CELERY_*`` setting). Without ``CELERY_BROKER_URL``
tasks run in-process when they are sent (eager mode), so nothing else has to be running.
Start a worker with ``celery -A backend worker -l info`` (docs/background-jobs.md). Like the
web server, a worker refuses to start with unsafe settings when DEBUG is off (backend.hardening).
"""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("ledgerlink")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def refuse_unsafe_settings_on_worker_start(**_: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from backend.hardening import refuse_unsafe_settings

    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as exc:
        # Celery logs and ignores exceptions of signal handlers; SystemExit stops the worker.
        raise SystemExit(str(exc)) from None
