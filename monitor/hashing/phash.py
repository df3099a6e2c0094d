"""imagehash's 64-bit pHash, as 16 lower-case hex characters.

Computed from the same decoded RGB picture as PDQ. imagehash converts to greyscale itself
(``convert("L")``) and hashes the low frequencies of a 32 x 32 DCT; its hex string reads the 8 x 8
bit matrix row by row, first bit most significant. A pHash is only comparable with hashes made by
the same implementation (other pHash libraries disagree by several bits), so lists of pHashes must
come from imagehash too.
"""

from __future__ import annotations

import imagehash
from PIL import Image

__all__ = ["PHASH_HEX_LEN", "phash_hex"]

PHASH_HEX_LEN = 16


def phash_hex(image: Image.Image) -> str:
    """pHash of a decoded picture (any mode imagehash can turn into greyscale)."""
    value = str(imagehash.phash(image)).lower()
    if len(value) != PHASH_HEX_LEN:  # pragma: no cover - imagehash always gives 8x8 bits
        raise ValueError(f"unexpected pHash {value!r}")
    return value
