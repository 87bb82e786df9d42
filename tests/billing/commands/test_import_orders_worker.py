"""A CSV file imported outside a transaction on PostgreSQL is read and parsed by a worker process
(billing.services.order_worker) while the command writes: the same orders, counts and messages
as the import inside a transaction, which reads, parses and writes in one process."""

import csv
import gc
import os
from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing.models import Order, OrderLine
from billing.services import orders as orders_service
from billing.services.order_rows import ORDER_FIELDS, WRITTEN_FIELDS, ParsedOrder, RowError
from billing.services.order_worker import ParsedChunk, WorkerFailed, parsed_in_worker
from tests.billing.commands.test_import_orders import messy_rows, order_row, run
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the worker path runs outside a transaction only


def write_messy_file(path, customer, *, changed=False):
    """Every kind of row the import meets, over several batches of 3 (line numbers in comments)."""
    rows = messy_rows(customer)  # lines 2-10
    if changed:
        rows[0]["weight_lb"] = "4.25"  # OK-LIST: a field changes
        rows[1]["sku_quantity"] = '{"wid-1": 6}'  # OK-OBJECT: its lines change
    rows += [
        order_row(customer.pk, "OK-LIST"),  # line 11: a duplicate of line 2, in a later batch
        order_row(customer.pk, "UNICODE", ship_to_name="Zoë Straße", notes="tab\there, back\\slash"),  # line 12
        order_row(customer.pk, "UNICODE"),  # line 13: a duplicate in the same batch
        order_row(customer.pk, "ZONED", close_date="2026-09-01T10:30:00+05:30", weight_lb="1,234.5"),  # line 14
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ORDER_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
        handle.write('MALFORMED,"x"y\n')  # line 15: a stray quote
        handle.write("SHORT,2026-09-01\n")  # line 16
        writer.writerow(order_row(customer.pk, "MULTI", notes="one\ntwo"))  # lines 17-18
        writer.writerow(order_row(customer.pk, "LATE", packages="many"))  # line 19: the last row is bad
    data = path.read_bytes().replace(b"REF-BAD-DATE", b"REF-\xff")  # line 5: not UTF-8
    path.write_bytes(data)
    return path


def stored():
    lines = {}
    for order_id, sku, quantity in OrderLine.objects.values_list("order_id", "sku", "quantity"):
        lines.setdefault(order_id, []).append((sku, quantity))
    return sorted(
        (
            order.transaction_id,
            order.customer_id,
            *(getattr(order, name) for name in WRITTEN_FIELDS),
            *sorted(lines.get(order.pk, [])),
        )
        for order in Order.objects.all()
    )


def import_three_times(tmp_path, customer, *, in_transaction):
    """A first import, one of a changed file, the changed file again: each one's output and the orders after it."""
    first = write_messy_file(tmp_path / "first.csv", customer)
    second = write_messy_file(tmp_path / "second.csv", customer, changed=True)
    seen = []
    for path in (first, second, second):
        if in_transaction:
            with transaction.atomic():
                out, err, exc = run(path, "--batch-size", "3", "--no-progress")
        else:
            out, err, exc = run(path, "--batch-size", "3", "--no-progress")
        seen.append((out, err, str(exc), stored()))
    return seen


@pytest.fixture
def workers(monkeypatch):
    """How many times the import used a worker process."""
    used = []

    def counted(*args, **kwargs):
        used.append(1)
        return parsed_in_worker(*args, **kwargs)

    monkeypatch.setattr(orders_service, "parsed_in_worker", counted)
    return used


def test_a_messy_file_imports_the_same_through_the_worker_process(tmp_path, workers):
    customer = CustomerFactory()
    in_one_process = import_three_times(tmp_path, customer, in_transaction=True)
    assert not workers
    Order.objects.all().delete()

    with_worker = import_three_times(tmp_path, customer, in_transaction=False)

    assert len(workers) == (3 if connection.vendor == "postgresql" else 0)
    assert with_worker == in_one_process
    (out, err, exc, after), (changed_out, _, _, changed), (again_out, _, _, again) = with_worker
    assert out.strip() == "created 6, updated 0, unchanged 0, rejected 11"
    assert err.strip().splitlines() == [
        "row 4 (BAD-CUSTOMER): unknown customer_id 999999",
        "row 5 (BAD-DATE): the row is not UTF-8 text (byte 0xff)",
        "row 6 (BAD-JSON): sku_quantity is not valid JSON: Expecting ',' delimiter (column 28)",
        "row 7 (BAD-NEG): quantity of SKU 'A' must not be negative, got -2",
        "row 8 (BAD-FRACTION): quantity of SKU 'A' must be a whole number, got 1.5",
        "row 9 (BAD-STATUS): status is longer than 64 characters",
        "row 11 (OK-LIST): duplicate transaction_id (first given on row 2)",
        "row 13 (UNICODE): duplicate transaction_id (first given on row 12)",
        "row 15 (MALFORMED): row has 2 fields but the header has 22",
        "row 16 (SHORT): row has 2 fields but the header has 22",
        "row 19 (LATE): packages must be a whole number, got 'many'",
    ]
    assert exc == "11 rows rejected."
    assert {row[0] for row in after} == {"OK-LIST", "OK-OBJECT", "OK-CANCELLED", "UNICODE", "ZONED", "MULTI"}
    unicode = Order.objects.get(transaction_id="UNICODE")
    assert (unicode.ship_to_name, unicode.notes) == ("Zoë Straße", "tab\there, back\\slash")
    assert Order.objects.get(transaction_id="ZONED").weight_lb == Decimal("1234.500")
    assert changed_out.strip() == "created 0, updated 2, unchanged 4, rejected 11"
    assert again_out.strip() == "created 0, updated 0, unchanged 6, rejected 11"
    assert again == changed != after


def orders_file(folder, rows, *, tail=""):
    """A CSV file of `rows` (order_row dicts) under the header, then `tail` as written."""
    path = folder / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ORDER_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
        handle.write(tail)
    return path


def test_a_row_before_a_late_error_is_imported_by_the_worker_path(tmp_path, workers):
    customer = CustomerFactory()
    path = orders_file(tmp_path, [order_row(customer.pk, f"T{number}") for number in range(7)], tail="T7,\n")
    # line 9: the last record is short

    out, err, exc = run(path, "--batch-size", "2", "--no-progress")

    assert out.strip() == "created 7, updated 0, unchanged 0, rejected 1"
    assert err.strip() == "row 9 (T7): row has 2 fields but the header has 22"
    assert str(exc) == "1 row rejected."
    assert Order.objects.count() == 7
    assert len(workers) == (1 if connection.vendor == "postgresql" else 0)
    assert gc.isenabled()  # the cycle collector, paused during the import, is as it was
    assert gc.get_freeze_count() == 0


def parse_numbers(chunk):
    if any(row == "boom" for _, row in chunk):
        raise ValueError("no such number")
    return ParsedChunk([ParsedOrder(number, str(row), 1, {}, (("A", 1),), f"copy {row}") for number, row in chunk])


def test_a_worker_that_fails_says_why_and_is_gone():
    chunks = iter([[(1, "a"), (2, "b")], [(3, "boom")], [(4, "never")]])

    seen = []
    with (
        pytest.raises(WorkerFailed, match="ValueError: no such number"),
        parsed_in_worker(chunks, parse_numbers, []) as batches,
    ):
        seen.extend(batch.chunk.orders[0].transaction_id for batch in batches)

    assert seen == ["a"]
    with pytest.raises(ChildProcessError):
        os.wait()  # no worker is left behind


def test_a_worker_stops_when_the_writer_stops_early_and_the_readers_errors_come_back():
    errors: list[RowError] = []

    def chunks():
        for number in range(1, 10_000):
            errors.append(RowError(number * 2, "", "unreadable"))  # the reader's own error list
            yield [(number * 2 + 1, str(number) * 1000)]

    with parsed_in_worker(chunks(), parse_numbers, errors) as batches:
        first = next(batches)
    assert first.done == 1
    assert first.read_errors == [RowError(2, "", "unreadable")]
    assert [order.copy for order in first.chunk.orders] == ["copy " + "1" * 1000]
    assert errors == []  # this process never read the chunks
    with pytest.raises(ChildProcessError):
        os.wait()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker path is PostgreSQL's")
def test_a_failed_worker_is_a_command_error_and_the_batches_before_it_stay(tmp_path, monkeypatch, caplog):
    customer = CustomerFactory()
    names = ["T0", "T1", "T2", "T3", "BOOM", "AFTER"]
    path = orders_file(tmp_path, [order_row(customer.pk, name) for name in names])
    parse_chunk = orders_service._Batch.parse_chunk

    def failing(self, chunk, **options):
        if any("BOOM" in str(row) for _, row in chunk):
            raise ValueError("a parser bug")
        return parse_chunk(self, chunk, **options)

    monkeypatch.setattr(orders_service._Batch, "parse_chunk", failing)  # the worker is forked with it

    _, err, exc = run(path, "--batch-size", "2", "--no-progress")

    assert str(exc).startswith("The import stopped: the process reading the file failed (ValueError: a parser bug).")
    assert "Traceback" not in str(exc) and "Traceback" not in err
    assert "Traceback" in caplog.text  # the worker's traceback is logged
    assert sorted(Order.objects.values_list("transaction_id", flat=True)) == ["T0", "T1", "T2", "T3"]
