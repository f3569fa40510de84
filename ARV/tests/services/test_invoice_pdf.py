"""The invoice PDF, checked where a person sees it: its text read back with pypdf (which
only gives back the Cyrillic that went in if the embedded font maps it), its fonts, and page
one rendered to pixels with pdfium."""

import io
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from app.services import invoice_pdf
from app.services.invoice_pdf import (
    NBSP,
    InvoiceDocument,
    InvoiceLine,
    Party,
    format_roubles,
    render_invoice,
    russian_date,
)

SELLER = Party(
    legal_name='ООО "Дополненная реальность"',
    inn="7736207543",
    kpp="770401001",
    address="119021, г. Москва, ул. Льва Толстого, д. 16",
)
BUYER = Party(
    legal_name='ООО "Ромашка"',
    inn="7707083893",
    kpp="773601001",
    address="117997, г. Москва, ул. Вавилова, д. 19",
)
ENTREPRENEUR = Party(
    legal_name="ИП Иванов Иван Иванович", inn="500100732259", kpp=None, address=None
)
NAMES = (
    "Тариф «Бизнес», 12 месяцев",
    "Хранилище 100 ГБ & перенос <срочно>",
    "Очень длинное наименование услуги по размещению дополненной реальности на открытках, "
    "с обработкой видео, маркеров и публикацией в просмотрщике, включая поддержку",
)
PRICES = (1_200_000, 49_900, 2_500_050)
TERMS = "Оплата по счёту в течение 5 банковских дней.\nБИК 044525225, р/с 40702810938000000001"
ORDER = "b1f0c9e2-7d4a-4b8e-9a51-0f6c2d7e8a11"


def invoice(
    count: int = 3, *, rate: int = 22, vat_included: bool = True, buyer: Party = BUYER
) -> InvoiceDocument:
    """`count` lines cycling through NAMES and PRICES (quantity 1, 2, 3...), at `rate`%."""
    lines = []
    for index in range(count):
        quantity = index % 3 + 1
        price = PRICES[index % 3] * quantity
        vat = _half_up(price * rate, 100 + rate if vat_included else 100)
        lines.append(
            InvoiceLine(
                position=index + 1,
                name=NAMES[index % 3] if count <= 3 else f"Услуга № {index + 1}: {NAMES[0]}",
                quantity=quantity,
                unit_price_kopecks=PRICES[index % 3],
                vat_label=f"{rate}%" if rate else "без НДС",
                vat_kopecks=vat,
                total_kopecks=price if vat_included else price + vat,
            )
        )
    total = sum(line.total_kopecks for line in lines)
    vat = sum(line.vat_kopecks for line in lines)
    return InvoiceDocument(
        number="2026-000042",
        issued_on=date(2026, 3, 5),
        seller=SELLER,
        buyer=buyer,
        lines=tuple(lines),
        net_kopecks=total - vat,
        vat_kopecks=vat,
        total_kopecks=total,
        vat_included=vat_included,
        payment_terms=TERMS,
        order_reference=ORDER,
    )


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text, every run of white space (wrapped lines too) as one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def roubles(kopecks: int) -> str:
    # The no-break space is a space in the text layer.
    return format_roubles(kopecks).replace(NBSP, " ")


# -- format_roubles, russian_date -------------------------------------------------------


@pytest.mark.parametrize(
    ("kopecks", "expected"),
    [
        (0, "0,00"),
        (5, "0,05"),
        (10, "0,10"),
        (100, "1,00"),
        (99_999, "999,99"),
        (123_456, "1\u00a0234,56"),
        (100_000_000, "1\u00a0000\u00a0000,00"),
        (123_456_789_012, "1\u00a0234\u00a0567\u00a0890,12"),
    ],
)
def test_format_roubles(kopecks: int, expected: str) -> None:
    assert format_roubles(kopecks) == expected


def test_format_roubles_refuses_a_negative_amount() -> None:
    with pytest.raises(ValueError, match="not negative"):
        format_roubles(-1)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), "1 января 2026 г."),
        (date(2026, 3, 5), "5 марта 2026 г."),
        (date(2026, 12, 31), "31 декабря 2026 г."),
    ],
)
def test_russian_date(day: date, expected: str) -> None:
    assert russian_date(day) == expected


# -- the document ------------------------------------------------------------------------


def test_lines_that_do_not_add_up_are_refused() -> None:
    document = invoice()
    with pytest.raises(ValueError, match="do not add up"):
        replace(document, total_kopecks=document.total_kopecks + 1)
    with pytest.raises(ValueError, match="do not add up"):
        replace(document, net_kopecks=document.net_kopecks - 1)
    with pytest.raises(ValueError, match="at least one line"):
        replace(document, lines=(), net_kopecks=0, vat_kopecks=0, total_kopecks=0)


# -- the PDF's text ----------------------------------------------------------------------


