"""Per-page batch loading of report charges, so a page of report orders costs one query.

A report's orders are paginated by a connection; when the page is built, every node gets the
same ChargesLoader. The first node whose `charges` field is resolved loads the lines of the
whole page with a single call to billing.selectors.report_lines_by_order; the other nodes
read from it. Nothing is loaded when the client does not ask for charges. The page's total
count comes from the report row (stored_order_count), not from a COUNT over its orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.types import Info

from billing.models import BillingReport, ReportLine, ReportOrder
from billing.selectors import report_lines_by_order
from billing.selectors.reports import report_explanations

_REPORTS_KEY = "_graphql_reports"


def remember_report(info: Info, report: BillingReport) -> None:
    """Note a report whose orders are being paginated in this request (see ChargesLoader, stored_order_count)."""
    registry: dict[Any, BillingReport] = info.context.__dict__.setdefault(_REPORTS_KEY, {})
    registry[report.pk] = report


def remembered_report(info: Info, report_id: Any) -> BillingReport | None:
    return info.context.__dict__.get(_REPORTS_KEY, {}).get(report_id)


def stored_order_count(info: Info, order: ReportOrder) -> int | None:
    """How many orders of `order`'s kind (billed or not) its report holds, from the report row.

    A report stores these counts when it is generated (order_count: billed orders,
    unbilled_order_count: the others), so a page of a 100,000-order report needs no COUNT.
    None when the report is not one being paginated in this request.
    """
    report = remembered_report(info, order.report_id)
    if report is None:
        return None
    return report.order_count if order.is_billed else report.unbilled_order_count


class ChargesLoader:
    """The charges of one page of a report's orders, loaded together on first use."""

    def __init__(self, info: Info, orders: Sequence[ReportOrder]) -> None:
        self._info = info
        self._orders = orders
        self._lines: dict[int, list[ReportLine]] | None = None

    def charges_of(self, order: ReportOrder) -> list[ReportLine]:
        if self._lines is None:
            report = remembered_report(self._info, order.report_id) or order.report
            self._lines = report_lines_by_order(report=report, order_ids=[item.order_id for item in self._orders])
            explanations = report_explanations(report=report)
            for lines in self._lines.values():
                for line in lines:
                    line.explanation_payloads = explanations  # type: ignore[attr-defined]
        return self._lines.get(order.order_id, [])


def attach_charges_loader(info: Info, orders: Sequence[ReportOrder]) -> None:
    loader = ChargesLoader(info, orders)
    for order in orders:
        order._charges_loader = loader  # type: ignore[attr-defined]


def charges_of(order: ReportOrder, info: Info) -> list[ReportLine]:
    loader: ChargesLoader | None = getattr(order, "_charges_loader", None)
    if loader is None:  # a node not built by a page: load its own charges
        loader = ChargesLoader(info, [order])
    return loader.charges_of(order)
