"""Billing report generation (DESIGN §4-§5, performance §9).

report_generate prices every billable order of a customer's period with the pure pricing
engine (billing.pricing) and stores the result as an immutable snapshot, in one transaction:

1. validate the request and check the actor's permission (nothing is written on error);
2. lock the customer row (select_for_update) so generations for one customer are serialised;
3. load the rate card in a constant number of queries and compile it once;
4. stream the billable orders in canonical order (close_date, transaction_id) in chunks,
   with their SKU lines fetched per chunk as plain tuples (no model instances, no per-order
   queries); price each order and write its ReportOrder and ReportLine rows per chunk
   (COPY on PostgreSQL, bulk_create elsewhere);
5. write per-service totals and the report totals, supersede the previous current report of
   the same period and record audit events.

The SQL statement count depends only on the number of chunks, never on the number of orders.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Collate
from django.utils import timezone

from billing.errors import ValidationFailed
from billing.models import (
    AuditAction,
    AuditEvent,
    BillingReport,
    ChargeType,
    Customer,
    CustomerService,
    Interface,
    OrderLine,
    OutputFormat,
    PriceTier,
    Product,
    ReportLine,
    ReportOrder,
    ReportServiceTotal,
    ReportStatus,
    Rule,
    RuleGroup,
)
from billing.permissions import Actor, ensure_can_generate_for
from billing.pricing import PricingError, RuleValidationError, compile_rate_card, normalize_sku
from billing.pricing.types import (
    OrderData,
    OrderLineData,
    RateCard,
    RateLineData,
    RuleData,
    RuleGroupData,
    TierData,
)
from billing.selectors.orders import billable_orders

__all__ = ["load_rate_card", "report_generate", "report_request_validate"]

ZERO = Decimal("0")
SQLITE_BATCH_SIZE = 2000
# Orders priced between two writes into an open COPY: the server ingests one batch while the
# next one is being priced.
COPY_FLUSH_ORDERS = 500

# Columns read per billable order, in the order _order_data and the snapshot writers use them.
ORDER_COLUMNS = (
    "id",
    "transaction_id",
    "close_date",
    "reference_number",
    "ship_to_name",
    "ship_to_company",
    "ship_to_city",
    "ship_to_state",
    "ship_to_country",
    "carrier",
    "notes",
    "weight_lb",
    "volume_cuft",
    "packages",
    "line_items",
    "total_item_qty",
    "status",
    "ship_to_address",
)
_ID, _TX, _CLOSE = 0, 1, 2
_REFERENCE, _SHIP_TO_NAME = 3, 4
_LINE_ITEMS, _TOTAL_QTY, _STATUS, _ADDRESS = 14, 15, 16, 17

# Order chunks are read by keyset pagination over (close_date, transaction_id). A server-side
# cursor ("cursor") is the alternative; benchmarks/generate_report.py measures both.
READ_STRATEGY = "keyset"


def report_generate(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str = OutputFormat.JSON,
    customer_service_ids: Sequence[int] | None = None,
    interface: str = Interface.COMMAND,
    request_id: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> BillingReport:
    """Price the customer's billable orders of [start_date, end_date] and store the report.

    Raises PermissionDenied when the actor may not generate for this customer, and
    ValidationFailed (every field error at once: customer_id, start_date, end_date,
    output_format, customer_service_ids; rate_card for a stored rule the engine rejects).
    Everything happens in one transaction: on any error nothing is written. A previous
    current report of the same (customer, start_date, end_date) becomes superseded.
    `progress(processed, total)` is called after each chunk of orders.
    """
    ensure_can_generate_for(actor, customer_id)
    errors = _validate_arguments(start_date=start_date, end_date=end_date, output_format=output_format)
    return _generate(
        actor=actor,
        customer_id=customer_id,
        start_date=start_date,
        end_date=end_date,
        output_format=output_format,
        customer_service_ids=customer_service_ids,
        interface=interface,
        request_id=request_id,
        progress=progress,
        errors=errors,
    )


def report_request_validate(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str = OutputFormat.JSON,
    customer_service_ids: Sequence[int] | None = None,
) -> None:
    """report_generate's checks without generating (nothing locked or written), e.g. before
    queueing a background job. Raises PermissionDenied or ValidationFailed like it does."""
    ensure_can_generate_for(actor, customer_id)
    errors = _validate_arguments(start_date=start_date, end_date=end_date, output_format=output_format)
    problem = _customer_problem(Customer.objects.filter(pk=customer_id).first(), customer_id)
    if problem:
        errors["customer_id"] = [problem]
    elif customer_service_ids is not None:
        problem = load_rate_card(customer_id=customer_id).select(customer_service_ids)
        if problem:
            errors["customer_service_ids"] = [problem]
    if errors:
        raise ValidationFailed("Invalid report request.", fields=errors)


def _customer_problem(customer: Customer | None, customer_id: int) -> str:
    if customer is None:
        return f"Customer {customer_id} does not exist."
    if not customer.is_active:
        return f"Customer {customer_id} is inactive."
    return ""


def _validate_arguments(*, start_date: Any, end_date: Any, output_format: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    dates_ok = True
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            errors[name] = ["Enter a valid date."]
            dates_ok = False
    if dates_ok and start_date > end_date:
        errors["end_date"] = ["End date must be on or after the start date."]
    if output_format not in OutputFormat.values:
        errors["output_format"] = [
            f"Unknown output format {output_format!r}. Allowed: {', '.join(OutputFormat.values)}."
        ]
    return errors


@transaction.atomic
def _generate(
    *,
    actor: Actor,
    customer_id: int,
    start_date: dt.date,
    end_date: dt.date,
    output_format: str,
    customer_service_ids: Sequence[int] | None,
    interface: str,
    request_id: str,
    progress: Callable[[int, int], None] | None,
    errors: dict[str, list[str]],
) -> BillingReport:
    # The row lock serialises generations for one customer until this transaction ends.
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    card: LoadedRateCard | None = None
    problem = _customer_problem(customer, customer_id)
    if problem:
        errors["customer_id"] = [problem]
    else:
        card = load_rate_card(customer_id=customer.pk)
        if customer_service_ids is not None:
            problem = card.select(customer_service_ids)
            if problem:
                errors["customer_service_ids"] = [problem]
    if errors:
        raise ValidationFailed("Invalid report request.", fields=errors)
    assert customer is not None and card is not None

    try:
        run = compile_rate_card(card.rate_card)
    except RuleValidationError as exc:
        message = card.describe(str(exc))
        raise ValidationFailed(message, fields={"rate_card": [message]}) from exc

    orders = billable_orders(customer_id=customer.pk, start_date=start_date, end_date=end_date)
    total = orders.count() if progress is not None else 0

    previous = (
        BillingReport.objects.filter(
            customer=customer, start_date=start_date, end_date=end_date, status=ReportStatus.CURRENT
        )
        .only("id")
        .first()
    )
    if previous is not None:
        # Free the "one current report per period" slot before the new report takes it.
        BillingReport.objects.filter(pk=previous.pk).update(status=ReportStatus.SUPERSEDED)

    now = timezone.now()
    report = BillingReport.objects.create(
        id=uuid.uuid4(),
        customer=customer,
        start_date=start_date,
        end_date=end_date,
        currency=customer.currency,
        output_format=output_format,
        status=ReportStatus.CURRENT,
        billing_time_zone=settings.BILLING_TIME_ZONE,
        generated_at=now,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )

    writer: _SnapshotWriter = _CopyWriter(report) if connection.vendor == "postgresql" else _BulkWriter(report)
    totals = _Totals(card.line_info)
    processed = 0
    with _cyclic_gc_paused():
        for rows, lines in _order_chunks(orders, settings.BILLING_GENERATION_CHUNK_SIZE):
            writer.write_chunk(run, rows, lines, totals)
            processed += len(rows)
            if progress is not None:
                progress(processed, total)

    ReportServiceTotal.objects.bulk_create(totals.service_totals(report))
    report.total_amount = totals.amount
    report.order_count = totals.billed_orders
    report.unbilled_order_count = totals.unbilled_orders
    report.line_count = totals.lines
    report.save(update_fields=["total_amount", "order_count", "unbilled_order_count", "line_count"])

    actor_id = actor.pk if report.created_by_id is not None else None
    events = [
        AuditEvent(
            action=AuditAction.REGENERATED if previous is not None else AuditAction.GENERATED,
            report=report,
            actor_id=actor_id,
            interface=interface,
            format=output_format,
            request_id=request_id,
        )
    ]
    if previous is not None:
        BillingReport.objects.filter(pk=previous.pk).update(superseded_by=report)
        events.append(
            AuditEvent(
                action=AuditAction.SUPERSEDED,
                report_id=previous.pk,
                actor_id=actor_id,
                interface=interface,
                format=output_format,
                request_id=request_id,
            )
        )
    AuditEvent.objects.bulk_create(events)
    return report


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while orders are streamed.

    Pricing allocates millions of short-lived, acyclic objects (rows, order data, charges),
    which reference counting frees; the cyclic collector would repeatedly traverse every live
    chunk for nothing (about 20% of the CPU time at 100k orders). It is re-enabled afterwards,
    even on error, and left alone if it was already disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- rate card --------------------------------------------------------------------------


_POSITIONAL_LABEL = re.compile(r"rate_card\[(\d+)\]")


@dataclass(frozen=True)
class LineInfo:
    """What the snapshot stores about a rate-card line."""

    service_id: int
    service_name: str
    charge_type: str


@dataclass
class LoadedRateCard:
    """A customer's active rate card as engine data, plus the snapshot facts of each line."""

    lines: tuple[RateLineData, ...]
    case_sizes: dict[str, int]
    per_unit_skus: frozenset[str]
    selected: tuple[RateLineData, ...] = ()
    line_info: dict[int, LineInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.selected = self.lines
        self.line_info = {
            line.customer_service_id: LineInfo(line.service_id, line.service_name, line.charge_type)
            for line in self.lines
        }

    def select(self, customer_service_ids: Sequence[int]) -> str:
        """Restrict pricing to these lines; returns an error message, or "" when they are valid."""
        wanted = set(customer_service_ids)
        if not wanted:
            return "Select at least one rate-card line, or omit the field to use the whole rate card."
        unknown = sorted(wanted - self.line_info.keys())
        if unknown:
            ids = ", ".join(str(i) for i in unknown)
            return f"Not on the customer's active rate card: {ids}."
        self.selected = tuple(line for line in self.lines if line.customer_service_id in wanted)
        return ""

    def describe(self, message: str) -> str:
        """An engine message with its positional labels ("rate_card[2]") replaced by line names."""

        def name(match: re.Match[str]) -> str:
            index = int(match.group(1))
            if index >= len(self.selected):
                return match.group(0)
            line = self.selected[index]
            return f"{line.service_name} (rate-card line #{line.customer_service_id})"

        return _POSITIONAL_LABEL.sub(name, message)

    @property
    def rate_card(self) -> RateCard:
        # per_unit_skus always comes from the whole card: a unit charged per_unit is never picked.
        return RateCard(lines=self.selected, case_sizes=self.case_sizes, per_unit_skus=self.per_unit_skus)


def load_rate_card(*, customer_id: int) -> LoadedRateCard:
    """The customer's active rate-card lines with tiers, SKUs and rules, in six queries."""
    lines = list(
        CustomerService.objects.filter(customer_id=customer_id, is_active=True)
        .select_related("service")
        .order_by("service__name", "id")
        .values_list("id", "service_id", "service__name", "service__charge_type", "unit_price", "tier_basis")
    )
    line_ids = [row[0] for row in lines]
    tiers: dict[int, list[TierData]] = {}
    for cs_id, up_to, price in (
        PriceTier.objects.filter(customer_service_id__in=line_ids)
        .order_by("customer_service_id", "up_to")
        .values_list("customer_service_id", "up_to", "unit_price")
    ):
        tiers.setdefault(cs_id, []).append(TierData(up_to=up_to, unit_price=price))
    for bands in tiers.values():  # the open band (up_to NULL) last, whatever NULL ordering the database uses
        bands.sort(key=lambda tier: (tier.up_to is None, tier.up_to or ZERO))
    skus: dict[int, set[str]] = {}
    for cs_id, sku in CustomerService.skus.through.objects.filter(customerservice_id__in=line_ids).values_list(
        "customerservice_id", "product__sku"
    ):
        skus.setdefault(cs_id, set()).add(normalize_sku(sku))
    groups: dict[int, list[int]] = {}
    group_logic: dict[int, str] = {}
    for group_id, cs_id, logic in (
        RuleGroup.objects.filter(customer_service_id__in=line_ids)
        .order_by("customer_service_id", "id")
        .values_list("id", "customer_service_id", "logic_operator")
    ):
        groups.setdefault(cs_id, []).append(group_id)
        group_logic[group_id] = logic
    rules: dict[int, list[tuple[int, str, str, str]]] = {}
    for rule in (
        Rule.objects.filter(rule_group__customer_service_id__in=line_ids)
        .order_by("rule_group_id", "id")
        .values_list("rule_group_id", "id", "field", "operator", "value")
    ):
        rules.setdefault(rule[0], []).append(rule[1:])
    case_sizes = {
        normalize_sku(sku): size
        for sku, size in Product.objects.filter(customer_id=customer_id).values_list("sku", "case_size")
    }

    data = []
    per_unit: set[str] = set()
    for cs_id, service_id, service_name, charge_type, unit_price, tier_basis in lines:
        rule_groups = tuple(
            RuleGroupData(
                logic=group_logic[group_id],
                rules=tuple(
                    RuleData(field=f, operator=op, value=value, label=f"#{rule_id} ({service_name})")
                    for rule_id, f, op, value in rules.get(group_id, ())
                ),
            )
            for group_id in groups.get(cs_id, ())
        )
        line_skus = frozenset(skus.get(cs_id, ()))
        if charge_type == ChargeType.PER_UNIT:
            per_unit |= line_skus
        data.append(
            RateLineData(
                customer_service_id=cs_id,
                service_id=service_id,
                service_name=service_name,
                charge_type=charge_type,
                unit_price=unit_price,
                tier_basis=tier_basis,
                tiers=tuple(tiers.get(cs_id, ())),
                skus=line_skus,
                rule_groups=rule_groups,
            )
        )
    return LoadedRateCard(lines=tuple(data), case_sizes=case_sizes, per_unit_skus=frozenset(per_unit))


# --- reading orders ---------------------------------------------------------------------


def _tx_collation() -> str:
    """A byte-order collation, so the database sorts transaction ids exactly as Python does."""
    return "C" if connection.vendor == "postgresql" else "BINARY"


def _order_chunks(orders, chunk_size: int) -> Iterator[tuple[list[tuple], dict[int, list[OrderLineData]]]]:
    """Chunks of billable order rows (ORDER_COLUMNS) in canonical order, with their SKU lines."""
    chunk_size = max(1, int(chunk_size))
    reader = _cursor_chunks if READ_STRATEGY == "cursor" else _keyset_chunks
    for rows in reader(orders, chunk_size):
        yield rows, _lines_of([row[_ID] for row in rows])


def _keyset_chunks(orders, chunk_size: int) -> Iterator[list[tuple]]:
    """One query per chunk: WHERE (close_date, transaction_id) > (last row's) ... LIMIT chunk_size."""
    collation = _tx_collation()
    ordered = orders.annotate(tx_sort=Collate("transaction_id", collation)).order_by("close_date", "tx_sort")
    after: tuple[dt.datetime, str] | None = None
    while True:
        page = ordered
        if after is not None:
            close_date, tx = after
            # close_date >= last keeps the index range scan; the OR resolves ties on transaction_id.
            page = page.filter(close_date__gte=close_date).filter(
                Q(close_date__gt=close_date) | Q(close_date=close_date, tx_sort__gt=tx)
            )
        rows = _fetch_all(page.values_list(*ORDER_COLUMNS)[:chunk_size])
        if not rows:
            return
        yield rows
        if len(rows) < chunk_size:
            return
        after = (rows[-1][_CLOSE], rows[-1][_TX])


def _cursor_chunks(orders, chunk_size: int) -> Iterator[list[tuple]]:
    """One query, read chunk by chunk (a server-side cursor on PostgreSQL)."""
    collation = _tx_collation()
    ordered = orders.order_by("close_date", Collate("transaction_id", collation)).values_list(*ORDER_COLUMNS)
    if connection.vendor != "postgresql":
        rows: list[tuple] = []
        for row in ordered.iterator(chunk_size=chunk_size):
            rows.append(row)
            if len(rows) == chunk_size:
                yield rows
                rows = []
        if rows:
            yield rows
        return
    sql, params = ordered.query.sql_with_params()
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield rows
    finally:
        cursor.close()


def _fetch_all(queryset) -> list[tuple]:
    """The rows of a values_list queryset.

    On PostgreSQL the driver already returns the final Python types (Decimal, aware
    datetime, int, str) and Django applies no converters to these columns, so the SQL the
    ORM compiled is run directly and fetched at once, without per-row iterator overhead.
    """
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_LINES_SQL = "SELECT order_id, sku, quantity FROM {table} WHERE order_id = ANY(%s)"


def _lines_of(order_ids: list[int]) -> dict[int, list[OrderLineData]]:
    """The SKU lines of these orders, grouped by order id (one query)."""
    lines: dict[int, list[OrderLineData]] = {}
    if not order_ids:
        return lines
    if connection.vendor == "postgresql":
        # One array parameter instead of thousands of IN placeholders.
        with connection.cursor() as cursor:
            cursor.execute(_LINES_SQL.format(table=connection.ops.quote_name(OrderLine._meta.db_table)), [order_ids])
            rows = cursor.fetchall()
    else:
        rows = OrderLine.objects.filter(order_id__in=order_ids).order_by().values_list("order_id", "sku", "quantity")
    # Lines are immutable values: equal (sku, quantity) pairs share one object.
    shared: dict[tuple[str, int], OrderLineData] = {}
    for order_id, sku, quantity in rows:
        key = (sku, quantity)
        line = shared.get(key)
        if line is None:
            line = shared[key] = OrderLineData(sku, quantity)
        bucket = lines.get(order_id)
        if bucket is None:
            lines[order_id] = [line]
        else:
            bucket.append(line)
    return lines


def _order_data(row: tuple, lines: dict[int, list[OrderLineData]]) -> OrderData:
    order_lines = lines.get(row[_ID])
    return OrderData(*row[:16], tuple(order_lines) if order_lines else ())


# --- totals and writing -----------------------------------------------------------------


class _Totals:
    """Running sums of the rounded line amounts: report, per service, order counts.

    The engine gives at most one charge per rate-card line and order, so a service's
    order_count (distinct orders charged) is its number of charges.
    """

    def __init__(self, line_info: dict[int, LineInfo]) -> None:
        self.line_info = line_info
        self.amount = ZERO
        self.lines = 0
        self.billed_orders = 0
        self.unbilled_orders = 0
        # customer_service_id -> [quantity, amount, order_count]
        self.per_service: dict[int, list] = {cs_id: [ZERO, ZERO, 0] for cs_id in line_info}

    def add_order(self, charges: list) -> Decimal:
        """Account one priced order; returns its total (exact sum of its rounded lines)."""
        if not charges:
            self.unbilled_orders += 1
            return ZERO
        self.billed_orders += 1
        self.lines += len(charges)
        order_total = ZERO
        per_service = self.per_service
        for charge in charges:
            amount = charge.amount
            order_total += amount
            sums = per_service[charge.customer_service_id]
            sums[0] += charge.quantity
            sums[1] += amount
            sums[2] += 1
        self.amount += order_total
        return order_total

    def service_totals(self, report: BillingReport) -> list[ReportServiceTotal]:
        totals = []
        for cs_id, (quantity, amount, order_count) in self.per_service.items():
            if not order_count:
                continue
            info = self.line_info[cs_id]
            totals.append(
                ReportServiceTotal(
                    report=report,
                    service_id=info.service_id,
                    service_name=info.service_name,
                    charge_type=info.charge_type,
                    quantity=quantity,
                    amount=amount,
                    order_count=order_count,
                )
            )
        return totals


class _SnapshotWriter:
    def __init__(self, report: BillingReport) -> None:
        self.report = report

    def write_chunk(self, run, rows: list[tuple], lines: dict[int, list[OrderLineData]], totals: _Totals) -> None:
        raise NotImplementedError


def _pricing_failed(exc: PricingError) -> ValidationFailed:
    """Stored data the engine cannot price (a rule it rejects, a tier cap exceeded): a 400, never a 500."""
    return ValidationFailed(str(exc), fields={"rate_card": [str(exc)]})


def _price(run, row: tuple, lines: dict[int, list[OrderLineData]]) -> list:
    try:
        return run.price_order(_order_data(row, lines))
    except PricingError as exc:
        raise _pricing_failed(exc) from exc


class _BulkWriter(_SnapshotWriter):
    """Portable writer: bulk_create per chunk (SQLite and other databases)."""

    def write_chunk(self, run, rows, lines, totals) -> None:
        report = self.report
        report_orders = []
        report_lines = []
        info = totals.line_info
        for row in rows:
            charges = _price(run, row, lines)
            order_total = totals.add_order(charges)
            order_id = row[_ID]
            report_orders.append(
                ReportOrder(
                    report=report,
                    order_id=order_id,
                    transaction_id=row[_TX],
                    reference_number=row[_REFERENCE],
                    close_date=row[_CLOSE],
                    status=row[_STATUS],
                    ship_to_name=row[_SHIP_TO_NAME],
                    ship_to_address=row[_ADDRESS],
                    total_items=row[_TOTAL_QTY],
                    line_items=row[_LINE_ITEMS],
                    total_amount=order_total,
                    is_billed=bool(charges),
                )
            )
            for charge in charges:
                line = info[charge.customer_service_id]
                report_lines.append(
                    ReportLine(
                        report=report,
                        order_id=order_id,
                        service_id=line.service_id,
                        service_name=line.service_name,
                        charge_type=line.charge_type,
                        quantity=charge.quantity,
                        unit_price=charge.unit_price,
                        amount=charge.amount,
                    )
                )
        ReportOrder.objects.bulk_create(report_orders, batch_size=SQLITE_BATCH_SIZE)
        ReportLine.objects.bulk_create(report_lines, batch_size=SQLITE_BATCH_SIZE)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ORDER_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\t"})


def _copy_text(value: str) -> str:
    """A string as a field of PostgreSQL's COPY text format."""
    return value.translate(_COPY_ESCAPES)


def _copy_statement(model, fields: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


class _CopyWriter(_SnapshotWriter):
    """PostgreSQL writer: each chunk's lines and orders streamed with COPY (psycopg 3).

    Lines are written into an open COPY while the chunk is priced, so the server ingests
    one batch while the next is priced; the chunk's orders follow in a second COPY.
    """

    LINE_FIELDS = ("report", "order", "service_id", "service_name", "charge_type", "quantity", "unit_price", "amount")
    # Text columns first, so one translate() escapes them all (see write_chunk).
    ORDER_FIELDS = (
        "transaction_id",
        "reference_number",
        "status",
        "ship_to_name",
        "ship_to_address",
        "report",
        "order",
        "close_date",
        "total_items",
        "line_items",
        "total_amount",
        "is_billed",
    )

    def __init__(self, report: BillingReport) -> None:
        super().__init__(report)
        self.report_key = str(report.pk)
        self.line_sql = _copy_statement(ReportLine, self.LINE_FIELDS)
        self.order_sql = _copy_statement(ReportOrder, self.ORDER_FIELDS)

    def write_chunk(self, run, rows, lines, totals) -> None:
        key = self.report_key
        prefixes = {
            cs_id: f"{info.service_id}\t{_copy_text(info.service_name)}\t{_copy_text(info.charge_type)}\t"
            for cs_id, info in totals.line_info.items()
        }
        per_service = totals.per_service
        price_order = run.price_order
        escape = _ORDER_TEXT_ESCAPES
        order_rows: list[str] = []
        amount_sum = ZERO
        billed = line_count = 0
        with connection.cursor() as cursor, cursor.copy(self.line_sql) as copy:
            buffer: list[str] = []
            for index, row in enumerate(rows, 1):
                order_id = row[_ID]
                order_lines = lines.get(order_id)
                try:
                    charges = price_order(OrderData(*row[:16], tuple(order_lines) if order_lines else ()))
                except PricingError as exc:
                    raise _pricing_failed(exc) from exc
                order_total = ZERO
                if charges:
                    billed += 1
                    line_count += len(charges)
                    head = f"{key}\t{order_id}\t"
                    for charge in charges:
                        cs_id = charge.customer_service_id
                        amount = charge.amount
                        quantity = charge.quantity
                        order_total += amount
                        sums = per_service[cs_id]
                        sums[0] += quantity
                        sums[1] += amount
                        sums[2] += 1
                        buffer.append(f"{head}{prefixes[cs_id]}{quantity}\t{charge.unit_price}\t{amount}\n")
                    amount_sum += order_total
                # NUL cannot occur in PostgreSQL text, so it separates the text columns while they
                # are escaped together and becomes the column separator (tab) in the same pass.
                texts = f"{row[_TX]}\0{row[_REFERENCE]}\0{row[_STATUS]}\0{row[_SHIP_TO_NAME]}\0{row[_ADDRESS]}"
                order_rows.append(
                    f"{texts.translate(escape)}\t{key}\t{order_id}\t{row[_CLOSE].isoformat()}\t{row[_TOTAL_QTY]}\t"
                    f"{row[_LINE_ITEMS]}\t{order_total}\t{'t' if charges else 'f'}\n"
                )
                if index % COPY_FLUSH_ORDERS == 0 and buffer:
                    copy.write("".join(buffer))
                    buffer = []
            if buffer:
                copy.write("".join(buffer))
        with connection.cursor() as cursor, cursor.copy(self.order_sql) as copy:
            copy.write("".join(order_rows))
        totals.amount += amount_sum
        totals.billed_orders += billed
        totals.unbilled_orders += len(rows) - billed
        totals.lines += line_count
