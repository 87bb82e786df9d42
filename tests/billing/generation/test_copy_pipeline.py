"""CopyPipeline: COPYs run in order on a worker thread, on the caller's connection and transaction."""

import sys
import tempfile

import pytest
from django.db import IntegrityError, connection, transaction

from billing.db_copy import copy_statement
from billing.generation import copy_pipeline
from billing.generation.copy_pipeline import CopyPipeline
from billing.models import BilledPair

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

PAIRS = copy_statement(BilledPair, ("order_id", "service_id"))


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
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
        CopyPipeline(cursor) as pipeline,
    ):
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
    with (
        pytest.raises(RuntimeError, match="pricing failed"),
        transaction.atomic(),
        connection.cursor() as cursor,
        CopyPipeline(cursor) as pipeline,
    ):
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
