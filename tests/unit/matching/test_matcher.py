from collections.abc import Sequence

import numpy as np
import pytest

from monitor.domain import (
    Bank,
    Entry,
    EntryStatus,
    HashType,
    QueryHash,
    Signals,
    Thresholds,
    Tier,
    Variant,
)
from monitor.matching.entries import IdTable
from monitor.matching.matcher import Matcher
from monitor.store.entries import EntryBatch, HashColumns

rng = np.random.default_rng(11)
BASE = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
SHA = "ab" * 32
MD5 = "cd" * 16
PHASH = "0123456789abcdef"


def flipped(value: str, count: int, start: int = 0) -> str:
    """``value`` with ``count`` bits flipped (bits start .. start + count - 1)."""
    number = int(value, 16)
    for bit in range(start, start + count):
        number ^= 1 << bit
    return f"{number:0{len(value)}x}"


def entry(
    entry_id: int,
    value: str,
    bank: str = "a",
    hash_type: HashType = HashType.PDQ,
    status: EntryStatus = EntryStatus.ACTIVE,
    **extra: object,
) -> Entry:
    return Entry(
        id=entry_id,
        bank=bank,
        hash_type=hash_type,
        value=value,
        status=status,
        **extra,  # type: ignore[arg-type]
    )


def signals(
    pdq: Sequence[tuple[str, Variant]] = (),
    phash: Sequence[tuple[str, Variant]] = (),
    sha256: str = "11" * 32,
    md5: str = "22" * 16,
) -> Signals:
    queries = tuple(QueryHash(HashType.PDQ, v, variant, 90) for v, variant in pdq)
    queries += tuple(QueryHash(HashType.PHASH, v, variant) for v, variant in phash)
    return Signals(sha256=sha256, md5=md5, size_bytes=10, queries=queries)


BANK_A = Bank(name="a")  # pdq 31, near-exact 10, reoriented 24, phash 8


def test_pdq_tiers_and_threshold() -> None:
    entries = [entry(i, flipped(BASE, d)) for i, d in enumerate([0, 10, 11, 31, 32], start=1)]
    matcher = Matcher.build([BANK_A], entries)
    found = matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)]))
    assert [(m.entry_id, m.distance, m.tier) for m in found] == [
        (1, 0, Tier.NEAR_EXACT),
        (2, 10, Tier.NEAR_EXACT),
        (3, 11, Tier.MATCH),
        (4, 31, Tier.MATCH),
    ]
    assert found[3].threshold == 31
    assert found[3].entry_value == flipped(BASE, 31)
    assert found[3].query_value == BASE
    assert found[3].variant is Variant.ORIGINAL
    assert found[3].hash_type is HashType.PDQ


def test_reoriented_variants_use_the_tighter_threshold() -> None:
    entries = [entry(1, flipped(BASE, 24)), entry(2, flipped(BASE, 25, start=100))]
    matcher = Matcher.build([BANK_A], entries)
    rotated = matcher.match(signals(pdq=[(BASE, Variant.ROT90)]))
    assert [(m.entry_id, m.threshold, m.variant) for m in rotated] == [(1, 24, Variant.ROT90)]
    trimmed = matcher.match(signals(pdq=[(BASE, Variant.TRIMMED)]))
    assert [(m.entry_id, m.threshold) for m in trimmed] == [(1, 31), (2, 31)]


def test_per_bank_thresholds_over_the_same_hash() -> None:
    strict = Bank(name="strict", thresholds=Thresholds(pdq=12, pdq_near_exact=2))
    loose = Bank(name="loose", thresholds=Thresholds(pdq=40, pdq_near_exact=20))
    value = flipped(BASE, 15)
    matcher = Matcher.build([strict, loose], [entry(1, value, "strict"), entry(2, value, "loose")])
    found = matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)]))
    assert [(m.bank, m.tier, m.threshold) for m in found] == [("loose", Tier.NEAR_EXACT, 40)]
    far = matcher.match(signals(pdq=[(flipped(BASE, 20, start=50), Variant.ORIGINAL)]))
    assert [(m.bank, m.distance, m.tier) for m in far] == [("loose", 35, Tier.MATCH)]
    near = matcher.match(signals(pdq=[(flipped(BASE, 13), Variant.ORIGINAL)]))
    assert [(m.bank, m.tier) for m in near] == [
        ("loose", Tier.NEAR_EXACT),
        ("strict", Tier.NEAR_EXACT),
    ]


