"""Per-user rate limit of report generation (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["generate"]).

The rate comes from the GENERATE_RATE_LIMIT environment variable (default 30/min); an empty
value switches the limit off. It is read per request, so a settings override applies at once.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class GenerateRateThrottle(UserRateThrottle):
    """Counts generate requests per authenticated user (per client IP for anonymous ones)."""

    scope = "generate"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or None
