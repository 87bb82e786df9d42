"""Billing report generation (docs/architecture.md: the domain rules and the generation pipeline).

report_generate prices every billable order of a customer's period with the pure pricing
engine (billing.pricing) and stores the result as an immutable snapshot, in one transaction:

1. validate the request and check the actor's permission (nothing is written on error);
2. lock the customer row (select_for_update) so generations for one customer are serialised;
3. load the rate card in a constant number of queries and compile it once;
4. read the billable orders in canonical order (close_date NULLS FIRST, transaction_id by
   code point, id) with their SKU lines as plain tuples (no model instances, no per-order
   queries), price each order and write its ReportOrder and ReportLine rows;
5. write per-service totals and the report totals, supersede the previous current report of
   the same period and record audit events.

On PostgreSQL the number of SQL statements is constant: it depends neither on the number of
orders nor on BILLING_GENERATION_CHUNK_SIZE (which only sets how often `progress` is called).
Step 4 is three statements on the transaction's own connection:

a. one query streams every order with its lines aggregated into two arrays (one row per
   order, psycopg's chunked `cursor.stream`); the rows are spooled as marshal records into a
   temporary file (kept in memory up to SPOOL_MEMORY_BYTES, then on disk);
b. one COPY into ReportLine stays open while the spooled orders are priced: the server
   ingests line rows while Python prices the next orders; ReportOrder rows go to a second
   spool;
c. one COPY writes the spooled ReportOrder rows.

Memory stays bounded (a batch of rows, the spools' in-memory part, the line-object cache),
whatever the number of orders. Measured with benchmarks/generate_report.py (100k orders, 535k
lines, 2 cores shared with other work: median wall time of 5 interleaved runs at load 3-3.8,
in parentheses one run, or the median of 3, at load 1-1.5; Python / PostgreSQL CPU of a
typical run):

- this design ("read-first"): 5.1 s (4.4 s), 2.1 s / 3.0 s, 17 statements whatever N (29
  since reports also write their per-day and per-month analytics totals: 24 executed, the
  streamed read, 2 COPY and 2 transaction control, as the benchmark prints them);
- the previous design, chunk by chunk (keyset pages, one lines query and two COPYs per
  chunk of 5000): 6.1 s (6.6 s), 2.9 s / 3.0 s, 92 statements, 4 more per chunk;
- pricing straight from the stream and spooling both COPY payloads (WRITE_STRATEGY
  "spooled", kept for the benchmark): 5.7 s (5.2 s), 2.0 s / 2.9 s. The connection is busy
  with the read while Python prices, so the server ingests every row only after pricing;
- streaming the orders on a second connection while this one keeps the line COPY open:
  4.4 s (4.4 s), since the read overlaps pricing too. Not used: a second connection cannot
  see what the caller's transaction wrote, and report jobs and idempotent generation always
  call report_generate inside their own transaction (holding the customer lock), so it would
  need a fallback exactly on the path large reports take, or could silently miss orders; a
  caller holding a table lock would make it wait forever.

After pricing, the remaining serial server work is the ReportOrder COPY (about 0.6 s) and,
at commit, the deferred foreign-key checks of ReportOrder (about 0.6 s).

While (a)-(b) run, the connection is busy, so `progress` must not query it (it is refused
with an error rather than left to block): write progress through another database alias, as
report jobs do. SQLite (and any other database) keeps the portable chunked bulk_create path,
whose statement count grows with the number of chunks.
"""

from __future__ import annotations

import datetime as dt
import gc
import marshal
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, UUIDField, Value
from django.db.models.functions import Collate
from django.utils import timezone

from billing.errors import AlreadyBilled, InvalidTransition, ValidationFailed
from billing.models import (
    LIVE_REPORT_STATUSES,
    AuditAction,
    AuditEvent,
    BilledPair,
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
    ReportNotClosedOrder,
    ReportOrder,
    ReportServiceTotal,
    ReportStatus,
    Rule,
    RuleGroup,
)
from billing.permissions import Actor, ensure_can_generate_for, is_authenticated
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
from billing.report_request import customer_problem as _customer_problem
from billing.report_request import period_and_format_errors as _validate_arguments
from billing.selectors.orders import billable_orders, not_closed_orders
from billing.services.analytics import report_days_write
from billing.services.users import system_user

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

