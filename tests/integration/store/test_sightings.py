"""Media, sightings and hits: idempotency, concurrency, filters, the Telegram media-id cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.domain import HashType, HitFilter, ReviewStatus, Tier, Variant
from monitor.errors import NotFound, StoreError
from monitor.store import Store
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


async def count(store: Store, table: str) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def test_record_sighting_twice_is_one_sighting_and_hits_once(store: Store) -> None:
    e1, e2, _ = await make_entries(store)
    source = tg_source()
    first = await store.record_sighting(
        source, signals(1), [match_for(e1), match_for(e2, tier=Tier.MATCH)], seen_at=T0
    )
    assert first.sighting_created
    assert len(first.hits) == 2
    assert set(first.new_hits) == set(first.hits)
    hit = next(h for h in first.hits if h.entry_id == e1.id)
    assert (hit.bank, hit.hash_type, hit.tier, hit.variant) == (
        "b",
        HashType.PDQ,
        Tier.NEAR_EXACT,
        Variant.ORIGINAL,
    )
    assert (hit.case_id, hit.label, hit.entry_value) == ("case-0", "csam", e1.value)
    assert hit.review_status == ReviewStatus.NEW
    assert hit.sha256 == signals(1).sha256
    assert hit.source is not None
    assert hit.source.key == source.key
    assert hit.source.chat_title == "Some channel"

    second = await store.record_sighting(
        source, signals(1), [match_for(e1), match_for(e2, tier=Tier.MATCH)], seen_at=T0
    )
    assert not second.sighting_created
    assert second.sighting_id == first.sighting_id
    assert second.media_id == first.media_id
    assert second.new_hits == ()
    assert {h.id for h in second.hits} == {h.id for h in first.hits}
    assert (await count(store, "sightings"), await count(store, "hits")) == (1, 2)
    assert await store.count_hits() == 2

    # The same sighting later matching one more entry adds just that hit.
    _, _, e3 = await make_entries(store)
    third = await store.record_sighting(source, signals(1), [match_for(e1), match_for(e3)])
    assert [h.entry_id for h in third.new_hits] == [e3.id]
    assert len(third.hits) == 2


async def test_same_media_in_two_places_is_one_media_two_sightings(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    a = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    b = await store.record_sighting(tg_source(2), signals(1), [match_for(e1)])
    assert a.media_id == b.media_id
    assert a.sighting_id != b.sighting_id
    assert len(b.new_hits) == 1
    assert (await count(store, "media"), await count(store, "sightings")) == (1, 2)
    assert await count(store, "channels") == 1


async def test_no_matches_still_records_the_sighting(store: Store) -> None:
    result = await store.record_sighting(file_source("/data/a.jpg"), signals(7), [])
    assert result.sighting_created
    assert result.hits == ()
    assert result.new_hits == ()
    assert await store.sighting_exists("file:/data/a.jpg")
    assert not await store.sighting_exists("file:/data/b.jpg")
    assert await count(store, "channels") == 0


async def test_several_matches_on_one_entry_keep_the_strongest(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    result = await store.record_sighting(
        tg_source(),
        signals(1),
        [
            match_for(e1, distance=20, tier=Tier.MATCH, variant=Variant.ROT90),
            match_for(e1, distance=8, tier=Tier.NEAR_EXACT, variant=Variant.FLIP_H),
            match_for(e1, distance=9, tier=Tier.NEAR_EXACT),
        ],
    )
    [hit] = result.hits
    assert (hit.distance, hit.tier, hit.variant) == (8, Tier.NEAR_EXACT, Variant.FLIP_H)


async def test_concurrent_record_of_the_same_sighting(store_url: str) -> None:
    """Two processes (two engines) record the same sighting at once: one sighting, hits once."""
    stores = [await Store.open(store_url, auto_upgrade=False) for _ in range(2)]
    try:
        entries = await make_entries(stores[0], n=4)
        matches = [match_for(e) for e in entries]
        for round_ in range(3):
            source = tg_source(100 + round_)
            results = await asyncio.gather(
                *(
                    s.record_sighting(source, signals(round_), list(reversed(matches)))
                    for s in stores * 3
                )
            )
            assert sum(r.sighting_created for r in results) == 1
            assert len({r.sighting_id for r in results}) == 1
            new = [h.id for r in results for h in r.new_hits]
            assert len(new) == 4
            assert len(set(new)) == 4
            assert all(len(r.hits) == 4 for r in results)
        assert await stores[0].count_hits() == 12
        assert await count(stores[0], "media") == 3
    finally:
        for s in stores:
            await s.close()


async def test_media_hashes_are_filled_in_later_never_overwritten(store: Store) -> None:
    failed = signals(1, perceptual=False, failure="truncated")
    await store.record_sighting(file_source("/a.jpg"), failed, [])
    await store.record_sighting(file_source("/b.jpg"), signals(1), [])
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM media"))).one()
    assert row.pdq == signals(1).pdq
    assert row.phash == signals(1).phash
    assert row.mime == "image/jpeg"
    assert row.width == 640
    assert row.hash_failure_reason is None
    assert row.hash_failure_detail is None
    # A later failure does not erase what is known.
    await store.record_sighting(file_source("/c.jpg"), failed, [])
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM media"))).one()
    assert row.pdq == signals(1).pdq


async def test_sighting_key_reused_for_other_content_is_refused(store: Store) -> None:
    await store.record_sighting(file_source("/a.jpg"), signals(1), [])
    with pytest.raises(StoreError, match="other content"):
        await store.record_sighting(file_source("/a.jpg"), signals(2), [])
    assert await count(store, "media") == 1  # the failed call wrote nothing


async def test_media_by_telegram_id(store: Store) -> None:
    assert await store.media_by_telegram_id(5012) is None
    await store.record_sighting(tg_source(media_id=5012), signals(1), [])
    assert await store.media_by_telegram_id(5012) == signals(1).sha256
    assert await store.media_by_telegram_id(5013) is None


async def test_channel_title_and_username_follow_the_latest(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    await store.record_sighting(tg_source(1, title="Old"), signals(1), [match_for(e1)])
    await store.record_sighting(
        tg_source(2, title="New", username=None), signals(2), [match_for(e1)]
    )
    hits = await store.list_hits()
    assert {h.source.chat_title for h in hits if h.source} == {"New"}
    assert {h.source.chat_username for h in hits if h.source} == {"somechannel"}


async def test_list_hits_filters_and_order(store: Store) -> None:
    [a1, a2] = await make_entries(store, "a", n=2)
    [b1] = await make_entries(store, "b", n=1, start=10)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(a1)], seen_at=T0)
    r2 = await store.record_sighting(
        tg_source(2),
        signals(2),
        [match_for(a2, tier=Tier.MATCH, distance=25)],
        seen_at=T0 + timedelta(hours=1),
    )
    r3 = await store.record_sighting(
        file_source("/x.png"),
        signals(3),
        [match_for(b1, tier=Tier.EXACT, distance=0)],
        seen_at=T0 + timedelta(hours=2),
    )
    h1, h2, h3 = r1.hits[0], r2.hits[0], r3.hits[0]
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE hits SET review_status = 'confirmed' WHERE id = :id"), {"id": h2.id}
        )

    def ids(hits: list) -> list[int]:  # type: ignore[type-arg]
        return [h.id for h in hits]

    assert ids(await store.list_hits()) == [h3.id, h2.id, h1.id]
    assert ids(await store.list_hits(limit=2)) == [h3.id, h2.id]
    assert ids(await store.list_hits(HitFilter(banks=("a",)))) == [h2.id, h1.id]
    assert ids(await store.list_hits(HitFilter(tiers=(Tier.EXACT,)))) == [h3.id]
    assert ids(await store.list_hits(HitFilter(statuses=(ReviewStatus.NEW,)))) == [h3.id, h1.id]
    assert ids(await store.list_hits(HitFilter(statuses=(ReviewStatus.CONFIRMED,)))) == [h2.id]
    assert ids(await store.list_hits(HitFilter(since=T0 + timedelta(hours=1)))) == [h3.id, h2.id]
    assert ids(await store.list_hits(HitFilter(until=T0 + timedelta(hours=1)))) == [h1.id]
    assert (
        ids(
            await store.list_hits(
                HitFilter(
                    banks=("a",),
                    statuses=(ReviewStatus.NEW,),
                    since=T0 - timedelta(days=1),
                    until=T0,
                )
            )
        )
        == []
    )
    assert await store.count_hits() == 3
    assert await store.count_hits(HitFilter(banks=("a",), statuses=(ReviewStatus.NEW,))) == 1

    got = await store.get_hit(h3.id)
    assert got.source is not None
    assert got.source.path == "/x.png"
    assert got.source.chat_id is None
    assert got.tier == Tier.EXACT
    hit = await store.get_hit(h1.id)
    assert hit.source == tg_source(1)  # every field of the source comes back
    with pytest.raises(NotFound, match="no hit with id 424242"):
        await store.get_hit(424242)


async def test_audit_entries_newest_first(store: Store) -> None:
    await store.audit("alice", "hits.export", "all", {"n": 3, "when": T0})
    await store.audit("bob", "bank.disable", "iwf")
    entries = await store.audit_entries()
    assert [(e.actor, e.action) for e in entries] == [
        ("bob", "bank.disable"),
        ("alice", "hits.export"),
    ]
    assert entries[1].details == {"n": 3, "when": T0.isoformat()}
    assert len(await store.audit_entries(limit=1)) == 1
