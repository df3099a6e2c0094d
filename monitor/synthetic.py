"""Synthetic, photo-like test images made in code: gradients, shapes and grain. Nothing real.

Used by `monitor demo`, the benchmarks and the tests, so that no real imagery is ever needed.
Every generator is deterministic for its arguments: the same seed gives the same pixels, other
seeds give unrelated images (PDQ quality >= 64 for seeds 0-149 at 640 x 480, most 100).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
BLACK: Colour = (0, 0, 0)
WHITE: Colour = (255, 255, 255)


def _diagonal_ramp(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A linear ramp (about -1..1) in a random direction kept well away from both axes."""
    angle = rng.uniform(0.15, 0.35) * np.pi + int(rng.integers(0, 4)) * np.pi / 2
    return np.asarray(np.cos(angle) * (2 * xx - 1) + np.sin(angle) * (2 * yy - 1))


def photo_like(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """An RGB image with photo-like statistics: smooth colour fields, shapes with soft edges, noise.

    Every region, background and shapes alike, is shaded by a diagonal colour ramp, so no edge row
    or column is uniform and the image is never taken for a bordered one. (Cached: each call
    returns a fresh copy.)
    """
    return Image.fromarray(_photo_like_pixels(seed, size), "RGB")


@functools.lru_cache(maxsize=64)
def _photo_like_pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx /= max(w - 1, 1)
    yy /= max(h - 1, 1)

    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.5, 2.5, size=2)
        px, py = rng.uniform(0, 2 * np.pi, size=2)
        wave = np.sin(2 * np.pi * fx * xx + px) * np.cos(2 * np.pi * fy * yy + py)
        channels.append(128 + 60 * _diagonal_ramp(rng, xx, yy) + 40 * wave + rng.uniform(-30, 30))
    canvas = np.stack(channels, axis=-1).astype(np.float32)

    n_large = int(rng.integers(8, 14))
    for i in range(n_large + int(rng.integers(14, 22))):
        mask_img = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask_img)
        if i < n_large:  # large shapes, often crossing the edges
            x0, x1 = sorted(int(v) for v in rng.integers(-w // 6, w + w // 6, size=2))
            y0, y1 = sorted(int(v) for v in rng.integers(-h // 6, h + h // 6, size=2))
            x1 = max(x1, x0 + w // 12)
            y1 = max(y1, y0 + h // 12)
        else:  # small details
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            rx = int(rng.integers(max(2, w // 40), max(3, w // 9)))
            ry = int(rng.integers(max(2, h // 40), max(3, h // 9)))
            x0, y0, x1, y1 = cx - rx, cy - ry, cx + rx, cy + ry
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=255)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=255)
        else:
            points = [
                (int(rng.integers(x0, x1 + 1)), int(rng.integers(y0, y1 + 1)))
                for _ in range(int(rng.integers(3, 6)))
            ]
            draw.polygon(points, fill=255)
        box = mask_img.getbbox()
        colour = rng.uniform(40, 215, size=3).astype(np.float32)
        spread = (rng.uniform(40, 70, size=3) * rng.choice([-1.0, 1.0], size=3)).astype(np.float32)
        if box is None:
            continue
        bx0, by0, bx1, by1 = box
        region = (slice(by0, by1), slice(bx0, bx1))
        ramp = _diagonal_ramp(rng, xx[region], yy[region])
        mask = np.asarray(mask_img, dtype=np.float32)[region][..., None] / 255.0
        fill = colour + spread * ramp[..., None]
        canvas[region] = canvas[region] * (1 - mask) + fill * mask

    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(radius=max(1.0, min(w, h) / 320)))
    arr = np.asarray(img).astype(np.int16)
    noise = rng.normal(0.0, 3.0, size=arr.shape).astype(np.float32)
    pixels: np.ndarray = np.clip(arr + noise, 0, 255).astype(np.uint8)
    pixels.setflags(write=False)
    return pixels


def letterbox(
    img: Image.Image,
    bars: int | Sequence[int],
    colour: Colour | int = BLACK,
) -> Image.Image:
    """``img`` pasted inside uniform bars.

    ``bars`` is one width for all sides, or ``(left, top, right, bottom)`` in pixels: ``(0, 60, 0,
    60)`` is a letterbox, ``(80, 0, 80, 0)`` a pillarbox.
    """
    if isinstance(bars, int):
        left = top = right = bottom = bars
    else:
        left, top, right, bottom = bars
    if isinstance(colour, int):
        colour = (colour, colour, colour)
    rgb = img.convert("RGB")
    canvas = Image.new("RGB", (rgb.width + left + right, rgb.height + top + bottom), colour)
    canvas.paste(rgb, (left, top))
    return canvas


def crop_fraction(img: Image.Image, fraction: float) -> Image.Image:
    """Cut ``fraction`` of the width from left and right, and of the height from top and bottom."""
    dx = round(img.width * fraction)
    dy = round(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def resize_by(img: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(size, Image.Resampling.LANCZOS)


# --- encoders ---------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def to_jpeg(img: Image.Image, quality: int = 87) -> bytes:
    return encode(img.convert("RGB"), "JPEG", quality=quality)


def to_png(img: Image.Image) -> bytes:
    return encode(img, "PNG", compress_level=1)
