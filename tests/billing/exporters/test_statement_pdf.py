"""The PDF statement read back with pypdf: issuer, customer billed, number, labels, units, headers.

`render_statement_pngs` also renders pages to PNG with pdftoppm (poppler-utils), to look at:
    .venv/bin/pytest tests/billing/exporters/test_statement_pdf.py --statement-png /tmp/statement
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from pypdf import PdfReader
from reportlab import rl_config

from billing.exporters import pdf
from billing.exporters.pdf import LINE_HEADER, render_pdf
from billing.exporters.shapes import statement_number
from billing.models import ChargeType
from billing.services.reports import report_generate
from tests.factories import (
    JANUARY,
    CustomerFactory,
    CustomerServiceFactory,
    PriceTierFactory,
    ProductFactory,
    ServiceFactory,
    make_orders,
)

pytestmark = pytest.mark.django_db

ISSUER = {
    "BILLING_ISSUER_NAME": "Harbor 3PL Fulfilment Inc.",
    "BILLING_ISSUER_ADDRESS": "100 Dock Street; Springfield, IL 62701; USA",
    "BILLING_ISSUER_CONTACT": "billing@harbor3pl.example · +1 217 555 0100",
}


@pytest.fixture
def statement(settings):
    for name, value in ISSUER.items():
        setattr(settings, name, value)
    customer = CustomerFactory(
        company_name="Acme Outdoor",
        legal_business_name="Acme Outdoor Holdings LLC",
        billing_address="42 Summit Road\nBoulder, CO 80302\nUSA",
        email="ap@acme.example",
        phone="+1 303 555 0199",
    )
    ProductFactory(customer=customer, sku="SKU1", case_size=2)
    for name, charge_type, price in (
        ("Order fee", ChargeType.PER_ORDER, "1.5000"),
        ("Weight handling", ChargeType.PER_WEIGHT_LB, "0.2000"),
        ("Cubic storage", ChargeType.PER_VOLUME_CUFT, "0.5000"),
        ("Case picking", ChargeType.CASE_PICK, "0.7500"),
    ):
        CustomerServiceFactory(
            customer=customer, service=ServiceFactory(name=name, charge_type=charge_type), unit_price=Decimal(price)
        )
    tiered = CustomerServiceFactory(
        customer=customer,
        service=ServiceFactory(name="Volume pick", charge_type=ChargeType.TIERED),
        unit_price=Decimal("0"),
        tier_basis="",
    )
    PriceTierFactory(customer_service=tiered, up_to=Decimal("100"), unit_price=Decimal("0.3000"))
    PriceTierFactory(customer_service=tiered, up_to=None, unit_price=Decimal("0.2000"))
    make_orders(customer, 150)  # 150 orders x 5 lines: several pages
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])
    return report, PdfReader(io.BytesIO(render_pdf(report)))


def page_lines(page) -> list[str]:
    """The text rows of a page as laid out, cells separated by one space."""
    return [" ".join(line.split()) for line in page.extract_text(extraction_mode="layout").splitlines() if line.strip()]


def test_the_first_page_names_issuer_customer_and_statement(statement):
    report, reader = statement
    first = page_lines(reader.pages[0])
    number = statement_number(report)

    assert first[:5] == [
        "Harbor 3PL Fulfilment Inc. DRAFT statement",
        f"100 Dock Street Statement no. {number}",
        f"Springfield, IL 62701 Date {report.generated_at:%Y-%m-%d} (UTC)",
        "USA Period 2025-01-01 to 2025-01-31",
        "billing@harbor3pl.example · +1 217 555 0100 Currency USD",
    ]
    assert re.fullmatch(rf"ST-202501-{report.customer_id:04d}-[0-9A-F]{{8}}", number)
    bill_to = first.index("Bill to Acme Outdoor Holdings LLC")
    assert first[bill_to + 1 : bill_to + 6] == [
        "trading as Acme Outdoor",
        "42 Summit Road",
        "Boulder, CO 80302",
        "USA",
        "ap@acme.example · +1 303 555 0199",
    ]
    assert f"Total charges 150 {report.total_amount:,.2f} USD" in first


def test_charge_types_are_labels_and_quantities_carry_their_unit(statement):
    _, reader = statement
    first = page_lines(reader.pages[0])
    lines = [line for page in reader.pages for line in page_lines(page)]

    # the summary: service, charge type label, orders, quantity with its unit, amount
    assert "Order fee Per order 150 150 orders 225.00" in first
    assert "Weight handling Per lb 150 375 lb 75.00" in first  # 150 x 2.5 lb
    assert "Cubic storage Per cubic foot 150 120 cu ft 60.00" in first  # 150 x 0.8 cu ft
    assert any(re.fullmatch(r"Case picking Case pick \d+ [\d,]+ cases [\d.,]+", line) for line in first)
    assert any(re.fullmatch(r"Volume pick Tiered \(graduated\) 150 [\d,]+ units [\d.,]+", line) for line in first)
    # the lines
    order = f"{statement[0].customer_id}-TX00000"
    assert f"{order} 2025-01-15 Weight handling Per lb 2.5 lb 0.2000 0.50" in lines
    assert f"{order} 2025-01-15 Order fee Per order 1 order 1.5000 1.50" in lines
    assert f"{order} 2025-01-15 Cubic storage Per cubic foot 0.8 cu ft 0.5000 0.40" in lines
    assert any(re.fullmatch(r".* Case picking Case pick 1 case 0\.7500 0\.75", line) for line in lines)
    text = "\n".join(lines)
    assert "per_weight_lb" not in text and "case_pick" not in text and "per_order" not in text


def _tiered_with_bands(reader) -> list[tuple[str, list[str]]]:
    """Each 'Volume pick' line of the statement with the band rows printed under it."""
    found: list[tuple[str, list[str]]] = []
    for page in reader.pages:
        rows = page_lines(page)
        for index, row in enumerate(rows):
            if " Volume pick Tiered " in row:
                bands = []
                for below in rows[index + 1 :]:
                    if not below.startswith("tier "):
                        break
                    bands.append(below)
                found.append((row, bands))
    return found


def test_tiered_lines_list_their_bands_instead_of_a_blended_price(statement):
    _, reader = statement
    tiered = _tiered_with_bands(reader)

    assert len(tiered) == 150
    band = re.compile(r"tier ([\d,.]+) to ([\d,.]+) ([\d,]+) units? (0\.\d{4}) ([\d,.]+)")
    crossing = 0
    for line, bands in tiered:
        # no unit price on the line itself: quantity, then the amount
        match = re.fullmatch(r".* Tiered \(graduated\) ([\d,]+) units? ([\d,.]+\.\d\d)", line)
        assert match, line
        assert bands, line
        quantity, amount = int(match[1].replace(",", "")), Decimal(match[2].replace(",", ""))
        parsed = [band.fullmatch(row) for row in bands]
        assert all(parsed), bands
        assert sum(int(p[3].replace(",", "")) for p in parsed) == quantity
        exact = sum(Decimal(p[5].replace(",", "")) for p in parsed)
        assert exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") == amount
        crossing += len(bands) > 1
    assert crossing == 1  # the order whose units cross the bound of 100 touches both bands
    for page in reader.pages:
        assert any(
            row.startswith("Tiered lines: the tier bands a line touched are listed under it")
            for row in page_lines(page)
        )
        assert not any(re.search(r"0\.\d{4}\*", row) for row in page_lines(page))


def test_column_headers_only_at_the_top_of_each_page(statement):
    _, reader = statement
    header = " ".join(LINE_HEADER)
    pages = [page_lines(page) for page in reader.pages]

    assert len(pages) >= 3
    assert pages[0].count(header) == 1  # under the summary on page 1
    for lines in pages[1:]:
        assert lines[0] == header, lines[:2]
        assert lines.count(header) == 1
    assert f"Total charges {statement[0].total_amount:,.2f} USD" in pages[-1]
    assert pages[-1][-1].endswith(f"Page {len(pages)} of {len(pages)}")


def test_a_customer_without_legal_name_or_address_is_billed_by_its_company_name(settings):
    customer = CustomerFactory(company_name="Solo Shop", legal_business_name="", billing_address="", phone="", email="")
    CustomerServiceFactory(
        customer=customer, service=ServiceFactory(name="Order fee", charge_type=ChargeType.PER_ORDER)
    )
    make_orders(customer, 2)
    report = report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])

    pages = PdfReader(io.BytesIO(render_pdf(report))).pages
    first = page_lines(pages[0])

    assert len(pages) == 1 and first[0] == "LedgerLink Billing DRAFT statement"  # the default issuer name
    bill_to = first.index("Bill to Solo Shop")
    assert first[bill_to + 1] == "Service Charge type Orders Quantity Amount"  # no address, no contact
    assert not any("trading as" in line or "blended" in line for line in first)  # no tiered line, no note


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm (poppler-utils)")
def test_pages_render_to_png(statement, tmp_path):
    report, _ = statement
    path = tmp_path / "statement.pdf"
    path.write_bytes(render_pdf(report))

    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", path, tmp_path / "page"], check=True)

    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 2 and all(png.read_bytes().startswith(b"\x89PNG") for png in pngs)


def test_pages_compressed_as_they_end_are_the_bytes_reportlab_writes(statement, monkeypatch):
    report, _ = statement
    monkeypatch.setattr(rl_config, "invariant", 1)  # no time stamp or random file id
    early = render_pdf(report)
    monkeypatch.setattr(pdf, "_compress_now", lambda page: None)  # reportlab compresses at the end
    assert early == render_pdf(report)
    assert len(PdfReader(io.BytesIO(early)).pages) > 1
