"""One bill per (order, rate-card line): the scope of a report and its claim in BilledPair.

A report claims each pair it bills in BilledPair, whose primary key is the pair, so it refuses a
pair another live report holds. The claim is one statement in a savepoint: on PostgreSQL a COPY
of the pairs collected while the orders were priced (ClaimedPairs), in primary-key order;
elsewhere an INSERT ... SELECT of the report's lines. A refused claim names the reports that
hold those pairs (AlreadyBilled, 409).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from billing.db_copy import column_of, copy_statement
from billing.errors import AlreadyBilled
from billing.models import BilledPair, BillingReport, Order, ReportLine, ReportOrder
from billing.selectors.rate_cards import LineInfo

from .pricing import PricedOrder

PAIR_FIELDS = ("report", "order_id", "service_id")
# Orders whose pairs go into one write of the claim's COPY.
PAIR_COPY_ORDERS = 2000


def scope_key(customer_service_ids: Sequence[int] | None) -> str:
    """The stored scope of a report: "" for the whole rate card, else its sorted line ids."""
    if customer_service_ids is None:
        return ""
    return ",".join(str(i) for i in sorted(set(customer_service_ids)))


def report_pairs(report_id: uuid.UUID) -> QuerySet[BilledPair]:
    """The pairs a report holds, found through its orders: the claim has no index on its report
    column (a second index entry per pair would cost 40% of the claim), and every pair of a
    report is one of its orders' (the lines it bills belong to its orders)."""
    orders = ReportOrder.objects.filter(report_id=report_id).values("order_id")
    return BilledPair.objects.filter(order_id__in=orders, report_id=report_id)


def release_pairs(report_id: uuid.UUID) -> None:
    """Release the pairs a report holds (it is superseded or voided): they can be billed again."""
    report_pairs(report_id).delete()


def billed_pairs(orders: QuerySet[Order]) -> set[tuple[int, int]]:
    """The (order id, service id) pairs of these orders that a live report bills."""
    return set(BilledPair.objects.filter(order_id__in=orders.values("id")).values_list("order_id", "service_id"))


class ClaimedPairs:
    """The (order, rate-card line) pairs of the priced orders passed through `collect`: what the
    report's lines bill, kept to claim them without reading the lines back.

    An order is kept as one int, its id shifted left by COMBINATION_BITS plus the number of its
    combination of charged lines (a few combinations cover all orders): about 45 bytes an
    order. Sorting those ints puts the pairs in order-id order, so the claim fills the primary
    key's pages one after another, where the pricing order (by close date, which need not
    follow the ids) touched one at random per pair.
    """

    COMBINATION_BITS = 32

    def __init__(self, line_info: dict[int, LineInfo]) -> None:
        self._service_text = {cs_id: str(info.service_id) for cs_id, info in line_info.items()}
        self._combinations: dict[tuple[int, ...], int] = {}
        self._orders: list[int] = []

    def collect(self, priced: Iterable[PricedOrder]) -> Iterator[PricedOrder]:
        add, number, shift = self._orders.append, self._combinations.setdefault, self.COMBINATION_BITS
        for item in priced:
            if item[1]:
                lines = tuple(map(_customer_service_id, item[1]))
                add(item[0].order_id << shift | number(lines, len(self._combinations)))
            yield item

    def copy_blocks(self, report: BillingReport) -> Iterator[str]:
        """The pairs as BilledPair rows (PAIR_FIELDS) in COPY's text format, by order id."""
        key = str(report.pk)
        # An order's rows are its id joined by the pieces of its combination of lines:
        # "<report>\t", "\t<service>\n<report>\t", ..., "\t<service>\n".
        pieces: list[list[str]] = [[] for _ in self._combinations]
        for lines, index in self._combinations.items():
            services = [self._service_text[cs_id] for cs_id in lines]
            pieces[index] = [f"{key}\t", *(f"\t{s}\n{key}\t" for s in services[:-1]), f"\t{services[-1]}\n"]
        shift, mask = self.COMBINATION_BITS, (1 << self.COMBINATION_BITS) - 1
        self._orders.sort()
        for start in range(0, len(self._orders), PAIR_COPY_ORDERS):
            block = self._orders[start : start + PAIR_COPY_ORDERS]
            yield "".join([str(order >> shift).join(pieces[order & mask]) for order in block])


_customer_service_id = itemgetter(0)  # of a ChargeRow


def claim_pairs(report: BillingReport, pairs: ClaimedPairs | None = None) -> None:
    """Claim the report's (order, line) pairs in one statement: a COPY of `pairs` on
    PostgreSQL when they were collected, else an INSERT ... SELECT of the report's lines.
    BilledPair's primary key decides: a pair another live report holds (or a concurrent
    transaction is claiming: the insert waits for it) fails the statement, and then
    AlreadyBilled names the holders.

    Plain inserts in a savepoint, not ON CONFLICT DO NOTHING: the speculative insertion that
    ON CONFLICT makes for every row costs more than the whole claim does without it.
    """
    try:
        with transaction.atomic(), connection.wrap_database_errors, connection.cursor() as cursor:
            if pairs is not None and connection.vendor == "postgresql":
                with cursor.copy(copy_statement(BilledPair, PAIR_FIELDS)) as copy:
                    for block in pairs.copy_blocks(report):
                        copy.write(block)
            else:
                rows = ReportLine.objects.filter(report_id=report.pk).values_list(*PAIR_FIELDS)
                select_sql, params = rows.query.sql_with_params()
                quote = connection.ops.quote_name
                columns = ", ".join(quote(column_of(BilledPair, name)) for name in PAIR_FIELDS)
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
