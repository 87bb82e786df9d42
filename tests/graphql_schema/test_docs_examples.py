"""The example queries of docs/graphql.md run against demo data, so they never go stale; the
first one is exactly the document the dashboard page sends."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import pytest

from tests.dashboard.conftest import demo_billing
from tests.graphql_schema.helpers import data_of, gql

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "graphql.md"
DASHBOARD_JS = ROOT / "dashboard" / "static" / "dashboard" / "dashboard.js"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")  # the demo's job has its own connection


def examples() -> list[tuple[str, dict]]:
    """(document, variables) for each ```graphql block and the ```json block after it."""
    blocks = re.findall(r"```(graphql|json)\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    pairs = []
    for (kind, text), (next_kind, variables) in pairwise(blocks):
        if kind == "graphql":
            assert next_kind == "json", "every example query is followed by its variables"
            pairs.append((text, json.loads(variables)))
    return pairs


def dashboard_document() -> str:
    script = DASHBOARD_JS.read_text(encoding="utf-8")
    array = re.search(r"var DOCUMENT = \[\n(.*?)\n\s*\]\.join", script, flags=re.S)
    assert array is not None
    return "\n".join(json.loads(line.strip().rstrip(",")) for line in array.group(1).splitlines())


def with_customer(variables, customer_id: int):
    """Point every customerId of the example at a demo customer (ids differ between runs)."""
    if isinstance(variables, dict):
        return {
            key: customer_id if key == "customerId" and value is not None else with_customer(value, customer_id)
            for key, value in variables.items()
        }
    return variables


def test_the_docs_have_examples_and_the_first_is_the_dashboards_query():
    found = examples()
    assert len(found) >= 4
    assert found[0][0].strip() == dashboard_document().strip()


@pytest.mark.parametrize("index", range(len(examples())))
def test_each_example_runs_and_returns_figures(client, staff, index):
    data = demo_billing()
    client.force_login(staff)
    document, variables = examples()[index]

    result = data_of(gql(client, document, with_customer(variables, data["customers"]["acme"].pk)))

    text = json.dumps(result)
    assert '"billedAmount": "' in text
    assert re.search(r'"billedAmount": "[1-9]', text), "the example returns non-zero figures on demo data"
