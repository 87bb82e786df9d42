#!/usr/bin/env python
"""Benchmark: one GraphQL document at different call depths, with and without the stack room.

    .venv/bin/python benchmarks/stack_room.py [--repeat 50] [--depths 0,10,...,70]

Runs the full introspection of the schema (no database) below `depth` extra Python frames, as
a request runs below a server's and middleware's own frames, and prints the median CPU time per
document plainly and inside backend.cpython_stack.with_stack_room. Without the room, the time
depends on where CPython's 16 KiB frame chunks happen to end (gh-142183); run it under
`strace -f -c -e trace=munmap` to see the mappings. On interpreters with the fix both columns
should match, and backend/wsgi.py no longer applies the room (backend.cpython_stack.NEEDED).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.test.utils import override_settings  # noqa: E402

from backend.cpython_stack import NEEDED, with_stack_room  # noqa: E402
from graphql_schema.schema import schema  # noqa: E402

DOCUMENT = (
    "{ __schema { types { name fields { name args { name type { name ofType { name } } } "
    "type { name kind ofType { name kind } } } } } }"
)


def below(depth: int, call):
    return call() if depth == 0 else below(depth - 1, call)


def execute() -> None:
    result = schema.execute_sync(DOCUMENT)
    if result.errors:
        raise SystemExit(f"document failed: {result.errors}")


def median_cpu_ms(depth: int, call, repeat: int) -> float:
    for _ in range(3):
        below(depth, call)
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        below(depth, call)
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--depths", default="0,10,20,30,40,50,60,70")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; the room is applied by backend/wsgi.py: {'yes' if NEEDED else 'no'}")
    print(f"{'depth':>5} {'plain ms':>9} {'room ms':>8}")
    with override_settings(GRAPHQL_INTROSPECTION="all"):
        for depth in (int(value) for value in args.depths.split(",")):
            plain = median_cpu_ms(depth, execute, args.repeat)
            room = median_cpu_ms(depth, lambda: with_stack_room(execute), args.repeat)
            print(f"{depth:>5} {plain:>9.2f} {room:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
