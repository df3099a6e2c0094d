"""Hash values that validate themselves: one place decides what a well-formed hash is.

Every hash that enters the index passes :func:`normalize_hash` (a list entry of the wrong length or
all zeros crashed the reference matcher's index build, ThreatExchange #1609).
"""

from __future__ import annotations

import unicodedata

from monitor.domain import HashType

__all__ = [
    "MAX_VIDEO_ID_CHARS",
    "InvalidHash",
    "hash_type_names",
    "normalize_hash",
    "normalize_video_id",
    "parse_hash_type",
]

_HEX_DIGITS = frozenset("0123456789abcdef")
MAX_VIDEO_ID_CHARS = 64  # entries.value is varchar(64)

# Canonical names plus the spellings real exports use. Kept deliberately short:
# - "hash_pdq", "hash_md5", "hash_sha256": Meta ThreatExchange indicator types (lower-cased);
# - "video_md5": python-threatexchange's name for the MD5 of a video file (an MD5 of file bytes);
# - "pdq_hash", "sha-256", "sha_256": common spreadsheet headers / values;
# - "vpdq", "video_pdq", "vpdq_frame": one timed frame PDQ of a listed video (vPDQ style); such
#   a line also carries the video id and the frame's timestamp.
_ALIASES: dict[str, HashType] = {
    "pdq": HashType.PDQ,
    "pdq_hash": HashType.PDQ,
    "hash_pdq": HashType.PDQ,
    "phash": HashType.PHASH,
    "md5": HashType.MD5,
    "hash_md5": HashType.MD5,
    "video_md5": HashType.MD5,
    "sha256": HashType.SHA256,
    "sha-256": HashType.SHA256,
    "sha_256": HashType.SHA256,
    "hash_sha256": HashType.SHA256,
    "vpdq": HashType.VPDQ,
    "video_pdq": HashType.VPDQ,
    "vpdq_frame": HashType.VPDQ,
}


class InvalidHash(ValueError):
    """A hash value or hash-type name that cannot be used. ``str()`` says exactly what is wrong."""


def hash_type_names() -> tuple[str, ...]:
    """Every accepted hash-type spelling, for help texts."""
    return tuple(_ALIASES)


def parse_hash_type(text: str) -> HashType:
    """Map a hash-type name (canonical or a known alias, any case) to a :class:`HashType`."""
    key = text.strip().lower()
    if not key:
        raise InvalidHash("empty hash type")
    try:
        return _ALIASES[key]
    except KeyError:
        canonical = ", ".join(t.value for t in HashType)
        problem = f"unknown hash type {_shorten(text)!r} (expected one of {canonical})"
        raise InvalidHash(problem) from None


def normalize_hash(hash_type: HashType, text: str) -> str:
    """Return ``text`` as lower-case hex of exactly ``hash_type.hex_len`` characters, or raise.

    Surrounding whitespace is stripped. Degenerate values (all zero bits or all one bits) are
    refused: they come from blank images or broken tools and would match each other.

    A :attr:`HashType.VPDQ` entry's value is the list's video id, not a hash: it is checked by
    :func:`normalize_video_id` and keeps its case. (Its frames are PDQs: check those as PDQ.)
    """
    if hash_type is HashType.VPDQ:
        return normalize_video_id(text)
    value = text.strip().lower()
    expected = hash_type.hex_len
    if len(value) != expected:
        raise InvalidHash(
            f"expected {expected} hex characters, got {len(value)} ({hash_type.value})"
        )
    if not _HEX_DIGITS.issuperset(value):
        for position, char in enumerate(value, start=1):
            if char not in _HEX_DIGITS:
                raise InvalidHash(f"not hexadecimal at position {position} ({char!r})")
    if value.count("0") == expected:
        raise InvalidHash(f"degenerate all-zero hash ({hash_type.value})")
    if value.count("f") == expected:
        raise InvalidHash(f"degenerate all-one hash ({hash_type.value})")
    return value


def normalize_video_id(text: str) -> str:
    """A listed video's id, stripped, case kept: 1 to 64 characters, no control characters."""
    value = text.strip()
    if not value:
        raise InvalidHash("empty video id")
    if len(value) > MAX_VIDEO_ID_CHARS:
        raise InvalidHash(
            f"video id longer than {MAX_VIDEO_ID_CHARS} characters ({len(value)}: "
            f"{_shorten(value)!r})"
        )
    for position, char in enumerate(value, start=1):
        # Cc control, Cf format (zero-width, bidi overrides), Cs surrogates, Co private use,
        # Cn unassigned: invisible or unprintable, and an id must read the same everywhere.
        if unicodedata.category(char).startswith("C"):
            raise InvalidHash(
                f"video id has a control or invisible character at position {position} "
                f"(U+{ord(char):04X})"
            )
    return value


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