def test_the_text_carries_the_parties_lines_and_totals() -> None:
    document = invoice()
    (text,) = page_texts(render_invoice(document))
    assert text.startswith("Счёт № 2026-000042 от 5 марта 2026 г. · стр. 1 ")
    assert "Счёт № 2026-000042 от 5 марта 2026 г. Поставщик:" in text
    for party in (SELLER, BUYER):
        assert party.legal_name in text
        assert f"ИНН {party.inn}, КПП {party.kpp}" in text
        assert f"{party.address}" in text
    assert f"Заказ {ORDER}" in text
    assert "№ Наименование Кол-во Цена, ₽ НДС Сумма, ₽" in text
    for line in document.lines:
        # Wrapped or not, the name reads back whole, `&` and `<...>` included.
        assert " ".join(line.name.split()) in text
        assert (
            f"{line.position} {' '.join(line.name.split())} {line.quantity} "
            f"{roubles(line.unit_price_kopecks)} {line.vat_label} {roubles(line.vat_kopecks)} "
            f"{roubles(line.total_kopecks)}"
        ) in text
    assert (
        f"Итого: {roubles(document.total_kopecks)} "
        f"В том числе НДС: {roubles(document.vat_kopecks)} "
        f"Всего к оплате: {roubles(document.total_kopecks)} ₽"
    ) in text
    assert f"Всего наименований 3, на сумму {roubles(document.total_kopecks)} ₽" in text
    assert " ".join(TERMS.split()) in text
    assert roubles(document.total_kopecks) == "87 999,50"  # 12 000 + 2 x 499 + 3 x 25 000,50


def test_vat_on_top_shows_the_net_sums_and_adds_the_vat() -> None:
    document = invoice(vat_included=False)
    (text,) = page_texts(render_invoice(document))
    for line in document.lines:
        # «Сумма» is price x quantity, here without the VAT.
        assert (
            f"{roubles(line.unit_price_kopecks)} {line.vat_label} {roubles(line.vat_kopecks)} "
            f"{roubles(line.quantity * line.unit_price_kopecks)}"
        ) in text
    assert (
        f"Итого: {roubles(document.net_kopecks)} НДС: {roubles(document.vat_kopecks)} "
        f"Всего к оплате: {roubles(document.total_kopecks)} ₽"
    ) in text
    assert "В том числе" not in text


def test_an_invoice_without_vat_says_so() -> None:
    document = invoice(rate=0, buyer=ENTREPRENEUR)
    (text,) = page_texts(render_invoice(document))
    assert f"{roubles(PRICES[0])} без НДС {roubles(PRICES[0])}" in text
    assert "Без налога (НДС): —" in text
    # An entrepreneur has no КПП and here no address: neither is printed.
    assert "ИП Иванов Иван Иванович ИНН 500100732259 Основание:" in text


def test_the_fonts_are_dejavu_embedded() -> None:
    reader = PdfReader(io.BytesIO(render_invoice(invoice())))
    fonts = [font.get_object() for font in reader.pages[0]["/Resources"]["/Font"].values()]
    assert sorted(str(font["/BaseFont"]).split("+")[1] for font in fonts) == [
        "DejaVuSans",
        "DejaVuSans-Bold",
    ]
    for font in fonts:
        assert isinstance(font, DictionaryObject)
        assert "/FontFile2" in font["/FontDescriptor"]  # the TrueType program is in the file
        assert "/ToUnicode" in font  # what lets the text be read back as Cyrillic


def test_page_one_renders_ink_in_the_table(tmp_path: Path) -> None:
    page = pdfium.PdfDocument(render_invoice(invoice()))[0]
    image = page.render(scale=2).to_pil().convert("L")
    image.save(tmp_path / "invoice_page1.png")
    pixels = np.asarray(image)
    height, width = pixels.shape
    dark = pixels < 128
    # The table of three lines sits between a quarter and about 45% down the page.
    table = dark[height // 4 : height * 45 // 100, width // 10 : width * 9 // 10]
    assert table.mean() > 0.03
    # Below the payment terms the page is empty but for the footer.
    assert dark[height * 65 // 100 : height * 95 // 100].mean() < 0.001


def test_sixty_lines_flow_onto_more_pages_with_the_totals_once_at_the_end() -> None:
    document = invoice(60)
    texts = page_texts(render_invoice(document))
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert f"стр. {number}" in text
        assert "№ Наименование Кол-во Цена, ₽ НДС Сумма, ₽" in text  # the header repeats
    everything = " ".join(texts)
    for line in document.lines:
        assert everything.count(f"Услуга № {line.position}:") == 1
    assert ["Всего к оплате" in text for text in texts] == [False] * (len(texts) - 1) + [True]
    assert everything.count("Всего к оплате") == 1
    assert f"Всего к оплате: {roubles(document.total_kopecks)} ₽" in texts[-1]


def test_the_same_document_gives_the_same_bytes() -> None:
    document = invoice()
    first = render_invoice(document)
    render_invoice(invoice(60))
    assert render_invoice(document) == first
    assert render_invoice(replace(document, number="2026-000043")) != first


def test_a_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(invoice_pdf, "FONT_DIR", tmp_path)
    invoice_pdf._register_fonts.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
            render_invoice(invoice())
    finally:
        invoice_pdf._register_fonts.cache_clear()
