import io
import json

import pytest
from django.core.management import call_command

from billing.management.progress import ProgressBar
from tests.factories import CustomerFactory


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_draws_only_on_a_terminal():
    pipe = io.StringIO()
    with ProgressBar(pipe, total=10) as bar:
        bar.update(10)
    assert pipe.getvalue() == ""

    screen = Terminal()
    with ProgressBar(screen, total=10, label="Work") as bar:
        bar.update(5)
        bar.update(10)
    text = screen.getvalue()
    assert text.startswith("\rWork  [")
    assert "100%" in text and "10/10 rows" in text
    assert text.endswith("\n")


def test_render_without_total_shows_count():
    bar = ProgressBar(io.StringIO(), label="Orders", enabled=False)
    bar.update(1234)
    assert bar.render().startswith("Orders  1,234 rows")


@pytest.mark.django_db
def test_import_orders_shows_progress_on_a_terminal(tmp_path):
    customer = CustomerFactory()
    path = tmp_path / "orders.jsonl"
    path.write_text(
        "".join(
            json.dumps({"transaction_id": f"T{i}", "customer_id": customer.pk, "close_date": "2026-08-01T00:00:00Z"})
            + "\n"
            for i in range(5)
        )
    )
    screen = Terminal()

    call_command("import_orders", str(path), "--batch-size", "2", stdout=screen, stderr=io.StringIO())

    text = screen.getvalue()
    assert "Importing orders" in text and "5/5 rows" in text
    assert text.rstrip().endswith("created 5, updated 0, unchanged 0, rejected 0")

    plain = io.StringIO()
    call_command("import_orders", str(path), stdout=plain, stderr=io.StringIO())
    assert plain.getvalue() == "created 0, updated 0, unchanged 5, rejected 0\n"


def test_closing_twice_ends_the_line_once():
    screen = Terminal()
    bar = ProgressBar(screen, total=2)
    bar.update(2)
    bar.close()
    bar.close()
    bar.update(3)
    assert screen.getvalue().count("\n") == 1
