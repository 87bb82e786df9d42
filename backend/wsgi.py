"""WSGI entry point (gunicorn backend.wsgi). Refuses unsafe settings when DEBUG is off;
limits the run time of SQL statements (backend.database).

Each request runs with room on the frame stack (backend.stack): no memory-mapping churn.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from backend.stack import StackRoomMiddleware

application = StackRoomMiddleware(get_wsgi_application())

from backend.database import limit_statements_of_web_requests  # noqa: E402
from backend.hardening import refuse_unsafe_settings  # noqa: E402  (needs configured settings)

refuse_unsafe_settings()
limit_statements_of_web_requests()
