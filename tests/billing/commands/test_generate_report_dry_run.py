"""manage.py generate_report --dry-run: the preview as JSON, nothing saved."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import AuditEvent, BillingReport, ReportLine
from billing.services.rate_cards import rate_card_export

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_report", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def period(customer) -> list[str]:
    return ["--customer", str(customer.pk), "--start", "2025-01-01", "--end", "2025-01-31"]


def test_a_dry_run_writes_the_preview_and_saves_nothing(customer, tmp_path):
    out, err = run(*period(customer), "--dry-run")

    data = json.loads(out, parse_float=Decimal)
    assert not BillingReport.objects.exists() and not AuditEvent.objects.exists()
    assert data["total_amount"] == Decimal("6.00") and len(data["orders"]) == 3
    assert data["live_report"] is None and data["diff"] is None
    assert "nothing saved" in err and "3 orders" in err

    run(*period(customer), "--format", "json", "--output", str(tmp_path / "report.json"))
    generated = BillingReport.objects.get()
    assert generated.total_amount == data["total_amount"]


def test_a_dry_run_under_a_draft_rate_card_diffs_against_the_live_report(customer, tmp_path):
    run(*period(customer), "--output", str(tmp_path / "live.csv"))
    live = BillingReport.objects.get()
    document = rate_card_export(customer_ids=[customer.pk])
    document["customers"][0]["rate_card"][0]["unit_price"] = "2.5000"
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(document))

    out, err = run(*period(customer), "--dry-run", "--rate-card", str(draft))

    data = json.loads(out, parse_float=Decimal)
    assert data["total_amount"] == Decimal("7.50")
    assert data["live_report"]["id"] == str(live.id)
    assert data["diff"]["counts"]["by_cause"]["price_changed"] == 3
    assert data["diff"]["total_amount"]["change"] == Decimal("1.50")
    assert f"against live report {live.id}" in err and "+1.50" in err
    assert BillingReport.objects.get().pk == live.pk and ReportLine.objects.count() == 3


def test_a_bad_draft_rate_card_names_its_errors(customer, tmp_path):
    document = rate_card_export(customer_ids=[customer.pk])
    document["customers"][0]["rate_card"][0]["unit_price"] = "free"
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(document))

    with pytest.raises(CommandError, match=r"rate_card_document\.customers\[0\]\.rate_card\[0\]\.unit_price"):
        run(*period(customer), "--dry-run", "--rate-card", str(draft))
    with pytest.raises(CommandError, match="only for --dry-run"):
        run(*period(customer), "--rate-card", str(draft))
    with pytest.raises(CommandError, match="--dry-run writes JSON"):
        run(*period(customer), "--dry-run", "--format", "pdf")
    assert not BillingReport.objects.exists()
