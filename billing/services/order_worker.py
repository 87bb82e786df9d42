"""An orders file read and parsed in a worker process while this one writes (billing.services.orders).

Reading a CSV file and parsing its records take about as long as PostgreSQL takes to store
them; in one process the two share one interpreter (its lock) however many cores there are.
A forked child reads the records from the same reader (it inherits the open file and the
reader's state), parses each batch with the import's own parser (no database access), and
sends every batch back through a pipe, while the parent checks customers and writes the batch
before. A batch crosses as a few lists of text and numbers (marshal: cheaper than pickle, and
able to carry nothing but data); each order as its COPY text, from which the writer decodes its
values only when the order already exists (billing.services.order_writes.values_from_copy_body).

The child blocks while the pipe is full, so at most about five batches exist at a time: one
being parsed and one in the pipe, and in the parent one being checked, one queued for the
writer thread and one being written (billing.services.orders._pipelined). The records the reader itself refuses
(the command's CSV reader lists them in a list of errors) are carried back with the batch
they were met in.
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import repeat
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

from billing.services.order_rows import ParsedOrder, RowError
from billing.services.order_writes import order_copy_body

# A row refused by the parser: (row number, transaction id as given, its problems, its customer id
# when readable: the writer adds an unknown customer to the problems).
InvalidRow = tuple[int, str, list[str], int | None]


@dataclass(slots=True)
class ParsedChunk:
    """A chunk of rows after parsing: the orders to write (unless their customer is unknown),
    the invalid rows, and the rows already rejected (duplicates within the chunk)."""

    orders: list[ParsedOrder]
    invalid: list[InvalidRow] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


@dataclass(slots=True)
class ParsedBatch:
    """What the worker sends for each chunk: rows read so far, the chunk, the reader's own errors."""

    done: int
    chunk: ParsedChunk
    read_errors: list[RowError]


# Batches parsed between two runs of the worker's cycle collector.
COLLECT_EVERY = 8


def worker_available() -> bool:
    """True where a process can fork (POSIX): the worker inherits the reader as it is."""
    return hasattr(os, "fork")


def _errors(errors: list[RowError]) -> list[tuple[int, str, str]]:
    return [(error.row_number, error.transaction_id, error.reason) for error in errors]


def encode(done: int, chunk: ParsedChunk, read_errors: list[RowError]) -> bytes:
    """A parsed batch as bytes (marshal of lists: orders column by column, each order's values as its COPY text)."""
    orders = chunk.orders
    return marshal.dumps(
        (
            done,
            _errors(read_errors),
            _errors(chunk.rejected),
            [tuple(invalid) for invalid in chunk.invalid],
            [order.row_number for order in orders],
            [order.transaction_id for order in orders],
            [order.customer_id for order in orders],
            list(map(order_copy_body, orders)),
            [order.lines for order in orders],
        )
    )


def decode(data: bytes) -> ParsedBatch:
    """The batch `encode` gave. Its orders carry their COPY text and an empty `values`."""
    # Only this import's own worker writes to the pipe, and marshal builds nothing but data.
    batch = marshal.loads(data)  # noqa: S302
    done, read_errors, rejected, invalid, row_numbers, transaction_ids, customers, copies, lines = batch
    orders = list(map(ParsedOrder, row_numbers, transaction_ids, customers, map(dict, repeat(())), lines, copies))
    chunk = ParsedChunk(
        orders,
        [(row, transaction_id, list(problems), customer) for row, transaction_id, problems, customer in invalid],
        [RowError(*error) for error in rejected],
    )
    return ParsedBatch(done, chunk, [RowError(*error) for error in read_errors])


def _work(
    send: Connection,
    chunks: Iterator[list[tuple[int, Any]]],
    parse: Callable[[list[tuple[int, Any]]], ParsedChunk],
    read_errors: list[RowError],
) -> None:
    """The child: every chunk parsed and sent, then b"" (the end), or an error's traceback.

    The cycle collector runs once every COLLECT_EVERY batches, not while one is parsed (it
    scanned each batch's objects again and again, a third of the parsing time), and never over
    what the child inherited (frozen: scanning them would also copy the parent's pages).
    """
    gc.freeze()
    gc.disable()
    done = 0
    for number, chunk in enumerate(chunks, start=1):
        parsed = parse(chunk)
        done += len(chunk)
        send.send_bytes(encode(done, parsed, read_errors))
        read_errors.clear()  # this process's copy: sent
        if number % COLLECT_EVERY == 0:
            del parsed
            gc.collect(1)  # the cycles of the last batches, if any (none are expected): bounded memory
    send.send_bytes(encode(done, ParsedChunk([]), read_errors))  # errors met after the last record
    send.send_bytes(b"")


class WorkerFailed(RuntimeError):
    """The worker process failed: its traceback is the message, its last line the `reason`."""

    @property
    def reason(self) -> str:
        lines = [line for line in str(self).splitlines() if line.strip()]
        return lines[-1].strip() if lines else "no reason given"


@contextmanager
def parsed_in_worker(
    chunks: Iterator[list[tuple[int, Any]]],
    parse: Callable[[list[tuple[int, Any]]], ParsedChunk],
    read_errors: list[RowError],
) -> Iterator[Iterator[ParsedBatch]]:
    """The parsed batches of `chunks`, parsed by `parse` in a forked process.

    This process must not read `chunks` (the child reads it); the reader's errors, which it
    appends to `read_errors`, come back in each ParsedBatch. Leaving the block early (an error
    while writing) stops the child.
    """
    receive, send = Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 0
        try:
            receive.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _work(send, chunks, parse, read_errors)
        except BrokenPipeError:  # the parent stopped reading
            status = 1
        except BaseException:
            status = 1
            with suppress(OSError):
                send.send_bytes(b"!" + traceback.format_exc().encode("utf-8", "replace"))
        finally:
            os._exit(status)
    send.close()

    ended = False

    def batches() -> Iterator[ParsedBatch]:
        nonlocal ended
        while True:
            try:
                data = receive.recv_bytes()
            except EOFError:
                raise WorkerFailed("the orders file's reading process ended without a word") from None
            if data == b"":
                ended = True
                return
            if data[:1] == b"!":
                raise WorkerFailed("the orders file's reading process failed:\n" + data[1:].decode("utf-8"))
            yield decode(data)

    try:
        yield batches()
    finally:
        receive.close()  # a child still sending gets a broken pipe and exits
        if not ended:
            os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
