"""Command output on a real pseudo-terminal: colours, bars and log lines as a person sees them.

The commands run in-process with stdout and stderr on the slave side of a pty (so Django styles
and the progress bars behave as on a terminal: sys.stdout and sys.stderr are the tty while the
command is built and run, as under manage.py) and the console log handler writing there too;
what arrives on the master side is replayed by a tiny terminal (\\r returns to the start of the
line, \\n starts a new one) to get the screen a person would read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pty
import sys
import threading
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.management import call_command

from backend.request_logging import ConsoleHandler, JsonFormatter, RequestIdFilter
from billing.management import progress
from billing.models import ChargeType
from tests.factories import CustomerFactory, CustomerServiceFactory, ServiceFactory, order_with_lines

pytestmark = pytest.mark.django_db

RED = ("\x1b[31", "\x1b[1;31", "\x1b[91")


@contextmanager
def pseudo_terminal(monkeypatch):
    """The bytes a command writes while sys.stdout, sys.stderr and the log stream are one pty."""
    master, slave = pty.openpty()
    tty = os.fdopen(slave, "w", buffering=1, encoding="utf-8")
    captured = bytearray()

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the slave side was closed
                return
            if not data:
                return
            captured.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    handler = ConsoleHandler(tty)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the noisiest setting: every INFO record of the command shows
    try:
        yield captured
    finally:
        monkeypatch.undo()
        root.removeHandler(handler)
        root.setLevel(old_level)
        tty.flush()
        tty.close()
        reader.join(timeout=5)
        os.close(master)


def screen(raw: bytes) -> list[str]:
    """The lines a terminal shows for `raw` (carriage returns overwrite, newlines end lines)."""
    lines: list[str] = []
    line: list[str] = []
    cursor = 0
    for char in raw.decode("utf-8").replace("\r\n", "\n"):
        if char == "\n":
            lines.append("".join(line).rstrip())
            line, cursor = [], 0
        elif char == "\r":
            cursor = 0
        else:
            if cursor < len(line):
                line[cursor] = char
            else:
                line.append(char)
            cursor += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


@pytest.fixture
def customers():
    result = []
    for index in range(3):
        customer = CustomerFactory(company_name=f"Shop {index}")
        CustomerServiceFactory(
            customer=customer,
            service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER),
            unit_price=Decimal("2.0000"),
        )
        order_with_lines(
            customer=customer,
            transaction_id=f"TTY-{index}",
            close_date=dt.datetime(2025, 1, 5, 9, 0, tzinfo=dt.UTC),
            lines={"A": 1},
        )
        result.append(customer)
    return result


@pytest.mark.django_db(transaction=True, databases="__all__")  # the jobs are dispatched when the run commits
def test_billing_run_bar_and_the_log_lines_of_its_jobs_do_not_mix(customers, monkeypatch):
    """Celery writes a long INFO record per job (its trace line) while the bar is drawn."""
    monkeypatch.setattr(progress, "REDRAW_INTERVAL", 0)  # draw on every update
    with pseudo_terminal(monkeypatch) as captured:
        call_command("billing_run", "--start", "2025-01-01", "--end", "2025-01-31")

    raw = bytes(captured)
    assert not any(code.encode() in raw for code in RED)
    lines = screen(raw)
    logs = [line for line in lines if line.startswith('{"time"')]
    bars = [line for line in lines if "Billing run  [" in line]
    assert [json.loads(line)["logger"] for line in logs] == ["celery.app.trace"] * 3, lines  # whole, on their own lines
    assert all(len(line) > 300 for line in logs)
    assert len(bars) == 1 and "3/3 reports" in bars[0]  # the bar is redrawn below the logs, one final line
    assert not any("Billing run  [" in line for line in logs)
    assert "Billing run " in lines[-3] and "3 customers" in lines[-3]
    assert lines[-2:] == ["Jobs: 3 (queued: 0, running: 0, succeeded: 3, failed: 0)", "Total billed: 6.00 USD"]


def test_generate_report_summary_and_bar_are_not_styled_as_errors(customers, tmp_path, monkeypatch):
    target = tmp_path / "jan.csv"
    with pseudo_terminal(monkeypatch) as captured:
        args = ["--customer", str(customers[0].pk), "--start", "2025-01-01", "--end", "2025-01-31"]
        call_command("generate_report", *args, "--output", str(target))

    raw = bytes(captured)
    assert b"\x1b[" not in raw  # neither the bar nor the summary is styled
    lines = screen(raw)
    assert lines[-1].startswith("Report ") and lines[-1].endswith(
        f"1 order, 1 line, total 2.00 USD, written to {target}"
    )
    assert not any(line.startswith("Pricing") and "/s" in line for line in lines)  # no rate after a blink


def test_an_empty_period_is_a_visible_warning(customers, tmp_path, monkeypatch):
    with pseudo_terminal(monkeypatch) as captured:
        args = ["--customer", str(customers[0].pk), "--start", "2024-01-01", "--end", "2024-01-31"]
        call_command("generate_report", *args, "--output", str(tmp_path / "empty.csv"))

    raw = bytes(captured).decode()
    assert not any(code in raw for code in RED)
    lines = screen(bytes(captured))
    customer = customers[0].pk
    warning = f"Warning: customer {customer} has no billable orders from 2024-01-01 to 2024-01-31; the report is empty."
    assert any(warning in line for line in lines)
    assert "\x1b[33" in raw or "\x1b[1;33" in raw  # styled as a warning (yellow), not as an error
