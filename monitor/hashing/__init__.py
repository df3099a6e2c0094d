"""Hashing: bytes of one media item in, :class:`monitor.domain.Signals` out.

    compute_media_signals(data, settings) -> Signals   any media: image, video, animation
    hash_file(path, settings) -> Signals               same, for a file (size checked first)
    compute_signals(data, settings) -> Signals         images: exact hashes, PDQ, pHash, variants
    compute_video_signals(data, settings)              videos: VideoSignals (timed frame PDQs)
    is_video(data) -> bool                             which of the two paths bytes take
    hamming(a_hex, b_hex) -> int                       bit distance between two hex hashes

A video or animation comes back as ``VideoSignals.as_signals()``: a :class:`Signals` whose
``video`` is set (``frames`` instead of ``pdq``). Lower-level pieces (decoding, PDQ, pHash, border
trimming, video decoding) live in the submodules and are exported here for other packages and
tests.
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
from monitor.hashing.signals import compute_media_signals, compute_signals, hash_file
from monitor.hashing.trim import Border, find_border
from monitor.hashing.video import compute_video_signals, video_file_signals
from monitor.hashing.video_sniff import VideoKind, is_video, sniff_kind

__all__ = [
    "DIHEDRAL_ORDER",
    "ORIENTATIONS",
    "ORIENTATION_TRANSPOSE",
    "Border",
    "DecodeError",
    "Decoded",
    "ImageHeader",
    "PdqHashes",
    "VideoKind",
    "bits_to_hex",
    "compute_media_signals",
    "compute_signals",
    "compute_video_signals",
    "decode_image",
    "find_border",
    "hamming",
    "hash_file",
    "is_video",
    "load_rgb",
    "open_image",
    "pdq_hashes",
    "phash_hex",
    "sniff_format",
    "sniff_kind",
    "video_file_signals",
]
