"""Shared by the generation tests: dates, a rate-card line, generate, and "nothing written"."""

import datetime as dt
from decimal import Decimal

from billing.models import AuditEvent, BillingReport, ChargeType, ReportLine, ReportOrder, ReportServiceTotal
from billing.services.reports import report_generate
from tests.factories import CustomerServiceFactory, ServiceFactory

JAN_1 = dt.date(2025, 1, 1)
JAN_31 = dt.date(2025, 1, 31)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def rate_line(customer, name, charge_type=ChargeType.PER_ORDER, price="1.0000", **kwargs):
    service = ServiceFactory(name=name, charge_type=charge_type)
    return CustomerServiceFactory(customer=customer, service=service, unit_price=Decimal(price), **kwargs)


def generate(customer, start=JAN_1, end=JAN_31, **kwargs):
    return report_generate(actor=None, customer_id=customer.pk, start_date=start, end_date=end, **kwargs)


def assert_nothing_written():
    assert BillingReport.objects.count() == 0
    assert ReportOrder.objects.count() == 0
    assert ReportLine.objects.count() == 0
    assert ReportServiceTotal.objects.count() == 0
    assert AuditEvent.objects.count() == 0
