"""A running daemon's matcher follows list changes in place: the store hands out the entries
changed since an event id, and applying them gives what a fresh load gives (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio

from monitor.domain import EntryStatus, HashType, QueryHash, Signals, Thresholds, Variant
from monitor.matching import Matcher
from monitor.runtime import (
    apply_list_changes,
    load_matcher,
    pending_list_changes,
    read_list_changes,
)
from monitor.store import Store
from tests.integration.store.factories import hex_of, list_entry


def query(value: str) -> Signals:
    return Signals(
        sha256="11" * 32,
        md5="22" * 16,
        size_bytes=10,
        queries=(QueryHash(HashType.PDQ, value, Variant.ORIGINAL, 90),),
    )


def matched(matcher: Matcher, *seeds: object) -> dict[object, list[tuple[str, int]]]:
    """For each seed's PDQ: the (bank, entry id) pairs it matches."""
    return {
        seed: sorted((m.bank, m.entry_id) for m in matcher.match(query(hex_of(seed))))
        for seed in seeds
    }


async def test_changes_since_a_mark_in_their_current_state(store: Store) -> None:
    await store.upsert_bank("a")
    assert await store.last_entry_event() == 0
    assert await store.entry_changes(0) == ([], 0)
    await store.import_entries("a", [list_entry(1), list_entry(2)], source="l", actor="t")
    mark = await store.last_entry_event()
    assert mark > 0
    await store.import_entries(
        "a", [list_entry(3), list_entry(2, case_id="C-2")], source="l", actor="t"
    )
    await store.withdraw_entries("a", [hex_of(1)], reason="gone", actor="t")
    await store.import_entries("a", [list_entry(3, case_id="C-3")], source="l", actor="t")

    entries, last = await store.entry_changes(mark)
    assert last == await store.last_entry_event()
    # Each entry once, as it is now: 3 was added then updated.
    by_value = {e.value: e for e in entries}
    assert len(entries) == len(by_value) == 3
    assert by_value[hex_of(1)].status is EntryStatus.WITHDRAWN
    assert by_value[hex_of(2)].case_id == "C-2"
    assert by_value[hex_of(3)].case_id == "C-3"
    assert {e.bank for e in entries} == {"a"}

    # Paged: read on from the last id until nothing comes back.
    seen: list[str] = []
    at = mark
    while True:
        page, at_next = await store.entry_changes(at, limit=1)
        if at_next == at:
            assert page == []
            break
        assert len(page) == 1
        seen.extend(e.value for e in page)
        at = at_next
    assert set(seen) == set(by_value)
    assert at == last


async def test_applied_changes_match_like_a_fresh_load(store: Store) -> None:
    await store.upsert_bank("a")
    await store.upsert_bank("b", thresholds=Thresholds(pdq=5))
    await store.import_entries("a", [list_entry(n) for n in range(1, 6)], source="l", actor="t")
    matcher = await load_matcher(store)
    assert matcher.event_mark == await store.last_entry_event()
    assert await pending_list_changes(store, matcher) == 0

    await store.import_entries("b", [list_entry(10), list_entry(11)], source="l", actor="t")
    await store.withdraw_entries("a", [hex_of(2), hex_of(3)], reason="gone", actor="t")
    await store.import_entries(
        "a", [list_entry(3), list_entry(4, case_id="C-4")], source="l", actor="t"
    )  # 3 reinstated, 4 updated
    await store.set_bank_enabled("b", False)
    pending = await pending_list_changes(store, matcher)
    assert pending is not None
    assert pending >= 5

    banks, entries, mark = await read_list_changes(store, matcher)
    assert apply_list_changes(matcher, banks, entries, mark) == len(entries)
    assert matcher.event_mark == mark == await store.last_entry_event()
    assert await pending_list_changes(store, matcher) == 0

    fresh = await load_matcher(store)
    seeds = [1, 2, 3, 4, 5, 10, 11, 99]
    assert matched(matcher, *seeds) == matched(fresh, *seeds)
    assert matched(matcher, 2)[2] == []  # withdrawn
    assert matched(matcher, 10)[10] == []  # its bank is disabled
    assert [m.case_id for m in matcher.match(query(hex_of(4)))] == ["C-4"]
    assert matcher.stats().entries == fresh.stats().entries

    await store.set_bank_enabled("b", True)
    banks, entries, mark = await read_list_changes(store, matcher)
    assert entries == []  # a bank's settings are no entry event
    apply_list_changes(matcher, banks, entries, mark)
    assert [b for b, _ in matched(matcher, 10)[10]] == ["b"]


async def test_changes_committed_while_loading_are_applied_after(store: Store) -> None:
    """The mark is taken before the entries stream in: what is committed meanwhile comes
    again as a change (applying it twice is harmless)."""
    await store.upsert_bank("a")
    await store.import_entries("a", [list_entry(1)], source="l", actor="t")
    mark = await store.last_entry_event()
    await store.import_entries("a", [list_entry(2)], source="l", actor="t")
    matcher = await load_matcher(store)  # sees 1 and 2
    matcher.event_mark = mark  # as if 2 was committed after the mark was taken
    banks, entries, new_mark = await read_list_changes(store, matcher)
    assert [e.value for e in entries] == [hex_of(2)]
    apply_list_changes(matcher, banks, entries, new_mark)
    assert matcher.stats().entries == 2
    assert [b for b, _ in matched(matcher, 2)[2]] == ["a"]


async def test_concurrent_list_changes_are_all_read(store: Store) -> None:
    """Two imports and a withdrawal at once (on PostgreSQL they take the events table one
    after the other, so event ids are committed in order): a reader that started before sees
    every change, none passed over."""
    await store.upsert_bank("a")
    await store.upsert_bank("b")
    await store.import_entries("a", [list_entry("w")], source="l", actor="t")
    mark = await store.last_entry_event()
    await asyncio.gather(
        store.import_entries("a", [list_entry(n) for n in range(100)], source="l", actor="t"),
        store.import_entries(
            "b", [list_entry(n, hash_type=HashType.MD5) for n in range(100)], source="l", actor="t"
        ),
        store.withdraw_entries("a", [hex_of("w")], reason="gone", actor="t"),
    )
    entries, _ = await store.entry_changes(mark, limit=10_000)
    assert len(entries) == 201
    assert sum(e.status is EntryStatus.WITHDRAWN for e in entries) == 1
