"""What changed between two reports of one customer, computed set-based in the database.

A diff compares a report (the new side) with another report of the same customer (the old
side, `against`): by default the report it superseded. Each (order, rate-card line) pair whose
line was added, removed or changed (quantity, unit price or amount) is one diff line, found by
one FULL OUTER JOIN of the two reports' lines on (order id, service id), with the reports'
order rows joined to tell the cause:

- an added line: `order_new` when the order is not in the old report (new in the period),
  `rule_now_matches` when it is (a rule or the card now charges it);
- a removed line: `order_gone` when the order is not in the new report (gone from the period),
  `rule_no_longer_matches` when it is;
- a changed line: `order_changed` when the quantity differs (the order's data changed),
  `price_changed` otherwise (the unit price: the rate, or for a tiered line the band it fell in).

Lines are listed by order id, then service id: the same order on every database. Totals are
compared per service (the reports' stored service totals) and overall. The summary is one
statement, a page of lines another, whatever the size of the reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from billing.errors import ValidationFailed
from billing.models import BillingReport, ReportLine, ReportOrder, ReportServiceTotal
from billing.permissions import Actor
from billing.selectors.reports import report_get, reports_visible_to

__all__ = [
    "CAUSES",
    "CHANGES",
    "DiffLine",
    "ReportDiff",
    "ServiceTotalChange",
    "diff_page_errors",
    "report_diff",
    "report_diff_between",
]

CENT = Decimal("0.01")
PRICE = Decimal("0.0001")

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
CHANGES = (ADDED, REMOVED, CHANGED)
# cause -> the change it belongs to
CAUSES: dict[str, str] = {
    "order_new": ADDED,
    "rule_now_matches": ADDED,
    "order_gone": REMOVED,
    "rule_no_longer_matches": REMOVED,
    "order_changed": CHANGED,
    "price_changed": CHANGED,
}
DIFF_MAX_LIMIT = 1000
NO_EARLIER_REPORT = "This report superseded no report: give the report to compare it with (against)."
OTHER_CUSTOMER = "Both reports must belong to the same customer."


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One (order, rate-card line) pair that differs; `old_*` are None for an added line, `new_*` for a removed one."""

    order_id: int
    transaction_id: str
    service_id: int
    service_name: str
    charge_type: str
    change: str
    cause: str
    old_quantity: Decimal | None
    new_quantity: Decimal | None
    old_unit_price: Decimal | None
    new_unit_price: Decimal | None
    old_amount: Decimal | None
    new_amount: Decimal | None

    @property
    def amount_change(self) -> Decimal:
        return (self.new_amount or Decimal("0.00")) - (self.old_amount or Decimal("0.00"))


@dataclass(frozen=True, slots=True)
class ServiceTotalChange:
    service_id: int
    service_name: str
    old_amount: Decimal
    new_amount: Decimal

    @property
    def change(self) -> Decimal:
        return self.new_amount - self.old_amount


@dataclass(frozen=True)
class ReportDiff:
    """The summary of a diff; `lines(offset, limit)` reads a page, `iter_lines()` streams them all."""

    report: BillingReport
    against: BillingReport
    counts: dict[str, int] = field(default_factory=dict)  # per cause (every cause present)
    service_totals: list[ServiceTotalChange] = field(default_factory=list)

    @property
    def line_count(self) -> int:
        return sum(self.counts.values())

    @property
    def change_counts(self) -> dict[str, int]:
        totals = dict.fromkeys(CHANGES, 0)
        for cause, number in self.counts.items():
            totals[CAUSES[cause]] += number
        return totals

    @property
    def old_total(self) -> Decimal:
        return self.against.total_amount

    @property
    def new_total(self) -> Decimal:
        return self.report.total_amount

    @property
    def total_change(self) -> Decimal:
        return self.new_total - self.old_total

    def lines(self, *, offset: int = 0, limit: int | None = 100) -> list[DiffLine]:
        sql, params = _diff_sql(self.report.pk, self.against.pk, columns=_LINE_COLUMNS, tail=" ORDER BY 1, 3")
        if limit is not None:
            sql += " LIMIT %s OFFSET %s"
            params = [*params, limit, offset]
        elif offset:
            sql += " LIMIT -1 OFFSET %s" if connection.vendor == "sqlite" else " OFFSET %s"
            params = [*params, offset]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [_line(row) for row in cursor.fetchall()]

    def iter_lines(self, *, batch: int = 2000) -> Iterator[DiffLine]:
        """Every line, read by one statement on a server-side cursor (memory bounded by `batch`)."""
        sql, params = _diff_sql(self.report.pk, self.against.pk, columns=_LINE_COLUMNS, tail=" ORDER BY 1, 3")
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(batch):
                for row in rows:
                    yield _line(row)


