import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Order, OrderLine
from billing.services.order_rows import ORDER_FIELDS
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def order_row(customer_id, transaction_id, **overrides):
    base = {
        "transaction_id": transaction_id,
        "close_date": "2026-09-01 10:30:00",
        "reference_number": f"REF-{transaction_id}",
        "ship_to_name": "Jane Roe",
        "ship_to_company": "Roe & Co",
        "ship_to_address": "5 Elm St",
        "ship_to_address2": "Suite 2",
        "ship_to_city": "Portland",
        "ship_to_state": "OR",
        "ship_to_zip": "97201",
        "ship_to_country": "US",
        "weight_lb": "3.2",
        "line_items": "",
        "sku_quantity": json.dumps([{"sku": "WID-1", "quantity": 2}]),
        "total_item_qty": "",
        "volume_cuft": "0.4",
        "packages": "1",
        "notes": 'Leave at door, "back" porch',
        "carrier": "USPS",
        "customer_id": str(customer_id),
        "priority": "",
        "status": "Completed",
    }
    base.update(overrides)
    return base


def write_csv(path, rows, fields=ORDER_FIELDS):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_orders", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def lines_of(transaction_id):
    return dict(OrderLine.objects.filter(order__transaction_id=transaction_id).values_list("sku", "quantity"))


@pytest.fixture
def customer():
    return CustomerFactory()


def messy_rows(customer):
    return [
        order_row(customer.pk, "OK-LIST"),  # line 2
        order_row(customer.pk, "OK-OBJECT", sku_quantity='{"wid-1": 5.0, "GAD 2": "1"}'),  # line 3
        order_row(999999, "BAD-CUSTOMER"),  # line 4
        order_row(customer.pk, "BAD-DATE", close_date="31/31/2026"),  # line 5
        order_row(customer.pk, "BAD-JSON", sku_quantity='[{"sku": "A", "quantity": 1'),  # line 6
        order_row(customer.pk, "BAD-NEG", sku_quantity='{"A": -2}'),  # line 7
        order_row(customer.pk, "BAD-FRACTION", sku_quantity='[{"sku": "A", "quantity": 1.5}]'),  # line 8
        order_row(customer.pk, "BAD-STATUS", status="x" * 65),  # line 9
        order_row(customer.pk, "OK-CANCELLED", status="Canceled"),  # line 10
    ]


def test_csv_imports_good_rows_and_reports_bad_ones_with_line_numbers(tmp_path, customer):
    path = write_csv(tmp_path / "orders.csv", messy_rows(customer))

    out, err, exc = run(path)

    assert exc is not None and exc.returncode == 1
    assert sorted(Order.objects.values_list("transaction_id", flat=True)) == ["OK-CANCELLED", "OK-LIST", "OK-OBJECT"]
    assert lines_of("OK-LIST") == {"WID-1": 2}
    assert lines_of("OK-OBJECT") == {"wid-1": 5, "GAD 2": 1}
    assert Order.objects.get(transaction_id="OK-CANCELLED").status == "Canceled"
    assert Order.objects.get(transaction_id="OK-LIST").notes == 'Leave at door, "back" porch'
    errors = err.strip().splitlines()
    assert errors[0] == "row 4 (BAD-CUSTOMER): unknown customer_id 999999"
    assert errors[1].startswith("row 5 (BAD-DATE): close_date is not a date and time")
    assert errors[2].startswith("row 6 (BAD-JSON): sku_quantity is not valid JSON")
    assert errors[3].startswith("row 7 (BAD-NEG): quantity of SKU 'A' must not be negative")
    assert errors[4].startswith("row 8 (BAD-FRACTION): quantity of SKU 'A' must be a whole number")
    assert errors[5].startswith("row 9 (BAD-STATUS): status is longer than 64 characters")
    assert len(errors) == 6
    assert out.strip().splitlines()[-1] == "created 3, updated 0, unchanged 0, rejected 6"


def stored_orders():
    fields = ["transaction_id", "customer_id", "close_date", "status", "weight_lb", "volume_cuft", "packages"]
    fields += ["line_items", "total_item_qty", "ship_to_name", "ship_to_company", "ship_to_city", "notes", "carrier"]
    orders = {order["transaction_id"]: order for order in Order.objects.values(*fields)}
    return {tx: (order, lines_of(tx)) for tx, order in orders.items()}


