"""Tell videos and animations from images by their first bytes, cheaply, before any decoding.

    sniff_kind(data) -> VideoKind | None    the container the magic bytes name (video path only)
    is_animated(data) -> bool               a GIF or WebP with more than one frame
    is_video(data) -> bool                  these bytes need the video path, not the image path
    lottie_info(data) -> LottieInfo | None  an animated Telegram sticker (.tgs), with its header

The file name, extension and the MIME type a sender claims are never consulted. A still GIF or
WebP names its container here but is not "video": the image path hashes it. HEIF/AVIF (ISO base
media files too) are images and are not named.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LottieInfo",
    "VideoKind",
    "is_animated",
    "is_video",
    "lottie_info",
    "sniff_kind",
]


class VideoKind(StrEnum):
    """A container the video path reads. Values are stored with the signals: keep them stable."""

    MP4 = "mp4"  # ISO base media (mp4, m4v, 3gp ...)
    MOV = "mov"  # QuickTime
    WEBM = "webm"
    MATROSKA = "matroska"
    GIF = "gif"
    WEBP = "webp"
    TGS = "tgs"  # Telegram animated sticker: gzipped Lottie JSON

    @property
    def mime(self) -> str:
        return _MIME[self]


_MIME = {
    VideoKind.MP4: "video/mp4",
    VideoKind.MOV: "video/quicktime",
    VideoKind.WEBM: "video/webm",
    VideoKind.MATROSKA: "video/x-matroska",
    VideoKind.GIF: "image/gif",
    VideoKind.WEBP: "image/webp",
    VideoKind.TGS: "application/x-tgsticker",
}

_IMAGE_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"hevm",
        b"hevs",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
    }
)
# QuickTime files without an ftyp box start with one of these atoms.
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EBML = b"\x1a\x45\xdf\xa3"
_GZIP = b"\x1f\x8b\x08"


def sniff_kind(data: bytes) -> VideoKind | None:
    """The container named by the first bytes, among those the video path reads; else None."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return VideoKind.MOV if brand == b"qt  " else VideoKind.MP4
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return VideoKind.MOV
    if head.startswith(_EBML):
        return VideoKind.WEBM if b"webm" in head else VideoKind.MATROSKA
    if head.startswith((b"GIF87a", b"GIF89a")):
        return VideoKind.GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return VideoKind.WEBP
    if head.startswith(_GZIP) and _looks_like_lottie(data):
        return VideoKind.TGS
    return None


def is_animated(data: bytes) -> bool:
    """True for a GIF with at least two frames or a WebP with its animation flag set."""
    kind = sniff_kind(data)
    if kind is VideoKind.WEBP:
        # VP8X chunk right after the header; flags byte bit 1 is "animation"
        return data[12:16] == b"VP8X" and len(data) > 20 and bool(data[20] & 0x02)
    if kind is VideoKind.GIF:
        return _gif_frames(data, stop_at=2) >= 2
    return False


def is_video(data: bytes) -> bool:
    """True when these bytes go to the video path: a video container, an animated GIF or WebP,
    or an animated sticker (.tgs)."""
    kind = sniff_kind(data)
    if kind is None:
        return False
    if kind in (VideoKind.GIF, VideoKind.WEBP):
        return is_animated(data)
    return True


# --- GIF: count image descriptors without decoding ----------------------------------------------


def _gif_frames(data: bytes, stop_at: int) -> int:
    """Images in a GIF, counted up to ``stop_at`` by walking the block structure (no LZW)."""
    if len(data) < 13:
        return 0
    pos = 13
    packed = data[10]
    if packed & 0x80:  # global colour table
        pos += 3 * (1 << ((packed & 0x07) + 1))
    frames = 0
    size = len(data)
    while pos < size and frames < stop_at:
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor: 9 bytes, colour table, LZW size, sub-blocks
            if pos + 10 > size:
                break
            frames += 1
            local = data[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (1 << ((local & 0x07) + 1))
            pos = _skip_sub_blocks(data, pos + 1)
        else:  # garbage: stop counting
            break
    return frames


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            break
    return pos


# --- Lottie (.tgs) ------------------------------------------------------------------------------

_LOTTIE_SNIFF_BYTES = 4096
_LOTTIE_MAX_JSON = 16 * 1024 * 1024  # decompressed; a real sticker is well under 1 MiB


def _inflate(data: bytes, limit: int) -> bytes:
    """Up to ``limit`` bytes of a gzip stream's content (never more: gzip bombs stop here)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
    except zlib.error:
        return b""


def _looks_like_lottie(data: bytes) -> bool:
    text = _inflate(data[:_LOTTIE_SNIFF_BYTES], _LOTTIE_SNIFF_BYTES).lstrip()
    return text.startswith(b"{") and (b'"v"' in text or b'"layers"' in text)


@dataclass(frozen=True, slots=True)
class LottieInfo:
    """What a Lottie animation's header says (all optional in the wild)."""

    width: int | None
    height: int | None
    fps: float | None
    duration: float | None  # (op - ip) / fr seconds


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def lottie_info(data: bytes) -> LottieInfo | None:
    """The header of a gzipped Lottie animation (a .tgs sticker), or None if it is not one.

    It is one when the gzip content is a JSON object with the keys ``v`` (the Bodymovin version)
    and ``layers``. The content is read up to 16 MiB; a larger one is not taken for a sticker.
    """
    if not data.startswith(_GZIP):
        return None
    try:
        text = gzip.GzipFile(fileobj=io.BytesIO(data)).read(_LOTTIE_MAX_JSON + 1)
    except (OSError, EOFError, zlib.error):
        return None
    if len(text) > _LOTTIE_MAX_JSON:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "v" not in doc or "layers" not in doc:
        return None
    fps = _number(doc.get("fr"))
    start, end = _number(doc.get("ip")), _number(doc.get("op"))
    duration = (end - start) / fps if fps and start is not None and end is not None else None
    width, height = _number(doc.get("w")), _number(doc.get("h"))
    return LottieInfo(
        width=int(width) if width is not None else None,
        height=int(height) if height is not None else None,
        fps=fps,
        duration=duration if duration is not None and duration >= 0 else None,
    )
