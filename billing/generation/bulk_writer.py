"""Step 4, any database but PostgreSQL: priced orders written with bulk_create.

The portable path (SQLite, the embedded default): a chunk of orders at a time, so its
statement count grows with the number of chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from billing.models import BillingReport, ReportLine, ReportOrder
from billing.pricing.explain import detail_json
from billing.selectors.rate_cards import LineInfo

from .pricing import PricedOrder

SQLITE_BATCH_SIZE = 2000


def bulk_write_chunk(report: BillingReport, priced: Iterable[PricedOrder], line_info: dict[int, LineInfo]) -> int:
    """Write the ReportOrder and ReportLine rows of one chunk of priced orders; returns how many orders."""
    report_orders = []
    report_lines = []
    for order, charges, order_total in priced:
        report_orders.append(
            ReportOrder(
                report=report,
                order_id=order.order_id,
                transaction_id=order.transaction_id,
                reference_number=order.reference_number,
                close_date=order.close_date,
                status=order.status,
                ship_to_name=order.ship_to_name,
                ship_to_address=order.ship_to_address,
                total_items=order.total_item_qty,
                line_items=order.line_items,
                total_amount=order_total,
                is_billed=bool(charges),
            )
        )
        for cs_id, quantity, unit_price, amount, explanation, detail, _ in charges:
            line = line_info[cs_id]
            report_lines.append(
                ReportLine(
                    report=report,
                    order_id=order.order_id,
                    service_id=line.service_id,
                    service_name=line.service_name,
                    charge_type=line.charge_type,
                    quantity=quantity,
                    unit_price=unit_price,
                    amount=amount,
                    explanation=explanation,
                    detail=None if detail is None else detail_json(detail),
                )
            )
    ReportOrder.objects.bulk_create(report_orders, batch_size=SQLITE_BATCH_SIZE)
    ReportLine.objects.bulk_create(report_lines, batch_size=SQLITE_BATCH_SIZE)
    return len(report_orders)


def bulk_write(
    report: BillingReport,
    chunks: Iterable[Iterable[PricedOrder]],
    line_info: dict[int, LineInfo],
    progress: Callable[[int], None] | None,
) -> None:
    """Write chunk after chunk; `progress(processed)` after each one."""
    processed = 0
    for chunk in chunks:
        processed += bulk_write_chunk(report, chunk, line_info)
        if progress is not None:
            progress(processed)
