"""Marker test images drawn with Pillow, returned as file bytes: the same seed always gives
the same bytes. Sizes are (width, height) in pixels."""

import io
import random
import struct
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Size = tuple[int, int]
Colour = tuple[int, int, int]

DETAILED_SIZE: Size = (1000, 750)
_WORDS = ("Postcard", "AR", "Hello 2024", "Moscow", "scan me", "Video!", "Kazan", "Bonjour")
# Shapes per scale: (count, smallest, largest) size in pixels, from large to small.
_SHAPE_SCALES = ((10, 150, 400), (60, 40, 150), (350, 6, 40))
_TEXT_SIZES = (14, 22, 36, 60)


def encode(image: Image.Image, image_format: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        params.setdefault("quality", 92)
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def _random_colour(rng: random.Random) -> Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(size: Size, start: Colour, end: Colour) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    ramp = np.broadcast_to(ramp, (height, width, 1))
    pixels = np.array(start, np.float32) * (1 - ramp) + np.array(end, np.float32) * ramp
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _draw_shape(draw: ImageDraw.ImageDraw, rng: random.Random, size: Size, extent: int) -> None:
    x, y = rng.uniform(-extent / 4, size[0]), rng.uniform(-extent / 4, size[1])
    box = (x, y, x + extent * rng.uniform(0.4, 1.0), y + extent * rng.uniform(0.4, 1.0))
    outline = _random_colour(rng) if rng.random() < 0.5 else None
    match rng.randrange(4):
        case 0:
            draw.ellipse(box, fill=_random_colour(rng), outline=outline, width=2)
        case 1:
            draw.rectangle(box, fill=_random_colour(rng), outline=outline, width=2)
        case 2:
            corners = [(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])) for _ in range(5)]
            draw.polygon(corners, fill=_random_colour(rng), outline=outline)
        case _:
            draw.line(box, fill=_random_colour(rng), width=rng.randrange(1, 6))


def _draw_text(draw: ImageDraw.ImageDraw, rng: random.Random, size: Size, scale: float) -> None:
    for nominal_size in _TEXT_SIZES:
        text_size = max(8, round(nominal_size * scale))
        font = ImageFont.load_default(size=text_size)
        for _ in range(max(1, round(240 / nominal_size * scale * scale))):
            position = (rng.uniform(0, size[0] - text_size), rng.uniform(0, size[1] - text_size))
            draw.text(position, rng.choice(_WORDS), fill=_random_colour(rng), font=font)


def _add_noise(image: Image.Image, seed: int, sigma: float) -> Image.Image:
    noise = np.random.default_rng(seed).normal(0.0, sigma, (image.height, image.width, 3))
    pixels = np.asarray(image, np.float32) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def detailed_picture(seed: int = 1, size: Size = DETAILED_SIZE) -> Image.Image:
    """Photo-like: a gradient, random shapes at three scales, text at four sizes, sensor-like
    noise. Detail reaches every edge."""
    rng = random.Random(seed)
    image = _gradient(size, _random_colour(rng), _random_colour(rng))
    draw = ImageDraw.Draw(image)
    scale = min(size) / min(DETAILED_SIZE)
    for count, smallest, largest in _SHAPE_SCALES:
        for _ in range(round(count * scale * scale)):
            _draw_shape(draw, rng, size, round(rng.uniform(smallest, largest) * scale))
    _draw_text(draw, rng, size, scale)
    return _add_noise(image, seed, sigma=4.0)


