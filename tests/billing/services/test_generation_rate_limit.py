"""The generation rate limit: one budget per user for REST's generate, GraphQL's generateReport
and startBillingRun, refused alike (REST 429, GraphQL RateLimitedError, code RATE_LIMITED)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from billing.errors import ErrorCode, RateLimited
from billing.models import BillingReport, BillingRun, Interface, ReportJob
from billing.services import rate_limit
from billing.services.jobs import billing_run_start
from billing.services.rate_limit import generation_rate_limit_take
from tests.factories import staff_user
from tests.graphql_schema.conftest import make_orders, rate_card
from tests.graphql_schema.helpers import gql

pytestmark = pytest.mark.django_db

REST_GENERATE = "/api/v2/reports/generate/"
ANSWER = "__typename ... on Error { code message } ... on RateLimitedError { retryAfter }"
GENERATE = f"mutation($input: GenerateReportInput!) {{ generateReport(input: $input) {{ {ANSWER} }} }}"
START_RUN = f"mutation($input: StartBillingRunInput!) {{ startBillingRun(input: $input) {{ {ANSWER} }} }}"
JANUARY = {"startDate": "2025-01-01", "endDate": "2025-01-31"}


@pytest.fixture
def billable(customer_a):
    rate_card(customer_a)
    make_orders(customer_a, 2)
    return customer_a


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


def rest_generate(client, customer, **changes):
    payload = {"customer_id": customer.pk, "start_date": "2025-01-01", "end_date": "2025-01-31", **changes}
    return client.post(REST_GENERATE, json.dumps(payload), content_type="application/json")


def graphql_generate(client, customer, **changes) -> dict:
    variables = {"input": {"customerId": customer.pk, **JANUARY, **changes}}
    return gql(client, GENERATE, variables)["data"]["generateReport"]


def graphql_start_run(client, customer) -> dict:
    variables = {"input": {**JANUARY, "customerIds": [customer.pk]}}
    return gql(client, START_RUN, variables)["data"]["startBillingRun"]


def test_rest_and_graphql_share_one_budget_and_refuse_with_the_same_code(signed_in, billable, settings):
    settings.GENERATE_RATE_LIMIT = "2/min"

    assert rest_generate(signed_in, billable).status_code == 201
    assert graphql_generate(signed_in, billable)["__typename"] == "BillingReport"
    before = (BillingReport.objects.count(), ReportJob.objects.count())
    refused_rest = rest_generate(signed_in, billable)
    refused_graphql = graphql_generate(signed_in, billable)

    assert refused_rest.status_code == 429
    error = refused_rest.json()["error"]
    retry_after = int(refused_rest["Retry-After"])
    assert 0 < retry_after <= 60
    assert error == {
        "code": "RATE_LIMITED",
        "message": f"Too many requests. Retry in {retry_after} seconds.",
        "details": {"retry_after": retry_after},
    }
    assert refused_graphql["__typename"] == "RateLimitedError"
    assert refused_graphql["code"] == error["code"] == ErrorCode.RATE_LIMITED
    assert 0 < refused_graphql["retryAfter"] <= 60
    assert refused_graphql["message"] == f"Too many requests. Retry in {refused_graphql['retryAfter']} seconds."
    assert (BillingReport.objects.count(), ReportJob.objects.count()) == before


def test_async_and_idempotent_requests_and_billing_runs_count_too(signed_in, billable, settings):
    settings.GENERATE_RATE_LIMIT = "3/min"

    assert graphql_generate(signed_in, billable, **{"async": True})["__typename"] == "ReportJob"
    assert rest_generate(signed_in, billable, **{"async": True}).status_code == 202
    assert graphql_start_run(signed_in, billable)["__typename"] == "BillingRun"
    runs = BillingRun.objects.count()

    refused_run = graphql_start_run(signed_in, billable)
    refused_key = graphql_generate(signed_in, billable, idempotencyKey="k-1")

    assert refused_run["__typename"] == refused_key["__typename"] == "RateLimitedError"
    assert refused_run["code"] == "RATE_LIMITED"
    assert BillingRun.objects.count() == runs


def test_each_user_has_a_budget_of_their_own(client, signed_in, billable, settings):
    settings.GENERATE_RATE_LIMIT = "1/min"
    assert rest_generate(signed_in, billable).status_code == 201
    assert graphql_generate(signed_in, billable)["__typename"] == "RateLimitedError"

    client.force_login(staff_user(username="staff-other"))

    assert graphql_generate(client, billable)["__typename"] == "BillingReport"


def test_an_empty_limit_switches_it_off(signed_in, billable, settings):
    settings.GENERATE_RATE_LIMIT = ""

    statuses = [rest_generate(signed_in, billable).status_code for _ in range(3)]

    assert statuses == [201, 201, 201]


def test_refused_requests_are_not_counted_and_the_window_slides(staff, settings, monkeypatch):
    settings.GENERATE_RATE_LIMIT = "2/min"
    now = [1_000_000.0]
    monkeypatch.setattr(rate_limit.time, "time", lambda: now[0])

    generation_rate_limit_take(staff)
    now[0] += 20
    generation_rate_limit_take(staff)
    for _ in range(3):  # refusals do not push the window back
        with pytest.raises(RateLimited) as caught:
            generation_rate_limit_take(staff)
        assert caught.value.retry_after == 40  # until the first request leaves the window
    now[0] += 40
    generation_rate_limit_take(staff)  # the first one left: room for one
    with pytest.raises(RateLimited) as caught:
        generation_rate_limit_take(staff)
    assert caught.value.retry_after == 20


@pytest.mark.parametrize("rate", ["1/s", "1/sec", "1/m", "1/hour", "1/day"])
def test_the_rate_syntax_is_drfs(staff, settings, rate):
    settings.GENERATE_RATE_LIMIT = rate

    generation_rate_limit_take(staff)
    with pytest.raises(RateLimited):
        generation_rate_limit_take(staff)


def test_the_server_is_not_limited(billable, settings):
    settings.GENERATE_RATE_LIMIT = "1/min"

    for _ in range(3):
        billing_run_start(
            actor=None, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 31), interface=Interface.COMMAND
        )

    assert BillingRun.objects.count() == 3
