"""The statement timeout of web processes (PostgreSQL): set on each new connection, cancels long statements."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections

from backend.database import limit_statements_of_web_requests, stop_limiting_statements

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no statement timeout"),
]


@pytest.fixture
def web_connection(settings):
    """A new connection opened as a web worker opens it, with a 0.2 s timeout."""
    settings.DATABASE_STATEMENT_TIMEOUT = 0.2
    limit_statements_of_web_requests()
    fresh = connections.create_connection("default")
    try:
        fresh.ensure_connection()
        yield fresh
    finally:
        fresh.close()
        stop_limiting_statements()


def test_each_new_connection_gets_the_timeout(web_connection):
    with web_connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("200ms",)


def test_a_statement_running_longer_is_cancelled(web_connection):
    with web_connection.cursor() as cursor, pytest.raises(OperationalError, match="statement timeout"):
        cursor.execute("SELECT pg_sleep(2)")


def test_connections_of_other_processes_keep_no_limit(settings):
    settings.DATABASE_STATEMENT_TIMEOUT = 0.2
    stop_limiting_statements()  # as in a worker or a command (this test process may have imported backend.wsgi)
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone() == ("0",)
    finally:
        fresh.close()
