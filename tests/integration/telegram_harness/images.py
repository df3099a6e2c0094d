"""Synthetic test images made in code (shapes and noise), never real photos."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def make_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    background = rng.integers(0, 256, size=3)
    pixels = np.empty((h, w, 3), dtype=np.uint8)
    pixels[:] = background
    pixels = np.clip(pixels + rng.integers(-20, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        fill = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
    return image


def make_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    make_image(seed, size).save(out, "JPEG", quality=85)
    return out.getvalue()


def make_png(seed: int, size: tuple[int, int] = (200, 200)) -> bytes:
    out = io.BytesIO()
    make_image(seed, size).save(out, "PNG")
    return out.getvalue()
