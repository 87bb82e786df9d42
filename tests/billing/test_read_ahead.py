"""read_ahead: a chunk producer kept one chunk ahead of its consumer, in a thread."""

from __future__ import annotations

import threading

import pytest

from billing.selectors.read_ahead import read_ahead


def test_items_arrive_in_order_from_another_thread():
    producers: set[int] = set()

    def produce():
        for number in range(50):
            producers.add(threading.get_ident())
            yield [number, number + 1]

    assert list(read_ahead(produce)) == [[n, n + 1] for n in range(50)]
    assert producers and threading.get_ident() not in producers


def test_a_producer_error_is_raised_at_the_item_it_would_have_produced():
    def produce():
        yield "first"
        yield "second"
        raise LookupError("the third chunk failed")

    items = read_ahead(produce)
    assert next(items) == "first"
    assert next(items) == "second"
    with pytest.raises(LookupError, match="the third chunk failed"):
        next(items)


def test_closing_early_stops_the_producer_and_ends_its_thread():
    produced: list[int] = []
    release = threading.Event()

    def produce():
        for number in range(1_000):
            produced.append(number)
            yield number
            release.wait(0.01)

    items = read_ahead(produce)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    release.set()

    assert not [thread for thread in threading.enumerate() if thread.name == "read-ahead"]
    # the one being consumed, the one handed over, and at most one in the making
    assert len(produced) <= 6
