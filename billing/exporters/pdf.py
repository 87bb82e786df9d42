"""PDF statement of a report, made with reportlab (layout in docs/exports.md).

Page 1: the issuer (settings.BILLING_ISSUER_*), the statement number, date, period and
currency, the customer billed (legal name, address, contact), the per-service summary with
charge-type labels and quantities in their unit, and the total. Then every report line, in
report order: each page of lines is one table whose header row is the first row of the page,
so column headers never appear mid-page. Under a tiered line, one row per tier band the line
touched (from, to, quantity, unit price, exact amount), so the bands add up to the line; a
report generated before the bands were recorded shows a blended unit price (amount over
quantity) marked with an asterisk instead. The footer explains either. Every page carries the
statement number and "Page N of M".

Speed: one table holding every line is quadratic in reportlab, so the lines are
cut into page-sized tables (fixed row height and column widths, plain string cells, never
split), and the numbering canvas keeps each page's drawing operations until the total is known.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.exporters import other_charges
from billing.exporters.shapes import (
    charge_label,
    charge_unit,
    iso_date,
    local_date,
    money,
    quantity_with_unit,
    statement_number,
)
from billing.models import BillingReport, ChargeType, ReportStatus
from billing.selectors.reports import iter_report_values, report_service_totals, report_tier_bases

# Orders (with their lines) read from the database per query.
ORDERS_PER_QUERY = 5000
CHUNK_BYTES = 64 * 1024

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
FONT_SIZE = 7.5
PAGE_SIZE = A4
MARGIN = 12 * mm
FOOTER_SPACE = 5 * mm  # below the frame, for the footer lines
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN
FRAME_PADDING = 6.0  # SimpleDocTemplate's frame padding, on each side
FRAME_HEIGHT = PAGE_SIZE[1] - 2 * MARGIN - FOOTER_SPACE - 2 * FRAME_PADDING
ROW_HEIGHT = 11.0
# Rows of lines under the header row on a page of lines; one row of height is kept free so that
# rounding can never push a table onto two pages.
ROWS_PER_PAGE = int(FRAME_HEIGHT // ROW_HEIGHT) - 2
BLENDED_MARK = "*"
BLENDED_NOTE = "* Tiered lines: blended price, the line's amount over its quantity across the tier bands."
BANDS_NOTE = "Tiered lines: the tier bands a line touched are listed under it; its amount is their sum, rounded."
BAND_INDENT = "   "

LINE_HEADER = ("Order", "Date", "Service", "Charge type", "Quantity", "Unit price", "Amount")
LINE_WIDTHS = (92.0, 48.0, 124.0, 70.0, 62.0, 56.0, CONTENT_WIDTH - 452.0)
TOTALS_HEADER = ("Service", "Charge type", "Orders", "Quantity", "Amount")
TOTALS_WIDTHS = (180.0, 90.0, 50.0, 100.0, CONTENT_WIDTH - 420.0)
CELL_PADDING = 3.0
RULE_COLOR = colors.HexColor("#666666")
HEADER_FILL = colors.HexColor("#E8EAF0")

_LINES_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, RULE_COLOR),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
)
_TOTALS_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, RULE_COLOR),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, RULE_COLOR),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
    ]
)
_BLOCK_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
    ]
)


class _PageTable(Table):
    """A table sized to fit one page: never split, so its header row stays at the top of a page."""

    def split(self, availWidth: float, availHeight: float) -> list:
        return []


def _fit(text: str, width: float, size: float = FONT_SIZE, font: str = FONT) -> str:
    """`text` cut with an ellipsis so that it fits a cell of `width` points."""
    room = width - 2 * CELL_PADDING
    if stringWidth(text, font, size) <= room:
        return text
    while text and stringWidth(text + "…", font, size) > room:
        text = text[:-1]
    return text + "…"


@lru_cache(maxsize=4096)
def _fit_cached(text: str, width: float) -> str:
    return _fit(text, width)


def _amount(value: Decimal) -> str:
    return f"{money(value):,.2f}"


def _lines(text: str) -> list[str]:
    """The non-empty lines of a multi-line setting or field (';' also separates lines)."""
    return [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]


def _block(rows: list[tuple[str, str]], widths: tuple[float, float], bold: tuple[int, ...] = ()) -> Table:
    table = Table(rows, colWidths=widths, style=_BLOCK_STYLE, hAlign="LEFT")
    for row in bold:
        table.setStyle(TableStyle([("FONT", (0, row), (-1, row), FONT_BOLD, 9)]))
    return table


def _heading(report: BillingReport, number: str) -> list:
    """Issuer (left) and statement facts (right), then the customer billed."""
    half = CONTENT_WIDTH / 2
    issuer_rows = [(_fit(settings.BILLING_ISSUER_NAME, half, 12, FONT_BOLD),)]
    issuer_rows += [(_fit(line, half, 9),) for line in _lines(settings.BILLING_ISSUER_ADDRESS)]
    issuer_rows += [(_fit(line, half, 9),) for line in _lines(settings.BILLING_ISSUER_CONTACT)]
    issuer = Table(issuer_rows, colWidths=(half,), style=_BLOCK_STYLE, hAlign="LEFT")
    issuer.setStyle(TableStyle([("FONT", (0, 0), (0, 0), FONT_BOLD, 12), ("BOTTOMPADDING", (0, 0), (0, 0), 3)]))

    zone = report.billing_time_zone or "UTC"
    generated = local_date(report.generated_at, report.billing_time_zone)
    facts = _block(
        [
            *_document_facts(report, number),
            ("Date", f"{generated} ({zone})"),
            ("Period", f"{iso_date(report.start_date)} to {iso_date(report.end_date)}"),
            ("Currency", report.currency),
            ("Report ID", str(report.id)),
        ],
        (62, half - 62),
    )
    facts.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (0, 0), FONT_BOLD, 14),
                ("FONT", (0, 1), (0, -1), FONT_BOLD, 9),
                ("FONT", (1, -1), (1, -1), FONT, 7),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 6),
            ]
        )
    )
    top = Table([(issuer, facts)], colWidths=(half, half), style=_BLOCK_STYLE)

    customer = report.customer
    legal = customer.legal_business_name or customer.company_name
    billed = [("Bill to", _fit(legal, CONTENT_WIDTH - 62, 9, FONT_BOLD))]
    if customer.legal_business_name and customer.company_name != customer.legal_business_name:
        billed.append(("", _fit(f"trading as {customer.company_name}", CONTENT_WIDTH - 62, 9)))
    billed += [("", _fit(line, CONTENT_WIDTH - 62, 9)) for line in _lines(customer.billing_address)]
    contact = " · ".join(value for value in (customer.email, customer.phone) if value)
    if contact:
        billed.append(("", _fit(contact, CONTENT_WIDTH - 62, 9)))
    bill_to = _block(billed, (62, CONTENT_WIDTH - 62), bold=(0,))
    return [top, Spacer(1, 6 * mm), bill_to, Spacer(1, 6 * mm)]


def document_title(report: BillingReport) -> str:
    """What the document is: a DRAFT statement, an invoice, or a voided or superseded one."""
    titles: dict[str, str] = {
        ReportStatus.DRAFT: "DRAFT statement",
        ReportStatus.FINALIZED: "Invoice",
        ReportStatus.VOIDED: "Invoice (VOID)",
        ReportStatus.SUPERSEDED: "SUPERSEDED draft",
    }
    return titles.get(report.status, "Statement")


def _document_facts(report: BillingReport, number: str) -> list[tuple[str, str]]:
    rows = [(document_title(report), "")]
    if report.invoice_number:
        issued = local_date(report.finalized_at, report.billing_time_zone) or ""
        rows += [("Invoice no.", number), ("Issue date", issued)]
    else:
        rows += [("Statement no.", number)]
    if report.status == ReportStatus.VOIDED:
        rows.append(("Voided", local_date(report.voided_at, report.billing_time_zone) or ""))
    if report.is_partial:
        rows.append(("Partial", "rate-card lines " + ", ".join(str(i) for i in report.scope_line_ids)))
    return rows


def _totals_block(report: BillingReport, bases: dict[int, str]) -> list:
    rows: list[tuple[str, ...]] = [TOTALS_HEADER]
    for total in report_service_totals(report=report):
        rows.append(
            (
                _fit(total.service_name, TOTALS_WIDTHS[0], 9),
                _fit(charge_label(total.charge_type), TOTALS_WIDTHS[1], 9),
                f"{total.order_count:,}",
                quantity_with_unit(total.quantity, charge_unit(total.charge_type, bases.get(total.service_id, ""))),
                _amount(total.amount),
            )
        )
    rows.append(
        ("Total charges", "", f"{report.order_count:,}", "", f"{_amount(report.total_amount)} {report.currency}")
    )
    table = Table(rows, colWidths=TOTALS_WIDTHS, style=_TOTALS_STYLE, repeatRows=1, hAlign="LEFT")
    return [table, Spacer(1, 6 * mm)]


def _line_tables(report: BillingReport, bases: dict[int, str], first_page_rows: int) -> tuple[list, str]:
    """The lines as page tables: `first_page_rows` rows under the summary (0: start on page 2),
    and the footer note they need (BANDS_NOTE, BLENDED_NOTE or none)."""
    flowables: list = [] if first_page_rows else [PageBreak()]
    capacity = first_page_rows or ROWS_PER_PAGE
    rows: list[tuple[str, ...]] = [LINE_HEADER]
    quantities: dict[tuple[Decimal, str, int], str] = {}
    amounts: dict[Decimal, str] = {}
    prices: dict[tuple[Decimal, bool], str] = {}
    labels: dict[str, str] = {}
    note = ""
    for order, lines in iter_report_values(report=report, chunk_size=ORDERS_PER_QUERY):
        order_text = _fit(order[1], LINE_WIDTHS[0])
        date_text = iso_date(order[2]) or ""
        for _, service_id, service_name, charge_type, quantity, unit_price, amount, _, detail in lines:
            key = (quantity, charge_type, service_id)
            quantity_text = quantities.get(key)
            unit = charge_unit(charge_type, bases.get(service_id, ""))
            if quantity_text is None:
                quantity_text = quantities[key] = quantity_with_unit(quantity, unit)
            amount_text = amounts.get(amount)
            if amount_text is None:
                amount_text = amounts[amount] = _amount(amount)
            bands = _band_rows(detail, unit) if charge_type == ChargeType.TIERED else []
            blended = charge_type == ChargeType.TIERED and not bands
            price_text = ""
            if bands:
                note = note or BANDS_NOTE
            else:
                known = prices.get((unit_price, blended))
                if known is None:
                    known = prices[(unit_price, blended)] = format(unit_price, "f") + (BLENDED_MARK if blended else "")
                price_text = known
                if blended:
                    note = BLENDED_NOTE
            label = labels.get(charge_type)
            if label is None:
                label = labels[charge_type] = _fit(charge_label(charge_type), LINE_WIDTHS[3])
            if bands and len(rows) + len(bands) > capacity:  # a line and its bands on one page
                flowables.append(_lines_table(rows))
                rows, capacity = [LINE_HEADER], ROWS_PER_PAGE
            rows.append(
                (
                    order_text,
                    date_text,
                    _fit_cached(service_name, LINE_WIDTHS[2]),
                    label,
                    quantity_text,
                    price_text,
                    amount_text,
                )
            )
            rows += bands
            if len(rows) > capacity:
                flowables.append(_lines_table(rows))
                rows, capacity = [LINE_HEADER], ROWS_PER_PAGE
    if len(rows) > 1:
        flowables.append(_lines_table(rows))
    return flowables, note


def _band_rows(detail: str | None, unit: str) -> list[tuple[str, ...]]:
    """One row per tier band a tiered line touched: 'tier 500 to 623', its quantity, price, exact amount."""
    bands = json.loads(detail).get("bands") if detail else None
    if not bands:
        return []
    rows: list[tuple[str, ...]] = []
    for low, high, quantity, price, cost in bands:
        band = f"{BAND_INDENT}tier {_plain_number(low)} to {_plain_number(high)}"
        rows.append(
            (
                "",
                "",
                _fit_cached(band, LINE_WIDTHS[2]),
                "",
                quantity_with_unit(Decimal(quantity), unit),
                format(Decimal(price), "f"),
                _exact_amount(Decimal(cost)),
            )
        )
    return rows


def _plain_number(text: str) -> str:
    value = Decimal(text)
    return f"{value.normalize():,f}" if value != value.to_integral_value() else f"{int(value):,}"


def _exact_amount(value: Decimal) -> str:
    """A band's exact amount: two decimals when that is exact, else every decimal it has."""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return f"{value:,.2f}"
    return f"{value.normalize():,f}"


