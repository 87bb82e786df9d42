"""The landing page at `/` (also the admin's "View site"): what this is and where to go from here."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.management.demo import DEMO_USERS

# The sign-in and sign-out pages of the site (sign-out is a POST with the CSRF token).
LOGIN_URL = "/accounts/login/"
LOGOUT_URL = "/accounts/logout/"


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    tools = [
        ("GraphiQL", "/graphql/", "explore and run the GraphQL API in the browser", settings.GRAPHIQL_ENABLED),
        (
            "Swagger UI",
            "/api/v2/docs/",
            "try the REST facade's operations",
            settings.SWAGGER_UI_ENABLED,
        ),
        ("OpenAPI document", "/api/v2/schema/", "the REST facade described as OpenAPI 3 (signed-in users)", True),
        ("Admin", "/admin/", "customers, rate cards, orders, reports and the audit trail (staff)", True),
        ("/healthz", "/healthz", "liveness: the process answers", True),
        ("/readyz", "/readyz", "readiness: database migrated, cache and broker answer", True),
    ]
    context = {
        "tools": tools,
        "login_url": f"{LOGIN_URL}?next=/",
        "logout_url": LOGOUT_URL,
        "demo_users": DEMO_USERS if settings.DEBUG else (),
    }
    return render(request, "backend/landing.html", context)
