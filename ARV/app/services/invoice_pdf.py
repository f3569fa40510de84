"""The invoice (счёт на оплату) as an A4 PDF, in Russian. Pure: a document in, bytes out;
the same document gives the same bytes (reportlab's invariant mode fixes the dates and ids
it would otherwise stamp).

The text is set in DejaVu Sans, embedded and subset, so Cyrillic shows on any reader; the
fonts come from the Debian package fonts-dejavu-core. Item names wrap inside their column
and a long list of lines flows onto further pages under a repeated header row; the totals
are kept together after the last line.

Money is in kopecks throughout. In the table, «Сумма» is price x quantity: with VAT when the
prices include it (then «В том числе НДС»), without it when VAT is added on top (then «НДС»
and «Всего к оплате» = «Итого» + VAT).
"""

import io
from dataclasses import dataclass
from datetime import date
from functools import cache, partial
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
_FONT_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}

NBSP = "\u00a0"
_MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip

MARGIN = 18 * mm
_FRAME_PADDING = 6  # points: reportlab's frames inset their content by this much
# №, Наименование, Кол-во, Цена, НДС, Сумма: the name takes what the others leave ("*").
_COLUMN_WIDTHS = (9 * mm, "*", 16 * mm, 27 * mm, 25 * mm, 27 * mm)
_HEADER = ("№", "Наименование", "Кол-во", "Цена, ₽", "НДС", "Сумма, ₽")
_RULE = colors.HexColor("#9a9a9a")
_HEADER_FILL = colors.HexColor("#eeeeee")
_MUTED = colors.HexColor("#555555")

_TITLE = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=5 * mm)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=11)
_SUMMARY = ParagraphStyle("summary", parent=_BODY, spaceBefore=3 * mm, spaceAfter=2 * mm)
# A table sets its cells' font (Helvetica unless told) even where every cell is a Paragraph:
# every table's style starts from this one, so no font but ours is in the file.
_TABLE = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT)])
_TOTAL = ParagraphStyle("total", fontName=FONT_BOLD, fontSize=10, leading=13, alignment=TA_RIGHT)


@dataclass(frozen=True, slots=True)
class Party:
    """The seller or the buyer, as named on the invoice."""

    legal_name: str
    inn: str | None
    kpp: str | None
    address: str | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    position: int
    name: str
    quantity: int
    unit_price_kopecks: int
    vat_label: str  # "22%", "без НДС"
    vat_kopecks: int
    total_kopecks: int


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    number: str
    issued_on: date
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    net_kopecks: int
    vat_kopecks: int
    total_kopecks: int
    vat_included: bool  # «В том числе НДС» when True, «НДС» on top when False
    payment_terms: str | None  # bank details, a deadline; line breaks are kept
    order_reference: str

    def __post_init__(self) -> None:
        # An invoice whose lines disagree with its totals must not be printed.
        if not self.lines:
            raise ValueError("an invoice has at least one line")
        if (
            sum(line.total_kopecks for line in self.lines) != self.total_kopecks
            or sum(line.vat_kopecks for line in self.lines) != self.vat_kopecks
            or self.net_kopecks + self.vat_kopecks != self.total_kopecks
        ):
            raise ValueError("the invoice's lines do not add up to its totals")


def format_roubles(kopecks: int) -> str:
    """An amount as Russian documents write it, without the unit: roubles grouped by three
    with a no-break space (U+00A0, so a sum never wraps), a comma, two digits of kopecks:
    123456 -> "1 234,56". Negative amounts are refused: an invoice never shows one."""
    if kopecks < 0:
        raise ValueError(f"an invoice amount is not negative: {kopecks}")
    roubles, rest = divmod(kopecks, 100)
    return f"{_grouped(roubles)},{rest:02d}"


