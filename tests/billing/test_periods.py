"""The accepted dates and periods (billing.periods), and the services that bill a period."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.errors import ValidationFailed
from billing.models import BillingRun, ReportJob
from billing.periods import (
    DATE_OUT_OF_RANGE,
    END_BEFORE_START,
    INVALID_DATE,
    MAX_PERIOD_DAYS,
    PERIOD_TOO_LONG,
    parse_date,
    period_errors,
)
from billing.services.jobs import billing_run_start
from billing.services.reports import report_generate
from tests.factories import CustomerFactory, staff_user

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        (D(2025, 1, 1), D(2025, 1, 31), {}),
        (D(1970, 1, 1), D(1970, 1, 1), {}),
        (D(2100, 12, 31), D(2100, 12, 31), {}),
        (D(2024, 1, 1), D(2024, 12, 31), {}),  # a leap year: 366 days
        (D(2024, 1, 1), D(2025, 1, 1), {"end_date": [PERIOD_TOO_LONG]}),
        (D(2025, 2, 1), D(2025, 1, 31), {"end_date": [END_BEFORE_START]}),
        (D(2025, 1, 1), D(9999, 12, 31), {"end_date": [DATE_OUT_OF_RANGE]}),
        (D(1969, 12, 31), D(1970, 1, 2), {"start_date": [DATE_OUT_OF_RANGE]}),
        (D(1, 1, 1), D.max, {"start_date": [DATE_OUT_OF_RANGE], "end_date": [DATE_OUT_OF_RANGE]}),
        ("2025-01-01", dt.datetime(2025, 1, 2), {"start_date": [INVALID_DATE], "end_date": [INVALID_DATE]}),
    ],
)
def test_period_errors(start, end, errors):
    assert period_errors(start, end) == errors


def test_a_period_spans_at_most_a_leap_year():
    start = D(2025, 3, 1)
    assert period_errors(start, start + dt.timedelta(days=MAX_PERIOD_DAYS - 1)) == {}
    assert period_errors(start, start + dt.timedelta(days=MAX_PERIOD_DAYS)) == {"end_date": [PERIOD_TOO_LONG]}


@pytest.mark.parametrize("raw", ["2025-13-01", "2025-02-30", "31/12/2025", "", "20250101x", None, 20250101])
def test_parse_date_refuses_with_the_one_message(raw):
    with pytest.raises(ValueError, match=INVALID_DATE.replace(".", r"\.")):
        parse_date(raw)


@pytest.mark.django_db
def test_report_generate_refuses_extreme_dates_and_writes_nothing():
    customer = CustomerFactory()
    with pytest.raises(ValidationFailed) as error:
        report_generate(actor=None, customer_id=customer.pk, start_date=D(2025, 1, 1), end_date=D(9999, 12, 31))
    assert error.value.fields == {"end_date": [DATE_OUT_OF_RANGE]}


@pytest.mark.django_db
def test_a_billing_run_is_refused_up_front_not_in_its_jobs():
    CustomerFactory()
    with pytest.raises(ValidationFailed) as error:
        billing_run_start(actor=staff_user(), start_date=D(2025, 1, 1), end_date=D(9999, 12, 31), interface="command")
    assert error.value.fields == {"end_date": [DATE_OUT_OF_RANGE]}
    assert BillingRun.objects.count() == 0
    assert ReportJob.objects.count() == 0
