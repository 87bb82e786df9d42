"""Response bodies only the REST facade answers (docs/rest-api.md): lists, customers, jobs.

The shapes REST shares with the exports (a report, its orders, a credit note) are in
billing/exporters/shapes.py; these build on them. `legacy=True` adds the names the legacy
frontend reads (served on /api/v1/billing-v2/), beside the spec's fields and never instead.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from billing.exporters.shapes import (
    QUANTITY_PLACES,
    iso_date,
    iso_datetime,
    money,
    report_row_data,
    username_or_none,
    with_legacy_report_fields,
)
from billing.models import BillingReport, Customer, CustomerService, JobStatus
from billing.selectors.reports import report_list_values

# Job statuses as the legacy frontend's progress polling names them.
LEGACY_JOB_STATUS = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "in_progress",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "error",
}


def report_list_data(reports: QuerySet[BillingReport], *, legacy: bool = False) -> list[dict[str, Any]]:
    """billing.exporters.shapes.report_data of each report, from its column values (one query)."""
    if not legacy:
        return [report_row_data(*row) for row in report_list_values(reports)]
    return [
        with_legacy_report_fields(report_row_data(*row), currency)
        for *row, currency in report_list_values(reports, currency=True)
    ]


def customer_summary_data(customer: Any, *, legacy: bool = False) -> dict[str, Any]:
    """A customer annotated by billing.selectors.customers.customer_summaries."""
    data = {
        "customer_id": customer.id,
        "customer_name": customer.company_name,
        "reports_count": customer.reports_count,
        "total_billed": money(customer.total_billed),
        "first_billing_date": iso_date(customer.first_billing_date),
        "last_billing_date": iso_date(customer.last_billing_date),
        "average_bill_amount": money(customer.average_bill_amount),
    }
    if legacy:
        data["currency"] = customer.currency
    return data


def customer_data(customer: Customer) -> dict[str, Any]:
    """A customer as the legacy frontend's customer picker reads it (GET /api/v1/customers/)."""
    return {
        "id": customer.id,
        "company_name": customer.company_name,
        "legal_business_name": customer.legal_business_name,
        "email": customer.email,
        "is_active": customer.is_active,
        "currency": customer.currency,
    }


def rate_card_line_data(line: CustomerService) -> dict[str, Any]:
    """A rate-card line (`service` loaded) as the generate form's service picker reads it."""
    return {
        "id": line.id,
        "service_id": line.service_id,
        "service_name": line.service.name,
        "charge_type": line.service.charge_type,
        "unit_price": line.unit_price.quantize(QUANTITY_PLACES),
    }


def report_job_data(job: Any, *, legacy: bool = False) -> dict[str, Any]:
    """A report job (billing.selectors.jobs; `customer`, `report`, `requested_by` loaded) and its progress."""
    if job.status == JobStatus.SUCCEEDED:
        percent = 100
    elif job.total_orders:
        percent = min(100, job.processed_orders * 100 // job.total_orders)
    else:
        percent = 0
    data = {
        "id": str(job.id),
        "status": job.status,
        "customer": job.customer_id,
        "customer_name": job.customer.company_name,
        "start_date": iso_date(job.start_date),
        "end_date": iso_date(job.end_date),
        "output_format": job.output_format,
        "processed_orders": job.processed_orders,
        "total_orders": job.total_orders,
        "progress_percent": percent,
        "report_id": str(job.report_id) if job.report_id else None,
        "error": job.error,
        "created_at": iso_datetime(job.created_at),
        "started_at": iso_datetime(job.started_at),
        "finished_at": iso_datetime(job.finished_at),
        "requested_by": username_or_none(job.requested_by),
    }
    if legacy:
        data["job_status"] = job.status
        data["status"] = LEGACY_JOB_STATUS[job.status]
        data["percent_complete"] = percent
        data["current_step"] = _current_step(job)
    return data


def _current_step(job: Any) -> str:
    """What a job is doing, in words; for a failed job, why it failed (the legacy frontend shows it)."""
    if job.status == JobStatus.QUEUED:
        return "Waiting for a worker"
    if job.status == JobStatus.RUNNING:
        return f"Pricing orders ({job.processed_orders} of {job.total_orders})"
    if job.status == JobStatus.SUCCEEDED:
        return "Report generated"
    return job.error or "The generation failed"
