"""Everything hashing learns about one media item: exact hashes, PDQ, pHash and the query variants.

Pure and synchronous, so it can run in a process pool. The only exceptions are
``MediaError(EMPTY)`` and ``MediaError(TOO_LARGE)`` (and, from :func:`hash_file`, the ``OSError``
of a file that cannot be opened or read, and ``MediaError(UNSUPPORTED_KIND)`` for a path that is
not a regular file). Any problem with the content itself is returned as ``Signals.failure``: the
exact hashes are filled in all the same, because they still match lists.

One decode serves every signal; see :mod:`monitor.hashing.decode` for the decoding rules.

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

__all__ = ["compute_signals", "hash_file"]

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
    pixels = np.asarray(image)  # one H x W x 3 uint8 copy, shared by PDQ and trimming
    original = pdq_hashes(pixels, settings.dihedral)
    phash = phash_hex(image)

    trimmed_pdq: PdqHashes | None = None
    trimmed_phash: str | None = None
    if settings.trim_borders:
        border = find_border(pixels)
        if border is not None:
            box = border.box(image.width, image.height)
            left, upper, right, lower = box
            trimmed_pdq = pdq_hashes(pixels[upper:lower, left:right], settings.dihedral)
            if trimmed_pdq.quality >= settings.min_pdq_quality:
                trimmed_phash = phash_hex(image.crop(box))

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
        decoded = decode_image(data, settings)
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


def hash_file(path: str | os.PathLike[str], settings: HashingSettings) -> Signals:
    """Hash a file on disk: its size is checked with ``stat`` before a byte is read.

    Reads at most ``max_bytes + 1`` bytes, so a file that grows after the check is still refused.
    """
    file = Path(path)
    st = file.stat()
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(MediaErrorReason.UNSUPPORTED_KIND, f"not a regular file: {file}")
    _check_size(st.st_size, settings)
    with open(file, "rb") as fh:
        data = fh.read(settings.max_bytes + 1)
    return compute_signals(data, settings)
