"""Extreme and malformed dates on the REST facade: 400s with the same messages as GraphQL, nothing written."""

from __future__ import annotations

import pytest

from billing.periods import DATE_OUT_OF_RANGE, END_BEFORE_START, INVALID_DATE, INVALID_DATE_OR_DATETIME, PERIOD_TOO_LONG
from tests.rest_compat.conftest import assert_error, written_counts

pytestmark = pytest.mark.django_db

GENERATE_URL = "/api/v2/reports/generate/"


def generate(api, start: str, end: str, **extra):
    payload = {"customer_id": extra.pop("customer_id"), "start_date": start, "end_date": end, **extra}
    return api.post(GENERATE_URL, data=payload, content_type="application/json")


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("start", "end", "details"),
    [
        ("2025-01-01", "9999-12-31", {"end_date": [DATE_OUT_OF_RANGE]}),
        ("0001-01-01", "2025-01-31", {"start_date": [DATE_OUT_OF_RANGE]}),
        ("2024-01-01", "2025-06-30", {"end_date": [PERIOD_TOO_LONG]}),
        ("2025-02-01", "2025-01-01", {"end_date": [END_BEFORE_START]}),
        ("2025-02-30", "2025/01/31", {"start_date": [INVALID_DATE], "end_date": [INVALID_DATE]}),
    ],
)
def test_generate_refuses_bad_periods(api, report_a, is_async, start, end, details):
    before = written_counts()

    error = assert_error(
        generate(api, start, end, customer_id=report_a.customer_id, **{"async": is_async}), 400, "VALIDATION_ERROR"
    )

    assert error["details"] == details
    assert written_counts() == before


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"end_date": "9999-12-31"}, {"end_date": [DATE_OUT_OF_RANGE]}),
        ({"start_date": "1969-12-31"}, {"start_date": [DATE_OUT_OF_RANGE]}),
        ({"created_before": "9999-12-31"}, {"created_before": [DATE_OUT_OF_RANGE]}),
        ({"created_after": "9999-12-31T23:59:59-05:00"}, {"created_after": [DATE_OUT_OF_RANGE]}),
        ({"start_date": "2025-13-01"}, {"start_date": [INVALID_DATE]}),
        ({"created_after": "yesterday"}, {"created_after": [INVALID_DATE_OR_DATETIME]}),
    ],
)
def test_list_filters_refuse_dates_out_of_range(api, report_a, params, details):
    assert assert_error(api.get("/api/v2/reports/", params), 400, "VALIDATION_ERROR")["details"] == details


def test_progress_refuses_a_period_no_job_can_have(api, report_a):
    params = {"customer_id": report_a.customer_id, "start_date": "2025-01-01", "end_date": "9999-12-31"}

    assert assert_error(api.get("/api/v2/reports/progress/", params), 400, "VALIDATION_ERROR")["details"] == {
        "end_date": [DATE_OUT_OF_RANGE]
    }
    params["end_date"] = "2025-1-32"
    assert assert_error(api.get("/api/v2/reports/progress/", params), 400, "VALIDATION_ERROR")["details"] == {
        "end_date": [INVALID_DATE]
    }
