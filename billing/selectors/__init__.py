"""Read side of the billing domain: QuerySets already scoped to the actor."""

from billing.selectors.customers import customer_list, customer_rate_card, customer_summaries, customers_visible_to
from billing.selectors.orders import billable_orders, billing_period_bounds, order_list, orders_visible_to
from billing.selectors.reports import (
    REPORT_ORDERING_FIELDS,
    ReportDetail,
    parse_report_filters,
    report_detail,
    report_get,
    report_lines_by_order,
    report_list,
    report_orders,
    report_service_totals,
    reports_visible_to,
)

__all__ = [
    "REPORT_ORDERING_FIELDS",
    "ReportDetail",
    "billable_orders",
    "billing_period_bounds",
    "customer_list",
    "customer_rate_card",
    "customer_summaries",
    "customers_visible_to",
    "order_list",
    "orders_visible_to",
    "parse_report_filters",
    "report_detail",
    "report_get",
    "report_lines_by_order",
    "report_list",
    "report_orders",
    "report_service_totals",
    "reports_visible_to",
]
