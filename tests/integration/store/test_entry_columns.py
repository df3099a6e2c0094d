"""Streaming active entries as columns for the matcher (iter_entry_columns, load_matcher)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import text

from monitor.domain import (
    Entry,
    EntryStatus,
    HashType,
    ListEntry,
    ListFrame,
    QueryHash,
    Signals,
    Variant,
)
from monitor.matching.matcher import Matcher
from monitor.runtime import load_matcher
from monitor.store import Store
from tests.integration.store.factories import hex_of, list_entry

Row = tuple[int, str, HashType, str, str | None, str | None, dict[str, str]]


async def columns_as_rows(store: Store, batch: int) -> tuple[list[Row], list[Entry]]:
    """Every row iter_entry_columns yields, as comparable tuples, and its whole entries."""
    banks = {b.id: b.name for b in await store.list_banks()}
    attributes: list[Any] = []
    rows: list[Row] = []
    entries: list[Entry] = []
    async for chunk in store.iter_entry_columns(batch=batch):
        attributes.extend(chunk.new_attributes)
        entries.extend(chunk.entries)
        for columns in chunk.columns:
            assert columns.values.shape == (len(columns.ids), columns.hash_type.bits // 8)
            assert list(columns.ids) == sorted(columns.ids)
            for i, entry_id in enumerate(columns.ids.tolist()):
                case_id, label, metadata = attributes[int(columns.attributes[i])]
                rows.append(
                    (
                        entry_id,
                        banks[int(columns.bank_ids[i])],
                        columns.hash_type,
                        bytes(columns.values[i]).hex(),
                        case_id,
                        label,
                        metadata,
                    )
                )
    return sorted(rows), entries


def as_row(entry: Entry) -> Row:
    return (
        entry.id,
        entry.bank,
        entry.hash_type,
        entry.value,
        entry.case_id,
        entry.label,
        entry.metadata,
    )


async def fill(store: Store) -> None:
    await store.upsert_bank("a")
    await store.upsert_bank("b")
    a = [
        list_entry(i, hash_type=t, case_id=case, label=label, metadata=meta)
        for i, (t, case, label, meta) in enumerate(
            [
                (HashType.PDQ, "C-1", "ncii", {"k": "v"}),
                (HashType.PHASH, "C-1", "ncii", {}),
                (HashType.MD5, None, None, {}),
                (HashType.SHA256, "", "x", {"é": "ü ✓"}),
                (HashType.PDQ, "C-2", None, {}),
            ]
            * 7
        )
    ]
    await store.import_entries("a", a, source="a.csv", actor="t")
    b = [list_entry(("b", i), case_id=f"case {i % 3}") for i in range(40)]
    b.append(list_entry(("b", "gone"), status=EntryStatus.WITHDRAWN))
    b.append(
        ListEntry(
            hash_type=HashType.VPDQ,
            value="Clip-7",
            case_id="C-9",
            frames=(ListFrame(0.0, hex_of("f0")), ListFrame(1.0, hex_of("f1"), 80)),
        )
    )
    await store.import_entries("b", b, source="b.csv", actor="t")


async def test_columns_hold_every_active_entry_once(store: Store) -> None:
    await fill(store)
    expected = sorted(
        [
            as_row(e)
            async for e in store.iter_entries(status=EntryStatus.ACTIVE)
            if e.hash_type is not HashType.VPDQ
        ]
    )
    for batch in (1, 7, 1000):
        rows, entries = await columns_as_rows(store, batch)
        assert rows == expected
        [video] = entries
        assert (video.value, video.bank, video.case_id) == ("Clip-7", "b", "C-9")
        assert [f.timestamp for f in video.frames] == [0.0, 1.0]


async def test_attributes_with_separator_characters_and_odd_values(store: Store) -> None:
    """Case ids holding the batch's own separators are read again hex-encoded; stored values
    that are not well-formed hashes come as whole entries (the matcher rejects them)."""
    await store.upsert_bank("a")
    weird = [
        list_entry(1, case_id="a\x1eb", label="\x15"),
        list_entry(2, case_id="\x15", label=None),
        list_entry(3, case_id="plain", label="l", metadata={"x": "\x1e"}),
        list_entry(4),
        list_entry(5),
        list_entry(6),
    ]
    await store.import_entries("a", weird, source="w.csv", actor="t")
    ids = {e.value: e.id async for e in store.iter_entries("a")}
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE entries SET value = :v WHERE id = :id"),
            [
                {"v": "zz" * 32, "id": ids[hex_of(4)]},  # not hexadecimal
                {"v": "ab" * 31, "id": ids[hex_of(5)]},  # too short
                {"v": "00" * 32, "id": ids[hex_of(6)]},  # degenerate
            ],
        )
    expected = sorted([as_row(e) async for e in store.iter_entries() if e.id <= ids[hex_of(3)]])
    rows, entries = await columns_as_rows(store, 1000)
    assert rows == expected
    assert sorted(e.id for e in entries) == sorted(ids[hex_of(i)] for i in (4, 5, 6))
    matcher = await load_matcher(store)
    stats = matcher.stats()
    assert stats.entries == 3
    assert stats.rejected == 3


async def test_empty_store(store: Store) -> None:
    assert [b async for b in store.iter_entry_columns()] == []
    await store.upsert_bank("a")
    matcher = await load_matcher(store)
    assert matcher.stats().entries == 0


async def test_load_matcher_equals_building_from_entries(store: Store) -> None:
    await fill(store)
    banks = await store.list_banks()
    built = Matcher.build(banks, [e async for e in store.iter_entries()])
    loaded = await load_matcher(store)
    got, want = loaded.stats(), built.stats()
    assert (got.entries, got.by_type, got.by_bank, got.rejected, got.listed_frames) == (
        want.entries,
        want.by_type,
        want.by_bank,
        want.rejected,
        want.listed_frames,
    )
    rng = np.random.default_rng(3)
    for entry in [e async for e in store.iter_entries(status=EntryStatus.ACTIVE)]:
        if entry.hash_type is HashType.VPDQ:
            continue
        value = entry.value
        if entry.hash_type.perceptual:  # a near copy: a few bits flipped
            number = int(value, 16) ^ int(rng.integers(1, 7))
            value = f"{number:0{len(value)}x}"
            query = (QueryHash(entry.hash_type, value, Variant.ORIGINAL, 90),)
            signals = Signals(sha256="11" * 32, md5="22" * 16, size_bytes=1, queries=query)
        elif entry.hash_type is HashType.MD5:
            signals = Signals(sha256="11" * 32, md5=value, size_bytes=1)
        else:
            signals = Signals(sha256=value, md5="22" * 16, size_bytes=1)
        assert loaded.match(signals) == built.match(signals)
        assert any(m.entry_id == entry.id for m in loaded.match(signals))
    frame = Signals(
        sha256="11" * 32,
        md5="22" * 16,
        size_bytes=1,
        queries=(QueryHash(HashType.PDQ, hex_of("f1"), Variant.ORIGINAL, 90),),
    )
    assert loaded.match(frame) == built.match(frame) != []


async def test_list_banks_without_counts(store: Store) -> None:
    await fill(store)
    counted = await store.list_banks()
    bare = await store.list_banks(counts=False)
    assert [b.name for b in bare] == [b.name for b in counted] == ["a", "b"]
    assert [(b.active_entries, b.withdrawn_entries) for b in bare] == [(0, 0), (0, 0)]
    assert [b.thresholds for b in bare] == [b.thresholds for b in counted]
    assert counted[1].active_entries == 41