def test_set_bank_changes_thresholds_and_enabled_without_rebuild() -> None:
    matcher = Matcher.build([BANK_A], [entry(1, flipped(BASE, 20))])
    query = signals(pdq=[(BASE, Variant.ORIGINAL)])
    assert len(matcher.match(query)) == 1
    matcher.set_bank(Bank(name="a", thresholds=Thresholds(pdq=19)))
    assert matcher.match(query) == []
    matcher.set_bank(Bank(name="a", thresholds=Thresholds(pdq=40, pdq_near_exact=25)))
    assert matcher.match(query)[0].tier is Tier.NEAR_EXACT
    matcher.set_bank(Bank(name="a", enabled=False))
    assert matcher.match(query) == []
    assert matcher.stats().enabled_banks == ()


def test_disabled_bank_never_matches_even_exact() -> None:
    banks = [Bank(name="on"), Bank(name="off", enabled=False)]
    entries = [
        entry(1, SHA, "off", HashType.SHA256),
        entry(2, BASE, "off"),
        entry(3, BASE, "on"),
    ]
    matcher = Matcher.build(banks, entries)
    found = matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)], sha256=SHA))
    assert [m.entry_id for m in found] == [3]


def test_phash_is_never_near_exact() -> None:
    matcher = Matcher.build(
        [BANK_A],
        [
            entry(1, PHASH, hash_type=HashType.PHASH),
            entry(2, flipped(PHASH, 9), hash_type=HashType.PHASH),
        ],
    )
    found = matcher.match(signals(phash=[(PHASH, Variant.ORIGINAL)]))
    assert [(m.entry_id, m.distance, m.tier, m.threshold) for m in found] == [(1, 0, Tier.MATCH, 8)]
    found = matcher.match(signals(phash=[(flipped(PHASH, 1), Variant.ORIGINAL)]))
    assert [(m.entry_id, m.distance) for m in found] == [(1, 1), (2, 8)]


def test_exact_hashes() -> None:
    entries = [
        entry(
            1, SHA.upper(), hash_type=HashType.SHA256, case_id="C", label="L", metadata={"k": "v"}
        ),
        entry(2, MD5, hash_type=HashType.MD5),
        entry(3, "ef" * 16, hash_type=HashType.MD5),
    ]
    matcher = Matcher.build([BANK_A], entries)
    found = matcher.match(signals(sha256=SHA, md5=MD5))
    assert [(m.entry_id, m.tier, m.distance, m.variant, m.hash_type) for m in found] == [
        (1, Tier.EXACT, 0, Variant.ORIGINAL, HashType.SHA256),
        (2, Tier.EXACT, 0, Variant.ORIGINAL, HashType.MD5),
    ]
    assert (found[0].case_id, found[0].label, found[0].metadata) == ("C", "L", {"k": "v"})
    assert found[0].entry_value == SHA
    assert matcher.match(signals(sha256=SHA.upper()))[0].entry_id == 1


def test_withdrawn_entries_never_match() -> None:
    entries = [
        entry(1, BASE),
        entry(2, flipped(BASE, 3), status=EntryStatus.WITHDRAWN),
        entry(3, SHA, hash_type=HashType.SHA256),
    ]
    matcher = Matcher.build([BANK_A], entries)
    query = signals(pdq=[(BASE, Variant.ORIGINAL)], sha256=SHA)
    assert [m.entry_id for m in matcher.match(query)] == [3, 1]
    assert matcher.withdraw([1, 3, 99]) == 2
    assert matcher.match(query) == []
    assert matcher.stats().entries == 0
    # a withdrawn entry arriving through add_entries withdraws it too
    matcher.add_entries([entry(4, BASE)])
    assert [m.entry_id for m in matcher.match(query)] == [4]
    matcher.add_entries([entry(4, BASE, status=EntryStatus.WITHDRAWN)])
    assert matcher.match(query) == []


def test_one_match_per_entry_keeps_the_strongest() -> None:
    matcher = Matcher.build([BANK_A], [entry(1, flipped(BASE, 5))])
    query = signals(
        pdq=[
            (flipped(BASE, 20, start=60), Variant.ORIGINAL),  # distance 25
            (flipped(BASE, 5), Variant.ROT90),  # distance 0, reoriented
            (BASE, Variant.TRIMMED),  # distance 5
            (flipped(BASE, 5), Variant.TRIMMED_FLIP_H),  # distance 0, reoriented + trimmed
        ]
    )
    (match,) = matcher.match(query)
    assert (match.distance, match.variant) == (0, Variant.ROT90)
    same = signals(pdq=[(BASE, Variant.TRIMMED), (BASE, Variant.ORIGINAL), (BASE, Variant.FLIP_H)])
    (match,) = matcher.match(same)
    assert match.variant is Variant.ORIGINAL


