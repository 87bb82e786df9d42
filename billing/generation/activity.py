"""Step 6: a report's other charges (storage, receiving, returns, extra work) and its adjustments.

Runs in the report's transaction once the order lines, service totals and day totals are
written (billing.generation.generate): reads the period's activity and the customer's
adjustments in a fixed number of queries, prices them with billing.pricing.activity, and
writes the ReportOtherCharge rows, folding their amounts into the report's total, its service
totals and its day and month totals, so every invariant of the order lines holds over the
whole bill: report total = order lines + other charges (adjustments included), to the cent.

Which reports carry what (docs/rate-card-format.md, "Activity charges"):
- activity is priced by the report's rate-card lines (all of them, or the selected ones);
- adjustments apply only to a report of the whole rate card: a minimum or a discount on the
  total means nothing on part of a bill;
- a report of only unbilled pairs (only_unbilled) next to a finalized report of the same
  customer and period bills orders only: the finalized report billed the period's activity.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import Lower, Trim

from billing.db_copy import COPY_NULL, copy_statement, copy_text
from billing.errors import ValidationFailed
from billing.models import (
    BillingReport,
    CustomerReturn,
    ExtraWorkEntry,
    InventorySnapshot,
    RateCardAdjustment,
    Receipt,
    ReceiptLine,
    ReportDay,
    ReportDayService,
    ReportMonth,
    ReportMonthService,
    ReportOtherCharge,
    ReportServiceTotal,
    ReportStatus,
    ReturnLine,
)
from billing.pricing import PricingError, RuleValidationError
from billing.pricing.activity import (
    AdjustmentData,
    ExtraWorkData,
    OtherCharge,
    ReceiptData,
    ReturnData,
    SnapshotData,
    StorageDay,
    apply_adjustments,
    price_activity,
)
from billing.pricing.charges import ACTIVITY_CHARGE_TYPES
from billing.selectors.orders import billing_period_bounds
from billing.selectors.rate_cards import LoadedRateCard

__all__ = ["bill_activity", "load_adjustments"]

ZERO = Decimal("0")
_BATCH = 2000


def bill_activity(report: BillingReport, card: LoadedRateCard, *, only_unbilled: bool = False) -> None:
    """Price and write the report's other charges; update its totals (see the module docs)."""
    if only_unbilled and _finalized_for_period(report):
        return
    zone = ZoneInfo(report.billing_time_zone or "UTC")
    start, end = report.start_date, report.end_date
    lines = card.selected
    kinds = {ACTIVITY_CHARGE_TYPES[line.charge_type] for line in lines if line.charge_type in ACTIVITY_CHARGE_TYPES}
    rows_needed = any(ACTIVITY_CHARGE_TYPES.get(line.charge_type) == "storage" and line.rule_groups for line in lines)
    customer_id = report.customer_id
    try:
        priced = price_activity(
            lines,
            start=start,
            end=end,
            snapshots=_snapshots(customer_id, start, end) if rows_needed else (),
            storage_days=_storage_days(customer_id, start, end),
            receipts=_receipts(customer_id, start, end, zone, with_lines="receiving" in kinds),
            returns=_returns(customer_id, start, end, zone, with_lines="returns" in kinds),
            extra_work=_extra_work(customer_id, start, end),
        )
        charges = priced.charges
        if not report.scope_key:
            adjustments = load_adjustments(customer_id)
            if adjustments:
                services = {cs_id: (info.service_id, info.service_name) for cs_id, info in card.line_info.items()}
                own = ((c.customer_service_id, c.date, c.amount) for c in charges)
                amounts = [*_order_line_days(report, card), *own]
                charges = charges + apply_adjustments(
                    adjustments,
                    [(cs_id, day, amount) for cs_id, day, amount in amounts if cs_id is not None],
                    end=end,
                    services=services,
                )
    except (PricingError, RuleValidationError) as exc:
        message = card.describe(str(exc))
        raise ValidationFailed(message, fields={"rate_card": [message]}) from exc
    charge_types = {info.service_id: info.charge_type for info in card.line_info.values()}
    _write(report, charges, charge_types)
    report.unbilled_activity = priced.unbilled
    report.total_amount += sum((c.amount for c in charges), ZERO)
    report.save(update_fields=["total_amount", "unbilled_activity"])


