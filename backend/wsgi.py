"""WSGI entry point (gunicorn backend.wsgi). Refuses unsafe settings when DEBUG is off."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = get_wsgi_application()

from backend.hardening import refuse_unsafe_settings  # noqa: E402  (needs configured settings)

refuse_unsafe_settings()