def test_results_sorted_by_tier_distance_bank_entry() -> None:
    banks = [Bank(name="b"), Bank(name="a")]
    entries = [
        entry(5, flipped(BASE, 20), "a"),
        entry(4, flipped(BASE, 20), "b"),
        entry(3, flipped(BASE, 20), "a"),
        entry(2, flipped(BASE, 2), "b"),
        entry(1, SHA, "b", HashType.SHA256),
    ]
    matcher = Matcher.build(banks, entries)
    found = matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)], sha256=SHA))
    assert [m.entry_id for m in found] == [1, 2, 3, 5, 4]


def test_invalid_and_unknown_bank_entries_are_rejected_not_fatal() -> None:
    entries = [
        entry(1, "0" * 64),
        entry(2, BASE[:-1]),
        entry(3, BASE, bank="nope"),
        entry(4, BASE),
    ]
    matcher = Matcher.build([BANK_A], entries)
    stats = matcher.stats()
    assert stats.rejected == 3
    assert [i for i, _ in stats.rejected_examples] == [1, 2, 3]
    assert "degenerate" in stats.rejected_examples[0][1]
    assert [m.entry_id for m in matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)]))] == [4]


def test_add_entries_replaces_an_existing_id() -> None:
    matcher = Matcher.build([BANK_A, Bank(name="b")], [entry(1, BASE, label="old")])
    matcher.add_entries([entry(1, flipped(BASE, 40), "b", label="new")])
    assert matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)])) == []
    (match,) = matcher.match(signals(pdq=[(flipped(BASE, 40), Variant.ORIGINAL)]))
    assert (match.bank, match.label) == ("b", "new")
    assert matcher.stats().by_bank == {"a": {}, "b": {HashType.PDQ: 1}}


def test_stats_counts_per_type_and_bank() -> None:
    banks = [BANK_A, Bank(name="b")]
    entries = [
        entry(1, BASE),
        entry(2, flipped(BASE, 1), "b"),
        entry(3, SHA, "b", HashType.SHA256),
        entry(4, PHASH, "a", HashType.PHASH),
        entry(5, MD5, "a", HashType.MD5, status=EntryStatus.WITHDRAWN),
    ]
    stats = Matcher.build(banks, entries).stats()
    assert stats.entries == 4
    assert stats.by_type == {
        HashType.PDQ: 2,
        HashType.PHASH: 1,
        HashType.MD5: 0,
        HashType.SHA256: 1,
        HashType.VPDQ: 0,
    }
    assert stats.by_bank == {
        "a": {HashType.PDQ: 1, HashType.PHASH: 1},
        "b": {HashType.PDQ: 1, HashType.SHA256: 1},
    }
    assert stats.memory_bytes > 0


def test_empty_matcher_and_no_queries() -> None:
    matcher = Matcher.build([], [])
    assert matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)], sha256=SHA)) == []
    matcher = Matcher.build([BANK_A], [entry(1, BASE)])
    assert matcher.match(Signals(sha256="", md5="", size_bytes=0)) == []


