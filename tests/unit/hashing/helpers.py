"""Small helpers for reading Signals in tests."""

from __future__ import annotations

from monitor.domain import HashType, QueryHash, Signals, Variant
from monitor.hashing import hamming


def query(signals: Signals, variant: Variant, hash_type: HashType = HashType.PDQ) -> QueryHash:
    found = [q for q in signals.queries if q.variant == variant and q.hash_type == hash_type]
    assert len(found) == 1, f"expected one {hash_type} {variant} query, got {found}"
    return found[0]


def pdq_queries(signals: Signals) -> list[QueryHash]:
    return [q for q in signals.queries if q.hash_type == HashType.PDQ]


def min_pdq_distance(signals: Signals, target_hex: str) -> int:
    """Smallest PDQ distance from any query of ``signals`` to ``target_hex``."""
    distances = [hamming(q.value, target_hex) for q in pdq_queries(signals)]
    assert distances, "no PDQ queries"
    return min(distances)
