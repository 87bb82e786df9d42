"""A wall-clock limit on each SQL statement of the web processes (PostgreSQL).

The GraphQL cost limit refuses documents that would load too much; this is the backstop for
whatever still runs long: PostgreSQL cancels any statement of a web worker's connection after
DATABASE_STATEMENT_TIMEOUT seconds (0 turns it off), and the request fails instead of holding a
worker. It is set once per connection, when the connection opens, by the WSGI/ASGI entry
points only: Celery workers and management commands (billing runs, imports, large reports) keep
no limit. SQLite has no statement timeout; there the cost limit is the protection.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.backends.signals import connection_created


def _set_statement_timeout(sender: Any, connection: Any, **kwargs: Any) -> None:
    seconds = settings.DATABASE_STATEMENT_TIMEOUT
    if connection.vendor != "postgresql" or not seconds:
        return
    with connection.cursor() as cursor:
        # set_config rather than SET: it takes a parameter (prepared statements cannot bind SET).
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{round(seconds * 1000)}ms"])


def limit_statements_of_web_requests() -> None:
    """Give every database connection this process opens from now on the statement timeout."""
    connection_created.connect(_set_statement_timeout, dispatch_uid="ledgerlink.statement_timeout")


def stop_limiting_statements() -> None:
    connection_created.disconnect(dispatch_uid="ledgerlink.statement_timeout")
