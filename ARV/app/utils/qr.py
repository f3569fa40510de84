"""QR codes of links as PNG or SVG, and the printable sheet that puts one beside a marker's
picture. Pure: text and bytes in, bytes out.

segno encodes (error correction M, never a Micro QR); the drawing is ours, so a PNG is
exactly the pixel size asked for and an SVG carries both its size and a `viewBox` in
modules. The quiet zone (`margin`) is counted in modules.
"""

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import segno
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont, ImageOps

ERROR_CORRECTION = "m"
# The sheet is laid out for printing at 300 dots per inch (the PNG says so): the picture's
# long side 12.7 cm, the code 5 cm, on a page that fits A4 and Letter.
PRINT_DPI = 300
PICTURE_LONG_SIDE = 1500
SHEET_QR_SIDE = 600
SHEET_QUIET_ZONE = 4
SHEET_MARGIN = 120
SHEET_GAP = 90
TITLE_SIZE = 64
CAPTION_SIZE = 40
TITLE_MAX_LINES = 3
CAPTION = "Point your phone's camera at the picture"
_INK = (0, 0, 0)
_MUTED = (70, 70, 70)
_PAPER = (255, 255, 255)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    font: Font
    size: int
    colour: tuple[int, int, int]

    @property
    def height(self) -> int:
        return round(self.size * 1.35)


def modules(text: str, margin: int) -> NDArray[np.bool_]:
    """The code's modules, dark ones True, with `margin` light modules all around."""
    code = segno.make(text, error=ERROR_CORRECTION, micro=False, boost_error=False)
    dark = np.array(code.matrix, dtype=np.uint8).astype(bool)
    return np.pad(dark, margin, constant_values=False)


def qr_png(text: str, *, size: int, margin: int) -> bytes:
    """A `size` x `size` black-on-white PNG; never less than one pixel per module (a
    smaller `size` is raised to that)."""
    buffer = io.BytesIO()
    _qr_image(modules(text, margin), size).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def qr_svg(text: str, *, scale: int, margin: int) -> bytes:
    """An SVG `scale` pixels per module wide and high, its `viewBox` one unit per module,
    on a white square (so it scans on a dark page)."""
    grid = modules(text, margin)
    side = len(grid)
    path = "".join(f"M{x} {y}h{n}v1h-{n}z" for x, y, n in _dark_runs(grid))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side * scale}" '
        f'height="{side * scale}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>\n'
    ).encode()


def print_sheet(picture: bytes, link: str, title: str) -> bytes:
    """A PNG to print: the picture with the code of `link` beside it (to the right of a
    landscape or square picture, below a portrait one), then `title` and a caption."""
    image = ImageOps.contain(
        _decoded(picture), (PICTURE_LONG_SIDE, PICTURE_LONG_SIDE), Image.Resampling.LANCZOS
    )
    grid = modules(link, SHEET_QUIET_ZONE)
    code = _qr_image(grid, len(grid) * (SHEET_QR_SIDE // len(grid))).convert("RGB")
    beside = image.width >= image.height
    body_width = image.width + SHEET_GAP + code.width if beside else max(image.width, code.width)
    body_height = (
        max(image.height, code.height) if beside else image.height + SHEET_GAP + code.height
    )
    title_font = _font(TITLE_SIZE, bold=True)
    lines = [
        _Line(text, title_font, TITLE_SIZE, _INK) for text in _wrap(title, title_font, body_width)
    ]
    lines.append(_Line(CAPTION, _font(CAPTION_SIZE, bold=False), CAPTION_SIZE, _MUTED))
    text_height = sum(line.height for line in lines)
    sheet = Image.new(
        "RGB",
        (body_width + 2 * SHEET_MARGIN, body_height + SHEET_GAP + text_height + 2 * SHEET_MARGIN),
        _PAPER,
    )
    sheet.paste(image, (SHEET_MARGIN, SHEET_MARGIN))
    code_at = (
        (SHEET_MARGIN + image.width + SHEET_GAP, SHEET_MARGIN)
        if beside
        else (SHEET_MARGIN, SHEET_MARGIN + image.height + SHEET_GAP)
    )
    sheet.paste(code, code_at)
    draw = ImageDraw.Draw(sheet)
    y = SHEET_MARGIN + body_height + SHEET_GAP
    for line in lines:
        draw.text((SHEET_MARGIN, y), line.text, font=line.font, fill=line.colour)
        y += line.height
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", dpi=(PRINT_DPI, PRINT_DPI))
    return buffer.getvalue()


def _qr_image(grid: NDArray[np.bool_], side: int) -> Image.Image:
    """`grid` drawn `side` pixels square, each module the nearest whole number of pixels."""
    side = max(side, len(grid))
    index = np.arange(side) * len(grid) // side
    return Image.fromarray(~grid[np.ix_(index, index)])


def _dark_runs(grid: NDArray[np.bool_]) -> Iterator[tuple[int, int, int]]:
    """(x, y, length) of each horizontal run of dark modules."""
    for y, row in enumerate(grid.tolist()):
        x = 0
        for dark, run in itertools.groupby(row):
            length = len(list(run))
            if dark:
                yield x, y, length
            x += length


def _decoded(picture: bytes) -> Image.Image:
    with Image.open(io.BytesIO(picture)) as image:
        return image.convert("RGB")


@cache
def _font(size: int, *, bold: bool) -> Font:
    """DejaVu Sans where the system has it (Latin, Cyrillic, Greek), else Pillow's own."""
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _text_width(text: str, font: Font) -> float:
    return float(font.getlength(text))


def _wrap(text: str, font: Font, width: int) -> list[str]:
    """`text` in lines no wider than `width`, at most TITLE_MAX_LINES (the last one cut
    with an ellipsis when more would be needed)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _text_width(candidate, font) <= width:
            lines[-1] = candidate
        else:
            lines.append(_fit(word, font, width))
    if len(lines) > TITLE_MAX_LINES:
        lines = [*lines[: TITLE_MAX_LINES - 1], _fit(f"{lines[TITLE_MAX_LINES - 1]}…", font, width)]
    return lines


def _fit(text: str, font: Font, width: int) -> str:
    """`text`, cut with an ellipsis if it is wider than `width`."""
    if _text_width(text, font) <= width:
        return text
    while text and _text_width(f"{text}…", font) > width:
        text = text[:-1]
    return f"{text}…"
