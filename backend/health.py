"""Health endpoints for load balancers and orchestrators.

/healthz: the process answers. /readyz: the database is reachable and fully migrated, and
the broker and shared cache answer when they are configured. JSON, 200 or 503, never a trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger("ledgerlink.health")


def _database() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} migration{'' if len(pending) == 1 else 's'} not applied")
    return "ok"


def _cache() -> str:
    probe = f"readyz:{uuid.uuid4().hex}"
    cache.set(probe, "1", timeout=5)
    if cache.get(probe) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(probe)
    return "ok"


def _broker() -> str:
    from backend.celery import app

    with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _run(checks: dict[str, Callable[[], str]]) -> tuple[bool, dict[str, str]]:
    results, healthy = {}, True
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a failed dependency is a 503, reported by name
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = "unavailable"
            healthy = False
    return healthy, results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Callable[[], str]] = {"database": _database}
    if settings.CACHE_URL:
        checks["cache"] = _cache
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker
    healthy, results = _run(checks)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results}, status=200 if healthy else 503
    )
