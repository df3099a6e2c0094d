"""Banks and hash-list entries: import, merge, withdraw, reinstate, history, all-or-nothing."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from monitor.domain import Entry, EntryStatus, HashType, ListEntry, ListFrame, Thresholds
from monitor.errors import NotFound
from monitor.store import EntryEventKind, ImportResult, Store
from monitor.store import entries as entries_module
from tests.integration.store.factories import hex_of, list_entry


async def entries_by_value(store: Store, bank: str | None = None) -> dict[str, Entry]:
    return {e.value: e async for e in store.iter_entries(bank)}


async def test_upsert_get_list_banks(store: Store) -> None:
    created = await store.upsert_bank(
        "ncmec", source="NCMEC", thresholds=Thresholds(pdq=20, pdq_near_exact=5)
    )
    assert created.id is not None
    assert (created.name, created.source, created.description, created.enabled) == (
        "ncmec",
        "NCMEC",
        "",
        True,
    )
    assert created.thresholds == Thresholds(pdq=20, pdq_near_exact=5)

    updated = await store.upsert_bank("ncmec", description="the list")
    assert updated.id == created.id
    assert updated.source == "NCMEC"  # untouched
    assert updated.description == "the list"
    assert updated.thresholds == Thresholds(pdq=20, pdq_near_exact=5)

    await store.upsert_bank("iwf")
    assert (await store.get_bank("iwf")).thresholds == Thresholds()
    disabled = await store.set_bank_enabled("iwf", False)
    assert disabled.enabled is False

    await store.import_entries(
        "ncmec",
        [list_entry(1), list_entry(2), list_entry(3, status=EntryStatus.WITHDRAWN)],
        source="list.csv",
        actor="alice",
    )
    banks = await store.list_banks()
    assert [b.name for b in banks] == ["iwf", "ncmec"]
    assert (banks[1].active_entries, banks[1].withdrawn_entries) == (2, 1)
    assert (banks[0].active_entries, banks[0].withdrawn_entries) == (0, 0)
    got = await store.get_bank("ncmec")
    assert (got.active_entries, got.withdrawn_entries) == (2, 1)


async def test_unknown_bank_names_the_known_ones(store: Store) -> None:
    with pytest.raises(NotFound, match="no banks yet"):
        await store.get_bank("nope")
    await store.upsert_bank("alpha")
    await store.upsert_bank("beta")
    with pytest.raises(NotFound, match=r"'nope' \(known banks: alpha, beta\)"):
        await store.get_bank("nope")
    with pytest.raises(NotFound):
        await store.import_entries("nope", [list_entry(1)], source="f", actor="a")
    with pytest.raises(NotFound):
        await store.set_bank_enabled("nope", True)


async def test_import_is_idempotent(store: Store) -> None:
    await store.upsert_bank("b")
    lines = [
        list_entry(i, case_id=f"case-{i}", label="csam", metadata={"k": str(i)}) for i in range(50)
    ] + [list_entry(i, hash_type=HashType.MD5) for i in range(10)]
    first = await store.import_entries("b", lines, source="list.csv", actor="alice")
    assert first == ImportResult(bank="b", source="list.csv", added=60)
    before = await entries_by_value(store)

    again = await store.import_entries("b", lines, source="list.csv", actor="alice")
    assert again == ImportResult(bank="b", source="list.csv", unchanged=60)
    assert await entries_by_value(store) == before  # not even updated_at moved

    entry, *_ = [e async for e in store.iter_entries("b")]
    assert [ev.event for ev in await store.entry_history(entry.id)] == [EntryEventKind.ADDED]
    audit = await store.audit_entries()
    assert [a.action for a in audit] == ["entries.import", "entries.import"]
    assert audit[0].details["unchanged"] == 60
    assert audit[0].details["source"] == "list.csv"


async def test_same_value_in_two_banks_and_two_hash_types_are_distinct(store: Store) -> None:
    await store.upsert_bank("a")
    await store.upsert_bank("b")
    sha = list_entry(1, hash_type=HashType.SHA256)
    pdq = list_entry(1, hash_type=HashType.PDQ)
    assert sha.value == pdq.value  # both 64 hex digits
    assert (await store.import_entries("a", [sha, pdq], source="f", actor="x")).added == 2
    assert (await store.import_entries("b", [sha], source="f", actor="x")).added == 1
    all_entries = [e async for e in store.iter_entries()]
    assert sorted((e.bank, e.hash_type) for e in all_entries) == [
        ("a", HashType.PDQ),
        ("a", HashType.SHA256),
        ("b", HashType.SHA256),
    ]


async def test_duplicates_merge_and_updates_are_recorded(store: Store) -> None:
    await store.upsert_bank("b")
    added = datetime(2023, 1, 1, tzinfo=UTC)
    result = await store.import_entries(
        "b",
        [
            list_entry(1, case_id="c1", metadata={"a": "1"}, line=2),
            list_entry(1, label="csam", added_at=added, metadata={"b": "2"}, line=3),
        ],
        source="one.csv",
        actor="alice",
    )
    assert (result.added, result.total) == (1, 1)
    [entry] = [e async for e in store.iter_entries("b")]
    assert (entry.case_id, entry.label, entry.added_at) == ("c1", "csam", added)
    assert entry.metadata == {"a": "1", "b": "2"}

    # A later list without the case id keeps it; new fields and metadata merge in.
    result = await store.import_entries(
        "b", [list_entry(1, label="other", metadata={"c": "3"})], source="two.csv", actor="bob"
    )
    assert result == ImportResult(bank="b", source="two.csv", updated=1)
    [entry] = [e async for e in store.iter_entries("b")]
    assert (entry.case_id, entry.label) == ("c1", "other")
    assert entry.metadata == {"a": "1", "b": "2", "c": "3"}
    history = await store.entry_history(entry.id)
    assert [(h.event, h.source, h.actor) for h in history] == [
        (EntryEventKind.ADDED, "one.csv", "alice"),
        (EntryEventKind.UPDATED, "two.csv", "bob"),
    ]


async def test_withdraw_by_status_line_then_reinstate(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(1), list_entry(2)], source="v1", actor="a")

    result = await store.import_entries(
        "b",
        [list_entry(1, status=EntryStatus.WITHDRAWN), list_entry(2)],
        source="v2",
        actor="a",
    )
    assert result == ImportResult(bank="b", source="v2", withdrawn=1, unchanged=1)
    entries = await entries_by_value(store)
    assert entries[hex_of(1)].status == EntryStatus.WITHDRAWN
    active = [e.value async for e in store.iter_entries("b", EntryStatus.ACTIVE)]
    assert active == [hex_of(2)]

    result = await store.import_entries("b", [list_entry(1)], source="v3", actor="a")
    assert result == ImportResult(bank="b", source="v3", reinstated=1)
    entry = (await entries_by_value(store))[hex_of(1)]
    assert entry.status == EntryStatus.ACTIVE
    history = await store.entry_history(entry.id)
    assert [(h.event, h.source) for h in history] == [
        (EntryEventKind.ADDED, "v1"),
        (EntryEventKind.WITHDRAWN, "v2"),
        (EntryEventKind.REINSTATED, "v3"),
    ]


async def test_later_line_in_the_same_list_wins(store: Store) -> None:
    await store.upsert_bank("b")
    result = await store.import_entries(
        "b",
        [
            list_entry(1),
            list_entry(1, status=EntryStatus.WITHDRAWN),
            list_entry(2, status=EntryStatus.WITHDRAWN),
            list_entry(2),
        ],
        source="f",
        actor="a",
    )
    # A value first seen as withdrawn is kept, as withdrawn (so a later match can say so).
    assert (result.added, result.withdrawn) == (1, 1)
    entries = await entries_by_value(store)
    assert entries[hex_of(1)].status == EntryStatus.WITHDRAWN
    assert entries[hex_of(2)].status == EntryStatus.ACTIVE


async def test_withdraw_entries(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries(
        "b", [list_entry(i) for i in range(5)], source="list.csv", actor="alice"
    )
    withdrawn = await store.withdraw_entries(
        "b", [hex_of(0).upper(), hex_of(1), hex_of(1)], reason="false positive", actor="bob"
    )
    assert withdrawn == 2
    # Already withdrawn: found, but nothing to do.
    assert await store.withdraw_entries("b", [hex_of(0)], reason="again", actor="bob") == 0
    bank = await store.get_bank("b")
    assert (bank.active_entries, bank.withdrawn_entries) == (3, 2)
    entry = (await entries_by_value(store))[hex_of(0)]
    history = await store.entry_history(entry.id)
    assert [(h.event, h.reason, h.actor) for h in history] == [
        (EntryEventKind.ADDED, None, "alice"),
        (EntryEventKind.WITHDRAWN, "false positive", "bob"),
    ]
    # Re-importing the list reinstates them: the list is the authority on what it lists.
    result = await store.import_entries(
        "b", [list_entry(i) for i in range(5)], source="list.csv", actor="alice"
    )
    assert (result.reinstated, result.unchanged) == (2, 3)


async def test_withdraw_unknown_values_names_them_and_changes_nothing(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(1)], source="f", actor="a")
    with pytest.raises(NotFound) as caught:
        await store.withdraw_entries("b", [hex_of(1), "ab" * 32, "cd" * 32], reason="r", actor="a")
    assert "2 value(s) not in bank 'b'" in str(caught.value)
    assert "ab" * 32 in str(caught.value)
    assert "cd" * 32 in str(caught.value)
    assert (await store.get_bank("b")).active_entries == 1


async def test_entry_history_of_unknown_entry(store: Store) -> None:
    with pytest.raises(NotFound, match="no list entry with id 999"):
        await store.entry_history(999)


async def test_iter_entries_streams_in_batches_with_filters(store: Store) -> None:
    await store.upsert_bank("a")
    await store.upsert_bank("b")
    await store.import_entries(
        "a",
        [
            list_entry(i, status=EntryStatus.WITHDRAWN if i % 3 == 0 else EntryStatus.ACTIVE)
            for i in range(25)
        ],
        source="f",
        actor="x",
    )
    await store.import_entries("b", [list_entry(i) for i in range(100, 107)], source="f", actor="x")
    everything = [e async for e in store.iter_entries(batch=4)]
    assert len(everything) == 32
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert len([e async for e in store.iter_entries("a", batch=4)]) == 25
    active_a = [e async for e in store.iter_entries("a", EntryStatus.ACTIVE, batch=4)]
    assert len(active_a) == 16
    assert all(e.status == EntryStatus.ACTIVE for e in active_a)
    assert len([e async for e in store.iter_entries(status=EntryStatus.WITHDRAWN)]) == 9
    with pytest.raises(NotFound):
        [e async for e in store.iter_entries("nope")]


async def test_failed_import_writes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(0)], source="v1", actor="a")
    audit_before = await store.audit_entries()

    monkeypatch.setattr(entries_module, "CHUNK", 10)
    original = Store._insert_entries
    calls = 0

    async def failing(self: Store, conn: object, rows: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk on fire")
        return await original(self, conn, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "_insert_entries", failing)
    lines = [list_entry(0, status=EntryStatus.WITHDRAWN)] + [list_entry(i) for i in range(1, 50)]
    with pytest.raises(RuntimeError, match="disk on fire"):
        await store.import_entries("b", lines, source="v2", actor="a")
    assert calls == 3  # two chunks were written before the failure ...

    # ... and rolled back, with the withdrawal that came before them.
    [entry] = [e async for e in store.iter_entries()]
    assert (entry.value, entry.status) == (hex_of(0), EntryStatus.ACTIVE)
    assert len(await store.entry_history(entry.id)) == 1
    assert await store.audit_entries() == audit_before


async def test_import_of_many_entries_is_bulk(store: Store) -> None:
    """A smoke test of speed: 20 000 entries, then the same again (all unchanged)."""
    await store.upsert_bank("big")
    lines = [list_entry(i) for i in range(20_000)]
    started = time.perf_counter()
    result = await store.import_entries("big", lines, source="big.csv", actor="a")
    assert result.added == 20_000
    again = await store.import_entries("big", lines, source="big.csv", actor="a")
    assert again.unchanged == 20_000
    assert time.perf_counter() - started < 20
    assert (await store.get_bank("big")).active_entries == 20_000


# --- videos (vpdq) ----------------------------------------------------------------------------


def video(
    video_id: str,
    frames: list[tuple[float, int]] | list[ListFrame],
    *,
    status: EntryStatus = EntryStatus.ACTIVE,
    case_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> ListEntry:
    """A listed video; frames as (timestamp, seed of the frame's PDQ) or ListFrames."""
    return ListEntry(
        hash_type=HashType.VPDQ,
        value=video_id,
        status=status,
        case_id=case_id,
        metadata=metadata or {},
        frames=tuple(
            f if isinstance(f, ListFrame) else ListFrame(f[0], hex_of(("frame", f[1])), 80)
            for f in frames
        ),
    )


def later(after: datetime | None, before: datetime | None) -> bool:
    assert after is not None
    assert before is not None
    return after > before


async def frame_rows(store: Store) -> list[tuple[int, float, str, int | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT entry_id, timestamp, pdq, quality FROM entry_frames ORDER BY id")
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_bank_video_thresholds(store: Store) -> None:
    created = await store.upsert_bank(
        "v", thresholds=Thresholds(pdq=20, video_share=0.5, clip_seconds=2.5)
    )
    assert (created.thresholds.video_share, created.thresholds.clip_seconds) == (0.5, 2.5)
    await store.upsert_bank("v", thresholds=replace(created.thresholds, video_share=0.9))
    [bank] = await store.list_banks()
    assert bank.thresholds == Thresholds(pdq=20, video_share=0.9, clip_seconds=2.5)
    await store.upsert_bank("d")
    assert (await store.get_bank("d")).thresholds == Thresholds()  # 0.8 and 3.0


async def test_import_video_with_frames_and_iterate(store: Store) -> None:
    await store.upsert_bank("b")
    lines = [
        list_entry(1),
        video("Clip-A", [(2.0, 2), (0.0, 0), (1.0, 1)], case_id="C-1"),
        list_entry(2, hash_type=HashType.MD5, metadata={"video_id": "Clip-A"}),
        video("clip-a", [(0.0, 9)]),  # ids keep their case: another video
    ]
    result = await store.import_entries("b", lines, source="v.csv", actor="alice")
    assert result == ImportResult(bank="b", source="v.csv", added=4)
    entries = [e async for e in store.iter_entries("b")]
    assert [(e.hash_type, e.value) for e in entries] == [
        (HashType.PDQ, hex_of(1)),
        (HashType.VPDQ, "Clip-A"),
        (HashType.MD5, hex_of(2, HashType.MD5)),
        (HashType.VPDQ, "clip-a"),
    ]
    pdq, clip, md5, other = entries
    assert (pdq.frames, md5.frames) == ((), ())
    assert md5.metadata == {"video_id": "Clip-A"}
    assert clip.case_id == "C-1"
    # In time order, whatever order the list gave them in.
    assert clip.frames == tuple(ListFrame(float(t), hex_of(("frame", t)), 80) for t in range(3))
    assert [f.pdq for f in other.frames] == [hex_of(("frame", 9))]
    assert await store.get_entry(clip.id) == clip
    assert (await store.get_entry(pdq.id)).frames == ()
    # Small batches: every batch brings the frames of its own videos.
    assert [e async for e in store.iter_entries(batch=1)] == entries
    assert [e async for e in store.iter_entries(batch=3)] == entries
    assert len(await frame_rows(store)) == 4
    [audit] = await store.audit_entries()
    assert (audit.details["videos"], audit.details["frames"]) == (2, 4)


async def test_reimporting_the_same_video_changes_nothing(store: Store) -> None:
    await store.upsert_bank("b")
    lines = [video("V", [(0.0, 0), (0.5, 1), (1.0, 2)]), list_entry(1)]
    await store.import_entries("b", lines, source="v1", actor="a")
    before = [e async for e in store.iter_entries("b")]
    frames_before = await frame_rows(store)
    bank_before = await store.get_bank("b")
    # The same frames in another order, and one given twice: still the same video.
    again = [
        video("V", [(1.0, 2), (0.0, 0), (0.5, 1), (0.0, 0)]),
        list_entry(1),
    ]
    result = await store.import_entries("b", again, source="v2", actor="a")
    assert result == ImportResult(bank="b", source="v2", unchanged=2)
    assert [e async for e in store.iter_entries("b")] == before
    assert await frame_rows(store) == frames_before  # not even rewritten
    assert (await store.get_bank("b")).updated_at == bank_before.updated_at
    assert [ev.event for ev in await store.entry_history(before[0].id)] == [EntryEventKind.ADDED]


async def test_other_frames_replace_them_and_move_the_bank(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries(
        "b", [video("V", [(0.0, 0), (1.0, 1)]), video("W", [(0.0, 5)])], source="v1", actor="a"
    )
    [v, w] = [e async for e in store.iter_entries("b")]
    bank_before = await store.get_bank("b")
    counts_before = (bank_before.active_entries, bank_before.withdrawn_entries)

    # Only the frames change (a quality, and one frame more): an update, nothing else.
    changed = video(
        "V",
        [
            ListFrame(0.0, hex_of(("frame", 0)), 95),
            ListFrame(1.0, hex_of(("frame", 1)), 80),
            ListFrame(2.0, hex_of(("frame", 2)), 80),
        ],
    )
    result = await store.import_entries(
        "b", [changed, video("W", [(0.0, 5)])], source="v2", actor="b"
    )
    assert result == ImportResult(bank="b", source="v2", updated=1, unchanged=1)
    got = await store.get_entry(v.id)
    assert got.frames == changed.frames
    assert later(got.updated_at, v.updated_at)
    assert await store.get_entry(w.id) == w  # untouched
    assert [(e.event, e.source) for e in await store.entry_history(v.id)] == [
        (EntryEventKind.ADDED, "v1"),
        (EntryEventKind.UPDATED, "v2"),
    ]
    # The bank's counts did not change, but its updated_at did: the daemon reloads on it.
    bank = await store.get_bank("b")
    assert (bank.active_entries, bank.withdrawn_entries) == counts_before
    assert later(bank.updated_at, bank_before.updated_at)
    assert sorted(r[0] for r in await frame_rows(store)) == [v.id, v.id, v.id, w.id]

    # Fewer frames: the old ones go.
    await store.import_entries("b", [video("V", [(3.0, 3)])], source="v3", actor="b")
    assert [f.timestamp for f in (await store.get_entry(v.id)).frames] == [3.0]
    assert sorted(r[0] for r in await frame_rows(store)) == [v.id, w.id]


async def test_a_metadata_only_change_also_moves_the_bank(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(1)], source="v1", actor="a")
    before = await store.get_bank("b")
    result = await store.import_entries("b", [list_entry(1, case_id="C-2")], source="v2", actor="a")
    assert result.updated == 1
    after = await store.get_bank("b")
    assert later(after.updated_at, before.updated_at)
    assert (after.active_entries, after.withdrawn_entries) == (1, 0)


async def test_video_status_and_fields_merge_like_other_entries(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries(
        "b", [video("V", [(0.0, 0)], case_id="C-1", metadata={"a": "1"})], source="v1", actor="a"
    )
    result = await store.import_entries(
        "b",
        [video("V", [(0.0, 0)], status=EntryStatus.WITHDRAWN, metadata={"b": "2"})],
        source="v2",
        actor="a",
    )
    assert result.withdrawn == 1
    [entry] = [e async for e in store.iter_entries("b")]
    assert (entry.status, entry.case_id, entry.metadata) == (
        EntryStatus.WITHDRAWN,
        "C-1",
        {"a": "1", "b": "2"},
    )
    assert len(entry.frames) == 1  # a withdrawn video keeps its frames
    assert [e async for e in store.iter_entries("b", EntryStatus.ACTIVE)] == []
    # Two lines for one video in one import: their frames together.
    result = await store.import_entries(
        "b", [video("V", [(0.0, 0)]), video("V", [(1.0, 1)])], source="v3", actor="a"
    )
    assert result.reinstated == 1
    assert [f.timestamp for f in (await store.get_entry(entry.id)).frames] == [0.0, 1.0]


async def test_a_video_without_frames(store: Store) -> None:
    await store.upsert_bank("b")
    with pytest.raises(ValueError, match="without frames"):
        await store.import_entries("b", [video("New", [])], source="f", actor="a")
    assert [e async for e in store.iter_entries("b")] == []
    # A known video given without frames keeps its own.
    await store.import_entries("b", [video("V", [(0.0, 0)])], source="f", actor="a")
    result = await store.import_entries("b", [video("V", [], case_id="C-3")], source="g", actor="a")
    assert result.updated == 1
    [entry] = [e async for e in store.iter_entries("b")]
    assert (entry.case_id, len(entry.frames)) == ("C-3", 1)
    bad = replace(list_entry(1), frames=(ListFrame(0.0, hex_of(0)),))
    with pytest.raises(ValueError, match="only vpdq entries"):
        await store.import_entries("b", [bad], source="f", actor="a")


async def test_withdraw_a_video_by_its_id(store: Store) -> None:
    await store.upsert_bank("b")
    await store.import_entries(
        "b",
        [video("Clip-A", [(0.0, 0)]), video("clip-a", [(0.0, 1)]), list_entry(1)],
        source="f",
        actor="a",
    )
    before = await store.get_bank("b")
    # Video ids as written (case kept); hex values in any case.
    assert (
        await store.withdraw_entries(
            "b", [" Clip-A ", hex_of(1).upper()], reason="gone", actor="bob"
        )
        == 2
    )
    entries = {e.value: e for e in [e async for e in store.iter_entries("b")]}
    assert entries["Clip-A"].status == EntryStatus.WITHDRAWN
    assert entries["clip-a"].status == EntryStatus.ACTIVE
    assert entries[hex_of(1)].status == EntryStatus.WITHDRAWN
    after = await store.get_bank("b")
    assert later(after.updated_at, before.updated_at)
    with pytest.raises(NotFound, match="CLIP-A"):
        await store.withdraw_entries("b", ["CLIP-A"], reason="r", actor="bob")
    # Deleting the entry takes its frames with it.
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM entries WHERE value = 'Clip-A'"))
    assert len(await frame_rows(store)) == 1


async def test_iter_entries_loads_frames_per_batch_not_per_entry(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.upsert_bank("b")
    lines = [list_entry(i) for i in range(30)]
    lines[5:5] = [video(f"v{i}", [(0.0, i), (1.0, i + 100)]) for i in range(6)]
    await store.import_entries("b", lines, source="f", actor="a")
    calls: list[int] = []
    original = entries_module._load_frames

    async def counting(conn: Any, ids: Any) -> Any:
        calls.append(len(ids))
        return await original(conn, ids)

    monkeypatch.setattr(entries_module, "_load_frames", counting)
    entries = [e async for e in store.iter_entries("b", batch=10)]
    assert len(entries) == 36
    assert calls == [5, 1]  # batches with videos only, one query each
    assert all(len(e.frames) == 2 for e in entries if e.hash_type is HashType.VPDQ)


async def test_iter_entries_without_videos_loads_no_frames_and_sees_new_videos(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(i) for i in range(20)], source="f", actor="a")
    calls: list[int] = []
    original = entries_module._load_frames

    async def counting(conn: Any, ids: Any) -> Any:
        calls.append(len(ids))
        return await original(conn, ids)

    monkeypatch.setattr(entries_module, "_load_frames", counting)
    assert len([e async for e in store.iter_entries("b", batch=5)]) == 20
    assert calls == []
    # A video imported while an iteration runs still comes with its frames.
    seen: list[Entry] = []
    async for entry in store.iter_entries("b", batch=5):
        seen.append(entry)
        if len(seen) == 3:
            await store.import_entries(
                "b", [video("Late", [(0.0, 0), (1.0, 1)])], source="g", actor="a"
            )
    assert (seen[-1].hash_type, seen[-1].value, len(seen[-1].frames)) == (HashType.VPDQ, "Late", 2)
    assert calls == [1]