__all__ = ["load_rate_card", "report_generate"]

ZERO = Decimal("0")
SQLITE_BATCH_SIZE = 2000
# Orders priced between two writes into the open line COPY (and the order spool): the server
# ingests one batch while the next one is being priced.
COPY_FLUSH_ORDERS = 500
# PostgreSQL: rows per libpq fetch of the order stream and per marshal record of the read spool.
STREAM_BATCH_ROWS = 1000
# Bytes a spool keeps in memory before it moves to a temporary file, and the block size read back.
SPOOL_MEMORY_BYTES = 16 * 2**20
SPOOL_BLOCK_BYTES = 2**20
# Distinct (sku, quantity) line objects kept for reuse across orders before the cache restarts.
LINE_CACHE_LIMIT = 100_000
# PostgreSQL write strategy: "read-first" (spool the order stream, then price into an open
# line COPY) or "spooled" (price from the stream, spool both COPY payloads). See the module
# docstring; benchmarks/generate_report.py measures both.
WRITE_STRATEGY = "read-first"

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

# Other databases than PostgreSQL read order chunks by keyset pagination over (close_date,
# transaction_id), or with one query read chunk by chunk ("cursor").
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
    created_by: User | None = None,
    only_unbilled: bool = False,
) -> BillingReport:
    """Price the customer's billable orders of [start_date, end_date] and store the report.

    The report records who made it: `created_by`, else the actor when it is a signed-in user,
    else the system user (billing.services.users.system_user).

    Raises PermissionDenied when the actor may not generate for this customer, and
    ValidationFailed (every field error at once: customer_id, start_date, end_date,
    output_format, customer_service_ids; rate_card for a stored rule the engine rejects).
    Everything happens in one transaction: on any error nothing is written. A previous
    current report of the same (customer, start_date, end_date) becomes superseded.
    `progress(processed, total)` is called after each chunk of BILLING_GENERATION_CHUNK_SIZE
    orders is priced, and after the last order. On PostgreSQL it runs while the default
    connection is streaming the report, so it must not use that connection (a query on it
    raises RuntimeError); write progress through another database alias.

    The report is a draft. It supersedes only the draft of the same scope: customer, period and
    set of rate-card lines (customer_service_ids, or the whole card). Each (order, rate-card line)
    pair it bills is claimed in BilledPair, whose unique index refuses a pair another live report
    bills: then AlreadyBilled (409) names those reports and counts the pairs, unless
    `only_unbilled`, which leaves such pairs out. A finalized report of the same scope is never
    replaced: InvalidTransition, unless `only_unbilled` (how late-closed orders get billed).
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
        created_by=created_by,
        only_unbilled=only_unbilled,
    )


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
    created_by: User | None,
    only_unbilled: bool = False,
) -> BillingReport:
    # The row lock serialises generations for one customer until this transaction ends.
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    card: LoadedRateCard | None = None
    problem = _customer_problem(customer, customer_id)
    if problem or customer is None:  # no problem means the customer exists
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

    scope = scope_key(customer_service_ids)
    same_scope = BillingReport.objects.filter(
        customer=customer, start_date=start_date, end_date=end_date, scope_key=scope
    )
    live = {
        other.status: other
        for other in same_scope.filter(status__in=LIVE_REPORT_STATUSES).only("id", "status", "invoice_number")
    }
    finalized = live.get(ReportStatus.FINALIZED)
    if finalized is not None and not only_unbilled:
        raise InvalidTransition(
            f"This period is finalized for the customer ({finalized.invoice_number}): void it first, "
            "or bill only what is not yet billed.",
            details={"report_id": str(finalized.pk), "invoice_number": finalized.invoice_number},
        )
    previous = live.get(ReportStatus.DRAFT)
    if previous is not None:
        # Free the draft's slot and release the pairs it billed before the new report takes them.
        BillingReport.objects.filter(pk=previous.pk).update(status=ReportStatus.SUPERSEDED)
        BilledPair.objects.filter(report_id=previous.pk).delete()
    if only_unbilled:
        run = cast(Any, _UnbilledOnly(run, billed_pairs(orders), card.line_info))  # the same price_order

    now = timezone.now()
    report = BillingReport.objects.create(
        id=uuid.uuid4(),
        customer=customer,
        start_date=start_date,
        end_date=end_date,
        currency=customer.currency,
        output_format=output_format,
        status=ReportStatus.DRAFT,
        scope_key=scope,
        billing_time_zone=settings.BILLING_TIME_ZONE,
        generated_at=now,
        created_by=created_by or (actor if is_authenticated(actor) else None) or system_user(),
    )

    totals = _Totals(card.line_info)
    chunk_size = max(1, int(settings.BILLING_GENERATION_CHUNK_SIZE))
    with _cyclic_gc_paused():
        if connection.vendor == "postgresql":
            _write_snapshot_streamed(
                report=report, run=run, orders=orders, totals=totals, progress=progress, total=total, every=chunk_size
            )
        else:
            writer = _BulkWriter(report)
            processed = 0
            for rows, lines in _order_chunks(orders, chunk_size):
                writer.write_chunk(run, rows, lines, totals)
                processed += len(rows)
                if progress is not None:
                    progress(processed, total)

    ReportServiceTotal.objects.bulk_create(totals.service_totals(report))
    report.total_amount = totals.amount
    report.order_count = totals.billed_orders
    report.unbilled_order_count = totals.unbilled_orders
    report.line_count = totals.lines
    report.not_closed_order_count = _snapshot_not_closed(report)
    report.save(
        update_fields=["total_amount", "order_count", "unbilled_order_count", "line_count", "not_closed_order_count"]
    )
    report_days_write(report_id=report.pk, time_zone=report.billing_time_zone, end_date=report.end_date)
    claim_pairs(report, expected=totals.lines)

    # The audit trail names who acted: a signed-in actor, or the user a command named; None for the server.
    acting = actor if is_authenticated(actor) else created_by
    actor_id = acting.pk if acting is not None else None
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


def scope_key(customer_service_ids: Sequence[int] | None) -> str:
    """The stored scope of a report: "" for the whole rate card, else its sorted line ids."""
    if customer_service_ids is None:
        return ""
    return ",".join(str(i) for i in sorted(set(customer_service_ids)))


def billed_pairs(orders) -> set[tuple[int, int]]:
    """The (order id, service id) pairs of these orders that a live report bills."""
    return set(BilledPair.objects.filter(order_id__in=orders.values("id")).values_list("order_id", "service_id"))


class _UnbilledOnly:
    """A compiled rate card that leaves out the charges of pairs already billed."""

    def __init__(self, run: Any, billed: set[tuple[int, int]], line_info: dict[int, LineInfo]) -> None:
        self.run = run
        self.billed = billed
        self.service_of = {cs_id: info.service_id for cs_id, info in line_info.items()}

    def price_order(self, order: OrderData) -> list:
        charges = self.run.price_order(order)
        if not self.billed:
            return charges
        order_id, billed, service_of = order.order_id, self.billed, self.service_of
        return [c for c in charges if (order_id, service_of[c.customer_service_id]) not in billed]


def claim_pairs(report: BillingReport, *, expected: int) -> None:
    """Claim the report's `expected` (order, line) pairs in one statement. The unique index of
    BilledPair decides: a pair another live report holds (or a concurrent transaction is
    claiming: the insert waits for it) is not inserted, and then AlreadyBilled names the holders.
    """
    rows = ReportLine.objects.filter(report_id=report.pk).values_list("report_id", "order_id", "service_id")
    select_sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column_of(BilledPair, name)) for name in ("report", "order_id", "service_id"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(BilledPair._meta.db_table)} ({columns}) {select_sql} ON CONFLICT DO NOTHING", params
        )
        claimed = cursor.rowcount
    if claimed != expected:
        raise already_billed(report)


def already_billed(report: BillingReport) -> AlreadyBilled:
    mine = ReportLine.objects.filter(
        report_id=report.pk, order_id=OuterRef("order_id"), service_id=OuterRef("service_id")
    )
    counts = dict(
        BilledPair.objects.filter(Exists(mine))
        .exclude(report_id=report.pk)
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


def _column_of(model: Any, name: str) -> str:
    column = getattr(model._meta.get_field(name), "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no database column")
    return column


def _snapshot_not_closed(report: BillingReport) -> int:
    """Copy the customer's not-closed orders (no close date) into the report, in one statement.

    Returns how many there are. They are listed by transaction id (code point order).
    """
    rows = (
        not_closed_orders(customer_id=report.customer_id)
        .annotate(snapshot_report=Value(report.pk, output_field=UUIDField()))
        .order_by(Collate("transaction_id", _tx_collation()), "id")
        .values_list("snapshot_report", "id", "transaction_id", "reference_number", "status")
    )
    select_sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    fields = ("report", "order_id", "transaction_id", "reference_number", "status")
    columns = ", ".join(quote(_column_of(ReportNotClosedOrder, name)) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(ReportNotClosedOrder._meta.db_table)} ({columns}) {select_sql}", params)
        return max(cursor.rowcount, 0)


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


# --- reading orders (other databases than PostgreSQL) -----------------------------------


def _tx_collation() -> str:
    """A byte-order collation, so the database sorts transaction ids exactly as Python does."""
    return "C" if connection.vendor == "postgresql" else "BINARY"


def _canonical(orders):
    """The canonical pricing sequence (billing.pricing.canonical_order_key) in SQL."""
    return orders.order_by(F("close_date").asc(nulls_first=True), Collate("transaction_id", _tx_collation()), "id")


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
        rows = list(page.values_list(*ORDER_COLUMNS)[:chunk_size])
        if not rows:
            return
        yield rows
        if len(rows) < chunk_size:
            return
        after = (rows[-1][_CLOSE], rows[-1][_TX])


def _cursor_chunks(orders, chunk_size: int) -> Iterator[list[tuple]]:
    """One query, read chunk by chunk."""
    rows: list[tuple] = []
    for row in _canonical(orders).values_list(*ORDER_COLUMNS).iterator(chunk_size=chunk_size):
        rows.append(row)
        if len(rows) == chunk_size:
            yield rows
            rows = []
    if rows:
        yield rows


def _lines_of(order_ids: list[int]) -> dict[int, list[OrderLineData]]:
    """The SKU lines of these orders, grouped by order id (one query)."""
    lines: dict[int, list[OrderLineData]] = {}
    if not order_ids:
        return lines
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
    return OrderData(*(*row[:16], tuple(order_lines) if order_lines else ()))


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


def _pricing_failed(exc: PricingError) -> ValidationFailed:
    """Stored data the engine cannot price (a rule it rejects, a tier cap exceeded): a 400, never a 500."""
    return ValidationFailed(str(exc), fields={"rate_card": [str(exc)]})


def _price(run, row: tuple, lines: dict[int, list[OrderLineData]]) -> list:
    try:
        return run.price_order(_order_data(row, lines))
    except PricingError as exc:
        raise _pricing_failed(exc) from exc


class _BulkWriter:
    """Portable writer: bulk_create per chunk (SQLite and other databases)."""

    def __init__(self, report: BillingReport) -> None:
        self.report = report

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


_COPY_NULL = "\\N"


def _copy_text(value: str) -> str:
    """A string as a field of PostgreSQL's COPY text format."""
    return value.translate(_COPY_ESCAPES)