def diff_page_errors(*, offset: int, limit: int) -> dict[str, list[str]]:
    """The problems of a page of diff lines asked for, per field (both APIs check pages here)."""
    errors: dict[str, list[str]] = {}
    if not 1 <= limit <= DIFF_MAX_LIMIT:
        errors["limit"] = [f"Ask for 1 to {DIFF_MAX_LIMIT} lines."]
    if offset < 0:
        errors["offset"] = ["The offset cannot be negative."]
    return errors


def report_diff(*, actor: Actor, report_id: str | uuid.UUID, against_id: str | uuid.UUID | None = None) -> ReportDiff:
    """The diff of a report the actor may see against another one (default: the report it superseded).

    NotFound when either report does not exist or is not visible to the actor (never says which);
    ValidationFailed (against) when the reports belong to different customers, or when no
    `against` is given and the report superseded none.
    """
    report = report_get(actor=actor, report_id=report_id)
    if against_id is None:
        earlier = reports_visible_to(actor).filter(superseded_by=report).order_by("-created_at", "id").first()
        if earlier is None:
            raise ValidationFailed(NO_EARLIER_REPORT, fields={"against": [NO_EARLIER_REPORT]})
        against_id = earlier.pk
    against = report_get(actor=actor, report_id=against_id)
    if against.customer_id != report.customer_id:
        raise ValidationFailed(OTHER_CUSTOMER, fields={"against": [OTHER_CUSTOMER]})
    return report_diff_between(report, against)


