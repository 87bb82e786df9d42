#!/usr/bin/env python
"""Benchmark: how fast the GraphQL endpoint refuses hostile documents and bodies.

Each case is POSTed to Django's WSGI application (the whole middleware stack, no network) with
an API token of a billing staff user (anonymously for introspection), `--repeat` times. Every
request carries a different comment line, so neither the parse cache nor the validation cache
helps: the figures are those of a new document each time. Prints, per case, the answer (HTTP
status and error code), the median and the slowest time to answer, and the median CPU time of
the process (less sensitive to other load on the machine). Target: refusals under 50 ms
each (median). Two valid documents are included to show what the limits let through: the
largest document that reaches validation and a fragment bomb (graphql-core merges repeated
spreads, so it costs little to run).

The cases: the cost bomb (15 aliases of reports(first: 100) > orders(first: 100) > charges), the
validation bomb (400 x `me { username }`, over the token limit; 200 x within it), the largest
document that reaches validation (150 selections, all the same field), a fragment bomb, too
many aliases, too deep, too many tokens, a huge cursor, a variable of the wrong type, odd JSON
bodies and anonymous introspection.

    .venv/bin/python benchmarks/graphql_abuse.py            # SQLite (throwaway test database)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerlink .venv/bin/python benchmarks/graphql_abuse.py

Options: --repeat 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from django.db import connection
from django.test.utils import setup_test_environment, teardown_test_environment
from graphql_api import Requester

from billing.services.tokens import api_token_create
from graphql_schema.schema import MAX_ALIASES, MAX_DEPTH, MAX_SELECTIONS, MAX_TOKENS
from tests.factories import staff_user

TARGET_MS = 50.0
TREE = "reports(first: 100) { edges { node { id orders(first: 100) { edges { node { charges { amount } } } } } } }"
COST_BOMB = "{ " + " ".join(f"r{i}: {TREE}" for i in range(MAX_ALIASES)) + " }"
VALIDATION_BOMB = "{ " + "me { username } " * 400 + "}"
SELECTION_BOMB = "{ " + "me { username } " * 200 + "}"  # within the token limit
LARGEST_VALIDATED = "{ " + "me { username } " * (MAX_SELECTIONS // 2) + "}"
# Ten levels of fragments, each spreading the next twice (2^10 expansions of the innermost).
FRAGMENT_BOMB = (
    "{ me { ...F0 } } "
    + " ".join(f"fragment F{level} on User {{ username ...F{level + 1} ...F{level + 1} }}" for level in range(10))
    + " fragment F10 on User { username isStaff }"
)
ALIASES = "{ " + " ".join(f"a{i}: me {{ username }}" for i in range(MAX_ALIASES + 1)) + " }"
DEEP = (
    '{ billingRun(id: "00000000-0000-0000-0000-000000000000") { jobs { edges { node { report {'
    " orders { edges { node { charges { serviceName } } } } } } } } } }"
)
TOKENS = "{ me { " + "username " * (MAX_TOKENS + 1) + "} }"
HUGE_CURSOR = "query($c: String) { reports(first: 10, after: $c) { totalCount } }"
WRONG_TYPE = "query($n: Int) { reports(first: $n) { totalCount } }"
INTROSPECTION = "{ __schema { types { name fields { name type { name } } } } }"


def document(query: str, variables: dict | None = None) -> Callable[[int], bytes]:
    """A body builder: the same document behind a different comment for each request."""
    return lambda i: json.dumps({"query": f"# request {i}\n{query}", "variables": variables or {}}).encode()


def raw(body: bytes) -> Callable[[int], bytes]:
    return lambda i: body


ANONYMOUS_GET = object()  # sent over GET without credentials (a POST would need a CSRF token)

CASES: list[tuple[str, Callable[[int], bytes], object]] = [  # (name, body, how it is sent)
    (f"cost bomb ({MAX_ALIASES} aliases x 100 x 100)", document(COST_BOMB), True),
    ("validation bomb (400 x me { username })", document(VALIDATION_BOMB), True),
    ("selection bomb (200 x me { username })", document(SELECTION_BOMB), True),
    (f"largest validated ({MAX_SELECTIONS} selections)", document(LARGEST_VALIDATED), True),
    ("fragment bomb (2^10 spreads)", document(FRAGMENT_BOMB), True),
    (f"aliases ({MAX_ALIASES + 1})", document(ALIASES), True),
    (f"depth (> {MAX_DEPTH})", document(DEEP), True),
    (f"tokens ({MAX_TOKENS + 1})", document(TOKENS), True),
    ("huge cursor (1 MB)", document(HUGE_CURSOR, {"c": "x" * 2**20}), True),
    ("variable of the wrong type", document(WRONG_TYPE, {"n": "ten"}), True),
    ("body: null", raw(b"null"), True),
    ('body: "x"', raw(b'"x"'), True),
    ("anonymous introspection (GET)", document(INTROSPECTION), ANONYMOUS_GET),
]


def answer(status: str, content: bytes) -> str:
    try:
        errors = json.loads(content).get("errors") or []
    except (ValueError, AttributeError):
        return status
    codes = sorted({(error.get("extensions") or {}).get("code", "?") for error in errors})
    return f"{status.split()[0]} {','.join(codes) or 'no error'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _, token = api_token_create(user=staff_user(username="benchmark"), name="benchmark")
        requester = Requester(token)
        print(f"database: {connection.vendor}; {args.repeat} requests per case, each a new document")
        print(f"{'case':44} {'answer':32} {'median ms':>9} {'max ms':>8} {'cpu ms':>7}")
        slowest = 0.0
        for name, body, how in CASES:
            timings, cpu = [], []
            result = ""
            for i in range(args.repeat + 2):
                payload = body(i)
                query_string = urlencode({"query": json.loads(payload)["query"]}) if how is ANONYMOUS_GET else ""
                started = time.perf_counter()
                status, content = requester.send(
                    payload, authenticated=how is not ANONYMOUS_GET, query_string=query_string
                )
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 2:  # the first two warm the connection and the imports
                    timings.append(elapsed)
                result = answer(status, content)
            median = statistics.median(timings)
            slowest = max(slowest, median)
            figures = f"{median:>9.1f} {max(timings):>8.1f} {statistics.median(cpu):>7.1f}"
            print(f"{name:44} {result:32} {figures}", flush=True)
        verdict = "met" if slowest < TARGET_MS else "NOT met"
        print(f"target: every median under {TARGET_MS:.0f} ms: {verdict} (slowest median {slowest:.1f} ms)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