def russian_date(day: date) -> str:
    """5 March 2026 -> "5 марта 2026 г."."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year} г."


def render_invoice(document: InvoiceDocument) -> bytes:
    _register_fonts()
    title = f"Счёт № {document.number} от {russian_date(document.issued_on)}"
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=document.seller.legal_name,
        subject="Счёт на оплату",
        creator="ARVlite",
        lang="ru-RU",
        initialFontName=FONT,
        invariant=1,
    )
    footer = partial(_footer, title)
    pdf.build(_story(document, title), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


@cache
def _register_fonts() -> None:
    for name, file_name in _FONT_FILES.items():
        path = FONT_DIR / file_name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: invoices embed DejaVu Sans for Cyrillic; install the "
                "Debian package fonts-dejavu-core (scripts/bootstrap.sh does)"
            )
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


def _story(document: InvoiceDocument, title: str) -> list[Flowable]:
    return [
        Paragraph(escape(title), _TITLE),
        _parties(document),
        Spacer(0, 5 * mm),
        _lines_table(document),
        KeepTogether(_closing(document)),
    ]


def _parties(document: InvoiceDocument) -> Table:
    rows = [
        ("Поставщик:", _party(document.seller)),
        ("Покупатель:", _party(document.buyer)),
        ("Основание:", Paragraph(f"Заказ {escape(document.order_reference)}", _BODY)),
    ]
    table = Table(
        [[Paragraph(f"<b>{label}</b>", _BODY), value] for label, value in rows],
        colWidths=(28 * mm, None),
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ],
            parent=_TABLE,
        )
    )
    return table


def _party(party: Party) -> Paragraph:
    parts = [f"<b>{escape(party.legal_name)}</b>"]
    codes = [
        f"{label} {escape(value)}"
        for label, value in (("ИНН", party.inn), ("КПП", party.kpp))
        if value is not None
    ]
    if codes:
        parts.append(", ".join(codes))
    if party.address is not None:
        parts.append(escape(party.address))
    return Paragraph("<br/>".join(parts), _BODY)


def _lines_table(document: InvoiceDocument) -> Table:
    rows: list[list[str | Paragraph]] = [list(_HEADER)]
    for line in document.lines:
        amount = line.total_kopecks - (0 if document.vat_included else line.vat_kopecks)
        vat = line.vat_label
        if line.vat_kopecks:
            vat += f"\n{format_roubles(line.vat_kopecks)}"
        rows.append(
            [
                str(line.position),
                Paragraph(escape(line.name), _CELL),
                _grouped(line.quantity),
                format_roubles(line.unit_price_kopecks),
                vat,
                format_roubles(amount),
            ]
        )
    table = Table(rows, colWidths=_COLUMN_WIDTHS, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("LEADING", (0, 0), (-1, -1), 11),
                ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL),
                ("GRID", (0, 0), (-1, -1), 0.5, _RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
                ("ALIGN", (0, 0), (-1, 0), "CENTER"),
                ("ALIGN", (0, 1), (0, -1), "CENTER"),
                ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ],
            parent=_TABLE,
        )
    )
    return table


def _closing(document: InvoiceDocument) -> list[Flowable]:
    """The totals, the count of lines and sum, and the payment terms."""
    flowables: list[Flowable] = [
        Spacer(0, 3 * mm),
        _totals(document),
        Paragraph(
            f"Всего наименований {len(document.lines)}, на сумму "
            f"{format_roubles(document.total_kopecks)}{NBSP}₽",
            _SUMMARY,
        ),
    ]
    if document.payment_terms:
        terms = "<br/>".join(escape(line) for line in document.payment_terms.splitlines())
        flowables.append(Paragraph(terms, _BODY))
    return flowables


def _totals(document: InvoiceDocument) -> Table:
    if document.vat_kopecks == 0:
        vat_row = ("Без налога (НДС):", "—")
    elif document.vat_included:
        vat_row = ("В том числе НДС:", format_roubles(document.vat_kopecks))
    else:
        vat_row = ("НДС:", format_roubles(document.vat_kopecks))
    subtotal = document.total_kopecks if document.vat_included else document.net_kopecks
    rows = [
        ("Итого:", format_roubles(subtotal)),
        vat_row,
        ("Всего к оплате:", f"{format_roubles(document.total_kopecks)}{NBSP}₽"),
    ]
    table = Table(
        [[Paragraph(label, _TOTAL), Paragraph(value, _TOTAL)] for label, value in rows],
        colWidths=(45 * mm, 36 * mm),
        hAlign="RIGHT",
    )
    table.setStyle(
        TableStyle(
            [
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ],
            parent=_TABLE,
        )
    )
    return table


def _footer(title: str, canvas: Canvas, doc: BaseDocTemplate) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7.5)
    canvas.setFillColor(_MUTED)
    canvas.drawRightString(
        A4[0] - MARGIN - _FRAME_PADDING, MARGIN / 2, f"{title} · стр. {doc.page}"
    )
    canvas.restoreState()


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", NBSP)