def test_a_csv_file_in_any_column_order_imports_as_the_same_rows_in_json_lines(tmp_path, customer):
    """CSV records are read by one parser per header; JSON Lines rows by the checks of one row."""
    rows = [
        *messy_rows(customer),
        order_row(f" {customer.pk} ", " PADDED ", weight_lb="1,234.5", packages=" 2"),
        order_row(customer.pk, "US-DATE", close_date="09/01/2026 10:30", volume_cuft="", line_items="7"),
        order_row(
            customer.pk, "UNICODE", ship_to_name="Straße", notes="Ã©tÃ©", sku_quantity='[{"sku": "é-1", "quantity": 2}]'
        ),
        order_row(
            customer.pk, "SUMMED", sku_quantity='[{"sku": "kit a1", "quantity": 2}, {"sku": "KIT-A1", "quantity": 3}]'
        ),
        order_row(customer.pk, "NUL", carrier="U\x00PS"),
        order_row(customer.pk, "LONG-SKU", sku_quantity=json.dumps([{"sku": "Z" * 101, "quantity": 1}])),
        order_row(customer.pk, "HUGE", weight_lb="1e30", packages="2147483648"),
        order_row(customer.pk, "EMPTY", weight_lb="", packages="", sku_quantity="[]", total_item_qty=""),
    ]
    columns = [*reversed(ORDER_FIELDS), "comment"]
    csv_out, csv_err, _ = run(write_csv(tmp_path / "orders.csv", rows, fields=columns))
    from_csv = stored_orders()
    Order.objects.all().delete()

    jsonl_out, jsonl_err, _ = run(write_jsonl(tmp_path / "orders.jsonl", rows))

    assert stored_orders() == from_csv
    assert len(from_csv) == 8
    # The same reasons, on the same rows: CSV counts the header as line 1.
    csv_reasons = [line.split(" ", 2)[2] for line in csv_err.strip().splitlines() if line.startswith("row ")]
    jsonl_reasons = [line.split(" ", 2)[2] for line in jsonl_err.strip().splitlines() if line.startswith("row ")]
    assert csv_reasons == jsonl_reasons
    assert len(csv_reasons) == 9
    assert csv_out.strip().splitlines()[-1] == jsonl_out.strip().splitlines()[-1]


def test_jsonl_imports_typed_rows_both_sku_shapes_and_reports_bad_lines(tmp_path, customer):
    path = write_jsonl(
        tmp_path / "orders.jsonl",
        [
            order_row(customer.pk, "J1", sku_quantity=[{"sku": "a-1", "quantity": 3}], weight_lb=51.5, packages=2),
            "",  # blank lines are skipped but counted
            {**order_row(customer.pk, "J2", sku_quantity={"B-2": 5.0}), "customer_id": customer.pk},
            "{not json",
            "[1, 2]",
            order_row(customer.pk, "J3", sku_quantity={"C": 0.5}),
            order_row(customer.pk, "J4", sku_quantity="not json"),
        ],
    )

    out, err, exc = run(path)

    assert exc is not None
    assert lines_of("J1") == {"a-1": 3}
    assert lines_of("J2") == {"B-2": 5}
    order = Order.objects.get(transaction_id="J1")
    assert (order.weight_lb, order.packages, order.total_item_qty) == (Decimal("51.500"), 2, 3)
    errors = err.strip().splitlines()
    assert errors[0].startswith("row 4: the line is not valid JSON")
    assert errors[1] == "row 5: line is not a JSON object"
    assert errors[2].startswith("row 6 (J3): quantity of SKU 'C' must be a whole number")
    assert errors[3].startswith("row 7 (J4): sku_quantity is not valid JSON")
    assert out.strip() == "created 2, updated 0, unchanged 0, rejected 4"


def test_clean_file_exits_zero_and_reimport_is_idempotent(tmp_path, customer):
    path = write_csv(tmp_path / "orders.csv", [order_row(customer.pk, f"TX{i}") for i in range(30)])

    out, err, exc = run(path, "--batch-size", "7")
    assert exc is None and err == ""
    assert out.strip() == "created 30, updated 0, unchanged 0, rejected 0"
    snapshot = list(Order.objects.order_by("pk").values())
    line_snapshot = list(OrderLine.objects.order_by("pk").values())

    out, _, exc = run(path)
    assert exc is None
    assert out.strip() == "created 0, updated 0, unchanged 30, rejected 0"
    assert list(Order.objects.order_by("pk").values()) == snapshot
    assert list(OrderLine.objects.order_by("pk").values()) == line_snapshot


