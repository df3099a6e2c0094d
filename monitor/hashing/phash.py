"""imagehash's 64-bit pHash, as 16 lower-case hex characters.

Computed from the same decoded RGB picture as PDQ. imagehash converts to greyscale
(``convert("L")``), resizes to 32 x 32 with Lanczos and hashes the low frequencies of that
picture's DCT; its hex string reads the 8 x 8 bit matrix row by row, first bit most significant. A
pHash is only comparable with hashes made by the same implementation (other pHash libraries
disagree by several bits), so lists of pHashes must come from imagehash too.

``reducing_gap``: the greyscale and the 32 x 32 resize are done here, with Pillow's two-step
resize (an integer box reduction to at least ``reducing_gap`` times 32 first, then Lanczos), and
imagehash hashes the 32 x 32 picture (its own resize is then a copy). Pillow documents a gap of
3 as indistinguishable from the one-step resize in most cases; across the benchmark's photos it
moves the hash by at most 2 of 64 bits and costs a third of the time on a 640 x 480 picture.
``None``: exactly ``imagehash.phash(image)``.
"""

from __future__ import annotations

import imagehash
from PIL import Image

__all__ = ["PHASH_HEX_LEN", "phash_hex"]

PHASH_HEX_LEN = 16


_GRID = 32  # imagehash's hash_size 8 times its highfreq_factor 4


def phash_hex(image: Image.Image, reducing_gap: float | None = None) -> str:
    """pHash of a decoded picture (any mode imagehash can turn into greyscale)."""
    if reducing_gap is not None:
        image = image.convert("L").resize(
            (_GRID, _GRID), Image.Resampling.LANCZOS, reducing_gap=reducing_gap
        )
    value = str(imagehash.phash(image)).lower()
    if len(value) != PHASH_HEX_LEN:  # pragma: no cover - imagehash always gives 8x8 bits
        raise ValueError(f"unexpected pHash {value!r}")
    return value
