"""Hashing: bytes of one media item in, :class:`monitor.domain.Signals` out.

    compute_signals(data, settings) -> Signals      exact hashes, PDQ, pHash, query variants
    hash_file(path, settings) -> Signals            same, for a file (size checked before reading)
    hamming(a_hex, b_hex) -> int                    bit distance between two hex hashes

Lower-level pieces (decoding, PDQ, pHash, border trimming) live in the submodules and are exported
here for other packages and tests.
"""

from monitor.hashing.decode import (
    Decoded,
    DecodeError,
    ImageHeader,
    decode_image,
    load_rgb,
    open_image,
    sniff_format,
)
from monitor.hashing.distance import hamming
from monitor.hashing.pdq import (
    DIHEDRAL_ORDER,
    ORIENTATION_TRANSPOSE,
    ORIENTATIONS,
    PdqHashes,
    bits_to_hex,
    pdq_hashes,
)
from monitor.hashing.phash import phash_hex
from monitor.hashing.signals import compute_signals, hash_file
from monitor.hashing.trim import Border, find_border

__all__ = [
    "DIHEDRAL_ORDER",
    "ORIENTATIONS",
    "ORIENTATION_TRANSPOSE",
    "Border",
    "DecodeError",
    "Decoded",
    "ImageHeader",
    "PdqHashes",
    "bits_to_hex",
    "compute_signals",
    "decode_image",
    "find_border",
    "hamming",
    "hash_file",
    "load_rgb",
    "open_image",
    "pdq_hashes",
    "phash_hex",
    "sniff_format",
]
