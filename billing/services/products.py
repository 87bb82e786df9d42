"""Import the original LedgerLink products export (products_product.csv): the customers' SKUs and case sizes.

The export has one row per product: `sku`, `customer_id` and up to five labeling units
(`labeling_unit_N`, `labeling_quantity_N`, N = 1..5), e.g. `Case` / `12`. The case size is the
quantity of the first unit named "case" (trimmed, any letter case); a product without one gets
case size 1. Other columns (`id`, `created_at`, `updated_at`) are ignored.

Products are matched by (customer, normalised SKU): a new SKU is created, a known one gets the
file's spelling and case size; a row equal to what is stored changes nothing, so importing the
same file twice is harmless. Bad rows are reported with their row number and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import transaction

from billing.models import Customer, Product
from billing.pricing import normalize_sku
from billing.services.customers import customers_create_missing
from billing.services.order_rows import RowError, RowInvalid, _integer, _text

LABELING_UNITS = 5
CASE_UNIT = "case"
BATCH_SIZE = 1000
_MAX_CASE_SIZE = 2_147_483_647


@dataclass(slots=True)
class ProductImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    customers_created: int = 0

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"


@dataclass(frozen=True, slots=True)
class _ParsedProduct:
    row_number: int
    customer_id: int
    sku: str
    key: str
    case_size: int


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().upper() in ("", "NULL"))


def case_size_of(row: Mapping[str, Any]) -> int:
    """The quantity of the row's first labeling unit named "case"; 1 when it has none."""
    for index in range(1, LABELING_UNITS + 1):
        unit = row.get(f"labeling_unit_{index}")
        if isinstance(unit, str) and unit.strip().lower() == CASE_UNIT:
            quantity = row.get(f"labeling_quantity_{index}")
            if _is_empty(quantity):
                raise RowInvalid(f"labeling_quantity_{index} is empty for the unit {unit.strip()!r}")
            size = _integer(f"labeling_quantity_{index}", quantity)
            if not 1 <= size <= _MAX_CASE_SIZE:
                raise RowInvalid(f"labeling_quantity_{index} must be at least 1 for the unit {unit.strip()!r}")
            return size
    return 1


def _parse(row: Mapping[str, Any], row_number: int) -> _ParsedProduct:
    problems: list[str] = []
    sku = key = ""
    customer_id = 0
    case_size = 1
    try:
        sku = _text("sku", row.get("sku"), 100)
        key = normalize_sku(sku)
        if not key:
            problems.append("sku is required")
    except RowInvalid as exc:
        problems.append(str(exc))
    raw_customer = row.get("customer_id")
    try:
        if _is_empty(raw_customer):
            raise RowInvalid("customer_id is required")
        customer_id = _integer("customer_id", raw_customer)
    except RowInvalid as exc:
        problems.append(str(exc))
    try:
        case_size = case_size_of(row)
    except RowInvalid as exc:
        problems.append(str(exc))
    if problems:
        raise RowInvalid(*problems, customer_id=customer_id or None)
    return _ParsedProduct(row_number, customer_id, sku, key, case_size)


def products_import(
    *, rows: Iterable[tuple[int, Mapping[str, Any]]], create_customers: bool = False
) -> ProductImportResult:
    """Create or update products from (row number, row) pairs of the products export.

    A customer id that does not exist rejects the row, or with `create_customers` gets a
    placeholder customer with that id. A SKU given twice for one customer (after normalisation):
    the first row wins, the later one is rejected. Each batch is written in its own transaction.
    """
    result = ProductImportResult()
    seen: dict[tuple[int, str], int] = {}
    known: set[int] = set()
    iterator = iter(rows)
    while chunk := list(islice(iterator, BATCH_SIZE)):
        parsed: list[_ParsedProduct] = []
        invalid: list[tuple[int, str, RowInvalid]] = []
        for row_number, row in chunk:
            try:
                product = _parse(row, row_number)
            except RowInvalid as exc:
                invalid.append((row_number, str(row.get("sku") or ""), exc))
                continue
            first = seen.get((product.customer_id, product.key))
            if first is not None:
                result.errors.append(
                    RowError(row_number, product.sku, f"duplicate SKU for this customer (first given on row {first})")
                )
                continue
            seen[(product.customer_id, product.key)] = row_number
            parsed.append(product)
        ids = {p.customer_id for p in parsed} | {bad.customer_id for _, _, bad in invalid if bad.customer_id}
        if create_customers:
            result.customers_created += len(customers_create_missing(ids - known))
        known |= set(Customer.objects.filter(pk__in=ids - known).values_list("pk", flat=True))
        for row_number, sku, bad in invalid:
            problems = bad.problems
            if bad.customer_id and bad.customer_id not in known:
                problems = [f"unknown customer_id {bad.customer_id}", *problems]
            result.errors.append(RowError(row_number, sku, "; ".join(problems)))
        accepted = []
        for product in parsed:
            if product.customer_id in known:
                accepted.append(product)
            else:
                result.errors.append(
                    RowError(product.row_number, product.sku, f"unknown customer_id {product.customer_id}")
                )
        _write(accepted, result)
    result.errors.sort(key=lambda error: error.row_number)
    return result


@transaction.atomic
def _write(products: list[_ParsedProduct], result: ProductImportResult) -> None:
    if not products:
        return
    stored = {
        (product.customer_id, product.sku_key): product
        for product in Product.objects.select_for_update().filter(
            customer_id__in={p.customer_id for p in products}, sku_key__in={p.key for p in products}
        )
    }
    to_create: list[Product] = []
    to_update: list[Product] = []
    for parsed in products:
        current = stored.get((parsed.customer_id, parsed.key))
        if current is None:
            to_create.append(
                Product(customer_id=parsed.customer_id, sku=parsed.sku, sku_key=parsed.key, case_size=parsed.case_size)
            )
        elif (current.sku, current.case_size) == (parsed.sku, parsed.case_size):
            result.unchanged += 1
        else:
            current.sku, current.case_size = parsed.sku, parsed.case_size
            to_update.append(current)
    Product.objects.bulk_create(to_create)
    Product.objects.bulk_update(to_update, ["sku", "case_size"])
    result.created += len(to_create)
    result.updated += len(to_update)
