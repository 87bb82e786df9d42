"""Locust users for benchmarks/load_test.py: one class per endpoint under test.

Configured by the environment that load_test.py sets:
    LOAD_TOKEN       an API token of a billing staff user (sent as a bearer token)
    LOAD_REPORT_ID   the id of the report with 1,000 orders (REST detail)
Run one class at a time, headless, e.g.
    locust -f benchmarks/locustfile.py --headless -u 32 -r 32 -t 60s --host http://127.0.0.1:8000 RestListPage

Every user sends requests back to back (no think time); a response counts as a failure unless it
is a 200 whose body is the success envelope (REST) or has no "errors" (GraphQL).
"""

from __future__ import annotations

import os

from load_queries import REPORTS_QUERY
from locust import FastHttpUser, constant, task

TOKEN = os.environ.get("LOAD_TOKEN", "")
REPORT_ID = os.environ.get("LOAD_REPORT_ID", "")
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def _check_rest(response, expected_items: int | None = None) -> None:
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        payload = response.json()
    except ValueError:
        response.failure("not JSON")
        return
    if payload.get("success") is not True:
        response.failure("no success envelope")
    elif expected_items is not None and len(payload["data"]) != expected_items:
        response.failure(f"{len(payload['data'])} items instead of {expected_items}")


class _Client(FastHttpUser):
    abstract = True
    wait_time = constant(0)


class RestListPage(_Client):
    """GET /api/v2/reports/?limit=20: the newest 20 reports (a page, like GraphQL first: 20)."""

    @task
    def reports_page(self) -> None:
        with self.client.get(
            "/api/v2/reports/?limit=20", headers=HEADERS, name="REST list ?limit=20", catch_response=True
        ) as response:
            _check_rest(response, 20)


class RestListAll(_Client):
    """GET /api/v2/reports/ without parameters: every visible report (the legacy call, up to 1,000)."""

    @task
    def reports_all(self) -> None:
        with self.client.get(
            "/api/v2/reports/", headers=HEADERS, name="REST list (all)", catch_response=True
        ) as response:
            _check_rest(response)


class RestDetail(_Client):
    """GET /api/v2/reports/{id}/ of the report with 1,000 orders (every order with its services)."""

    @task
    def report_detail(self) -> None:
        with self.client.get(
            f"/api/v2/reports/{REPORT_ID}/", headers=HEADERS, name="REST detail (1,000 orders)", catch_response=True
        ) as response:
            _check_rest(response)


class GraphQLReports(_Client):
    """POST /graphql/ reports(first: 20) with the REST list's fields."""

    @task
    def reports_query(self) -> None:
        with self.client.post(
            "/graphql/",
            data=REPORTS_QUERY,
            headers={**HEADERS, "Content-Type": "application/json"},
            name="GraphQL reports(first: 20)",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            try:
                payload = response.json()
            except ValueError:
                response.failure("not JSON")
                return
            if payload.get("errors") or len(payload["data"]["reports"]["edges"]) != 20:
                response.failure("GraphQL errors or a short page")
