"""The per-user limit of report generations (GENERATE_RATE_LIMIT, default 30/min).

Enforced by billing.services.generate for both APIs, so REST and GraphQL draw on one budget per
user: `generateReport`, `startBillingRun` and POST .../reports/generate/ each take one request
from it. The algorithm, syntax and cache key are those of DRF's SimpleRateThrottle, which
applied the limit to REST before: a sliding window of request times kept in Django's cache
(`CACHE_URL`; share it between app servers), "N/s|m|h|d" (only the first letter of the period
counts), an empty value switching the limit off. The setting is read per request, so an override
applies at once. The server itself (commands, report jobs: no signed-in actor) is not limited.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

from billing.errors import RateLimited
from billing.permissions import Actor, is_authenticated

__all__ = ["generation_rate_limit_take"]

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# DRF's key for the same budget ("throttle_<scope>_<user id>"), so counts survive the move.
_KEY = "throttle_generate_{}"


def generation_rate_limit_take(actor: Actor) -> None:
    """Count one generate request of `actor`; RateLimited when its budget is spent (not counted)."""
    rate = settings.GENERATE_RATE_LIMIT
    if not rate or not is_authenticated(actor):
        return
    allowed, duration = _parse(rate)
    key = _KEY.format(actor.pk)
    history: list[float] = cache.get(key, [])
    now = time.time()
    while history and history[-1] <= now - duration:
        history.pop()
    if len(history) >= allowed:
        raise RateLimited(retry_after=_wait(history, now, allowed, duration))
    history.insert(0, now)
    cache.set(key, history, duration)


def _parse(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    return int(number), _SECONDS[period[0]]


def _wait(history: list[float], now: float, allowed: int, duration: int) -> int | None:
    """Seconds until the oldest counted request leaves the window, spread over what frees up
    (SimpleRateThrottle.wait, rounded up as Retry-After needs); None when that cannot be said."""
    remaining = duration - (now - history[-1]) if history else duration
    available = allowed - len(history) + 1
    if available <= 0:
        return None
    return math.ceil(remaining / available)