def test_many_entries_added_incrementally() -> None:
    local = np.random.default_rng(4)
    values = [bytes(local.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(3000)]
    matcher = Matcher.build([BANK_A], [entry(i, v) for i, v in enumerate(values[:2000])])
    for start in range(2000, 3000, 100):
        matcher.add_entries([entry(i, values[i]) for i in range(start, start + 100)])
    matcher.withdraw(range(0, 3000, 2))
    for i in (1, 2, 2001, 2998, 2999):
        found = matcher.match(signals(pdq=[(values[i], Variant.ORIGINAL)]))
        assert [m.entry_id for m in found] == ([] if i % 2 == 0 else [i])
    assert matcher.stats().entries == 1500


def test_id_table() -> None:
    table = IdTable(delta_limit=4)
    ids = np.array([5, 1, 9], dtype=np.int64)
    table.put_many(ids, np.array([50, 10, 90], dtype=np.int64))
    assert table.get(1) == 10
    assert table.get(2) is None
    table.put_many(np.arange(100, 110, dtype=np.int64), np.arange(10, dtype=np.int64))  # merge
    assert len(table) == 13
    assert table.get(109) == 9
    assert table.get(9) == 90
    old = table.delete_many(np.array([9, 2, 105], dtype=np.int64))
    assert old.tolist() == [90, -1, 5]
    assert table.get(9) is None
    assert len(table) == 11
    table.put_many(np.array([9], dtype=np.int64), np.array([7], dtype=np.int64))
    assert table.get(9) == 7
    assert len(table) == 12
    ids_out, _values_out = table.items()
    assert ids_out.tolist() == sorted(ids_out.tolist())
    assert len(ids_out) == 12


@pytest.mark.parametrize("near_exact", [0, 31])
def test_near_exact_bound_is_inclusive(near_exact: int) -> None:
    bank = Bank(name="a", thresholds=Thresholds(pdq_near_exact=near_exact))
    matcher = Matcher.build([bank], [entry(1, flipped(BASE, near_exact))])
    (match,) = matcher.match(signals(pdq=[(BASE, Variant.ORIGINAL)]))
    assert match.tier is Tier.NEAR_EXACT


def columns(
    hash_type: HashType, ids: list[int], values: list[str], bank_id: int, attribute: int = 0
) -> HashColumns:
    return HashColumns(
        hash_type,
        np.array(ids, dtype=np.int64),
        np.full(len(ids), bank_id, dtype=np.int64),
        np.full(len(ids), attribute, dtype=np.int64),
        np.array([list(bytes.fromhex(v)) for v in values], dtype=np.uint8).reshape(
            len(ids), hash_type.bits // 8
        ),
    )


def test_loader_builds_the_same_matcher_as_entries() -> None:
    """The store's column batches (see iter_entry_columns) give what Matcher.build gives."""
    a, b = Bank(name="a", id=3), Bank(name="b", id=8)
    local = np.random.default_rng(9)
    pdqs = [bytes(local.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(6)]
    entries = [
        entry(1, pdqs[0], "a", case_id="C-1", label="x", metadata={"k": "v"}),
        entry(2, pdqs[1], "b"),
        entry(3, PHASH, "a", HashType.PHASH, case_id="C-1", label="x", metadata={"k": "v"}),
        entry(4, MD5, "b", HashType.MD5),
        entry(5, SHA, "a", HashType.SHA256),
        entry(6, pdqs[2], "b"),
    ]
    loader = Matcher.loader([a, b])
    loader.add(
        EntryBatch(
            columns=[
                columns(HashType.PDQ, [1], [pdqs[0]], 3, attribute=1),
                columns(HashType.PDQ, [2], [pdqs[1]], 8),
                columns(HashType.PHASH, [3], [PHASH], 3, attribute=1),
            ],
            new_attributes=[(None, None, {}), ("C-1", "x", {"k": "v"})],
        )
    )
    loader.add(
        EntryBatch(
            columns=[
                columns(HashType.MD5, [4], [MD5], 8),
                columns(HashType.SHA256, [5], [SHA], 3),
                columns(HashType.PDQ, [6, 7], [pdqs[2], pdqs[3]], 8),
                columns(HashType.PDQ, [9], [pdqs[4]], 99),  # a bank the matcher does not know
            ],
            new_attributes=[],
            entries=[entry(8, "0" * 64, "b")],  # malformed: rejected as by add_entries
        )
    )
    loaded = loader.finish()
    built = Matcher.build([a, b], [*entries, entry(7, pdqs[3], "b"), entry(8, "0" * 64, "b")])
    got, want = loaded.stats(), built.stats()
    assert (got.entries, got.by_type, got.by_bank) == (want.entries, want.by_type, want.by_bank)
    assert got.rejected == 2
    assert [i for i, _ in got.rejected_examples] == [9, 8]
    queries = [signals(pdq=[(flipped(p, 5), Variant.ORIGINAL)], sha256=SHA, md5=MD5) for p in pdqs]
    queries.append(signals(phash=[(flipped(PHASH, 2), Variant.ORIGINAL)]))
    for query in queries:
        assert loaded.match(query) == built.match(query)
    (match,) = loaded.match(signals(pdq=[(pdqs[0], Variant.ORIGINAL)]))
    assert (match.case_id, match.label, match.metadata) == ("C-1", "x", {"k": "v"})
    loaded.add_entries([entry(10, pdqs[5], "a")])  # and it grows like any matcher
    assert [m.entry_id for m in loaded.match(signals(pdq=[(pdqs[5], Variant.ORIGINAL)]))] == [10]
