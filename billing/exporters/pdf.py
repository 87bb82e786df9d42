"""PDF statement of a report, made with reportlab (layout in docs/exports.md).

Page 1: the issuer (settings.BILLING_ISSUER_*), the statement number, date, period and
currency, the customer billed (legal name, address, contact), the per-service summary with
charge-type labels and quantities in their unit, and the total. Then every report line, in
report order: each page of lines starts with the column headers, so they never appear
mid-page. Under a tiered line, one row per tier band the line touched (from, to, quantity,
unit price, exact amount), so the bands add up to the line; a report generated before the
bands were recorded shows a blended unit price (amount over quantity) marked with an asterisk
instead. The footer explains either. Every page carries the statement number and "Page N of M".

Speed and memory: the lines are one flowable (_Lines) that platypus splits a page at a time,
reading the lines as the pages are laid out (iter_report_rows); each page of lines is drawn as
text operators on the canvas (fixed row height and column widths; a cell's placement and text
are formatted once per distinct cell), not as a Table, whose layout cost most of a statement's
time. The numbering canvas keeps each finished page's drawing operations, compressed, until the
page count is known ("Page N of M"), and each stamped page's stream is compressed at once
(_compress_now), so memory grows by a few KB per page.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle

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
from billing.selectors.reports import iter_report_rows, report_service_totals, report_tier_bases

# Page streams compressed but not also ASCII85-encoded: a fifth smaller, and reportlab's encoder
# (pure Python here) took a tenth of the time of a statement.
rl_config.useA85 = 0

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
ROW_HEIGHT = 11.0
# Rows of lines under page 1's summary below which the lines start on page 2.
MIN_FIRST_PAGE_ROWS = 5
BLENDED_MARK = "*"
BLENDED_NOTE = "* Tiered lines: blended price, the line's amount over its quantity across the tier bands."
BANDS_NOTE = "Tiered lines: the tier bands a line touched are listed under it; its amount is their sum, rounded."
BAND_INDENT = "   "

LINE_HEADER = ("Order", "Date", "Service", "Charge type", "Quantity", "Unit price", "Amount")
LINE_WIDTHS = (92.0, 48.0, 124.0, 70.0, 62.0, 56.0, CONTENT_WIDTH - 452.0)
TOTALS_HEADER = ("Service", "Charge type", "Orders", "Quantity", "Amount")
TOTALS_WIDTHS = (180.0, 90.0, 50.0, 100.0, CONTENT_WIDTH - 420.0)
CELL_PADDING = 3.0
# Where a line's cells are written: left-aligned text from the left edge of its column, numbers
# (quantity, unit price, amount) right-aligned; the baseline centres the text in its row.
_COLUMN_LEFT = tuple(sum(LINE_WIDTHS[:index]) + CELL_PADDING for index in range(len(LINE_WIDTHS)))
_COLUMN_RIGHT = tuple(sum(LINE_WIDTHS[: index + 1]) - CELL_PADDING for index in range(len(LINE_WIDTHS)))
_RIGHT_ALIGNED = (False, False, False, False, True, True, True)
_BASELINE = (ROW_HEIGHT - FONT_SIZE) / 2 + 0.2 * FONT_SIZE
RULE_COLOR = colors.HexColor("#666666")
HEADER_FILL = colors.HexColor("#E8EAF0")

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


def _line_blocks(report: BillingReport, bases: dict[int, str], notes: list[str]) -> Iterator[list[tuple[str, ...]]]:
    """Each report line as a block of rows to keep on one page: the line, then its tier bands.

    Read as the pages are laid out (iter_report_rows), so the lines are never all in memory.
    `notes` receives the footer note they need (BANDS_NOTE, BLENDED_NOTE), once.
    """
    quantities: dict[tuple[Any, str, int], str] = {}
    amounts: dict[Any, str] = {}
    prices: dict[tuple[Any, bool], str] = {}
    labels: dict[str, str] = {}
    services: dict[str, str] = {}
    order_key: Any = None
    order_text = date_text = ""
    for row in iter_report_rows(report=report, chunk_size=ORDERS_PER_QUERY):
        order, transaction_id, day, service_id, service_name, charge_type, quantity, unit_price, amount, _, detail = row
        if order != order_key:
            order_key = order
            order_text = _fit(transaction_id, LINE_WIDTHS[0])
            date_text = day if isinstance(day, str) else iso_date(day) or ""
        key = (quantity, charge_type, service_id)
        unit = charge_unit(charge_type, bases.get(service_id, ""))
        quantity_text = quantities.get(key)
        if quantity_text is None:
            quantity_text = quantities[key] = quantity_with_unit(Decimal(quantity), unit)
        amount_text = amounts.get(amount)
        if amount_text is None:
            amount_text = amounts[amount] = _amount(Decimal(amount))
        bands = _band_rows(detail, unit) if charge_type == ChargeType.TIERED else []
        blended = charge_type == ChargeType.TIERED and not bands
        price_text = ""
        if bands:
            if not notes:
                notes.append(BANDS_NOTE)
        else:
            known = prices.get((unit_price, blended))
            if known is None:
                known = prices[(unit_price, blended)] = format(Decimal(unit_price), "f") + (
                    BLENDED_MARK if blended else ""
                )
            price_text = known
            if blended:
                notes[:] = [BLENDED_NOTE]
        label = labels.get(charge_type)
        if label is None:
            label = labels[charge_type] = _fit(charge_label(charge_type), LINE_WIDTHS[3])
        service = services.get(service_name)
        if service is None:
            if len(services) > 4096:
                services.clear()
            service = services[service_name] = _fit(service_name, LINE_WIDTHS[2])
        yield [(order_text, date_text, service, label, quantity_text, price_text, amount_text), *bands]


class _LinePage(Flowable):
    """One page of lines: the column headers, then rows of fixed height, drawn on the canvas
    directly (one text object per page; a Table per page cost most of the time of a statement)."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return CONTENT_WIDTH, (len(self.rows) + 1) * ROW_HEIGHT

    def draw(self) -> None:
        canv = self.canv
        top = (len(self.rows) + 1) * ROW_HEIGHT
        canv.setFillColor(HEADER_FILL)
        canv.rect(0, top - ROW_HEIGHT, CONTENT_WIDTH, ROW_HEIGHT, stroke=0, fill=1)
        canv.setStrokeColor(RULE_COLOR)
        canv.setLineWidth(0.5)
        canv.line(0, top - ROW_HEIGHT, CONTENT_WIDTH, top - ROW_HEIGHT)
        canv.setFillColor(colors.black)
        canv.setFont(FONT_BOLD, FONT_SIZE)  # registers both fonts on the page
        canv.setFont(FONT, FONT_SIZE)
        # The text operators are written directly: reportlab's text object formats every
        # coordinate and measures every string again (in Python, without its C accelerator).
        # Text state (the font) lasts across text objects; each cell is a text object of its
        # own, as a Table writes it, so text extraction separates the cells the same way.
        bold, regular = (_font_operator(canv, font) for font in (FONT_BOLD, FONT))
        baseline = top - ROW_HEIGHT + _BASELINE
        code = [bold, *_row_operators(canv, LINE_HEADER, baseline, FONT_BOLD), regular]
        for row in self.rows:
            baseline -= ROW_HEIGHT
            code += _row_operators(canv, row, baseline, FONT)
        canv._code.append("\n".join(code))


