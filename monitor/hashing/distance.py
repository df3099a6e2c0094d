"""Hamming distance between two hashes written as hex strings."""

from __future__ import annotations

__all__ = ["hamming"]

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hamming(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two hex strings of the same length (case-insensitive).

    Raises ``ValueError`` if the lengths differ or either string is not hexadecimal.
    """
    if len(a_hex) != len(b_hex):
        raise ValueError(f"hashes differ in length: {len(a_hex)} and {len(b_hex)} hex characters")
    if not (set(a_hex) <= _HEX_DIGITS and set(b_hex) <= _HEX_DIGITS):
        raise ValueError("hashes must be hexadecimal")
    if not a_hex:
        return 0
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
