"""ASGI entry point. Refuses unsafe settings when DEBUG is off."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = get_asgi_application()

from backend.hardening import refuse_unsafe_settings  # noqa: E402  (needs configured settings)

refuse_unsafe_settings()