def _lines_table(rows: list[tuple[str, ...]]) -> Table:
    return _PageTable(rows, colWidths=LINE_WIDTHS, rowHeights=ROW_HEIGHT, style=_LINES_STYLE, hAlign="LEFT")


OTHER_HEADER = ("Date", "Charge", "Reference", "Service", "Quantity", "Unit price", "Amount")
OTHER_WIDTHS = (20 * mm, 28 * mm, 30 * mm, 38 * mm, 30 * mm, 18 * mm, 20 * mm)


def _other_charges_block(report: BillingReport) -> list:
    """The "Other charges" section: storage, receiving, returns, extra work and adjustments."""
    rows = other_charges.pdf_rows(report)
    if not rows:
        return []
    fitted = [tuple(_fit(text, width - 2) for text, width in zip(row, OTHER_WIDTHS, strict=True)) for row in rows]
    table = Table([OTHER_HEADER, *fitted], colWidths=OTHER_WIDTHS, style=_LINES_STYLE, repeatRows=1, hAlign="LEFT")
    heading = Table([("Other charges",)], style=TableStyle([("FONT", (0, 0), (-1, -1), FONT_BOLD, 11)]))
    return [Spacer(1, 4 * mm), heading, table]


def _grand_total_block(report: BillingReport) -> list:
    rows = [("Total charges", f"{_amount(report.total_amount)} {report.currency}")]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT_BOLD, 11),
            ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ("LINEABOVE", (0, 0), (-1, 0), 1, colors.black),
        ]
    )
    return [Spacer(1, 4 * mm), Table(rows, colWidths=(CONTENT_WIDTH / 2, CONTENT_WIDTH / 2), style=style)]


