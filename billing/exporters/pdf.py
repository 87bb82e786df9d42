"""PDF export of a report, made with reportlab (layout in docs/exports.md).

Page 1 starts with a header (customer, period, generated date, report id) and the per-service
totals; then every report line, in report order, in tables of ROWS_PER_TABLE rows, each with
its own header row; then the grand total. Every page carries "Page N of M".

Speed: one table holding every line is quadratic in reportlab (DESIGN §8), so the lines are
cut into page-sized tables with fixed column widths and plain string cells (no Paragraph);
the numbering canvas keeps each page's drawing operations until the total is known.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from billing.exporters.shapes import iso_date, local_date, money, quantity_number
from billing.models import BillingReport
from billing.selectors.reports import iter_report_values, report_service_totals

ROWS_PER_TABLE = 60
# Orders (with their lines) read from the database per query.
ORDERS_PER_QUERY = 5000
CHUNK_BYTES = 64 * 1024

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
FONT_SIZE = 7.5
PAGE_SIZE = A4
MARGIN = 12 * mm
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN

LINE_HEADER = ("Order", "Date", "Service", "Charge type", "Qty", "Unit price", "Amount")
LINE_WIDTHS = (100.0, 52.0, 150.0, 70.0, 48.0, 56.0, CONTENT_WIDTH - 476.0)
TOTALS_HEADER = ("Service", "Charge type", "Orders", "Quantity", "Amount")
TOTALS_WIDTHS = (200.0, 90.0, 60.0, 80.0, CONTENT_WIDTH - 430.0)
CELL_PADDING = 3.0

_LINES_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#666666")),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
)
_TOTALS_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#666666")),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.HexColor("#666666")),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
    ]
)
_HEADER_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 10),
        ("FONT", (0, 0), (0, -1), FONT_BOLD, 10),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
)


def _fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """`text` cut with an ellipsis so that it fits a cell of `width` points."""
    room = width - 2 * CELL_PADDING
    if stringWidth(text, FONT, size) <= room:
        return text
    while text and stringWidth(text + "…", FONT, size) > room:
        text = text[:-1]
    return text + "…"


@lru_cache(maxsize=4096)
def _fit_cached(text: str, width: float) -> str:
    return _fit(text, width)


def _amount(value: Decimal) -> str:
    return f"{money(value):,.2f}"


def _title_block(report: BillingReport) -> list:
    generated = local_date(report.generated_at, report.billing_time_zone)
    rows = [
        ("Billing report", ""),
        ("Customer", _fit(report.customer.company_name, CONTENT_WIDTH - 90, 10)),
        ("Period", f"{iso_date(report.start_date)} to {iso_date(report.end_date)}"),
        ("Generated", f"{generated} ({report.billing_time_zone or 'UTC'})"),
        ("Report ID", str(report.id)),
        ("Currency", report.currency),
    ]
    title = Table(rows, colWidths=(90, CONTENT_WIDTH - 90), style=_HEADER_STYLE, hAlign="LEFT")
    title.setStyle(TableStyle([("FONT", (0, 0), (0, 0), FONT_BOLD, 14), ("BOTTOMPADDING", (0, 0), (-1, 0), 8)]))
    return [title, Spacer(1, 6 * mm)]


def _totals_block(report: BillingReport) -> list:
    rows: list[tuple[str, ...]] = [TOTALS_HEADER]
    for total in report_service_totals(report=report):
        rows.append(
            (
                _fit(total.service_name, TOTALS_WIDTHS[0], 9),
                total.charge_type,
                str(total.order_count),
                str(quantity_number(total.quantity)),
                _amount(total.amount),
            )
        )
    rows.append(("Total", "", str(report.order_count), "", _amount(report.total_amount)))
    table = Table(rows, colWidths=TOTALS_WIDTHS, style=_TOTALS_STYLE, repeatRows=1, hAlign="LEFT")
    return [table, Spacer(1, 6 * mm)]


def _line_tables(report: BillingReport) -> list:
    tables: list = []
    rows: list[tuple[str, ...]] = [LINE_HEADER]
    quantities: dict[Decimal, str] = {}
    amounts: dict[Decimal, str] = {}
    for order, lines in iter_report_values(report=report, chunk_size=ORDERS_PER_QUERY):
        order_text = _fit(order[1], LINE_WIDTHS[0])
        date_text = iso_date(order[2]) or ""
        for _, _, service_name, charge_type, quantity, unit_price, amount in lines:
            quantity_text = quantities.get(quantity)
            if quantity_text is None:
                quantity_text = quantities[quantity] = str(quantity_number(quantity))
            amount_text = amounts.get(amount)
            if amount_text is None:
                amount_text = amounts[amount] = _amount(amount)
            rows.append(
                (
                    order_text,
                    date_text,
                    _fit_cached(service_name, LINE_WIDTHS[2]),
                    _fit_cached(charge_type, LINE_WIDTHS[3]),
                    quantity_text,
                    format(unit_price, "f"),
                    amount_text,
                )
            )
            if len(rows) > ROWS_PER_TABLE:
                tables.append(_lines_table(rows))
                rows = [LINE_HEADER]
    if len(rows) > 1:
        tables.append(_lines_table(rows))
    return tables


def _lines_table(rows: list[tuple[str, ...]]) -> Table:
    return Table(rows, colWidths=LINE_WIDTHS, style=_LINES_STYLE, repeatRows=1, hAlign="LEFT")


def _grand_total_block(report: BillingReport) -> list:
    rows = [("Grand total", f"{_amount(report.total_amount)} {report.currency}")]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT_BOLD, 11),
            ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ("LINEABOVE", (0, 0), (-1, 0), 1, colors.black),
        ]
    )
    return [Spacer(1, 4 * mm), Table(rows, colWidths=(CONTENT_WIDTH / 2, CONTENT_WIDTH / 2), style=style)]


class _NumberedCanvas(canvas.Canvas):
    """Keeps each finished page until save(), then stamps "Page N of M" on all of them."""

    footer_text = ""

    def __init__(self, *args, **kwargs) -> None:
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
            self.drawString(MARGIN, MARGIN / 2, self.footer_text)
            self.drawRightString(PAGE_SIZE[0] - MARGIN, MARGIN / 2, f"Page {number} of {total}")
            super().showPage()
        super().save()


def render_pdf(report: BillingReport) -> bytes:
    """The whole PDF document of `report`."""
    output = io.BytesIO()
    period = f"{iso_date(report.start_date)} to {iso_date(report.end_date)}"
    document = SimpleDocTemplate(
        output,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Billing report {report.id}",
        author="LedgerLink Billing",
        subject=f"{report.customer.company_name} {period}",
    )
    footer = f"{report.customer.company_name} · {period} · {report.id}"
    numbered = type("NumberedCanvas", (_NumberedCanvas,), {"footer_text": _fit(footer, CONTENT_WIDTH - 80)})
    story = [*_title_block(report), *_totals_block(report), *_line_tables(report), *_grand_total_block(report)]
    document.build(story, canvasmaker=numbered)
    return output.getvalue()


def export_pdf(report: BillingReport) -> Iterator[bytes]:
    """The PDF, rendered completely first (a PDF needs its cross-reference table), then chunked."""
    data = render_pdf(report)
    return (data[start : start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES))