def _finalized_for_period(report: BillingReport) -> bool:
    """A finalized report of the customer and period exists: it billed the period's activity."""
    return (
        BillingReport.objects.filter(
            customer_id=report.customer_id,
            start_date=report.start_date,
            end_date=report.end_date,
            status=ReportStatus.FINALIZED,
        )
        .exclude(pk=report.pk)
        .exists()
    )


def load_adjustments(customer_id: int) -> list[AdjustmentData]:
    """The customer's active adjustments as engine data, in two queries."""
    rows = list(
        RateCardAdjustment.objects.filter(customer_id=customer_id, is_active=True).values_list(
            "id", "kind", "percent", "amount", "start_date", "end_date", "description", "position"
        )
    )
    if not rows:
        return []
    scopes: dict[int, set[int]] = defaultdict(set)
    for adjustment_id, cs_id in RateCardAdjustment.services.through.objects.filter(
        ratecardadjustment_id__in=[row[0] for row in rows]
    ).values_list("ratecardadjustment_id", "customerservice_id"):
        scopes[adjustment_id].add(cs_id)
    return [
        AdjustmentData(
            adjustment_id=adjustment_id,
            kind=kind,
            percent=percent,
            amount=amount,
            customer_service_ids=frozenset(scopes.get(adjustment_id, ())),
            start_date=start_date,
            end_date=end_date,
            description=description,
            position=position,
        )
        for adjustment_id, kind, percent, amount, start_date, end_date, description, position in rows
    ]


# --- reading the period's activity (one or two queries each) ------------------------------------


def _snapshots(customer_id: int, start: dt.date, end: dt.date) -> list[SnapshotData]:
    rows = InventorySnapshot.objects.filter(
        customer_id=customer_id, snapshot_date__gte=start, snapshot_date__lte=end
    ).values_list("snapshot_date", "sku", "location", "quantity", "pallets", "cubic_feet")
    return [SnapshotData(*row) for row in rows.order_by().iterator(chunk_size=_BATCH)]


def _storage_days(customer_id: int, start: dt.date, end: dt.date) -> dict[dt.date, StorageDay]:
    """Every snapshot's figures summed per day, in one grouped query."""
    rows = (
        InventorySnapshot.objects.filter(customer_id=customer_id, snapshot_date__gte=start, snapshot_date__lte=end)
        .order_by()
        .values("snapshot_date")
        .annotate(
            pallets=Sum("pallets"),
            cuft=Sum("cubic_feet"),
            locations=Count(Lower(Trim("location")), distinct=True, filter=~Q(location__regex=r"^\s*$")),
        )
        .values_list("snapshot_date", "pallets", "cuft", "locations")
    )
    return {day: (pallets or ZERO, cuft or ZERO, locations) for day, pallets, cuft, locations in rows}


