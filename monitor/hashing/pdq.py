"""PDQ (Meta's 256-bit perceptual hash) as 64 lower-case hex, computed by a numpy port of the
reference C++ (``pdqHash256FromFloatLuma`` and its dihedral twin).

**The algorithm, as the reference computes it** (``pdq/cpp/hashing/pdqhashing.cpp``,
``pdq/cpp/downscaling/downscaling.cpp``): luma ``0.299 R + 0.587 G + 0.114 B``; two passes of a
Jarosz box filter along rows and along columns, each window ``(n + 127) // 128`` of that side,
clipped at the edges (each output the mean of the window's pixels inside the image); the 64 x 64
samples at ``int((i + 0.5) * n / 64)``; the quality from that 64 x 64 buffer's gradients; a DCT
to 16 x 16 (frequencies 1-16, no DC); bit ``k = 16 row + column`` set when the coefficient is
above the lower median (Torben's, the 128th of 256); images under 5 pixels on a side hash to
zeros with quality 0.

**Why a port, not only the ``pdqhash`` binding.** The filters are linear and separable, and only
64 rows and 64 columns of their output are sampled, so the whole downscaling is a 64 x H weight
matrix on the left and a W x 64 one on the right; both are banded (a sample sees about 1/64 of
its side) and depend only on the side's length, so they are built once per length and cached.
That reads each pixel about once instead of the eight float passes (and the float64 luma
temporaries) of the binding: about 3x faster on a 640 x 480 image. The bits are the reference's:
``tests/unit/hashing/test_pdq.py`` pins the port against ``pdqhash`` (the reference C++ compiled)
over many images and sizes, all eight orientations and the quality. (Float rounding in a
different summation order could flip a coefficient that sits exactly at the median; across the
tests' images it never has.)

**Reduced decodes** (``scale``): a JPEG decoded at 1/s in the DCT domain gives each pixel the
(approximate) mean of an s x s block of the full picture. The weights are then the full-size
weights summed over each block, i.e. the reference's filter geometry at the original resolution,
applied to the block means. That keeps the hash within a few bits of hashing the full decode
(measured in ``benchmarks/hashing_bench.py``); re-running the filters at the reduced size instead
moves it by a median of 4-6 bits. ``extent`` is the size in original pixels that the array covers
(the last block of a side may be partial).

Hex order (checked, see tests/unit/hashing/test_pdq.py): the reference C++ ``Hash256::format()``
prints the sixteen 16-bit words ``w[15] .. w[0]`` as ``%04hx``, so the hex string's first bit is
hash bit 255 and its last bit is hash bit 0 (bit ``k`` lives in ``w[k >> 4]`` at ``1 << (k & 15)``).
``pdqhash`` returns the bits as a vector that its ``hash_to_vector`` builds in that very order
(bit 255 first), and python-threatexchange's PDQ hasher turns the vector into hex by reading it as
one big-endian binary number. Packing bit 255 first (``numpy.packbits``) therefore gives exactly
the string ``Hash256::format()`` and python-threatexchange produce, i.e. what a list built with
the reference tools contains.

Dihedral variants: the reference derives all eight from the one 16 x 16 DCT (a transpose and
sign flips of odd frequencies), in the order original, rotate 90, rotate 180, rotate 270, flip X,
flip Y, flip +1, flip -1. Which PIL transform each one corresponds to was established by hashing
transformed images and is pinned by a test: see :data:`DIHEDRAL_ORDER` and
:data:`ORIENTATION_TRANSPOSE`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from monitor.domain import Variant

__all__ = [
    "DIHEDRAL_ORDER",
    "ORIENTATIONS",
    "ORIENTATION_TRANSPOSE",
    "PdqHashes",
    "bits_to_hex",
    "pdq_hashes",
]

PDQ_BITS = 256
_GRID = 64  # the reference downsamples to 64 x 64 ...
_DCT_SIZE = 16  # ... and keeps 16 x 16 DCT coefficients
_MIN_HASHABLE_DIM = 5  # the reference's MIN_HASHABLE_DIM: smaller sides hash to zeros, quality 0
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # reference luma_from_{R,G,B}_coeff

Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

# Every orientation of the query image, in the order queries list them (the identity first).
ORIENTATIONS: tuple[Variant, ...] = (
    Variant.ORIGINAL,
    Variant.ROT90,
    Variant.ROT180,
    Variant.ROT270,
    Variant.FLIP_H,
    Variant.FLIP_V,
    Variant.TRANSPOSE,
    Variant.TRANSVERSE,
)

# What each orientation variant means, as the PIL transform applied to the query image: the
# hash of variant V is (within a few bits) the plain PDQ of
# ``image.transpose(ORIENTATION_TRANSPOSE[V])``.
# ROT90 is PIL's ROTATE_90, i.e. 90 degrees counter-clockwise.
ORIENTATION_TRANSPOSE: dict[Variant, Image.Transpose | None] = {
    Variant.ORIGINAL: None,
    Variant.ROT90: Image.Transpose.ROTATE_90,
    Variant.ROT180: Image.Transpose.ROTATE_180,
    Variant.ROT270: Image.Transpose.ROTATE_270,
    Variant.FLIP_H: Image.Transpose.FLIP_LEFT_RIGHT,
    Variant.FLIP_V: Image.Transpose.FLIP_TOP_BOTTOM,
    Variant.TRANSPOSE: Image.Transpose.TRANSPOSE,
    Variant.TRANSVERSE: Image.Transpose.TRANSVERSE,
}

# Position i of the reference's dihedral output (and of pdqhash.compute_dihedral's list) is the
# hash of the image under DIHEDRAL_ORDER[i]. Measured, not taken from names: the reference's
# "flip X" mirrors top-bottom (FLIP_V here) and its "flip Y" mirrors left-right (FLIP_H); "flip
# +1" is the main-diagonal transpose and "flip -1" the anti-diagonal one. Each entry is within a
# few bits of the plain hash of the transformed image.
DIHEDRAL_ORDER: tuple[Variant, ...] = (
    Variant.ORIGINAL,
    Variant.ROT90,
    Variant.ROT180,
    Variant.ROT270,
    Variant.FLIP_V,
    Variant.FLIP_H,
    Variant.TRANSPOSE,
    Variant.TRANSVERSE,
)


@dataclass(frozen=True, slots=True)
class PdqHashes:
    """PDQ of one picture: the hash per orientation (only ORIGINAL unless dihedral) and quality."""

    hashes: dict[Variant, str]
    quality: int

    @property
    def original(self) -> str:
        return self.hashes[Variant.ORIGINAL]


def bits_to_hex(bits: npt.ArrayLike) -> str:
    """A 256-element bit vector, bit 255 first (pdqhash's order), to the reference 64-char hex."""
    vector = np.asarray(bits)
    if vector.shape != (PDQ_BITS,):
        raise ValueError(f"expected {PDQ_BITS} bits, got shape {vector.shape}")
    return np.packbits(vector.astype(bool)).tobytes().hex()


# --- the downscaling weights --------------------------------------------------------------------


def _window(side: int) -> int:
    """The reference's computeJaroszFilterWindowSize(side, 64)."""
    return (side + 2 * _GRID - 1) // (2 * _GRID)


@functools.lru_cache(maxsize=256)
def _axis(extent: int, scale: int) -> tuple[IntArray, Float32Array]:
    """Banded weights of one side: for each of the 64 samples, the array indices it reads and
    their weights (``64 x K`` each; padding has weight 0). ``extent`` is the side in original
    pixels, ``scale`` how many original pixels one array pixel stands for.

    The reference's box1DFloat: with ``full`` the window and ``half = (full + 2) // 2``, output
    ``o`` is the mean of inputs ``lo[o] = max(0, o - (full - half))`` to ``hi[o] = min(extent - 1,
    o + half - 1)``. Two passes and a sample at ``c``: pixel ``k`` gets the sum, over ``m`` in
    ``lo[c] .. hi[c]``, of ``1 / count[c] * 1 / count[m]`` when ``lo[m] <= k <= hi[m]``; so it
    reads ``lo[lo[c]] .. hi[hi[c]]``, fewer than ``2 full`` pixels.
    """
    full = _window(extent)
    half = (full + 2) // 2
    out = np.arange(extent)
    lo = np.maximum(0, out - (full - half))
    hi = np.minimum(extent - 1, out + half - 1)
    inv = 1.0 / (hi - lo + 1)
    centres = ((np.arange(_GRID) + 0.5) * extent / _GRID).astype(np.intp)
    # first pass: sample i reads m = lo[c] + t (t < full, m <= hi[c]) with weight inv[c] inv[m]
    m = lo[centres][:, None] + np.arange(full)[None, :]  # 64 x full
    first_pass = np.where(m <= hi[centres][:, None], inv[centres][:, None], 0.0)
    m = np.minimum(m, extent - 1)
    first_pass = first_pass * inv[m]
    # second pass: m spreads that weight over k in lo[m] .. hi[m] (a difference array per sample)
    start = lo[lo[centres]]  # sample i reads original pixels start[i] .. stop[i]
    stop = hi[hi[centres]]
    span = 2 * full  # > stop - start
    rows = np.broadcast_to(np.arange(_GRID)[:, None], m.shape)
    diff = np.zeros((_GRID, span + 1))
    np.add.at(diff, (rows, lo[m] - start[:, None]), first_pass)
    np.add.at(diff, (rows, hi[m] + 1 - start[:, None]), -first_pass)
    k = start[:, None] + np.arange(span)[None, :]  # 64 x span
    pixel_weights = np.where(k <= stop[:, None], np.cumsum(diff, axis=1)[:, :span], 0.0)
    # to array pixels: sum the weights of each block of `scale` original pixels
    block = np.minimum(k, extent - 1) // scale
    first_block = block[:, 0]
    taps = int((block[:, -1] - first_block).max()) + 1
    length = -(-extent // scale)
    band = np.zeros((_GRID, taps))
    rows = np.broadcast_to(np.arange(_GRID)[:, None], k.shape)
    np.add.at(band, (rows, block - first_block[:, None]), pixel_weights)
    index = np.minimum(first_block[:, None] + np.arange(taps)[None, :], length - 1)
    band32 = band.astype(np.float32)
    index.setflags(write=False)
    band32.setflags(write=False)
    return index, band32


# Bytes of float32 pixel rows gathered at once: a photo's rows fit in one go; a huge full-size
# picture (50 megapixels) is filtered a few samples at a time instead of in a 600 MB copy.
_GATHER_BYTES = 16 * 2**20


def _downsample(pixels: npt.NDArray[np.uint8], extent: tuple[int, int], scale: int) -> Float32Array:
    """The reference's 64 x 64 buffer (luma, two Jarosz passes, decimation) of ``pixels``."""
    width, height = extent
    row_index, row_weights = _axis(height, scale)
    col_index, col_weights = _axis(width, scale)
    taps = row_index.shape[1]
    line = pixels.shape[1] * 3  # values per array row
    step = max(1, _GATHER_BYTES // (taps * line * 4))
    luma = np.empty((_GRID, pixels.shape[1]), dtype=np.float32)
    for first in range(0, _GRID, step):
        part = slice(first, min(first + step, _GRID))
        gathered = pixels[row_index[part]].astype(np.float32).reshape(-1, taps, line)
        rows = np.matmul(row_weights[part, None, :], gathered)  # samples x 1 x 3W
        luma[part] = rows.reshape(-1, pixels.shape[1], 3) @ _LUMA
    buffer: Float32Array = np.einsum("ijk,jk->ij", luma[:, col_index], col_weights)  # 64 x 64
    return buffer


def _quality(buffer: Float32Array) -> int:
    """The reference's pdqImageDomainQualityMetric (integer truncation included)."""
    down = np.trunc((buffer[:-1, :] - buffer[1:, :]) * np.float32(100) / np.float32(255))
    across = np.trunc((buffer[:, :-1] - buffer[:, 1:]) * np.float32(100) / np.float32(255))
    gradient = int(np.abs(down).sum(dtype=np.int64) + np.abs(across).sum(dtype=np.int64))
    return min(100, gradient // 90)


def _dct_matrix() -> Float32Array:
    i = np.arange(1, _DCT_SIZE + 1)[:, None]
    j = np.arange(_GRID)[None, :]
    scale = math.sqrt(2.0 / _GRID)
    matrix = np.asarray(scale * np.cos((math.pi / 2 / _GRID) * i * (2 * j + 1)), dtype=np.float32)
    matrix.setflags(write=False)
    return matrix


_DCT = _dct_matrix()
# Sign flips of the dihedral transforms: frequency u = index + 1 changes sign under a mirror
# when u is odd, i.e. at even indices.
_ODD_FREQ = np.where(np.arange(_DCT_SIZE) % 2 == 0, -1.0, 1.0).astype(np.float32)
_ROWS = _ODD_FREQ[:, None]
_COLS = _ODD_FREQ[None, :]
_BOTH = _ROWS * _COLS

# The reference's dihedral outputs, in DIHEDRAL_ORDER, as functions of the 16 x 16 DCT.
_DIHEDRAL: tuple[Callable[[Float32Array], Float32Array], ...] = (
    lambda c: c,  # original
    lambda c: c.T * _ROWS,  # rotate 90
    lambda c: c * _BOTH,  # rotate 180
    lambda c: c.T * _COLS,  # rotate 270
    lambda c: c * _ROWS,  # flip X
    lambda c: c * _COLS,  # flip Y
    lambda c: c.T,  # flip +1
    lambda c: c.T * _BOTH,  # flip -1
)


def _to_hex(coefficients: Float32Array) -> str:
    flat = coefficients.ravel()
    median = np.partition(flat, PDQ_BITS // 2 - 1)[PDQ_BITS // 2 - 1]  # Torben's lower median
    return np.packbits((flat > median)[::-1]).tobytes().hex()  # bit 255 first


_ZERO_HEX = "0" * (PDQ_BITS // 4)


def pdq_hashes(
    pixels: npt.NDArray[np.uint8],
    dihedral: bool,
    *,
    scale: int = 1,
    extent: tuple[int, int] | None = None,
) -> PdqHashes:
    """PDQ of an ``H x W x 3`` uint8 RGB array; all eight orientations when ``dihedral``.

    ``scale`` > 1: the array is a reduced decode, one pixel per ``scale x scale`` block of a
    picture of ``extent`` = (width, height) original pixels (default: the array's size times
    ``scale``); the hash is computed with the original's filter geometry (module docstring).
    The eight dihedral hashes cost about as much as one (they are sign patterns of one DCT).
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 array, got {pixels.shape} {pixels.dtype}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    height, width = pixels.shape[:2]
    if extent is None:
        extent = (width * scale, height * scale)
    if (-(-extent[0] // scale), -(-extent[1] // scale)) != (width, height):
        raise ValueError(f"a {width} x {height} array cannot cover {extent} at 1/{scale}")
    order = DIHEDRAL_ORDER if dihedral else (Variant.ORIGINAL,)
    if min(extent) < _MIN_HASHABLE_DIM:
        hashes = dict.fromkeys(order, _ZERO_HEX)
        return PdqHashes(hashes={v: hashes[v] for v in ORIENTATIONS if v in hashes}, quality=0)
    buffer = _downsample(pixels, extent, scale)
    quality = _quality(buffer)
    coefficients = cast("Float32Array", _DCT @ buffer @ _DCT.T)
    found = {
        variant: _to_hex(transform(coefficients))
        for variant, transform in zip(order, _DIHEDRAL, strict=False)
    }
    return PdqHashes(hashes={v: found[v] for v in ORIENTATIONS if v in found}, quality=quality)