def _height(flowables: list) -> float:
    return sum(flowable.wrap(CONTENT_WIDTH, FRAME_HEIGHT)[1] for flowable in flowables)


class _NumberedCanvas(canvas.Canvas):
    """Keeps each finished page until save(), then stamps the footer and "Page N of M" on all of them."""

    footer_text = ""
    note_text = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(colors.HexColor("#444444"))
            if self.note_text:
                self.drawString(MARGIN, MARGIN / 2 + 9, self.note_text)
            self.drawString(MARGIN, MARGIN / 2, self.footer_text)
            self.drawRightString(PAGE_SIZE[0] - MARGIN, MARGIN / 2, f"Page {number} of {total}")
            super().showPage()
        super().save()


def render_pdf(report: BillingReport) -> bytes:
    """The whole PDF document of `report`."""
    output = io.BytesIO()
    period = f"{iso_date(report.start_date)} to {iso_date(report.end_date)}"
    number = statement_number(report)
    document = SimpleDocTemplate(
        output,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_SPACE,
        title=f"{document_title(report)} {number}",
        author=settings.BILLING_ISSUER_NAME,
        subject=f"{report.customer.company_name} {period}",
    )
    bases = report_tier_bases(report=report)
    summary = [*_heading(report, number), *_totals_block(report, bases)]
    room = FRAME_HEIGHT - _height(summary)
    first_page_rows = int(room // ROW_HEIGHT) - 2
    lines, note = _line_tables(report, bases, first_page_rows if first_page_rows >= 5 else 0)
    title = f"{document_title(report)} {number}"
    footer = f"{title} · {settings.BILLING_ISSUER_NAME} · {report.customer.company_name} · {period}"
    numbered = type(
        "NumberedCanvas",
        (_NumberedCanvas,),
        {"footer_text": _fit(footer, CONTENT_WIDTH - 80), "note_text": note},
    )
    extra = _other_charges_block(report)
    document.build([*summary, *lines, *extra, *_grand_total_block(report)], canvasmaker=numbered)
    return output.getvalue()


def export_pdf(report: BillingReport) -> Iterator[bytes]:
    """The PDF, rendered completely first (a PDF needs its cross-reference table), then chunked."""
    data = render_pdf(report)
    return (data[start : start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES))
