"""Everything hashing learns about one media item: exact hashes, PDQ, pHash and the query variants.

    compute_media_signals(data, settings) -> Signals   any media: images here, videos and
                                                       animations through monitor.hashing.video
    hash_file(path, settings) -> Signals               the same for a file on disk
    compute_signals(data, settings) -> Signals         images only (the image path below)

Pure and synchronous, so it can run in a process pool. The only exceptions are
``MediaError(EMPTY)`` and ``MediaError(TOO_LARGE)`` (and, from :func:`hash_file`, the ``OSError``
of a file that cannot be opened or read, and ``MediaError(UNSUPPORTED_KIND)`` for a path that is
not a regular file). Any problem with the content itself is returned as ``Signals.failure``: the
exact hashes are filled in all the same, because they still match lists.

Which path (:func:`compute_media_signals`, :func:`hash_file`): the first bytes decide
(:func:`monitor.hashing.video_sniff.is_video`), never the file name or a claimed MIME type.
MP4/MOV, WebM/Matroska, an *animated* GIF or WebP and a ``.tgs`` animated sticker take the video
path and come back as ``VideoSignals.as_signals()`` (``Signals.video`` set, ``frames`` instead of
``pdq``; a ``.tgs`` is ``lottie_unsupported`` with its exact hashes); a still GIF or WebP and every
other image take the image path. Each path has its own byte cap: ``max_bytes`` for images,
``video.max_bytes`` for videos and animations. A file whose content is a video container but
damaged is a video with ``corrupt_video``, not an image failure.

One decode serves every signal; see :mod:`monitor.hashing.decode` for the decoding rules. A JPEG
is decoded reduced in the DCT domain (1/2, 1/4 or 1/8, as long as its shorter side keeps
:data:`REDUCED_MIN_SIDE` pixels); PDQ, pHash and the border search all read that one picture, PDQ
with the original's filter geometry (:mod:`monitor.hashing.pdq`). Against hashing a full decode
that moves PDQ by a median of 0 bits (at most a few) and pHash by at most 2 bits of 64
(``benchmarks/hashing_bench.py`` measures and prints it), for a fraction of the time. Width and
height stay the original's. Other formats are decoded in full.

``Signals.queries`` lists, in this order:

1. PDQ of the original orientation;
2. if ``settings.dihedral``: PDQ of the 7 other orientations (:data:`pdq.ORIENTATIONS`);
3. if a uniform border was trimmed: PDQ of the trimmed picture, then of its 7 other orientations;
4. pHash of the original, then of the trimmed picture. Never a re-oriented pHash: 64 bits are too
   few to survive 8 times the exposure to chance matches.

Quality gate: a PDQ hash whose quality is below ``settings.min_pdq_quality`` is left out of the
queries, and so is the pHash of the same picture (original or trimmed: a picture too flat for PDQ
is too flat for pHash). ``Signals.pdq``, ``pdq_quality`` and ``phash`` are filled in regardless, for
the record. ``Signals.trimmed`` is True when trimmed variants are among the queries.

``Signals.mime``, ``width`` and ``height`` come from the header; they are filled in whenever the
header could be read, even if decoding the pixels then failed (a refused decompression bomb keeps
its claimed size on record).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np

from monitor.config import HashingSettings
from monitor.domain import HashFailure, HashType, QueryHash, Signals, Variant
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing.decode import Decoded, DecodeError, decode_image
from monitor.hashing.pdq import ORIENTATIONS, PdqHashes, pdq_hashes
from monitor.hashing.phash import phash_hex
from monitor.hashing.trim import find_border
from monitor.hashing.video import compute_video_signals, video_file_signals
from monitor.hashing.video_sniff import VideoKind, is_video, sniff_kind

__all__ = [
    "PHASH_REDUCING_GAP",
    "REDUCED_MIN_SIDE",
    "compute_media_signals",
    "compute_signals",
    "hash_file",
]

# A JPEG is decoded reduced while its shorter side keeps at least this many pixels: 4 per cell of
# PDQ's 64 x 64 grid (where PDQ stays within a few bits of a full decode; 1/8-scale decodes of
# small photos drift more), 8 times pHash's 32 x 32 and well above the border-trim limits.
# 1280 x 960 decodes at 640 x 480, 2560 x 1920 at 640 x 480, 4032 x 3024 at 504 x 378.
REDUCED_MIN_SIDE = 256
# pHash's 32 x 32 resize in two steps on a reduced decode (see monitor.hashing.phash).
PHASH_REDUCING_GAP = 3.0

# Bytes read to tell a large file's kind (enough for every magic number, .tgs included).
_HEAD_BYTES = 64 * 1024
# Containers FFmpeg reads from the file itself (hashed in chunks, never held whole in memory).
_STREAMED = frozenset({VideoKind.MP4, VideoKind.MOV, VideoKind.WEBM, VideoKind.MATROSKA})

_TRIMMED: dict[Variant, Variant] = {
    Variant.ORIGINAL: Variant.TRIMMED,
    Variant.ROT90: Variant.TRIMMED_ROT90,
    Variant.ROT180: Variant.TRIMMED_ROT180,
    Variant.ROT270: Variant.TRIMMED_ROT270,
    Variant.FLIP_H: Variant.TRIMMED_FLIP_H,
    Variant.FLIP_V: Variant.TRIMMED_FLIP_V,
    Variant.TRANSPOSE: Variant.TRIMMED_TRANSPOSE,
    Variant.TRANSVERSE: Variant.TRIMMED_TRANSVERSE,
}


def _check_size(size: int, settings: HashingSettings) -> None:
    if size == 0:
        raise MediaError(MediaErrorReason.EMPTY, "0 bytes")
    if size > settings.max_bytes:
        raise MediaError(
            MediaErrorReason.TOO_LARGE, f"{size} bytes, limit {settings.max_bytes} bytes"
        )


def _pdq_queries(result: PdqHashes, trimmed: bool, min_quality: int) -> list[QueryHash]:
    if result.quality < min_quality:
        return []
    return [
        QueryHash(
            hash_type=HashType.PDQ,
            value=result.hashes[orientation],
            variant=_TRIMMED[orientation] if trimmed else orientation,
            quality=result.quality,
        )
        for orientation in ORIENTATIONS
        if orientation in result.hashes
    ]


def _perceptual(
    decoded: Decoded, settings: HashingSettings
) -> tuple[PdqHashes, str, tuple[QueryHash, ...], bool]:
    image = decoded.image
    scale = decoded.scale
    width, height = decoded.header.width, decoded.header.height
    pixels = np.asarray(image)  # one H x W x 3 uint8 copy, shared by PDQ and trimming
    # a reduced decode: PDQ with the original's geometry (a full decode: the array's own size)
    extent = (width, height) if scale > 1 else None
    original = pdq_hashes(pixels, settings.dihedral, scale=scale, extent=extent)
    # a full decode hashes exactly as imagehash does; a reduced one (already a few bits off) in
    # a third of the time
    gap = PHASH_REDUCING_GAP if scale > 1 else None
    phash = phash_hex(image, gap)

    trimmed_pdq: PdqHashes | None = None
    trimmed_phash: str | None = None
    if settings.trim_borders:
        border = find_border(pixels, scale)
        if border is not None:
            box = border.box(image.width, image.height)
            left, upper, right, lower = box
            region = None
            if scale > 1:  # the original pixels the kept blocks cover (the last may be partial)
                region = (
                    min(right * scale, width) - left * scale,
                    min(lower * scale, height) - upper * scale,
                )
            trimmed_pdq = pdq_hashes(
                pixels[upper:lower, left:right], settings.dihedral, scale=scale, extent=region
            )
            if trimmed_pdq.quality >= settings.min_pdq_quality:
                trimmed_phash = phash_hex(image.crop(box), gap)

    minimum = settings.min_pdq_quality
    queries = _pdq_queries(original, False, minimum)
    if trimmed_pdq is not None:
        queries += _pdq_queries(trimmed_pdq, True, minimum)
    if original.quality >= minimum:
        queries.append(QueryHash(HashType.PHASH, phash, Variant.ORIGINAL))
    if trimmed_phash is not None:
        queries.append(QueryHash(HashType.PHASH, trimmed_phash, Variant.TRIMMED))
    has_trimmed = any(q.variant.trimmed for q in queries)
    return original, phash, tuple(queries), has_trimmed


def compute_signals(data: bytes, settings: HashingSettings) -> Signals:
    """Hash one media item held in memory. See the module docstring for what comes back."""
    _check_size(len(data), settings)
    sha256 = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    try:
        decoded = decode_image(data, settings, min_side=REDUCED_MIN_SIDE)
    except DecodeError as exc:
        header = exc.header
        return Signals(
            sha256=sha256,
            md5=md5,
            size_bytes=len(data),
            mime=header.mime if header else None,
            width=header.width if header else None,
            height=header.height if header else None,
            failure=HashFailure(reason=exc.reason.value, detail=exc.detail),
        )
    original, phash, queries, has_trimmed = _perceptual(decoded, settings)
    header = decoded.header
    return Signals(
        sha256=sha256,
        md5=md5,
        size_bytes=len(data),
        mime=header.mime,
        width=header.width,
        height=header.height,
        pdq=original.original,
        pdq_quality=original.quality,
        phash=phash,
        queries=queries,
        trimmed=has_trimmed,
    )


def compute_media_signals(data: bytes, settings: HashingSettings) -> Signals:
    """Hash any media item held in memory: a video or animation through the video path
    (``Signals.video`` set), anything else through :func:`compute_signals`. See the module
    docstring for which is which."""
    if not data:
        raise MediaError(MediaErrorReason.EMPTY, "0 bytes")
    if is_video(data):
        return compute_video_signals(data, settings).as_signals()
    return compute_signals(data, settings)


def hash_file(path: str | os.PathLike[str], settings: HashingSettings) -> Signals:
    """Hash a media file on disk, image or video (see :func:`compute_media_signals`).

    The size is checked with ``stat`` before a byte is read: more than both caps (``max_bytes``,
    ``video.max_bytes``) is refused unread. A file within the image cap is read whole (at most
    ``max_bytes + 1`` bytes, in one read) and dispatched in memory. A larger one can only be a
    video: its first bytes are read to tell, and an MP4/MOV/WebM/Matroska file is then hashed
    from the file (:func:`monitor.hashing.video.video_file_signals`, which checks its size again
    while reading); an animated GIF/WebP or a .tgs is read whole within the video cap; anything
    else is ``TOO_LARGE`` against the image cap. A file that grows after the check is still
    refused or hashed as what it has become, never half-read.
    """
    file = Path(path)
    st = file.stat()
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(MediaErrorReason.UNSUPPORTED_KIND, f"not a regular file: {file}")
    size = st.st_size
    image_cap, video_cap = settings.max_bytes, settings.video.max_bytes
    if size == 0:
        raise MediaError(MediaErrorReason.EMPTY, "0 bytes")
    if size > max(image_cap, video_cap):
        raise MediaError(
            MediaErrorReason.TOO_LARGE,
            f"{size} bytes, limit {image_cap} bytes for images and {video_cap} for videos",
        )
    if size <= image_cap:
        with open(file, "rb") as fh:
            data = fh.read(image_cap + 1)
        if len(data) <= image_cap:
            return compute_media_signals(data, settings)
        # it grew past the image cap since stat: only a video may be that large (below)
    with open(file, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    kind = sniff_kind(head)
    if kind in _STREAMED:
        return video_file_signals(file, settings).as_signals()
    if kind is not None:  # GIF, WebP, .tgs: decided (and decoded) from the whole bytes
        with open(file, "rb") as fh:
            data = fh.read(video_cap + 1)
        if len(data) > video_cap:
            raise MediaError(
                MediaErrorReason.TOO_LARGE,
                f"more than {video_cap} bytes (it grew while read), limit {video_cap} bytes",
            )
        return compute_media_signals(data, settings)
    found = f"{size} bytes" if size > image_cap else "it grew while read"
    raise MediaError(
        MediaErrorReason.TOO_LARGE,
        f"{found}, limit {image_cap} bytes (not a video or animation, whose limit is {video_cap})",
    )