def _copy_statement(model, fields: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


# --- PostgreSQL: streamed snapshot in a constant number of statements -------------------

LINE_FIELDS = ("report", "order", "service_id", "service_name", "charge_type", "quantity", "unit_price", "amount")
# Text columns first, so they are escaped together (see _StreamPricer.price).
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


def _write_snapshot_streamed(
    *,
    report: BillingReport,
    run,
    orders,
    totals: _Totals,
    progress: Callable[[int, int], None] | None,
    total: int,
    every: int,
) -> None:
    """Price `orders` and write their ReportLine and ReportOrder rows in three statements (see the
    module docstring); `progress` is called every `every` orders and after the last one."""
    line_sql = _copy_statement(ReportLine, LINE_FIELDS)
    order_sql = _copy_statement(ReportOrder, ORDER_FIELDS)
    pricer = _StreamPricer(report, run, totals, progress, total, every)
    with _spool() as order_spool, connection.wrap_database_errors:
        if WRITE_STRATEGY == "spooled":
            with _spool() as line_spool:
                with _order_stream(orders) as batches:
                    pricer.price(batches, _encoding_writer(line_spool), order_spool)
                _copy_from_spool(line_sql, line_spool)
        else:
            with _spool() as read_spool:
                with _order_stream(orders) as batches:
                    _spool_batches(batches, read_spool)
                read_spool.seek(0)
                with connection.cursor() as cursor, cursor.copy(line_sql) as copy:
                    pricer.price(_spooled_batches(read_spool), copy.write, order_spool)
        _copy_from_spool(order_sql, order_spool)


@contextmanager
def _spool() -> Iterator[Any]:
    """A binary temporary file kept in memory up to SPOOL_MEMORY_BYTES."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        yield spool


def _encoding_writer(spool) -> Callable[[str], Any]:
    write = spool.write
    return lambda text: write(text.encode())


def _stream_query(orders) -> tuple[str, tuple]:
    """Every order (ORDER_COLUMNS) with its lines' SKUs and quantities as two arrays, in canonical order."""
    from django.contrib.postgres.aggregates import ArrayAgg  # PostgreSQL only, imported only here

    has_line = Q(lines__isnull=False)
    queryset = (
        _canonical(orders)
        .annotate(
            line_skus=ArrayAgg("lines__sku", filter=has_line),
            line_quantities=ArrayAgg("lines__quantity", filter=has_line),
        )
        .values_list(*ORDER_COLUMNS, "line_skus", "line_quantities")
    )
    return queryset.query.sql_with_params()


@contextmanager
def _order_stream(orders) -> Iterator[Iterator[list[tuple]]]:
    """The rows of _stream_query in lists of STREAM_BATCH_ROWS, read with one statement.

    close_date, weight_lb and volume_cuft arrive as their text (PostgreSQL's ISO output), so
    every value is a str, int, None or list of them: rows can be spooled with marshal (far
    cheaper than pickle) and are converted once, when priced. The statement is recorded in
    connection.queries like the ones Django runs itself.

    The stream holds the connection until it is exhausted or closed, so it is closed on exit
    whatever happens: on an error that cancels the query, and the transaction can roll back
    (a stream left open would make the rollback wait for it forever).
    """
    from psycopg.types.string import TextLoader  # the PostgreSQL driver, imported only here

    sql, params = _stream_query(orders)
    with connection.cursor() as cursor:
        stream_cursor = cursor.cursor
        stream_cursor.adapters.register_loader("numeric", TextLoader)
        stream_cursor.adapters.register_loader("timestamptz", TextLoader)
        debug_sql = getattr(cursor, "debug_sql", None)  # set when queries are logged (DEBUG, tests)
        ops = cast("PostgresOperations", connection.ops)  # this reader runs on PostgreSQL only
        logged = debug_sql(ops.compose_sql(sql, params)) if debug_sql is not None else nullcontext()
        with logged:
            rows = stream_cursor.stream(sql, params, size=STREAM_BATCH_ROWS)
            try:
                yield _batched(rows, STREAM_BATCH_ROWS)
            finally:
                rows.close()


def _batched(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    append = batch.append
    for row in rows:
        append(row)
        if len(batch) == size:
            yield batch
            batch = []
            append = batch.append
    if batch:
        yield batch


def _spool_batches(batches: Iterable[list[tuple]], spool) -> None:
    """Each batch as one record: its size (8 bytes) and its marshal serialisation."""
    write = spool.write
    for batch in batches:
        data = marshal.dumps(batch)
        write(len(data).to_bytes(8, "little"))
        write(data)


def _spooled_batches(spool) -> Iterator[list[tuple]]:
    """The batches _spool_batches wrote (marshal only ever reads what this process wrote)."""
    read = spool.read
    while header := read(8):
        yield marshal.loads(read(int.from_bytes(header, "little")))  # noqa: S302 - our own temporary file


def _copy_from_spool(sql: str, spool) -> None:
    spool.seek(0)
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        while block := spool.read(SPOOL_BLOCK_BYTES):
            copy.write(block)


def _refuse_queries(execute, sql, params, many, context):
    raise RuntimeError(
        "A report_generate progress callback ran a query on the connection that is streaming the report; "
        "write progress through another database alias."
    )


class _StreamPricer:
    """Prices streamed order rows, writing COPY text: ReportLine rows to `write_lines` (the open
    COPY or a spool), ReportOrder rows to a spool. Adds everything to `totals`."""

    def __init__(self, report, run, totals: _Totals, progress, total: int, every: int) -> None:
        self.key = str(report.pk)
        self.run = run
        self.totals = totals
        self.progress = progress
        self.total = total
        self.every = every

    def _report_progress(self, processed: int) -> None:
        # The connection is busy streaming: a query would block forever, so it is refused.
        with connection.execute_wrapper(_refuse_queries):
            self.progress(processed, self.total)

    def price(self, batches: Iterable[list[tuple]], write_lines: Callable[[str], Any], order_spool) -> None:
        key = self.key
        totals = self.totals
        prefixes = {
            cs_id: f"{info.service_id}\t{_copy_text(info.service_name)}\t{_copy_text(info.charge_type)}\t"
            for cs_id, info in totals.line_info.items()
        }
        per_service = totals.per_service
        price_order = self.run.price_order
        report_progress = self._report_progress if self.progress is not None else None
        every = self.every
        escape = _ORDER_TEXT_ESCAPES
        parse_time = dt.datetime.fromisoformat
        shared: dict[tuple[str, int], OrderLineData] = {}  # equal (sku, quantity) lines share one object
        line_rows: list[str] = []
        order_rows: list[str] = []
        write_orders = order_spool.write
        amount_sum = ZERO
        processed = billed = line_count = 0
        for batch in batches:
            for (
                order_id,
                tx,
                close_text,
                reference,
                ship_to_name,
                company,
                city,
                state,
                country,
                carrier,
                notes,
                weight,
                volume,
                packages,
                line_items,
                total_qty,
                status,
                address,
                skus,
                quantities,
            ) in batch:
                if skus:
                    lines = []
                    for pair in zip(skus, quantities, strict=True):
                        line = shared.get(pair)
                        if line is None:
                            if len(shared) >= LINE_CACHE_LIMIT:
                                shared.clear()
                            line = shared[pair] = OrderLineData(*pair)
                        lines.append(line)
                    order_lines = tuple(lines)
                else:
                    order_lines = ()
                order = OrderData(
                    order_id,
                    tx,
                    None if close_text is None else parse_time(close_text),
                    reference,
                    ship_to_name,
                    company,
                    city,
                    state,
                    country,
                    carrier,
                    notes,
                    Decimal(weight),
                    Decimal(volume),
                    packages,
                    line_items,
                    total_qty,
                    order_lines,
                )
                try:
                    charges = price_order(order)
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
                        # !s: a Decimal's str() is more than twice as fast as its __format__.
                        line_rows.append(f"{head}{prefixes[cs_id]}{quantity!s}\t{charge.unit_price!s}\t{amount!s}\n")
                    amount_sum += order_total
                # NUL cannot occur in PostgreSQL text, so it separates the text columns while they
                # are escaped together and becomes the column separator (tab) in the same pass;
                # text without characters to escape (nearly all) only needs the separators.
                texts = f"{tx}\0{reference}\0{status}\0{ship_to_name}\0{address}"
                if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts:
                    texts = texts.translate(escape)
                else:
                    texts = texts.replace("\0", "\t")
                order_rows.append(
                    f"{texts}\t{key}\t{order_id}\t{close_text or _COPY_NULL}\t"
                    f"{total_qty}\t{line_items}\t{order_total!s}\t{'t' if charges else 'f'}\n"
                )
                processed += 1
                if processed % COPY_FLUSH_ORDERS == 0:
                    if line_rows:
                        write_lines("".join(line_rows))
                        line_rows = []
                    write_orders("".join(order_rows).encode())
                    order_rows = []
                if report_progress is not None and processed % every == 0:
                    report_progress(processed)
        if line_rows:
            write_lines("".join(line_rows))
        if order_rows:
            write_orders("".join(order_rows).encode())
        if report_progress is not None and processed % every:
            report_progress(processed)
        totals.amount += amount_sum
        totals.billed_orders += billed
        totals.unbilled_orders += processed - billed
        totals.lines += line_count