def detailed_jpeg(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    return encode(detailed_picture(seed, size))


def flat_colour_jpeg(size: Size = (800, 600), colour: Colour = (70, 130, 180)) -> bytes:
    return encode(Image.new("RGB", size, colour))


def repeated_tile_jpeg(seed: int = 1, size: Size = DETAILED_SIZE, tile: int = 125) -> bytes:
    """One small detailed tile repeated over the whole image, like wallpaper."""
    pattern = detailed_picture(seed, (tile, tile))
    image = Image.new("RGB", size)
    for top in range(0, size[1], tile):
        for left in range(0, size[0], tile):
            image.paste(pattern, (left, top))
    return encode(image)


def low_contrast_jpeg(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    """The detailed picture in grey squeezed into 40 levels around mid-grey, like a faded
    print photographed in fog."""
    grey = np.asarray(detailed_picture(seed, size).convert("L"), np.float32)
    squeezed = 108 + grey * (40 / 255)
    return encode(Image.fromarray(squeezed.astype(np.uint8), "L").convert("RGB"))


def corner_detail_jpeg(
    corner: str = "top-left", seed: int = 1, size: Size = DETAILED_SIZE
) -> bytes:
    """Detail in one quarter of the image only (`top-left`, `bottom-right`...), the rest a
    flat colour."""
    vertical, horizontal = corner.split("-")
    quarter = (size[0] // 2, size[1] // 2)
    image = Image.new("RGB", size, (235, 230, 220))
    left = 0 if horizontal == "left" else size[0] - quarter[0]
    top = 0 if vertical == "top" else size[1] - quarter[1]
    image.paste(detailed_picture(seed, quarter), (left, top))
    return encode(image)


def blank_edges_jpeg(seed: int = 1, size: Size = DETAILED_SIZE, margin: float = 0.15) -> bytes:
    """The detailed picture framed by a wide white border (`margin` of each side)."""
    inset = (round(size[0] * margin), round(size[1] * margin))
    inner = (size[0] - 2 * inset[0], size[1] - 2 * inset[1])
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste(detailed_picture(seed, inner), inset)
    return encode(image)


def blurred_jpeg(seed: int = 1, size: Size = DETAILED_SIZE, radius: float = 5.0) -> bytes:
    """The detailed picture out of focus."""
    return encode(detailed_picture(seed, size).filter(ImageFilter.GaussianBlur(radius)))


def cmyk_jpeg(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    """A print shop's CMYK JPEG (Adobe marker, inverted channels)."""
    return encode(detailed_picture(seed, size).convert("CMYK"))


def small_jpeg(size: Size = (400, 300), seed: int = 1) -> bytes:
    return encode(detailed_picture(seed, size))


def wide_jpeg(size: Size = (2500, 500), seed: int = 1) -> bytes:
    return encode(detailed_picture(seed, size))


def _frames(seed: int, size: Size, count: int) -> list[Image.Image]:
    return [detailed_picture(seed + number, size) for number in range(count)]


def animated_png(seed: int = 1, size: Size = (640, 480), frames: int = 3) -> bytes:
    first, *rest = _frames(seed, size, frames)
    return encode(first, "PNG", save_all=True, append_images=rest, duration=200)


def animated_webp(seed: int = 1, size: Size = (640, 480), frames: int = 3) -> bytes:
    first, *rest = _frames(seed, size, frames)
    return encode(first, "WEBP", save_all=True, append_images=rest, duration=200, lossless=True)


def webp(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    return encode(detailed_picture(seed, size), "WEBP", quality=90)


def transparent_png(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    """The detailed picture with its left half fully transparent (black under the alpha, so
    a converter that drops alpha instead of flattening shows black)."""
    image = detailed_picture(seed, size).convert("RGBA")
    pixels = np.array(image)
    pixels[:, : size[0] // 2] = (0, 0, 0, 0)
    return encode(Image.fromarray(pixels, "RGBA"), "PNG")


def opaque_rgba_png(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    """An RGBA PNG whose alpha is fully opaque everywhere."""
    return encode(detailed_picture(seed, size).convert("RGBA"), "PNG")


def exif_rotated_jpeg(seed: int = 1, size: Size = DETAILED_SIZE, orientation: int = 6) -> bytes:
    """A phone photo: pixels stored as `size`, with an EXIF orientation tag (6: turn 90°
    clockwise to display, so a landscape store is shown portrait)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(detailed_picture(seed, size), exif=exif.tobytes())


def solid_jpeg_with_profile(colour: Colour, icc_profile: bytes, size: Size = (640, 480)) -> bytes:
    return encode(Image.new("RGB", size, colour), icc_profile=icc_profile)


def oversized_png_header(width: int, height: int) -> bytes:
    """A valid PNG whose header claims `width` x `height` (its pixel data is a 1x1 image's):
    what a decompression bomb looks like before anyone decodes it."""
    png = encode(Image.new("L", (1, 1)), "PNG")
    ihdr_data = struct.pack(">II", width, height) + png[24:29]
    chunk = b"IHDR" + ihdr_data
    return png[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


# --- colour profiles ---------------------------------------------------------------------

# sRGB's primaries adapted to the D50 profile connection space (ICC v2, s15Fixed16 XYZ).
_SRGB_RED = (0.4361, 0.2225, 0.0139)
_SRGB_GREEN = (0.3851, 0.7169, 0.0971)
_SRGB_BLUE = (0.1431, 0.0606, 0.7141)
_D50 = (0.9642, 1.0, 0.8249)


def _fixed(values: Sequence[float]) -> bytes:
    return b"".join(struct.pack(">i", round(value * 65536)) for value in values)


def _xyz_tag(xyz: Sequence[float]) -> bytes:
    return b"XYZ \0\0\0\0" + _fixed(xyz)


def _description_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    unicode_and_script = struct.pack(">II", 0, 0) + b"\0\0\0" + bytes(67)
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + unicode_and_script


def _gamma_tag(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def rgb_profile(description: str, red: Sequence[float], green: Sequence[float]) -> bytes:
    """A minimal ICC v2 display profile: the given red and green colorants, sRGB's blue,
    D50 white, gamma 2.2."""
    tags = [
        (b"desc", _description_tag(description)),
        (b"wtpt", _xyz_tag(_D50)),
        (b"rXYZ", _xyz_tag(red)),
        (b"gXYZ", _xyz_tag(green)),
        (b"bXYZ", _xyz_tag(_SRGB_BLUE)),
        *((name, _gamma_tag(2.2)) for name in (b"rTRC", b"gTRC", b"bTRC")),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for name, data in tags:
        padded = data + bytes(-len(data) % 4)
        table += name + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"none"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + _fixed(_D50)
    )
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def swapped_primaries_profile() -> bytes:
    """A profile whose red is sRGB's green and whose green is sRGB's red: pure red tagged
    with it is green once converted to sRGB."""
    return rgb_profile("Swapped primaries test", red=_SRGB_GREEN, green=_SRGB_RED)


def rotated_scaled_jpeg(data: bytes, degrees: float, scale: float) -> bytes:
    """A copy of an image, scaled by `scale` and turned `degrees` anticlockwise on a white
    canvas: the same picture photographed again."""
    with Image.open(io.BytesIO(data)) as image:
        size = (round(image.width * scale), round(image.height * scale))
        resized = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    turned = resized.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    return encode(turned)


def reencoded_jpeg(data: bytes, quality: int = 60) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return encode(image.convert("RGB"), quality=quality)


def mpo_jpeg(seed: int = 1, size: Size = DETAILED_SIZE) -> bytes:
    """A camera's multi-picture JPEG: the photo, then a second image (here a smaller copy)."""
    photo = detailed_picture(seed, size)
    return encode(photo, "MPO", save_all=True, append_images=[photo.resize((320, 240))])


def grey_16_bit_png(size: Size = (640, 480)) -> bytes:
    """A left-to-right ramp over the full 16-bit range."""
    ramp = np.linspace(0, 65535, size[0], dtype=np.float64)
    pixels = np.broadcast_to(ramp, (size[1], size[0])).astype(np.uint16)
    return encode(Image.fromarray(pixels), "PNG")