def _font_operator(canv: canvas.Canvas, font: str) -> str:
    """Select `font` at FONT_SIZE for the text objects that follow."""
    return f"BT {canv._doc.getInternalFontName(font)} {FONT_SIZE} Tf ET"


def _row_operators(canv: canvas.Canvas, row: tuple[str, ...], baseline: float, font: str) -> list[str]:
    """The text operators of one row of cells: each placed (Tm) and shown (Tj)."""
    y = f"{baseline:.2f} Tm "
    operators = []
    for column, cell in enumerate(row):
        if cell:
            x, shown = _cell(canv, cell, column, font)
            operators.append(f"BT {x}{y}{shown} T* ET")  # T*: as drawString ends a line
    return operators


# (text, column, font) -> ("1 0 0 1 x ", the operator showing the text): cells repeat a lot
_CELLS: dict[tuple[str, int, str], tuple[str, str]] = {}


def _cell(canv: canvas.Canvas, text: str, column: int, font: str) -> tuple[str, str]:
    key = (text, column, font)
    known = _CELLS.get(key)
    if known is None:
        if len(_CELLS) > 20_000:
            _CELLS.clear()
        width = stringWidth(text, font, FONT_SIZE)
        x = _COLUMN_RIGHT[column] - width if _RIGHT_ALIGNED[column] else _COLUMN_LEFT[column]
        shown = canv.beginText()
        shown.setFont(font, FONT_SIZE)
        known = _CELLS[key] = (f"1 0 0 1 {x:.2f} ", shown._formatText(text))
    return known


