"""rest_compat.shapes: the bodies only REST answers, built on the shared report shapes."""

from __future__ import annotations

import pytest

from billing.exporters.shapes import report_data
from billing.models import BillingReport
from rest_compat.shapes import report_list_data
from tests.billing.exporters.test_exporters import make_report
from tests.factories import UserFactory


@pytest.mark.django_db
def test_list_rows_from_column_values_equal_report_data_of_each_report():
    by_staff = make_report(name="Acme Outdoor")
    by_system = make_report(name="Bravo Goods", prefix="B")
    BillingReport.objects.filter(pk=by_system.pk).update(created_by=None)  # a report from before creators were kept
    BillingReport.objects.filter(pk=by_staff.pk).update(created_by=UserFactory(username="clerk"))
    reports = BillingReport.objects.select_related("customer", "created_by").order_by("customer__company_name")

    rows = report_list_data(reports)

    assert rows == [report_data(report) for report in reports]
    assert [row["created_by"] for row in rows] == ["clerk", None]
    assert [row["customer_name"] for row in rows] == ["Acme Outdoor", "Bravo Goods"]
