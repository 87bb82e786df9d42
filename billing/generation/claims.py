"""One bill per (order, rate-card line): the scope of a report and its claim in BilledPair.

A report claims each pair it bills in BilledPair, whose primary key is the pair, so it refuses a
pair another live report holds. On PostgreSQL the pairs are collected while the orders are
priced (ClaimedPairs) and copied, in primary-key order, with each slice of the report as it is
written (copy_writer), when no live report bills a pair of the period (any_billed, asked under
the customer's lock). Otherwise the claim is one statement in a savepoint after the report is
written (claim_pairs: a COPY of the collected pairs on PostgreSQL, an INSERT ... SELECT of the
report's lines elsewhere), and a refused claim names the reports that hold those pairs
(AlreadyBilled, 409).

A claim is the pair alone. A live report holds exactly the pairs of its lines: it claims them
in the transaction that writes the lines, and releases them (release_pairs) in the one that
makes it superseded or voided, or deletes it. So the report holding a pair is the live report
with a line of that pair.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from billing.db_copy import column_of, copy_statement
from billing.errors import AlreadyBilled
from billing.models import LIVE_REPORT_STATUSES, BilledPair, BillingReport, Order, ReportLine, ReportOrder
from billing.selectors.rate_cards import LineInfo

from .pricing import PricedOrder

PAIR_FIELDS = ("order_id", "service_id")
# Orders whose pairs go into one write of the claim's COPY.
PAIR_COPY_ORDERS = 2000


def scope_key(customer_service_ids: Sequence[int] | None) -> str:
    """The stored scope of a report: "" for the whole rate card, else its sorted line ids."""
    if customer_service_ids is None:
        return ""
    return ",".join(str(i) for i in sorted(set(customer_service_ids)))


def _pairs_of_lines(report_id: uuid.UUID) -> QuerySet[BilledPair]:
    """The claimed pairs that are pairs of this report's lines."""
    lines = ReportLine.objects.filter(
        report_id=report_id, order_id=OuterRef("order_id"), service_id=OuterRef("service_id")
    )
    return BilledPair.objects.filter(Exists(lines))


def report_pairs(report: BillingReport) -> QuerySet[BilledPair]:
    """The pairs a report holds: its lines' pairs while it is live, none once it is not."""
    if report.status not in LIVE_REPORT_STATUSES:
        return BilledPair.objects.none()
    return _pairs_of_lines(report.pk)


def release_pairs(report_id: uuid.UUID) -> None:
    """Release the pairs a report holds, as it stops being live (superseded, voided or deleted)
    in this transaction: they can be billed again. Its lines' pairs are still its own then."""
    _pairs_of_lines(report_id).delete()


@receiver(pre_delete, sender=BillingReport, dispatch_uid="billing.release_pairs_of_deleted_report")
def _release_deleted(sender: type[BillingReport], instance: BillingReport, **kwargs: object) -> None:
    """A live report deleted through the ORM releases its pairs; the signal comes before its lines go."""
    if instance.status in LIVE_REPORT_STATUSES:
        release_pairs(instance.pk)


def any_billed(orders: QuerySet[Order], service_ids: Iterable[int]) -> bool:
    """Whether a live report bills a pair of these orders and services. Asked under the
    customer's lock, which every generation of the customer's orders takes first, it stays
    true or false until the transaction ends: no other transaction can claim those pairs."""
    return BilledPair.objects.filter(order_id__in=orders.values("id"), service_id__in=list(service_ids)).exists()


def billed_pairs(orders: QuerySet[Order]) -> set[tuple[int, int]]:
    """The (order id, service id) pairs of these orders that a live report bills."""
    return set(BilledPair.objects.filter(order_id__in=orders.values("id")).values_list("order_id", "service_id"))


class ClaimedPairs:
    """The (order, rate-card line) pairs of the priced orders passed through `collect`: what the
    report's lines bill, kept to claim them without reading the lines back.

    An order is kept as one int, its id shifted left by COMBINATION_BITS plus the number of its
    combination of charged lines (a few combinations cover all orders): about 45 bytes an
    order. Sorting those ints puts the pairs of each copy in order-id order, so it fills the
    primary key's pages one after another, where the pricing order (by close date, which need
    not follow the ids) touched one at random per pair.
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

    def copy_blocks(self) -> Iterator[str]:
        """The pairs collected since the last call, as BilledPair rows (PAIR_FIELDS) in COPY's
        text format, by order id; they are forgotten as they are given."""
        # An order's rows are its id joining the pieces of its combination of lines:
        # "", "\t<service>\n", ..., "\t<service>\n" puts the id before each service.
        pieces: list[list[str]] = [[] for _ in self._combinations]
        for lines, index in self._combinations.items():
            pieces[index] = ["", *(f"\t{self._service_text[cs_id]}\n" for cs_id in lines)]
        shift, mask = self.COMBINATION_BITS, (1 << self.COMBINATION_BITS) - 1
        orders = sorted(self._orders)
        self._orders.clear()  # in place: collect appends to this list
        for start in range(0, len(orders), PAIR_COPY_ORDERS):
            block = orders[start : start + PAIR_COPY_ORDERS]
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
                    for block in pairs.copy_blocks():
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
    """The error naming the other live reports that bill pairs of this one, with their counts:
    the live reports holding one of its orders (uniq_order_report), and their lines of its pairs."""
    mine = ReportLine.objects.filter(
        report_id=report.pk, order_id=OuterRef("order_id"), service_id=OuterRef("service_id")
    )
    holders = (
        ReportOrder.objects.filter(
            order_id__in=ReportOrder.objects.filter(report_id=report.pk).values("order_id"),
            report__status__in=LIVE_REPORT_STATUSES,
        )
        .exclude(report_id=report.pk)
        .values("report_id")
    )
    counts = dict(
        ReportLine.objects.filter(report_id__in=holders)
        .filter(Exists(mine))
        .values("report_id")
        .annotate(n=Count("id"))
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
