"""Posting GraphQL documents through Django's test client."""

from __future__ import annotations

import json
from typing import Any

GRAPHQL_URL = "/graphql/"


def gql(client, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """POST a document as JSON; returns the decoded body (asserting HTTP 200)."""
    response = client.post(
        GRAPHQL_URL,
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200, response.content
    return response.json()


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    """The data of a response that must have no errors."""
    assert "errors" not in body, body.get("errors")
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]
