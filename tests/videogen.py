"""Synthetic test videos made in code with PyAV, from generated frames. Nothing real.

Every frame comes from :mod:`monitor.synthetic` (gradients, shapes and noise) or is a flat colour;
no real imagery is ever downloaded, read or referenced. Everything is deterministic for its
arguments (the encoders are single-threaded and seeded by their input only).

    Scene(seed, seconds, pan)       one synthetic picture held for some seconds, optionally panning
    scene_frames(scenes, ...)       the RGB frames (numpy arrays) of a list of scenes
    encode_video(frames, ...)       frames to container bytes: mp4/mov (H.264), webm (VP9), ...
    scene_video(scenes, ...)        both at once
    still_video(img, seconds, ...)  one picture for the whole clip (a static video)
    flat_video(colour, seconds)     a flat colour (black: PDQ quality 0)
    transcode(data, ...)            decode and re-encode: another bitrate/size/codec, or a trim
    to_gif / to_animated_webp       animations, through Pillow
    lottie_tgs(...)                 an animated Telegram sticker: gzipped Lottie JSON
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Sequence

import numpy as np
from PIL import Image

from monitor.synthetic_video import (
    CONTAINERS,
    Frame,
    Scene,
    encode_video,
    scene_frames,
    scene_video,
    transcode,
)

__all__ = [
    "CONTAINERS",
    "Frame",
    "Scene",
    "encode_video",
    "flat_video",
    "lottie_tgs",
    "scene_frames",
    "scene_video",
    "still_video",
    "to_animated_webp",
    "to_gif",
    "transcode",
]


def still_video(
    img: Image.Image, seconds: float, *, fps: int = 10, **encode_options: object
) -> bytes:
    """One picture for the whole clip."""
    pixels = np.asarray(img.convert("RGB"))
    return encode_video(
        (pixels for _ in range(round(seconds * fps))),
        fps=fps,
        **encode_options,  # type: ignore[arg-type]
    )


def flat_video(
    colour: tuple[int, int, int] = (0, 0, 0),
    seconds: float = 3.0,
    *,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    **encode_options: object,
) -> bytes:
    return still_video(Image.new("RGB", size, colour), seconds, fps=fps, **encode_options)


# --- animations through Pillow ----------------------------------------------------------------


def _pictures(scenes: Sequence[Scene], size: tuple[int, int], fps: int) -> list[Image.Image]:
    return [Image.fromarray(f) for f in scene_frames(scenes, size, fps)]


def to_gif(scenes: Sequence[Scene], *, size: tuple[int, int] = (160, 120), fps: int = 5) -> bytes:
    """An animated GIF of ``scenes`` (GIF timing is in 1/100 s, so fps should divide 100)."""
    first, *rest = _pictures(scenes, size, fps)
    buf = io.BytesIO()
    first.save(buf, "GIF", save_all=True, append_images=rest, duration=1000 // fps, loop=0)
    return buf.getvalue()


def to_animated_webp(
    scenes: Sequence[Scene], *, size: tuple[int, int] = (160, 120), fps: int = 5
) -> bytes:
    """An animated (lossy) WebP of ``scenes``."""
    first, *rest = _pictures(scenes, size, fps)
    buf = io.BytesIO()
    first.save(
        buf, "WEBP", save_all=True, append_images=rest, duration=1000 // fps, loop=0, quality=80
    )
    return buf.getvalue()


# --- Telegram animated stickers ---------------------------------------------------------------


def lottie_tgs(width: int = 512, height: int = 512, fps: int = 60, frames: int = 120) -> bytes:
    """A tiny, valid-looking Lottie animation (one moving square), gzipped as Telegram's .tgs."""
    doc = {
        "v": "5.5.2",
        "fr": fps,
        "ip": 0,
        "op": frames,
        "w": width,
        "h": height,
        "nm": "synthetic",
        "ddd": 0,
        "assets": [],
        "layers": [
            {
                "ddd": 0,
                "ind": 1,
                "ty": 4,
                "nm": "square",
                "ks": {
                    "p": {
                        "a": 1,
                        "k": [
                            {"t": 0, "s": [64, 256, 0]},
                            {"t": frames, "s": [448, 256, 0]},
                        ],
                    }
                },
                "shapes": [{"ty": "rc", "s": {"a": 0, "k": [64, 64]}, "p": {"a": 0, "k": [0, 0]}}],
                "ip": 0,
                "op": frames,
                "st": 0,
            }
        ],
    }
    return gzip.compress(json.dumps(doc).encode(), mtime=0)
