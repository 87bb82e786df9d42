"""Content-Security-Policy for the HTML tools the app serves (GraphiQL, Swagger UI).

Scripts, styles, images and fonts load from this origin (the app's static files); inline
scripts run only when the page rendered them (each is allowed by its SHA-256 hash, computed from
the response); requests go to this origin only; the pages cannot be framed. Inline styles are
allowed: both tools set style attributes from their scripts. A tool that loads its assets from
another origin (Swagger UI from a CDN, when SPECTACULAR_SETTINGS points there) names it in
`asset_urls`, whose origins are added.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.http import HttpResponse

HEADER = "Content-Security-Policy"
_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)


def _script_hashes(content: bytes) -> list[str]:
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(content)
        if body.strip()
    ]


def _origins(urls: Iterable[str | None]) -> list[str]:
    origins = []
    for url in urls:
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


def content_security_policy(content: bytes, *, asset_urls: Iterable[str | None] = ()) -> str:
    """The policy for an HTML page with this content."""
    assets = " ".join(["'self'", *_origins(asset_urls)])
    directives = {
        "default-src": "'self'",
        "script-src": " ".join([assets, *_script_hashes(content)]),
        "style-src": f"{assets} 'unsafe-inline'",
        "img-src": f"{assets} data:",
        "font-src": f"{assets} data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def with_content_security_policy(response: HttpResponse, *, asset_urls: Iterable[str | None] = ()) -> HttpResponse:
    """Set the policy on a rendered HTML response (a template response is rendered first)."""
    render = getattr(response, "render", None)
    if callable(render):
        render()
    response[HEADER] = content_security_policy(response.content, asset_urls=asset_urls)
    return response
