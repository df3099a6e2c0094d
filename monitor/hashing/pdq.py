"""PDQ (Meta's 256-bit perceptual hash) through the ``pdqhash`` bindings, as 64 lower-case hex.

Hex order (checked, see tests/unit/hashing/test_pdq.py): the reference C++ ``Hash256::format()``
prints the sixteen 16-bit words ``w[15] .. w[0]`` as ``%04hx``, so the hex string's first bit is
hash bit 255 and its last bit is hash bit 0 (bit ``k`` lives in ``w[k >> 4]`` at ``1 << (k & 15)``).
``pdqhash`` returns the bits as a vector that its ``hash_to_vector`` builds in that very order
(bit 255 first: it reverses ``[bit(k) for k in 0..255]``), and python-threatexchange's PDQ hasher
turns the vector into hex by reading it as one big-endian binary number. Packing the vector
big-endian (``numpy.packbits``) therefore gives exactly the string ``Hash256::format()`` and
python-threatexchange produce, i.e. what a list built with the reference tools contains.

Dihedral variants: ``pdqhash.compute_dihedral`` returns eight hashes in the reference order
(original, rotate 90, rotate 180, rotate 270, flip X, flip Y, flip +1, flip -1). Which PIL
transform each one corresponds to was established by hashing transformed images and is pinned by a
test: see :data:`DIHEDRAL_ORDER` and :data:`ORIENTATION_TRANSPOSE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash
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

# Position i of pdqhash.compute_dihedral's list is the hash of the image under DIHEDRAL_ORDER[i].
# Measured, not taken from names: the reference's "flip X" mirrors top-bottom (FLIP_V here) and its
# "flip Y" mirrors left-right (FLIP_H); "flip +1" is the main-diagonal transpose and "flip -1" the
# anti-diagonal one. Each entry is within a few bits of the plain hash of the transformed image.
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
    """pdqhash's 256-element bit vector (bit 255 first) to the reference 64-char hex string."""
    vector = np.asarray(bits)
    if vector.shape != (PDQ_BITS,):
        raise ValueError(f"expected {PDQ_BITS} bits, got shape {vector.shape}")
    return np.packbits(vector.astype(bool)).tobytes().hex()


def pdq_hashes(pixels: npt.NDArray[np.uint8], dihedral: bool) -> PdqHashes:
    """PDQ of an ``H x W x 3`` uint8 RGB array; all eight orientations when ``dihedral``.

    The eight dihedral hashes cost about as much as one (they are sign patterns of the same DCT).
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 array, got {pixels.shape} {pixels.dtype}")
    if dihedral:
        vectors, quality = pdqhash.compute_dihedral(pixels)
        hashes = {
            variant: bits_to_hex(vector)
            for variant, vector in zip(DIHEDRAL_ORDER, vectors, strict=True)
        }
        ordered = {variant: hashes[variant] for variant in ORIENTATIONS}
        return PdqHashes(hashes=ordered, quality=int(quality))
    vector, quality = pdqhash.compute(pixels)
    return PdqHashes(hashes={Variant.ORIGINAL: bits_to_hex(vector)}, quality=int(quality))
