"""The built-in billing dashboard: a page whose script reads everything from /graphql/.

The page itself holds no data: it renders the shell (filters, empty chart slots) and the CSRF
token, and dashboard.js queries the public GraphQL API with the session cookie. Anonymous
visitors are sent to the login page. The strict Content-Security-Policy allows only the
app's own scripts, styles and images and requests to the app itself (no inline code).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    response = render(request, "dashboard/index.html", {"csrf_token_value": get_token(request)})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "no-store"
    return response
