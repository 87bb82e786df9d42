"""Start-up refusal of unsafe production settings.

Whenever DEBUG is off, the WSGI/ASGI application and the Celery worker refuse to start with
a missing or development SECRET_KEY or an empty ALLOWED_HOSTS. The same problems are
reported by `manage.py check --deploy` (tagged "deploy").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 50


def production_problems(conf: Any = settings) -> list[str]:
    """What is unsafe about `conf` for a DEBUG-off deployment (empty when DEBUG is on)."""
    if conf.DEBUG:
        return []
    problems = []
    key = conf.SECRET_KEY or ""
    if not key or key == conf.INSECURE_DEFAULT_SECRET_KEY:
        problems.append("SECRET_KEY is not set: set the SECRET_KEY environment variable to a long random value.")
    elif len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        problems.append(f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters.")
    if not conf.ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS is empty: set ALLOWED_HOSTS to the host names this service answers to.")
    return problems


def refuse_unsafe_settings() -> None:
    """Raise ImproperlyConfigured listing every problem; called by the serving entry points."""
    problems = production_problems()
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off:\n  - " + "\n  - ".join(problems))


@checks.register(checks.Tags.security, deploy=True)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [checks.Error(message, id="ledgerlink.E001") for message in production_problems()]