class _Lines(Flowable):
    """Every report line, laid out one page at a time as the lines are read.

    Platypus asks the flowable for its size in the room left on a page; while lines remain
    that is more than the room, so it is split into a _LinePage that fills the room (whole
    blocks: a line with its tier bands) and itself, for the next page. Less than
    MIN_FIRST_PAGE_ROWS rows of room (page 1 under a long summary) start the lines on the next page.
    """

    def __init__(self, blocks: Iterator[list[tuple[str, ...]]]) -> None:
        super().__init__()
        self.blocks = blocks
        self.next_block: list[tuple[str, ...]] | None = next(blocks, None)
        self.page: list[tuple[str, ...]] = []

    def _fill(self, room: int) -> None:
        while self.next_block is not None and (not self.page or len(self.page) + len(self.next_block) <= room):
            if len(self.page) + len(self.next_block) > room:  # a block larger than a page: alone
                break
            self.page += self.next_block
            self.next_block = next(self.blocks, None)

    @staticmethod
    def _room(availHeight: float) -> int:
        return int(availHeight // ROW_HEIGHT) - 2  # the header row, and one row kept free

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        room = self._room(availHeight)
        if room >= MIN_FIRST_PAGE_ROWS:
            self._fill(room)
        if self.next_block is None and self.page:
            return CONTENT_WIDTH, (len(self.page) + 1) * ROW_HEIGHT
        if self.next_block is None:
            return CONTENT_WIDTH, 0
        return CONTENT_WIDTH, availHeight + ROW_HEIGHT

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        if self._room(availHeight) < MIN_FIRST_PAGE_ROWS or not self.page:
            return []
        page, self.page = _LinePage(self.page), []
        # the rest is a new flowable for platypus: it may be postponed to the next page in turn
        self.__dict__.pop("_postponed", None)
        return [page, self]

    def draw(self) -> None:
        if self.page:
            _LinePage(self.page).drawOn(self.canv, 0, 0)


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


OTHER_HEADER = ("Date", "Charge", "Reference", "Service", "Quantity", "Unit price", "Amount")
OTHER_WIDTHS = (20 * mm, 28 * mm, 30 * mm, 38 * mm, 30 * mm, 18 * mm, 20 * mm)
_OTHER_STYLE = TableStyle(
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


def _other_charges_block(report: BillingReport) -> list:
    """The "Other charges" section: storage, receiving, returns, extra work and adjustments."""
    rows = other_charges.pdf_rows(report)
    if not rows:
        return []
    fitted = [tuple(_fit(text, width - 2) for text, width in zip(row, OTHER_WIDTHS, strict=True)) for row in rows]
    table = Table([OTHER_HEADER, *fitted], colWidths=OTHER_WIDTHS, style=_OTHER_STYLE, repeatRows=1, hAlign="LEFT")
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


class _NumberedCanvas(canvas.Canvas):
    """Keeps each finished page until save(), then stamps the footer and "Page N of M" on all of them."""

    footer_text = ""
    notes: list[str] = []  # the footer note, once the lines are read (_line_blocks)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        state = dict(self.__dict__)
        del state["_pages"]
        # a page's drawing operations, compressed until save(): a tenth of their size
        state["_code"] = zlib.compress("\n".join(self._code).encode(), 1)
        self._pages.append(state)
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        pages, self._pages = self._pages, []
        for number, state in enumerate(pages, start=1):
            pages[number - 1] = {}  # each page is let go once written
            state["_code"] = [zlib.decompress(state["_code"]).decode()]
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(colors.HexColor("#444444"))
            if self.notes:
                self.drawString(MARGIN, MARGIN / 2 + 9, self.notes[0])
            self.drawString(MARGIN, MARGIN / 2, self.footer_text)
            self.drawRightString(PAGE_SIZE[0] - MARGIN, MARGIN / 2, f"Page {number} of {total}")
            super().showPage()
            _compress_now(self._doc.Pages.pages[-1])
        super().save()


class _AlreadyFlate:
    """A stream filter for content that is compressed already (named FlateDecode, encodes nothing)."""

    pdfname = "FlateDecode"

    @staticmethod
    def encode(content: bytes) -> bytes:
        return content


def _compress_now(page: pdfdoc.PDFPage) -> None:
    """Compress a finished page's stream now, as reportlab would when it writes the file.

    reportlab keeps every page's stream as text until the document is written: about 22 KB a
    page of lines, 100 MB for a 4,600-page statement. Compressed at once, the same bytes take a
    tenth of that.
    """
    if not page.stream or not page.compression:
        return
    stream = pdfdoc.PDFStream()
    stream.filters = [_AlreadyFlate]
    stream.content = pdfdoc.PDFZCompress.encode(page.stream)
    stream.__Comment__ = "page stream"
    page.Contents, page.stream = stream, None


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
    notes: list[str] = []
    lines = _Lines(_line_blocks(report, bases, notes))
    title = f"{document_title(report)} {number}"
    footer = f"{title} · {settings.BILLING_ISSUER_NAME} · {report.customer.company_name} · {period}"
    numbered = type(
        "NumberedCanvas",
        (_NumberedCanvas,),
        {"footer_text": _fit(footer, CONTENT_WIDTH - 80), "notes": notes},
    )
    extra = _other_charges_block(report)
    document.build([*summary, lines, *extra, *_grand_total_block(report)], canvasmaker=numbered)
    return output.getvalue()


def export_pdf(report: BillingReport) -> Iterator[bytes]:
    """The PDF, rendered completely first (a PDF needs its cross-reference table), then chunked."""
    data = render_pdf(report)
    return (data[start : start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES))
