"""The original system's exports import whole; bad files give per-row errors and keep the good rows."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Customer, Order, OrderLine, Product
from tests.billing.ledgerlink import (
    csv_text,
    order,
    product_line,
    trait_rows,
    write_orders,
    write_products,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def run(command, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def lines_of(transaction_id):
    return sorted(OrderLine.objects.filter(order__transaction_id=transaction_id).values_list("sku", "quantity"))


@pytest.fixture
def customers():
    return CustomerFactory(), CustomerFactory()


def test_an_export_with_every_trait_imports_whole_and_a_second_import_changes_nothing(tmp_path, customers):
    first, second = customers
    path = write_orders(tmp_path / "orders_order_rows.csv", trait_rows(first.pk, second.pk))

    out, err, exc = run("import_orders", path, "--no-progress")

    assert exc is None, err
    assert out.strip() == "created 9, updated 0, unchanged 0, rejected 0"
    snapshot = list(Order.objects.order_by("pk").values())
    out, _, exc = run("import_orders", path)
    assert exc is None
    assert out.strip() == "created 0, updated 0, unchanged 9, rejected 0"
    assert list(Order.objects.order_by("pk").values()) == snapshot

    by_tx = {o.transaction_id: o for o in Order.objects.all()}
    assert {o.status for o in by_tx.values()} == {"draft", "shipped", "delivered"}
    assert by_tx["2"].close_date == dt.datetime(2024, 12, 24, 14, 40, tzinfo=dt.UTC)  # "+00" offset
    assert by_tx["1004"].close_date is None and by_tx["1004"].status == "delivered"
    assert lines_of("2") == [("ABC123", 5)]  # pretty-printed JSON over several lines
    assert lines_of("3") == [("TestSKU", 5)]  # 5.0, case kept
    assert lines_of("1004") == [("SKU006", 5), ("SKU007", 2)]  # object shape
    assert lines_of("1009") == [("001", 3)]  # "001" stays text
    assert lines_of("4001") == [("MISC INGREDIENTS 2024/01/29", 1)]  # quantity 0 entry dropped
    assert lines_of("4002") == []
    assert (by_tx["168006"].total_item_qty, by_tx["4001"].line_items, by_tx["2"].line_items) == (9, 7, 11)
    assert (by_tx["4001"].packages, by_tx["4001"].weight_lb, by_tx["4001"].volume_cuft) == (0, 0, 0)
    assert by_tx["1009"].ship_to_zip == "2101" and by_tx["99999999"].ship_to_zip == "2101"
    assert {by_tx["3"].carrier, by_tx["2"].carrier, by_tx["4003"].carrier} == {"", "ups", "UPS"}
    assert by_tx["4003"].ship_to_name == "CafÃ© RenÃ©"
    assert by_tx["99999999"].notes == "Ã©tÃ© \u2013 mojibake kept"
    assert (by_tx["4002"].ship_to_company, by_tx["4003"].ship_to_company) == ("-", "----")


def test_a_minimal_csv_with_only_the_required_columns_imports(tmp_path, customers):
    path = tmp_path / "minimal.csv"
    path.write_text(f"transaction_id,customer_id\nM1,{customers[0].pk}\nM2,{customers[1].pk}\n")

    out, err, exc = run("import_orders", path)

    assert exc is None, err
    assert out.strip() == "created 2, updated 0, unchanged 0, rejected 0"
    m1 = Order.objects.get(transaction_id="M1")
    assert (m1.close_date, m1.status, m1.total_item_qty, m1.weight_lb) == (None, "", 0, 0)


def test_every_problem_of_a_row_is_listed_together_the_unknown_customer_too(tmp_path, customers):
    rows = [order("OK", customers[0].pk), order("BAD", 999999, weight_lb="heavy", packages="-1")]
    path = write_orders(tmp_path / "orders.csv", rows)

    _, err, exc = run("import_orders", path)

    assert exc is not None and exc.returncode == 1
    assert err.strip() == (
        "row 3 (BAD): unknown customer_id 999999; weight_lb must be a number, got 'heavy'; "
        "packages must not be negative, got '-1'"
    )
    assert list(Order.objects.values_list("transaction_id", flat=True)) == ["OK"]


def test_create_customers_gives_unknown_ids_placeholder_customers(tmp_path):
    path = write_orders(tmp_path / "orders.csv", [order("A", 41), order("B", 42), order("C", 41)])

    out, err, exc = run("import_orders", path, "--create-customers")

    assert exc is None, err
    assert "Created 2 placeholder customers." in out
    assert dict(Customer.objects.values_list("pk", "company_name")) == {41: "Customer 41", 42: "Customer 42"}
    assert Customer.objects.create(company_name="Next").pk > 42  # the id sequence moved past them


# --- bad files: exit status, message, rows before and after ----------------------------------


def bad_file_case(tmp_path, customer, bad_row):
    rows = [order("GOOD-1", customer.pk), bad_row, order("GOOD-2", customer.pk)]
    return write_orders(tmp_path / "orders.csv", rows)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight_lb": "1e30"}, "row 3 (BAD): weight_lb is too large (at most 999999999.999): '1e30'"),
        ({"packages": "1e30"}, "row 3 (BAD): packages is too large: '1e30'"),
        ({"packages": "9" * 5000}, "row 3 (BAD): packages is too large: '99999"),
        ({"sku_quantity": "[" * 50_000 + "]" * 50_000}, "row 3 (BAD): sku_quantity is nested too deeply"),
        ({"ship_to_name": "Ann\x00Lee"}, "row 3 (BAD): ship_to_name contains a NUL character"),
        ({"sku_quantity": '[{"sku": "A\\u0000", "quantity": 1}]'}, "row 3 (BAD): sku_quantity has a SKU with a NUL"),
        (
            {"sku_quantity": '[{"sku": "A", "quantity": ' + "9" * 5000 + "}]"},
            "row 3 (BAD): sku_quantity holds a number with too many digits",
        ),
    ],
)
def test_a_bad_value_rejects_its_row_only(tmp_path, customers, fields, message):
    customer = customers[0]
    before = Order.objects.count()
    path = bad_file_case(tmp_path, customer, order("BAD", customer.pk, **fields))

    out, err, exc = run("import_orders", path)

    assert exc is not None and exc.returncode == 1 and str(exc) == "1 row rejected."
    assert err.strip().startswith(message)
    assert out.strip() == "created 2, updated 0, unchanged 0, rejected 1"
    assert (before, Order.objects.count()) == (0, 2)


def test_deeply_nested_json_lines_row_is_rejected_and_the_others_imported(tmp_path, customers):
    customer = customers[0]
    path = tmp_path / "orders.jsonl"
    good = json.dumps(order("J1", customer.pk))
    path.write_text("\n".join([good, "[" * 100_000 + "]" * 100_000, json.dumps(order("J2", customer.pk))]) + "\n")

    _, err, exc = run("import_orders", path)

    assert exc is not None and exc.returncode == 1
    assert err.strip() == "row 2: the line is nested too deeply"
    assert sorted(Order.objects.values_list("transaction_id", flat=True)) == ["J1", "J2"]


@pytest.mark.parametrize("bad_line", [2, 1400])
def test_a_byte_that_is_not_utf8_rejects_its_row_and_the_count_is_true(tmp_path, customers, bad_line):
    customer = customers[0]
    rows = [order(f"T{index:04d}", customer.pk) for index in range(1500)]
    text = csv_text(rows).encode()
    lines = text.split(b"\n")
    lines[bad_line - 1] = lines[bad_line - 1].replace(b"hassan", b"hass\xffan")  # line 1 is the header
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\n".join(lines))

    out, err, exc = run("import_orders", path)

    assert exc is not None and exc.returncode == 1
    assert err.strip() == f"row {bad_line} (T{bad_line - 2:04d}): the row is not UTF-8 text (byte 0xff)"
    assert out.strip() == "created 1499, updated 0, unchanged 0, rejected 1"
    assert Order.objects.count() == 1499  # what the summary says is what was imported
    assert not Order.objects.filter(transaction_id=f"T{bad_line - 2:04d}").exists()


def test_a_header_that_is_not_utf8_imports_nothing(tmp_path, customers):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"transaction_id,customer_id,not\xe9s\nA,1\n")

    _, _, exc = run("import_orders", path)

    assert exc is not None and "header row is not UTF-8" in str(exc)
    assert not Order.objects.exists()


# --- products export --------------------------------------------------------------------------


def products_file(tmp_path, first, second):
    return write_products(
        tmp_path / "products_product.csv",
        [
            product_line(156, "05007K", first.pk, [("Case", 1)]),
            product_line(157, "0MISC INGREDIENTS 2023/10/16", first.pk, [("Pallet", 1)]),
            product_line(158, "KIT-A1", first.pk, [("Each", 1), ("Case", 12)]),
            product_line(159, "6pack boxes", first.pk, [("Master carton", 36)]),
            product_line(160, "001", second.pk, [("case", 15)], null_style=True),
            product_line(161, "S-16790", second.pk, [("Each", 1)], null_style=True),
            product_line(162, "S-16790", first.pk, [("Case", 40)], null_style=True),  # same SKU, other customer
        ],
    )


def test_products_export_imports_case_sizes_and_is_idempotent(tmp_path, customers):
    first, second = customers
    path = products_file(tmp_path, first, second)

    out, err, exc = run("import_products", path)

    assert exc is None, err
    assert out.strip() == "created 7, updated 0, unchanged 0, rejected 0"
    sizes = dict(Product.objects.values_list("sku", "case_size").filter(customer=first))
    assert sizes == {
        "05007K": 1,
        "0MISC INGREDIENTS 2023/10/16": 1,
        "KIT-A1": 12,
        "6pack boxes": 1,
        "S-16790": 40,
    }
    assert Product.objects.get(customer=second, sku="001").case_size == 15
    assert Product.objects.get(customer=first, sku="KIT-A1").sku_key == "KITA1"

    out, _, exc = run("import_products", path)
    assert exc is None
    assert out.strip() == "created 0, updated 0, unchanged 7, rejected 0"


def test_products_bad_rows_are_reported_and_the_good_ones_kept(tmp_path, customers):
    first, _ = customers
    path = write_products(
        tmp_path / "products.csv",
        [
            product_line(1, "GOOD", first.pk, [("Case", 6)]),
            product_line(2, "BADQTY", 999999, [("Case", "NULL")]),
            product_line(3, "good", first.pk, [("Case", 6)]),  # the same SKU once normalised
            product_line(4, "ZERO", first.pk, [("Case", 0)]),
        ],
    )

    out, err, exc = run("import_products", path)

    assert exc is not None and exc.returncode == 1
    assert err.strip().splitlines() == [
        "row 3 (BADQTY): unknown customer_id 999999; labeling_quantity_1 is empty for the unit 'Case'",
        "row 4 (good): duplicate SKU for this customer (first given on row 2)",
        "row 5 (ZERO): labeling_quantity_1 must be at least 1 for the unit 'Case'",
    ]
    assert out.strip() == "created 1, updated 0, unchanged 0, rejected 3"
    assert list(Product.objects.values_list("sku", "case_size")) == [("GOOD", 6)]


def test_products_for_unknown_customers_can_create_them(tmp_path):
    path = write_products(tmp_path / "products.csv", [product_line(1, "A", 11, [("Case", 2)])])

    out, err, exc = run("import_products", path, "--create-customers")

    assert exc is None, err
    assert Customer.objects.get(pk=11).company_name == "Customer 11"
    assert Product.objects.get().case_size == 2
    assert Decimal(out.split()[1].rstrip(",")) == 1
