"""Synthetic test images made in code: gradients, shapes, noise and text. Nothing else.

Every generator is deterministic for its arguments, so tests can rebuild an image instead of storing
one. No real photographs, people or other content are generated, downloaded or referenced here.

    photo_like(seed)          gradients + random shapes + mild noise: PDQ quality >= 64 (seeds
                              0-149 at 640 x 480, most 100) and unrelated hashes for other seeds
    flat(colour)              one colour: PDQ quality 0
    text_only(text)           black text on white: one line has PDQ quality < 50; a block of
                              several lines can reach 60-80, and its white margins get trimmed
    letterbox(img, bars)      the image inside uniform bars (letterbox, pillarbox, screenshot bars)
    crop_fraction(img, f)     cut a fraction away from every side
    resize_by(img, factor)    scale both sides
    to_jpeg / to_png / to_webp / to_gif / to_bmp / to_tiff / encode   bytes of an image
    animated_gif / animated_webp   several frames
    png_bomb(w, h)            a real, small PNG whose header says w x h (decompression bomb)
    png_claiming_size(w, h)   a PNG whose IHDR claims w x h over a tiny, unrelated IDAT
    png_16bit_grey / cmyk_jpeg / rgba_png / palette_png   odd modes as encoded bytes
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from monitor.synthetic import (
    BLACK,
    WHITE,
    Colour,
    crop_fraction,
    encode,
    letterbox,
    photo_like,
    resize_by,
    to_jpeg,
    to_png,
)

__all__ = [
    "BLACK",
    "WHITE",
    "Colour",
    "crop_fraction",
    "encode",
    "letterbox",
    "photo_like",
    "resize_by",
    "to_jpeg",
    "to_png",
]


def flat(colour: Colour | int = (128, 128, 128), size: tuple[int, int] = (640, 480)) -> Image.Image:
    """One uniform colour."""
    if isinstance(colour, int):
        colour = (colour, colour, colour)
    return Image.new("RGB", size, colour)


def text_only(
    text: str,
    size: tuple[int, int] = (640, 480),
    font_size: int = 24,
    origin: tuple[int, int] = (20, 20),
) -> Image.Image:
    """Black text on white (one line or several, split on newlines)."""
    img = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=font_size)
    draw.multiline_text(origin, text, fill=BLACK, font=font, spacing=font_size // 2)
    return img


def to_webp(img: Image.Image, quality: int = 90) -> bytes:
    return encode(img, "WEBP", quality=quality)


def to_gif(img: Image.Image) -> bytes:
    return encode(img.convert("RGB"), "GIF")


def to_bmp(img: Image.Image) -> bytes:
    return encode(img.convert("RGB"), "BMP")


def to_tiff(img: Image.Image) -> bytes:
    return encode(img, "TIFF")


def animated_gif(frames: Sequence[Image.Image], duration: int = 100) -> bytes:
    first, *rest = [f.convert("RGB") for f in frames]
    return encode(first, "GIF", save_all=True, append_images=rest, duration=duration, loop=0)


def animated_webp(frames: Sequence[Image.Image], duration: int = 100) -> bytes:
    first, *rest = [f.convert("RGB") for f in frames]
    return encode(
        first, "WEBP", save_all=True, append_images=rest, duration=duration, loop=0, lossless=True
    )


# --- odd modes ----------------------------------------------------------------------------------


def rgba_png(img: Image.Image, alpha: int = 255) -> bytes:
    """An RGBA PNG: ``img`` with a constant alpha, and a fully transparent square in one corner."""
    rgba = img.convert("RGBA")
    a = np.full((img.height, img.width), alpha, dtype=np.uint8)
    a[: img.height // 4, : img.width // 4] = 0
    rgba.putalpha(Image.fromarray(a, "L"))
    return to_png(rgba)


def palette_png(img: Image.Image, colours: int = 64) -> bytes:
    return to_png(img.convert("RGB").quantize(colors=colours))


def png_16bit_grey(img: Image.Image) -> bytes:
    """A 16-bit greyscale PNG of ``img``'s luminance (values spread over 0..65535)."""
    grey = np.asarray(img.convert("L")).astype(np.uint16) * 257
    return to_png(Image.fromarray(grey))


def cmyk_jpeg(img: Image.Image, quality: int = 90) -> bytes:
    return encode(img.convert("CMYK"), "JPEG", quality=quality)


# --- hostile files ------------------------------------------------------------------------------


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A genuine, fully valid PNG of ``width`` x ``height`` black pixels, a few hundred KB at most.

    Written from one all-zero bilevel row (filter byte + packed bits) repeated into a compressed
    stream, so building it never holds the whole image in memory.
    """
    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    idat = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return _png(ihdr, idat)


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but whose IDAT holds one tiny row only."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return _png(ihdr, zlib.compress(b"\x00" * 17))


def _png(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