def test_reimport_with_changes_updates_orders(tmp_path, customer):
    write_csv(tmp_path / "v1.csv", [order_row(customer.pk, "U1"), order_row(customer.pk, "U2")])
    run(tmp_path / "v1.csv")
    path = write_csv(
        tmp_path / "v2.csv",
        [
            order_row(customer.pk, "U1", status="Shipped", sku_quantity='{"WID-1": 2, "NEW": 1}'),
            order_row(customer.pk, "U2"),
            order_row(customer.pk, "U3"),
        ],
    )

    out, _, exc = run(path)

    assert exc is None
    assert out.strip() == "created 1, updated 1, unchanged 1, rejected 0"
    assert Order.objects.get(transaction_id="U1").status == "Shipped"
    assert lines_of("U1") == {"WID-1": 2, "NEW": 1}
    assert Order.objects.get(transaction_id="U1").line_items == 2


def test_missing_column_is_a_clear_error_and_nothing_is_written(tmp_path, customer):
    fields = [f for f in ORDER_FIELDS if f not in ("status", "customer_id")]
    path = write_csv(tmp_path / "orders.csv", [order_row(customer.pk, "M1")], fields=fields)

    _, _, exc = run(path)

    assert exc is not None
    assert "Missing column: customer_id." in str(exc)
    assert not Order.objects.exists()


def test_wrong_header_is_refused(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,name,amount\n1,foo,3\n")

    _, _, exc = run(path)

    assert exc is not None and "Missing columns: transaction_id" in str(exc)
    assert not Order.objects.exists()


def test_header_is_case_insensitive_and_unknown_columns_are_reported(tmp_path, customer):
    path = tmp_path / "orders.csv"
    rows = [order_row(customer.pk, "H1")]
    with path.open("w", newline="", encoding="utf-8-sig") as handle:  # with a byte-order mark, as Excel writes
        writer = csv.writer(handle)
        writer.writerow([f.upper() for f in ORDER_FIELDS] + ["Warehouse"])
        writer.writerows([[r[f] for f in ORDER_FIELDS] + ["W1"] for r in rows])

    _, err, exc = run(path)

    assert exc is None
    assert "Ignoring unknown column: warehouse" in err
    assert Order.objects.filter(transaction_id="H1").exists()


def test_short_row_and_multiline_field_keep_physical_line_numbers(tmp_path, customer):
    path = tmp_path / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ORDER_FIELDS))
        writer.writeheader()
        writer.writerow(order_row(customer.pk, "ML1", notes="line one\nline two"))  # lines 2-3
        handle.write("SHORT1,2026-09-01\n")  # line 4
        writer.writerow(order_row(customer.pk, "ML2", weight_lb="nope"))  # line 5

    _, err, exc = run(path)

    assert exc is not None
    assert err.strip().splitlines() == [
        "row 4 (SHORT1): row has 2 fields but the header has 22",
        "row 5 (ML2): weight_lb must be a number, got 'nope'",
    ]
    assert Order.objects.get(transaction_id="ML1").notes == "line one\nline two"


def test_stdin_needs_a_format_and_reads_jsonl(customer):
    _, _, exc = run("-")
    assert exc is not None and "--format" in str(exc)

    data = io.StringIO(json.dumps(order_row(customer.pk, "S1")) + "\n")
    out = io.StringIO()
    call_command("import_orders", "-", "--format", "jsonl", stdin=data, stdout=out, stderr=io.StringIO())

    assert out.getvalue().strip() == "created 1, updated 0, unchanged 0, rejected 0"
    assert Order.objects.filter(transaction_id="S1").exists()


def test_format_is_guessed_from_the_extension(tmp_path, customer):
    _, _, exc = run(write_jsonl(tmp_path / "orders.txt", [order_row(customer.pk, "X1")]))
    assert exc is not None and "--format" in str(exc)

    out, _, exc = run(write_jsonl(tmp_path / "orders.ndjson", [order_row(customer.pk, "X1")]))
    assert exc is None and out.strip().startswith("created 1")

    out, _, exc = run(tmp_path / "orders.txt", "--format", "jsonl")
    assert exc is None and out.strip() == "created 0, updated 0, unchanged 1, rejected 0"


def test_missing_file_is_an_error(tmp_path):
    _, _, exc = run(tmp_path / "nope.csv")
    assert exc is not None and "No such file" in str(exc)