def _local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def _lines_of(model: Any, parent: str, ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    lines: dict[int, list[tuple[str, int]]] = defaultdict(list)
    if ids:
        for parent_id, sku, quantity in (
            model.objects.filter(**{f"{parent}_id__in": ids}).order_by().values_list(f"{parent}_id", "sku", "quantity")
        ):
            lines[parent_id].append((sku, quantity))
    return lines


def _receipts(customer_id: int, start: dt.date, end: dt.date, zone: ZoneInfo, *, with_lines: bool) -> list[ReceiptData]:
    lower, upper = billing_period_bounds(start, end, time_zone=zone)
    rows = list(
        Receipt.objects.filter(customer_id=customer_id, received_at__gte=lower, received_at__lt=upper)
        .order_by()
        .values_list("id", "reference", "received_at", "pallets", "cartons", "units", "labour_minutes", "notes")
    )
    lines = _lines_of(ReceiptLine, "receipt", [row[0] for row in rows]) if with_lines else {}
    return [
        ReceiptData(
            reference=reference,
            received_on=_local_day(received_at, zone),
            pallets=pallets,
            cartons=cartons,
            units=units,
            labour_minutes=labour_minutes,
            notes=notes,
            lines=tuple(lines.get(receipt_id, ())),
        )
        for receipt_id, reference, received_at, pallets, cartons, units, labour_minutes, notes in rows
    ]


def _returns(customer_id: int, start: dt.date, end: dt.date, zone: ZoneInfo, *, with_lines: bool) -> list[ReturnData]:
    lower, upper = billing_period_bounds(start, end, time_zone=zone)
    rows = list(
        CustomerReturn.objects.filter(customer_id=customer_id, received_at__gte=lower, received_at__lt=upper)
        .order_by()
        .values_list("id", "reference", "received_at", "original_order_reference", "units", "notes")
    )
    lines = _lines_of(ReturnLine, "customer_return", [row[0] for row in rows]) if with_lines else {}
    return [
        ReturnData(
            reference=reference,
            received_on=_local_day(received_at, zone),
            original_order_reference=original,
            units=units,
            notes=notes,
            lines=tuple(lines.get(return_id, ())),
        )
        for return_id, reference, received_at, original, units, notes in rows
    ]


def _extra_work(customer_id: int, start: dt.date, end: dt.date) -> list[ExtraWorkData]:
    rows = (
        ExtraWorkEntry.objects.filter(customer_id=customer_id, work_date__gte=start, work_date__lte=end)
        .order_by()
        .values_list("reference", "work_date", "service_id", "quantity", "description")
    )
    return [ExtraWorkData(*row) for row in rows]


def _order_line_days(report: BillingReport, card: LoadedRateCard) -> Iterable[tuple[int | None, dt.date, Decimal]]:
    """The order lines' amounts per (rate-card line, day), from the day totals just written."""
    line_of = {info.service_id: cs_id for cs_id, info in card.line_info.items()}
    for service_id, day, amount in ReportDayService.objects.filter(report=report).values_list(
        "service_id", "day", "amount"
    ):
        yield line_of.get(service_id), day, amount


# --- writing --------------------------------------------------------------------------------------


OTHER_CHARGE_FIELDS = (
    "report",
    "position",
    "source",
    "reference",
    "date",
    "customer_service_id",
    "service_id",
    "service_name",
    "charge_type",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "explanation",
)


def _write(report: BillingReport, charges: list[OtherCharge], charge_types: dict[int, str]) -> None:
    """The rows (one COPY on PostgreSQL, bulk_create elsewhere), then the service, day and month
    totals with the charges folded in."""
    if not charges:
        return
    if connection.vendor == "postgresql":
        report_id = str(report.pk)

        def field(value: Any) -> str:
            return COPY_NULL if value is None else copy_text(str(value))

        text = "".join(
            "\t".join(
                (
                    report_id,
                    str(position),
                    c.source,
                    copy_text(c.reference[:255]),
                    c.date.isoformat(),
                    field(c.customer_service_id),
                    field(c.service_id),
                    copy_text(c.service_name),
                    c.charge_type,
                    str(c.quantity),
                    copy_text(c.unit),
                    str(c.unit_price),
                    str(c.amount),
                    copy_text(json.dumps(c.explanation, separators=(",", ":"), ensure_ascii=False)),
                )
            )
            + "\n"
            for position, c in enumerate(charges, start=1)
        )
        with connection.cursor() as cursor, cursor.copy(copy_statement(ReportOtherCharge, OTHER_CHARGE_FIELDS)) as copy:
            copy.write(text)
    else:
        ReportOtherCharge.objects.bulk_create(
            (
                ReportOtherCharge(
                    report=report,
                    position=position,
                    source=c.source,
                    reference=c.reference[:255],
                    date=c.date,
                    customer_service_id=c.customer_service_id,
                    service_id=c.service_id,
                    service_name=c.service_name,
                    charge_type=c.charge_type,
                    quantity=c.quantity,
                    unit=c.unit,
                    unit_price=c.unit_price,
                    amount=c.amount,
                    explanation=c.explanation,
                )
                for position, c in enumerate(charges, start=1)
            ),
            batch_size=_BATCH,
        )
    _fold_service_totals(report, charges, charge_types)
    _fold_days(report, charges)


def _fold_service_totals(report: BillingReport, charges: list[OtherCharge], charge_types: dict[int, str]) -> None:
    """Add each charge naming a service to that service's total (adjustments: the amount only);
    a service total states its service's charge type, whatever charged it."""
    sums: dict[int, list[Any]] = {}
    for c in charges:
        if c.service_id is None:
            continue
        charge_type = charge_types.get(c.service_id, c.charge_type)
        entry = sums.setdefault(c.service_id, [c.service_name, charge_type, ZERO, ZERO])
        if c.source != "adjustment":
            entry[2] += c.quantity
        entry[3] += c.amount
    if not sums:
        return
    existing = {t.service_id: t for t in ReportServiceTotal.objects.filter(report=report, service_id__in=list(sums))}
    for total in existing.values():
        _, _, quantity, amount = sums[total.service_id]
        total.quantity += quantity
        total.amount += amount
    ReportServiceTotal.objects.bulk_update(list(existing.values()), ["quantity", "amount"])
    ReportServiceTotal.objects.bulk_create(
        ReportServiceTotal(
            report=report,
            service_id=service_id,
            service_name=name,
            charge_type=charge_type,
            quantity=quantity,
            amount=amount,
            order_count=0,
        )
        for service_id, (name, charge_type, quantity, amount) in sums.items()
        if service_id not in existing
    )


def _fold_days(report: BillingReport, charges: list[OtherCharge]) -> None:
    """Add the charges' amounts to the report's day and month totals (and per service where they
    name one); line and order counts stay those of the order lines."""
    days: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    service_days: dict[tuple[dt.date, int], list[Any]] = {}
    for c in charges:
        days[c.date] += c.amount
        if c.service_id is not None:
            entry = service_days.setdefault((c.date, c.service_id), [c.service_name, ZERO, ZERO])
            entry[1] += c.amount
            entry[2] += c.quantity if c.source != "adjustment" else ZERO
    months: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    service_months: dict[tuple[dt.date, int], list[Any]] = {}
    for day, amount in days.items():
        months[day.replace(day=1)] += amount
    for (day, service_id), (name, amount, quantity) in service_days.items():
        entry = service_months.setdefault((day.replace(day=1), service_id), [name, ZERO, ZERO])
        entry[1] += amount
        entry[2] += quantity

    _fold(ReportDay, report, "day", {day: [amount] for day, amount in days.items()}, ["amount"], _new_day)
    _fold(ReportMonth, report, "month", {m: [amount] for m, amount in months.items()}, ["amount"], _new_day)
    _fold_per_service(ReportDayService, report, "day", service_days)
    _fold_per_service(ReportMonthService, report, "month", service_months)


def _new_day(model: Any, report: BillingReport, key: str, value: dt.date, sums: list[Any]) -> Any:
    return model(report=report, amount=sums[0], order_count=0, unbilled_order_count=0, line_count=0, **{key: value})


def _fold(model: Any, report: BillingReport, key: str, sums: dict[Any, list[Any]], fields: list[str], new: Any) -> None:
    existing = {getattr(row, key): row for row in model.objects.filter(report=report, **{f"{key}__in": list(sums)})}
    for value, row in existing.items():
        row.amount += sums[value][0]
    model.objects.bulk_update(list(existing.values()), fields)
    model.objects.bulk_create(new(model, report, key, value, s) for value, s in sums.items() if value not in existing)


def _fold_per_service(model: Any, report: BillingReport, key: str, sums: dict[tuple[dt.date, int], list[Any]]) -> None:
    if not sums:
        return
    existing = {
        (getattr(row, key), row.service_id): row
        for row in model.objects.filter(report=report, service_id__in={s for _, s in sums})
    }
    touched = []
    for pair, (_, amount, quantity) in sums.items():
        row = existing.get(pair)
        if row is not None:
            row.amount += amount
            row.quantity += quantity
            touched.append(row)
    model.objects.bulk_update(touched, ["amount", "quantity"])
    model.objects.bulk_create(
        model(
            report=report,
            service_id=service_id,
            service_name=name,
            amount=amount,
            quantity=quantity,
            order_count=0,
            line_count=0,
            **{key: value},
        )
        for (value, service_id), (name, amount, quantity) in sums.items()
        if (value, service_id) not in existing
    )
