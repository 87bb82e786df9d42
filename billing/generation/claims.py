"""One bill per (order, rate-card line): the scope of a report and its claim in BilledPair.

A report claims each pair it bills in BilledPair, whose primary key is the pair, so it refuses a
pair another live report holds; the claim is one INSERT ... SELECT of the report's lines in a
savepoint, and a refused claim names the reports that hold those pairs (AlreadyBilled, 409).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from billing.db_copy import column_of
from billing.errors import AlreadyBilled
from billing.models import BilledPair, BillingReport, Order, ReportLine


def scope_key(customer_service_ids: Sequence[int] | None) -> str:
    """The stored scope of a report: "" for the whole rate card, else its sorted line ids."""
    if customer_service_ids is None:
        return ""
    return ",".join(str(i) for i in sorted(set(customer_service_ids)))


def billed_pairs(orders: QuerySet[Order]) -> set[tuple[int, int]]:
    """The (order id, service id) pairs of these orders that a live report bills."""
    return set(BilledPair.objects.filter(order_id__in=orders.values("id")).values_list("order_id", "service_id"))


def claim_pairs(report: BillingReport) -> None:
    """Claim the report's (order, line) pairs in one statement. BilledPair's primary key
    decides: a pair another live report holds (or a concurrent transaction is claiming: the
    insert waits for it) fails the statement, and then AlreadyBilled names the holders.

    A plain INSERT in a savepoint, not ON CONFLICT DO NOTHING: the speculative insertion that
    ON CONFLICT makes for every row costs more than the whole claim does without it.
    """
    rows = ReportLine.objects.filter(report_id=report.pk).values_list("report_id", "order_id", "service_id")
    select_sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(BilledPair, name)) for name in ("report", "order_id", "service_id"))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {quote(BilledPair._meta.db_table)} ({columns}) {select_sql}", params)
    except IntegrityError:
        raise already_billed(report) from None


def already_billed(report: BillingReport) -> AlreadyBilled:
    """The error naming the other live reports that bill pairs of this one, with their counts."""
    mine = ReportLine.objects.filter(
        report_id=report.pk, order_id=OuterRef("order_id"), service_id=OuterRef("service_id")
    )
    counts = dict(
        BilledPair.objects.filter(Exists(mine))
        .exclude(report_id=report.pk)
        .values("report_id")
        .annotate(n=Count("order_id"))
        .values_list("report_id", "n")
    )
    conflicting = [
        {
            "id": str(other.pk),
            "status": other.status,
            "invoice_number": other.invoice_number,
            "start_date": other.start_date.isoformat(),
            "end_date": other.end_date.isoformat(),
            "pairs": counts[other.pk],
        }
        for other in BillingReport.objects.filter(pk__in=counts).order_by("start_date", "id")
    ]
    pair_count = sum(counts.values())
    names = ", ".join(
        f"{item['id']} ({item['invoice_number'] or item['status']}, {item['start_date']}..{item['end_date']})"
        for item in conflicting
    )
    return AlreadyBilled(
        f"{pair_count} (order, rate-card line) pairs of this period are already billed by {names}. "
        "Ask to bill only what is not yet billed (only_unbilled), or void or regenerate those reports.",
        details={"conflicting_reports": conflicting, "pair_count": pair_count},
    )
