"""WSGI entry point (gunicorn backend.wsgi). Refuses unsafe settings when DEBUG is off;
limits the run time of SQL statements (backend.database).

On the CPython releases that need it, each request runs with room on the frame stack
(backend.cpython_stack): no memory-mapping churn.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from backend.cpython_stack import with_room_if_needed

application = with_room_if_needed(get_wsgi_application())

from backend.database import limit_statements_of_web_requests  # noqa: E402
from backend.hardening import refuse_unsafe_settings  # noqa: E402  (needs configured settings)

refuse_unsafe_settings()
limit_statements_of_web_requests()
