"""Reading the next chunk of a large result while the caller handles the current one.

A download spends its time in two places that need not wait for each other: PostgreSQL
finding and sending a chunk of rows, and Python turning the previous chunk into CSV, JSON or
PDF. read_ahead runs a chunk producer one chunk ahead in a background thread, so the server
works on chunk k+1 while the caller formats chunk k.

The producer uses the caller's own database connection (psycopg 3 connections serialise the
threads that use them), so it reads inside the caller's transaction and sees what the caller
sees. At most two chunks are held: the one being handled and the one read ahead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """The items of produce(), each produced in a background thread while the previous is consumed.

    An error raised by the producer is raised here, at the item it would have produced. When the
    caller stops early (the generator is closed, e.g. a download the client abandoned), the
    producer stops after the item it is working on, and this generator returns only once the
    thread has ended, so the connection is the caller's alone again.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def run() -> None:
        try:
            for item in produce():
                if not hand_over(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            hand_over(_Failed(error))
            return
        hand_over(_DONE)

    worker = threading.Thread(target=run, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
