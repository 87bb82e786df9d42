"""CopyPipeline: COPYs run in order on a worker thread, on the caller's connection and transaction."""

import io
import sys
import tempfile
import time
from contextlib import contextmanager

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from billing.db_copy import copy_statement
from billing.generation import copy_pipeline
from billing.generation.copy_pipeline import CopyPipeline
from billing.models import BilledPair

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

PAIRS = copy_statement(BilledPair, ("order_id", "service_id"))


@contextmanager
def _pipeline_in_a_transaction():
    with transaction.atomic(), connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
        yield pipeline


def _spool(text: str):
    """Rows spooled to a file (past 4 bytes), as generation spools its report orders."""
    spool = tempfile.SpooledTemporaryFile(max_size=4)  # noqa: SIM115  (the pipeline closes it)
    spool.write(text.encode())
    return spool


def test_statements_run_in_order_with_writes_and_files_and_the_switch_interval_comes_back(monkeypatch):
    monkeypatch.setattr(copy_pipeline, "QUEUE_BYTES", 1)  # the caller waits for the worker at each block
    monkeypatch.setattr(copy_pipeline, "FILE_BLOCK_BYTES", 3)  # a file's blocks end mid-row
    interval = sys.getswitchinterval()
    spool = _spool("3\t1\n4\t1\n")
    with connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
        pipeline.start(PAIRS)
        pipeline.write("1\t1\n")
        pipeline.write("2\t1\n")
        pipeline.end()
        pipeline.start(PAIRS)
        pipeline.send_file(spool)
        pipeline.end()
        assert sys.getswitchinterval() == min(interval, copy_pipeline.SWITCH_INTERVAL)

    assert sys.getswitchinterval() == interval
    assert spool.closed
    assert sorted(BilledPair.objects.values_list("order_id", "service_id")) == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_a_row_the_server_refuses_is_raised_in_the_caller_and_nothing_stays():
    BilledPair.objects.create(order_id=7, service_id=1)
    later = _spool("9\t1\n")
    with pytest.raises(IntegrityError), _pipeline_in_a_transaction() as pipeline:
        pipeline.start(PAIRS)
        pipeline.write("8\t1\n7\t1\n")  # 7 is claimed already
        pipeline.end()
        # The worker may have stopped by now: what is queued after is dropped, files closed.
        try:
            pipeline.start(PAIRS)
            pipeline.send_file(later)
            pipeline.end()
        except IntegrityError:
            later.close()
            raise

    assert later.closed
    assert sorted(BilledPair.objects.values_list("order_id", "service_id")) == [(7, 1)]
    assert BilledPair.objects.count() == 1  # the connection is usable


def test_an_error_in_the_caller_fails_the_copy_under_way():
    interval = sys.getswitchinterval()
    with pytest.raises(RuntimeError, match="pricing failed"), _pipeline_in_a_transaction() as pipeline:
        pipeline.start(PAIRS)
        pipeline.write("5\t1\n")
        raise RuntimeError("pricing failed")

    assert sys.getswitchinterval() == interval
    assert not BilledPair.objects.exists()


def test_the_rows_queued_stay_within_the_budget(monkeypatch):
    monkeypatch.setattr(copy_pipeline, "QUEUE_BYTES", 12)
    queued = []
    rows = [f"{order}\t1\n" for order in range(10, 70)]  # 4 or 5 bytes each
    with connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
        for at in range(0, len(rows), 6):
            pipeline.start(PAIRS)
            for row in rows[at : at + 6]:
                pipeline.write(row)
                queued.append(pipeline._queued_bytes)
            pipeline.end()

    assert max(queued) <= 12
    assert BilledPair.objects.count() == len(rows)
    assert sorted(BilledPair.objects.values_list("order_id", flat=True)) == list(range(10, 70))


def test_a_read_runs_in_its_place_among_the_copies_and_gives_its_rows(monkeypatch):
    monkeypatch.setattr(copy_pipeline, "READ_BLOCK_BYTES", 5)  # rows reach the reader a few at a time
    with _pipeline_in_a_transaction() as pipeline:
        pipeline.start(PAIRS)
        pipeline.write("".join(f"{order}\t2\n" for order in range(1, 40)))
        pipeline.end()
        pipeline.execute("SET LOCAL jit = off")
        rows = pipeline.read(
            "COPY (SELECT order_id, current_setting('jit') FROM \"billing_billedpair\" ORDER BY 1) TO STDOUT"
        )
        pipeline.execute("RESET jit")
        pipeline.start(PAIRS)
        pipeline.write("40\t2\n")
        pipeline.end()
        text = io.TextIOWrapper(io.BufferedReader(rows), encoding="utf-8", newline="\n").read()

    # the rows the earlier COPY wrote, not the later one's, read under the setting before them
    assert text == "".join(f"{order}\toff\n" for order in range(1, 40))
    assert BilledPair.objects.count() == 40


def test_the_caller_reads_the_first_rows_while_the_statement_still_runs(monkeypatch):
    monkeypatch.setattr(copy_pipeline, "READ_BLOCK_BYTES", 1)
    # The server sends what overflows its output buffer (the first row, pushed out by the
    # second, of 100,000 bytes each), then sleeps before the third.
    statement = (
        "COPY (SELECT i, CASE WHEN i < 3 THEN repeat('x', 100000) ELSE pg_sleep(2)::text END "
        "FROM generate_series(1, 3) AS i) TO STDOUT"
    )
    with connection.cursor() as cursor, CopyPipeline(cursor) as pipeline:
        text = io.TextIOWrapper(io.BufferedReader(pipeline.read(statement)), encoding="utf-8", newline="\n")
        assert text.readline() == f"1\t{'x' * 100000}\n"
        started = time.monotonic()
        assert text.readline() == f"2\t{'x' * 100000}\n"
        assert text.readline() == "3\t\n"  # pg_sleep returns void: an empty text
        assert time.monotonic() - started > 1  # the rest came two seconds after the first row was read
        assert text.readline() == ""


def test_a_read_the_server_refuses_is_raised_by_the_reader_and_nothing_stays():
    with pytest.raises(DataError), _pipeline_in_a_transaction() as pipeline:
        pipeline.start(PAIRS)
        pipeline.write("3\t1\n")
        pipeline.end()
        rows = pipeline.read("COPY (SELECT 1 / (2 - i) FROM generate_series(1, 3) AS i) TO STDOUT")
        io.BufferedReader(rows).read()

    assert not BilledPair.objects.exists()  # rolled back, and the connection is usable
