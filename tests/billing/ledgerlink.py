"""Files shaped like the original LedgerLink exports, built here with the traits of the real ones.

The real orders export (orders_order_rows.csv) has: sku_quantity as a JSON list of
{"sku", "quantity"} in most rows and a JSON object {sku: qty} in a few (the SKU "001" must stay
text); pretty-printed JSON across several lines inside a quoted field; integral float
quantities (5.0), quantity-0 entries and empty lists; close_date as "YYYY-MM-DD HH:MM:SS+00"
or empty; empty carrier, packages, weight_lb and volume_cuft; ship_to_zip "2101"; total_item_qty
and line_items that disagree with the lines; carriers in mixed case; SKUs with spaces and mixed
case; mojibake; ship_to_company "-" and "----"; transaction ids from 2 to 99999999; statuses
draft, shipped and delivered. The products export (products_product.csv) has labeling units.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from billing.services.order_rows import ORDER_FIELDS

ORDER_COLUMNS = ORDER_FIELDS  # the columns of the orders export, in its order

PRODUCT_COLUMNS = (
    '"id","sku","labeling_unit_1","labeling_quantity_1","labeling_unit_2","labeling_quantity_2",'
    '"labeling_unit_3","labeling_quantity_3","labeling_unit_4","labeling_quantity_4","labeling_unit_5",'
    '"labeling_quantity_5","created_at","updated_at","customer_id"'
)


def order(transaction_id, customer_id, **fields) -> dict[str, str]:
    row = {column: "" for column in ORDER_COLUMNS}
    row.update(
        transaction_id=str(transaction_id),
        close_date="2024-12-24 14:40:00+00",
        reference_number=f"REF-{transaction_id}",
        ship_to_name="hassan",
        ship_to_address="204 Hill Farm Rd",
        ship_to_city="Nobleton",
        ship_to_state="Ontario",
        ship_to_zip="L7B 0A1",
        ship_to_country="Canada",
        weight_lb="0.18",
        line_items="1",
        sku_quantity=json.dumps([{"sku": "ABC123", "quantity": 5}]),
        total_item_qty="5",
        volume_cuft="1.38",
        packages="1",
        carrier="ups",
        customer_id=str(customer_id),
        priority="medium",
        status="draft",
    )
    row.update({name: str(value) for name, value in fields.items()})
    return row


def trait_rows(first: int, second: int) -> list[dict[str, str]]:
    """One order per trait of the real export, for two customers."""
    pretty = json.dumps([{"sku": "ABC123", "quantity": 5}], indent=2)
    return [
        order(2, first, sku_quantity=pretty, line_items="11", total_item_qty="11"),  # multi-line JSON field
        order(3, first, sku_quantity='[{"sku": "TestSKU", "quantity": 5.0}]', carrier=""),  # float qty, no carrier
        order(
            1004,
            second,
            close_date="",
            sku_quantity='{"SKU006":5,"SKU007":2}',
            status="delivered",
            carrier="USPS",
            ship_to_company="Delta Co",
        ),
        order(1009, second, close_date="", sku_quantity='{"001":3}', status="shipped", ship_to_zip="2101"),
        order(168006, second, sku_quantity='{"001": 2, "005": 1}', total_item_qty="9"),  # disagrees with lines
        order(
            4001,
            first,
            sku_quantity=json.dumps(
                [{"sku": "MISC INGREDIENTS 2024/01/29", "quantity": 1}, {"sku": "ABO-012", "quantity": 0}]
            ),
            line_items="7",  # disagrees with the lines
            packages="",
            weight_lb="",
            volume_cuft="",
        ),
        order(4002, first, sku_quantity="[]", total_item_qty="0", line_items="0", ship_to_company="-"),
        order(4003, first, ship_to_company="----", carrier="UPS", ship_to_name="CafÃ© RenÃ©", status="shipped"),
        order(99999999, first, status="delivered", notes="Ã©tÃ© \u2013 mojibake kept", ship_to_zip="2101"),
    ]


def csv_text(rows: list[dict[str, str]], columns=ORDER_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_orders(path: Path, rows: list[dict[str, str]], columns=ORDER_COLUMNS) -> Path:
    path.write_text(csv_text(rows, columns), encoding="utf-8")
    return path


def product_line(pk: int, sku: str, customer_id, units: list[tuple[str, object]] = (), null_style: bool = False) -> str:
    cells = [f'"{pk}"', f'"{sku}"']
    for index in range(5):
        if index < len(units):
            unit, quantity = units[index]
            cells += [f'"{unit}"', str(quantity)]
        elif null_style:
            cells += ["NULL", "NULL"]
        else:
            cells += ['""', "0"]
    cells += ['"2024-06-09 00:48:59.492081-04"', '"2024-06-09 00:48:59.492081-04"', str(customer_id)]
    return ",".join(cells)


def write_products(path: Path, lines: list[str]) -> Path:
    path.write_text(PRODUCT_COLUMNS + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path
