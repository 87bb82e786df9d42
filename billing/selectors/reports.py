"""Read access to billing reports: scoped to the actor, filtered, paginated-friendly.

Every selector here checks visibility through billing.permissions.visible_customer_ids, so
the REST facade and GraphQL cannot disagree about who sees what.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate

from billing.errors import NotFound, ValidationFailed
from billing.ids import MAX_ID, uuid_or_not_found
from billing.models import (
    ISSUED_REPORT_STATUSES,
    LIVE_REPORT_STATUSES,
    REPORT_LINE_CHARGE_FIELDS,
    BillingReport,
    ChargeType,
    CreditNote,
    CustomerService,
    ReportExplanation,
    ReportLine,
    ReportNotClosedOrder,
    ReportOrder,
    ReportOtherCharge,
    ReportServiceTotal,
    ReportStatus,
)
from billing.periods import filter_date_errors, parse_date, parse_date_or_datetime
from billing.permissions import Actor, customers_see_drafts, visible_customer_ids
from billing.pricing.explain import explanation_data
from billing.selectors.common import ordering_from
from billing.selectors.customers import check_customer_filter

REPORT_ORDERING_FIELDS: dict[str, str] = {
    "start_date": "start_date",
    "end_date": "end_date",
    "created_at": "created_at",
    "generated_at": "generated_at",
    "total_amount": "total_amount",
    "customer_name": "customer__company_name",
    "id": "id",
}
DEFAULT_REPORT_ORDERING = "-created_at"

REPORT_NOT_FOUND = "Billing report not found."


def reports_visible_to(actor: Actor) -> QuerySet[BillingReport]:
    """Staff see every report; a customer-linked user its customers' issued (finalized, voided)
    reports, and their drafts and superseded reports when BILLING_CUSTOMERS_SEE_DRAFTS is true."""
    ids = visible_customer_ids(actor)
    queryset = BillingReport.objects.all()
    if ids is None:
        return queryset
    queryset = queryset.filter(customer_id__in=ids)
    if not customers_see_drafts():
        queryset = queryset.filter(status__in=ISSUED_REPORT_STATUSES)
    return queryset


def _start_of_utc_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def report_list(
    *,
    actor: Actor,
    customer_id: int | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    created_after: dt.date | dt.datetime | None = None,
    created_before: dt.date | dt.datetime | None = None,
    order_by: str | None = None,
    include_superseded: bool = True,
    status: str | None = None,
) -> QuerySet[BillingReport]:
    """Reports the actor may see.

    - status: only reports with this status (draft, finalized, superseded, voided);
    - customer_id: that customer's reports (an invisible id gives an empty list, and so does an
      unknown one for an actor limited to some customers; staff get ValidationFailed for an
      unknown id: check_customer_filter);
    - start_date: reports whose period starts on or after it; end_date: ends on or before it;
    - created_after: a datetime means created_at >= it; a date D means created_at >= D 00:00 UTC;
    - created_before: a datetime means created_at < it; a date D means created_at < (D + 1) 00:00
      UTC, i.e. the whole day D is included;
    - every date (or a date-time's date) within the range of billing.periods;
    - order_by: one of REPORT_ORDERING_FIELDS, optionally prefixed with '-' (default
      '-created_at'); 'id' always breaks ties. Anything else raises ValidationFailed(order_by).
    """
    errors: dict[str, list[str]] = {}
    ordering = ordering_from(order_by, REPORT_ORDERING_FIELDS, DEFAULT_REPORT_ORDERING, errors)
    errors.update(
        filter_date_errors(
            start_date=start_date, end_date=end_date, created_after=created_after, created_before=created_before
        )
    )
    if errors:
        raise ValidationFailed("Invalid report filters.", fields=errors)
    check_customer_filter(actor=actor, customer_id=customer_id)

    queryset = reports_visible_to(actor)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if start_date is not None:
        queryset = queryset.filter(start_date__gte=start_date)
    if end_date is not None:
        queryset = queryset.filter(end_date__lte=end_date)
    if created_after is not None:
        lower = created_after if isinstance(created_after, dt.datetime) else _start_of_utc_day(created_after)
        queryset = queryset.filter(created_at__gte=lower)
    if created_before is not None:
        if isinstance(created_before, dt.datetime):
            queryset = queryset.filter(created_at__lt=created_before)
        else:
            queryset = queryset.filter(created_at__lt=_start_of_utc_day(created_before + dt.timedelta(days=1)))
    if not include_superseded:
        queryset = queryset.filter(status__in=LIVE_REPORT_STATUSES)
    if status is not None:
        if status not in ReportStatus.values:
            raise ValidationFailed.for_field(
                "status", f"Unknown status {status!r}. Allowed: {', '.join(ReportStatus.values)}."
            )
        queryset = queryset.filter(status=status)
    return queryset.order_by(*ordering)


# A query parameter's whole number: ASCII digits with an optional minus, nothing around them.
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")


def _unknown_status(status: str) -> str:
    return f"Unknown status {status!r}. Allowed: {', '.join(ReportStatus.values)}."


def parse_report_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """Parse list filters from query parameters into report_list keyword arguments.

    Accepts customer_id (integer), status (a report status), start_date / end_date (YYYY-MM-DD), created_after /
    created_before (YYYY-MM-DD, or an ISO 8601 datetime; one without an offset is taken as
    UTC) and order_by (validated against REPORT_ORDERING_FIELDS). Empty values are ignored; a
    value with anything around it (spaces, a form feed) is invalid, not trimmed.
    Raises ValidationFailed listing every invalid field at once.
    """
    errors: dict[str, list[str]] = {}
    parsed: dict[str, Any] = {}

    def value_of(name: str) -> str | None:
        raw = params.get(name)
        return str(raw) if raw is not None and raw != "" else None

    raw = value_of("customer_id")
    if raw is not None:
        if not WHOLE_NUMBER.fullmatch(raw):
            errors["customer_id"] = ["Enter a whole number."]
        else:
            customer_id = int(raw)
            if 1 <= customer_id <= MAX_ID:
                parsed["customer_id"] = customer_id
            else:
                errors["customer_id"] = [f"Enter a customer id between 1 and {MAX_ID}."]

    for names, parse in (
        (("start_date", "end_date"), parse_date),
        (("created_after", "created_before"), parse_date_or_datetime),
    ):
        for name in names:
            raw = value_of(name)
            if raw is not None:
                try:
                    parsed[name] = parse(raw)
                except ValueError as exc:
                    errors[name] = [str(exc)]

    raw = value_of("status")
    if raw is not None:
        if raw in ReportStatus.values:
            parsed["status"] = raw
        else:
            errors["status"] = [_unknown_status(raw)]

    raw = value_of("order_by")
    if raw is not None:
        ordering_from(raw, REPORT_ORDERING_FIELDS, DEFAULT_REPORT_ORDERING, errors)
        if "order_by" not in errors:
            parsed["order_by"] = raw

    if errors:
        raise ValidationFailed("Invalid report filters.", fields=errors)
    return parsed


def report_get(*, actor: Actor, report_id: str | uuid.UUID) -> BillingReport:
    """The report, if it exists and the actor may see it; NotFound otherwise (never reveals which)."""
    key = uuid_or_not_found(report_id, REPORT_NOT_FOUND)
    report = reports_visible_to(actor).select_related("customer", "created_by").filter(pk=key).first()
    if report is None:
        raise NotFound(REPORT_NOT_FOUND)
    return report


def report_orders(*, report: BillingReport, billed: bool | None = True) -> QuerySet[ReportOrder]:
    """The report's orders in generation order (close_date, transaction_id).

    billed=True: orders at least one line priced; False: the unbilled ones; None: all.
    """
    queryset = ReportOrder.objects.filter(report=report)
    if billed is not None:
        queryset = queryset.filter(is_billed=billed)
    return queryset.order_by("id")


def report_lines_by_order(*, report: BillingReport, order_ids: Iterable[int]) -> dict[int, list[ReportLine]]:
    """Lines of the given orders (Order ids, i.e. ReportOrder.order_id), grouped by order, one query."""
    ids = list(order_ids)
    grouped: dict[int, list[ReportLine]] = {order_id: [] for order_id in ids}
    if not ids:
        return grouped
    for line in ReportLine.objects.filter(report=report, order_id__in=ids).order_by("order_id", "service_name", "id"):
        grouped[line.order_id].append(line)
    return grouped


def report_not_closed_orders(*, report: BillingReport) -> QuerySet[ReportNotClosedOrder]:
    """The orders of the report's customer that had no close date (never billable), by transaction id."""
    return ReportNotClosedOrder.objects.filter(report=report).order_by("id")


def report_service_totals(*, report: BillingReport) -> QuerySet[ReportServiceTotal]:
    return ReportServiceTotal.objects.filter(report=report).order_by("service_name", "service_id")


def report_other_charges(*, report: BillingReport) -> QuerySet[ReportOtherCharge]:
    """The report's storage, receiving, returns, extra-work and adjustment lines, in position order."""
    return ReportOtherCharge.objects.filter(report=report).order_by("position")


def report_tier_bases(*, report: BillingReport) -> dict[int, str]:
    """service id -> tier basis of the customer's tiered rate-card lines ('' = the default, per unit).

    A report line keeps its charge type, not its basis: the unit of a tiered line is read from
    the rate card as it is now.
    """
    rows = CustomerService.objects.filter(customer_id=report.customer_id, service__charge_type=ChargeType.TIERED)
    return dict(rows.values_list("service_id", "tier_basis"))


@dataclass(frozen=True)
class ReportDetail:
    report: BillingReport
    service_totals: list[ReportServiceTotal] = field(default_factory=list)
    orders: list[tuple[ReportOrder, list[ReportLine]]] = field(default_factory=list)
    not_closed_orders: list[ReportNotClosedOrder] = field(default_factory=list)


def report_detail(*, actor: Actor, report_id: str | uuid.UUID, billed: bool | None = None) -> ReportDetail:
    """A visible report with its service totals, every order with its lines and its not-closed
    orders, in 5 queries.

    Loads the whole report into memory: meant for moderate reports (JSON export, REST detail).
    Use iter_report_values for streaming large ones. billed filters orders as in report_orders.
    """
    report = report_get(actor=actor, report_id=report_id)
    totals = list(report_service_totals(report=report))
    orders = list(report_orders(report=report, billed=billed))
    lines: dict[int, list[ReportLine]] = {order.order_id: [] for order in orders}
    if orders:
        line_queryset = ReportLine.objects.filter(report=report)
        if billed is False:
            line_queryset = line_queryset.none()
        for line in line_queryset.order_by("order_id", "service_name", "id"):
            bucket = lines.get(line.order_id)
            if bucket is not None:
                bucket.append(line)
    return ReportDetail(
        report=report,
        service_totals=totals,
        orders=[(order, lines[order.order_id]) for order in orders],
        not_closed_orders=list(report_not_closed_orders(report=report)),
    )


# Columns of iter_report_values: one tuple per billed order, one tuple per line.
# transaction_date is the order's close date as a calendar date in the report's billing time zone.
REPORT_ORDER_VALUES = (
    "id",
    "transaction_id",
    "transaction_date",
    "status",
    "ship_to_name",
    "ship_to_address",
    "total_items",
    "line_items",
    "total_amount",
)
REPORT_LINE_VALUES = ("order_id", *REPORT_LINE_CHARGE_FIELDS)


def report_explanations(*, report: BillingReport) -> dict[int, dict[str, Any]]:
    """The payload of each explanation key of the report (one query, remembered on `report`).

    Empty for a report generated before explanations were recorded.
    """
    cached = getattr(report, "_explanation_payloads", None)
    if cached is None:
        cached = dict(ReportExplanation.objects.filter(report=report).values_list("key", "payload"))
        report._explanation_payloads = cached  # type: ignore[attr-defined]
    return cached


def line_explanation(
    explanations: Mapping[int, dict[str, Any]], key: int | None, detail: str | None
) -> dict[str, Any] | None:
    """A report line's explanation (billing.pricing.explain.explanation_data) from its key and its
    detail (JSON text); None for a report generated before explanations were recorded."""
    payload = explanations.get(key) if key is not None else None
    return explanation_data(payload, json.loads(detail) if detail else None)


def report_credit_note(*, report: BillingReport) -> CreditNote | None:
    """The credit note of a voided report (its report, customer and issuer loaded); None otherwise."""
    return CreditNote.objects.select_related("report__customer", "issued_by").filter(report=report).first()


# The columns of a report's list row, in the order of billing.exporters.shapes.report_row_data's
# parameters.
REPORT_LIST_VALUES = (
    "id",
    "customer_id",
    "customer__company_name",
    "start_date",
    "end_date",
    "total_amount",
    "generated_at",
    "output_format",
    "created_at",
    "created_by__username",
    "status",
    "invoice_number",
    "scope_key",
)


def report_list_values(reports: QuerySet[BillingReport], *, currency: bool = False) -> list[tuple[Any, ...]]:
    """The REPORT_LIST_VALUES columns of each report (then its currency, with `currency`), as tuples.

    The REST list returns every visible report (1,000 and more); building three model instances
    per row (report, customer, creator) took two thirds of such a request.
    """
    return list(reports.values_list(*REPORT_LIST_VALUES, *(("currency",) if currency else ())))


def iter_report_values(
    *, report: BillingReport, chunk_size: int = 5000
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """The billed orders with their lines as plain tuples, in generation order (ReportOrder id).

    Yields (order, lines): `order` has the REPORT_ORDER_VALUES columns, each line the
    REPORT_LINE_VALUES columns (lines by service name). No model instances are built and the
    close date arrives as a date already (computed by the database in the report's billing time
    zone), which makes it several times faster than reading model instances for exports of
    large reports. Memory is bounded by chunk_size orders (2 queries per chunk, keyset pagination).
    """
    zone = ZoneInfo(report.billing_time_zone or "UTC")
    orders = (
        ReportOrder.objects.filter(report=report, is_billed=True)
        .annotate(transaction_date=TruncDate("close_date", tzinfo=zone))
        .order_by("id")
    )
    last_id = 0
    while True:
        chunk = list(orders.filter(id__gt=last_id).values_list(*REPORT_ORDER_VALUES, "order_id")[:chunk_size])
        if not chunk:
            return
        last_id = chunk[-1][0]
        grouped: dict[int, list[tuple[Any, ...]]] = {row[-1]: [] for row in chunk}
        # The id range lets the planner walk the (report, order) index for the chunk's orders
        # (usually a narrow range); the IN list then picks exactly those orders.
        lines = (
            ReportLine.objects.filter(report=report, order_id__gte=min(grouped), order_id__lte=max(grouped))
            .filter(_order_id_in(grouped))
            .order_by("order_id", "service_name", "id")
            .values_list(*REPORT_LINE_VALUES)
        )
        for line in lines:
            grouped[line[0]].append(line)
        for row in chunk:
            yield row[:-1], grouped[row[-1]]
        if len(chunk) < chunk_size:
            return


# Columns of iter_report_rows: one flat row per line, its order's columns first, then its
# REPORT_LINE_CHARGE_FIELDS.
REPORT_ROW_ORDER_VALUES = ("id", "transaction_id", "transaction_date")
REPORT_ROW_ORDER_DETAIL_VALUES = REPORT_ORDER_VALUES
_DECIMAL_LINE_FIELDS = frozenset({"quantity", "unit_price", "amount"})


def iter_report_rows(
    *, report: BillingReport, chunk_size: int = 5000, order_details: bool = False
) -> Iterator[Sequence[Any]]:
    """The billed orders' lines as flat rows in report order: iter_report_values, flattened.

    Each row holds its order's REPORT_ROW_ORDER_VALUES (with `order_details`, the
    REPORT_ROW_ORDER_DETAIL_VALUES), then the line's REPORT_LINE_CHARGE_FIELDS; an order's lines
    are consecutive, by service name. Callers read the values of both databases: Decimal(value)
    is the stored number, and a falsy detail means none.

    On PostgreSQL one statement per chunk of `chunk_size` orders joins them to their lines; the
    decimal columns (quantity, unit_price, amount, the order's total_amount) arrive as their
    text ('3.0000', '1.50'), so a row costs no Decimal. Elsewhere the values are
    iter_report_values' (Decimal, date, int). Memory is bounded by one chunk, and the next
    chunk's statement is sent before the caller handles this one (_report_row_chunks), so the
    server's work and the caller's formatting overlap.
    """
    order_columns = REPORT_ROW_ORDER_DETAIL_VALUES if order_details else REPORT_ROW_ORDER_VALUES
    if connection.vendor != "postgresql":
        positions = [REPORT_ORDER_VALUES.index(name) for name in order_columns]
        for order, lines in iter_report_values(report=report, chunk_size=chunk_size):
            head = tuple(order[index] for index in positions)
            for line in lines:
                yield (*head, *line[1:])
        return
    yield from chain.from_iterable(_report_row_chunks(report, chunk_size, order_columns))


def _report_row_chunks(
    report: BillingReport, chunk_size: int, order_columns: Sequence[str]
) -> Iterator[list[tuple[Any, ...]]]:
    """iter_report_rows' rows on PostgreSQL, a chunk of `chunk_size` orders at a time, each chunk's
    statement sent before the caller handles the chunk before it.

    The chunks' bounds come first, from one statement (every chunk_size-th billed order's id).
    Then the chunks' statements go through psycopg's pipeline mode: chunk k+1's statement is
    sent as soon as chunk k's rows have arrived, so the server joins and sorts the next chunk
    while the caller formats this one, and its rows wait in the socket's buffers. One thread,
    one connection, the caller's transaction.
    """
    zone = ZoneInfo(report.billing_time_zone or "UTC")
    names = [f"c{index}" for index in range(len(order_columns) + 1)]
    outer = [
        f"o.{name}::text" if column == "total_amount" else f"o.{name}"
        for name, column in zip(names, order_columns, strict=False)
    ]
    charge = [f"l.{name}::text" if name in _DECIMAL_LINE_FIELDS else f"l.{name}" for name in REPORT_LINE_CHARGE_FIELDS]
    table = ReportLine._meta.db_table
    orders = (
        ReportOrder.objects.filter(report=report, is_billed=True)
        .annotate(transaction_date=TruncDate("close_date", tzinfo=zone))
        .order_by()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM billing_reportorder"
            " WHERE report_id = %s AND is_billed) AS numbered WHERE n %% %s = 0 ORDER BY id",
            [report.pk, chunk_size],
        )
        bounds = [row[0] for row in cursor.fetchall()]
    chunks = list(zip([0, *bounds], [*bounds, None], strict=True))
    raw = connection.connection

    def send(lower: int, upper: int | None) -> Any:
        chunk = orders.filter(id__gt=lower) if upper is None else orders.filter(id__gt=lower, id__lte=upper)
        orders_sql, params = chunk.values_list(*order_columns, "order_id").query.sql_with_params()
        cursor = raw.cursor()
        cursor.execute(
            f"WITH o ({', '.join(names)}) AS MATERIALIZED ({orders_sql})"  # noqa: S608 - our names
            f" SELECT {', '.join(outer)}, {', '.join(charge)}"
            f" FROM o JOIN {table} AS l ON l.report_id = %s AND l.order_id = o.{names[-1]}"
            " ORDER BY o.c0, l.service_name, l.id",
            [*params, report.pk],
        )
        return cursor

    with raw.pipeline():
        pending = send(*chunks[0])
        try:
            for following in [*chunks[1:], None]:
                rows = pending.fetchall()
                pending.close()
                if following is not None:
                    pending = send(*following)
                yield rows
                del rows
        finally:
            pending.close()  # the chunk sent ahead, when the caller stops early


def explanation_key(value: int | str | None) -> int | None:
    """A line's explanation key as iter_report_rows gives it (an int, None, or its text) as an int."""
    if value is None or value == "":
        return None
    return int(value)


def _order_id_in(order_ids: Iterable[int]) -> RawSQL:
    """`order_id IN (...)` with the ids written as integer literals.

    The same condition as order_id__in, without one bound parameter per id: with thousands of
    ids, Django's per-value preparation and the driver's placeholder parsing cost more than the
    query itself. Only ints (primary keys read from the database) are accepted.
    """
    literals = ",".join(str(int(order_id)) for order_id in order_ids)
    return RawSQL(f"order_id IN ({literals})", (), output_field=BooleanField())  # noqa: S611 - integer literals
