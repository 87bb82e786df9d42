"""ASGI entry point. Refuses unsafe settings when DEBUG is off;
limits the run time of SQL statements (backend.database)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = get_asgi_application()

from backend.database import limit_statements_of_web_requests  # noqa: E402
from backend.hardening import refuse_unsafe_settings  # noqa: E402  (needs configured settings)

refuse_unsafe_settings()
limit_statements_of_web_requests()
