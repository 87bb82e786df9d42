"""The facade's only renderer, and content negotiation that always picks it.

Money must reach the legacy frontend as a JSON number with two decimals (`1500.00`); DRF's
JSONRenderer would go through float (`1500.0`). FacadeJSONRenderer writes Decimal values
verbatim with billing.jsonencoding.dumps, the encoder the JSON export uses.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer

from billing.jsonencoding import dumps


class FacadeJSONRenderer(JSONRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        return dumps(data).encode()


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Always answer JSON, whatever `Accept` says, and never read `?format=`.

    `format` is a query parameter of the download endpoint (csv, json, pdf), not a renderer
    choice; and the legacy frontend must never get a 406.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
