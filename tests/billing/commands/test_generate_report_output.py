"""generate_report --output: checked before any work, replaced only by a complete file."""

from __future__ import annotations

import io
import os

import pytest
from django.core.management import CommandError, call_command

from billing import exporters
from billing.exporters.csv import UTF8_BOM
from billing.models import AuditEvent, BillingReport

pytestmark = pytest.mark.django_db


def generate(customer, *args: str) -> str:
    err = io.StringIO()
    call_command(
        "generate_report",
        "--customer",
        str(customer.pk),
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-31",
        *args,
        stdout=io.StringIO(),
        stderr=err,
    )
    return err.getvalue()


@pytest.mark.parametrize("where", ["missing-dir/jan.csv", "a-directory"])
def test_an_unwritable_output_fails_before_anything_is_generated(customer, tmp_path, where):
    (tmp_path / "a-directory").mkdir()

    with pytest.raises(CommandError, match=r"^Cannot write "):
        generate(customer, "--output", str(tmp_path / where))

    assert not BillingReport.objects.exists() and not AuditEvent.objects.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-directory"]


def test_an_output_that_is_not_a_regular_file_is_refused_and_left_alone(customer, tmp_path):
    """A pipe (or a device such as /dev/null) would be replaced by the finished file."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    with pytest.raises(CommandError, match=r"^Cannot write .*: it is not a regular file"):
        generate(customer, "--output", str(pipe))
    assert pipe.is_fifo()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]
    assert not BillingReport.objects.exists()


def test_an_interrupted_write_leaves_the_previous_file_and_no_partial_one(customer, tmp_path, monkeypatch):
    target = tmp_path / "jan.csv"
    target.write_text("the previous, complete export\n")
    content_type, writer = exporters.EXPORT_FORMATS["csv"]

    def interrupted(report):
        chunks = writer(report)
        yield next(chunks)
        raise KeyboardInterrupt  # Ctrl-C (or a crash) halfway through the file

    monkeypatch.setitem(exporters.EXPORT_FORMATS, "csv", (content_type, interrupted))

    with pytest.raises(KeyboardInterrupt):
        generate(customer, "--output", str(target))

    assert target.read_text() == "the previous, complete export\n"
    assert [path.name for path in tmp_path.iterdir()] == ["jan.csv"]  # the temporary file is gone too


def test_a_complete_file_replaces_the_previous_one_with_ordinary_permissions(customer, tmp_path):
    target = tmp_path / "jan.csv"
    target.write_text("old\n")

    summary = generate(customer, "--output", str(target), "--bom")

    data = target.read_bytes()
    # the last row: the total, then an empty explanation
    assert data.startswith(UTF8_BOM + b"row_type,") and data.rstrip().endswith(b",6.00,")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [path.name for path in tmp_path.iterdir()] == ["jan.csv"]
    assert summary.endswith(f"3 orders, 3 lines, total 6.00 USD, written to {target}\n")


def test_bom_is_only_for_csv(customer, tmp_path):
    with pytest.raises(CommandError, match="--bom is only for CSV"):
        generate(customer, "--format", "json", "--bom")
    assert not BillingReport.objects.exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_invalid_input_leaves_no_temporary_file(customer, tmp_path):
    with pytest.raises(CommandError, match="end_date: End date must be on or after the start date"):
        call_command(
            "generate_report",
            *("--customer", str(customer.pk), "--start", "2025-02-01", "--end", "2025-01-31"),
            *("--output", str(tmp_path / "jan.csv")),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert list(tmp_path.iterdir()) == []
