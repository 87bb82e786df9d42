"""The /graphql/ endpoint: POST (JSON) for queries and mutations, GET for queries only.

Not csrf_exempt: a request authenticated by the session cookie must carry the CSRF token
(GraphiQL sends it as X-CSRFToken); a bearer-token request skips CSRF in
accounts.authentication.BearerAuthenticationMiddleware. GraphiQL is served to browsers when
settings.GRAPHIQL_ENABLED, from assets shipped with the app (no CDN), with a
Content-Security-Policy (backend/csp.py).

A request the endpoint cannot take (a body that is not a JSON object, a mutation over GET, an
unsupported content type) is answered with its HTTP status and a GraphQL-shaped body whose error
has extensions.code BAD_REQUEST (METHOD_NOT_ALLOWED, NOT_FOUND for those statuses).
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from strawberry.django.views import GraphQLView

from backend.csp import with_content_security_policy
from graphql_schema.schema import schema

REQUEST_ERROR_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
NOT_AN_OBJECT = "The request must be a JSON object with a `query` string (and optional `variables`)."


class BillingGraphQLView(GraphQLView):
    allow_queries_via_get = True  # queries only: strawberry refuses mutations over GET

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.run(request=request)
        except HTTPException as exc:
            code = REQUEST_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            error = {"message": exc.reason, "extensions": {"code": code}}
            return JsonResponse({"errors": [error]}, status=exc.status_code)

    def parse_json(self, data: str | bytes) -> Any:
        # A JSON body (or GET variables) that is not an object, e.g. null, 5 or "x".
        value = super().parse_json(data)
        if not isinstance(value, dict | list):
            raise HTTPException(400, NOT_AN_OBJECT)
        return value

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.graphql_ide = "graphiql" if settings.GRAPHIQL_ENABLED else None

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        context = {"csrf_token_value": get_token(request)}  # also sets the csrftoken cookie
        response = HttpResponse(render_to_string("graphql_schema/graphiql.html", context, request=request))
        response["Cache-Control"] = "no-store"
        return with_content_security_policy(response)


graphql_view = BillingGraphQLView.as_view(schema=schema)