def report_diff_between(report: BillingReport, against: BillingReport) -> ReportDiff:
    """The diff of two reports of one customer, without any visibility check (callers did it)."""
    sql, params = _diff_sql(report.pk, against.pk, columns=_CAUSE_COLUMN)
    counts = dict.fromkeys(CAUSES, 0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cause, COUNT(*) FROM ({sql}) diff GROUP BY cause", params)  # noqa: S608 - no input
        for cause, number in cursor.fetchall():
            counts[cause] = int(number)
    return ReportDiff(report=report, against=against, counts=counts, service_totals=_service_totals(report, against))


def _service_totals(report: BillingReport, against: BillingReport) -> list[ServiceTotalChange]:
    rows = ReportServiceTotal.objects.filter(report_id__in=[report.pk, against.pk]).values_list(
        "report_id", "service_id", "service_name", "amount"
    )
    old: dict[int, tuple[str, Decimal]] = {}
    new: dict[int, tuple[str, Decimal]] = {}
    for report_id, service_id, name, amount in rows:
        if report_id == report.pk:
            new[service_id] = (name, amount)
        if report_id == against.pk:
            old[service_id] = (name, amount)
    zero = Decimal("0.00")
    changes = [
        ServiceTotalChange(
            service_id=service_id,
            service_name=(new.get(service_id) or old[service_id])[0],
            old_amount=old.get(service_id, ("", zero))[1],
            new_amount=new.get(service_id, ("", zero))[1],
        )
        for service_id in {*old, *new}
    ]
    return sorted(changes, key=lambda item: (item.service_name, item.service_id))


# --- the statement ----------------------------------------------------------------------------

_CAUSE = (
    "CASE WHEN o.order_id IS NULL THEN (CASE WHEN ro.id IS NULL THEN 'order_new' ELSE 'rule_now_matches' END)"
    " WHEN n.order_id IS NULL THEN (CASE WHEN rn.id IS NULL THEN 'order_gone' ELSE 'rule_no_longer_matches' END)"
    " WHEN o.quantity <> n.quantity THEN 'order_changed' ELSE 'price_changed' END"
)
_CAUSE_COLUMN = f"{_CAUSE} AS cause"
_LINE_COLUMNS = (
    "COALESCE(n.order_id, o.order_id), COALESCE(rn.transaction_id, ro.transaction_id),"
    " COALESCE(n.service_id, o.service_id), COALESCE(n.service_name, o.service_name),"
    " COALESCE(n.charge_type, o.charge_type),"
    f" {_CAUSE}, o.quantity, n.quantity, o.unit_price, n.unit_price, o.amount, n.amount"
)


# Table names and fixed column lists are formatted in; every value is a bound parameter.
_PICKED = "order_id, service_id, service_name, charge_type, quantity, unit_price, amount"
_DIFF_SQL = (
    "SELECT {columns} FROM (SELECT {picked} FROM {lines} WHERE report_id = %s) o"
    " FULL OUTER JOIN (SELECT {picked} FROM {lines} WHERE report_id = %s) n"
    " ON o.order_id = n.order_id AND o.service_id = n.service_id"
    " LEFT JOIN {orders} ro ON ro.report_id = %s AND ro.order_id = COALESCE(n.order_id, o.order_id)"
    " LEFT JOIN {orders} rn ON rn.report_id = %s AND rn.order_id = COALESCE(n.order_id, o.order_id)"
    " WHERE o.order_id IS NULL OR n.order_id IS NULL"
    " OR o.quantity <> n.quantity OR o.unit_price <> n.unit_price OR o.amount <> n.amount"
)


def _diff_sql(new_id: uuid.UUID, old_id: uuid.UUID, *, columns: str, tail: str = "") -> tuple[str, list[Any]]:
    """The diff as one SELECT of `columns` over the aliases o / n (old / new line) and ro / rn
    (the order's row in the old / new report, NULL when the order is not in it)."""
    quote = connection.ops.quote_name
    names = {"lines": quote(ReportLine._meta.db_table), "orders": quote(ReportOrder._meta.db_table)}
    sql = _DIFF_SQL.format(columns=columns, picked=_PICKED, **names) + tail
    old, new = _db_id(old_id), _db_id(new_id)
    return sql, [old, new, old, new]


def _db_id(report_id: uuid.UUID) -> Any:
    return BillingReport._meta.pk.get_db_prep_value(report_id, connection)  # type: ignore[union-attr]


def _decimal(value: Any, places: Decimal) -> Decimal | None:
    """A stored number as a Decimal of `places` (SQLite hands back ints and floats of the stored text)."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(places, rounding=ROUND_HALF_UP)


def _line(row: tuple[Any, ...]) -> DiffLine:
    order_id, transaction_id, service_id, name, charge_type, cause, *numbers = row
    old_quantity, new_quantity, old_price, new_price, old_amount, new_amount = numbers
    return DiffLine(
        order_id=order_id,
        transaction_id=transaction_id,
        service_id=service_id,
        service_name=name,
        charge_type=charge_type,
        change=CAUSES[cause],
        cause=cause,
        old_quantity=_decimal(old_quantity, PRICE),
        new_quantity=_decimal(new_quantity, PRICE),
        old_unit_price=_decimal(old_price, PRICE),
        new_unit_price=_decimal(new_price, PRICE),
        old_amount=_decimal(old_amount, CENT),
        new_amount=_decimal(new_amount, CENT),
    )
