"""Synthetic test images made in code (shapes and noise), never real photos."""

from __future__ import annotations

from monitor.synthetic import photo_like, to_jpeg, to_png


def make_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    return to_jpeg(photo_like(seed, size), quality=85)


def make_png(seed: int, size: tuple[int, int] = (200, 200)) -> bytes:
    return to_png(photo_like(seed, size))
