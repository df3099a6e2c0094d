"""Media seen but not hashed, media hashed later, and the signals kept for forwarded copies."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from monitor.domain import HashFailure, HashType, MediaKind, QueryHash, Signals, Variant
from monitor.errors import StoreError
from monitor.store import Store
from tests.integration.store.factories import hex_of, match_for, signals, tg_source
from tests.integration.store.test_sightings import count, make_entries

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def full_signals(seed: object) -> Signals:
    """Signals as hashing makes them: with every query variant, trimmed."""
    base = signals(seed)
    assert base.pdq is not None
    assert base.phash is not None
    return replace(
        base,
        queries=(
            QueryHash(HashType.PDQ, base.pdq, Variant.ORIGINAL, 90),
            QueryHash(HashType.PDQ, hex_of(("rot90", seed)), Variant.ROT90, 90),
            QueryHash(HashType.PDQ, hex_of(("trim", seed)), Variant.TRIMMED, 80),
            QueryHash(HashType.PHASH, base.phash, Variant.ORIGINAL),
        ),
        trimmed=True,
    )


async def sighting_row(store: Store, key: str) -> dict[str, object]:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM sightings WHERE source_key = :k"), {"k": key})
        ).one()
    return dict(row._mapping)


async def test_record_skipped_is_idempotent_and_keeps_the_channel(store: Store) -> None:
    source = tg_source(7, media_id=9001)
    created = await store.record_skipped(
        source, reason="too_large", detail="30 MB", file_size=30_000_000, mime_type="video/mp4"
    )
    assert created
    again = await store.record_skipped(
        source, reason="unavailable", detail=None, file_size=None, mime_type=None
    )
    assert not again
    row = await sighting_row(store, source.key)
    assert row["media_id"] is None
    assert (row["skip_reason"], row["skip_detail"]) == ("too_large", "30 MB")
    assert (row["file_size"], row["mime_type"]) == (30_000_000, "video/mp4")
    assert row["channel_id"] is not None
    assert await store.sighting_exists(source.key)
    assert (await count(store, "sightings"), await count(store, "channels")) == (1, 1)
    # Not hashed, so nothing to offer for a forwarded copy, and no hits to list.
    assert await store.signals_for_telegram_media(9001) is None
    assert await store.media_by_telegram_id(9001) is None
    assert await store.list_hits() == []
    assert await store.count_hits() == 0


async def test_record_skipped_never_touches_a_sighting_with_media(store: Store) -> None:
    source = tg_source(8)
    await store.record_sighting(source, signals(1), [])
    created = await store.record_skipped(
        source, reason="unavailable", detail="gone", file_size=1, mime_type=None
    )
    assert not created
    row = await sighting_row(store, source.key)
    assert row["media_id"] is not None
    assert row["skip_reason"] is None


async def test_skipped_then_hashed_attaches_the_media(store: Store) -> None:
    [entry] = await make_entries(store, n=1)
    source = tg_source(9)
    assert await store.record_skipped(
        source, reason="unsupported_kind", detail="video", file_size=10, mime_type="video/mp4"
    )
    result = await store.record_sighting(source, signals(1), [match_for(entry)], seen_at=T0)
    assert not result.sighting_created
    assert len(result.new_hits) == 1
    assert result.new_hits == result.hits
    row = await sighting_row(store, source.key)
    assert row["media_id"] == result.media_id
    assert (row["skip_reason"], row["skip_detail"]) == (None, None)
    assert (row["file_size"], row["mime_type"]) == (10, "video/mp4")  # what Telegram said stays
    assert await count(store, "sightings") == 1
    [hit] = await store.list_hits()
    assert hit.sighting_id == result.sighting_id
    # Recording it once more is the ordinary idempotent case; other content is still refused.
    again = await store.record_sighting(source, signals(1), [match_for(entry)])
    assert again.new_hits == ()
    with pytest.raises(StoreError, match="other content"):
        await store.record_sighting(source, signals(2), [])


async def test_skipped_then_hashed_by_two_writers_at_once(store_url: str) -> None:
    stores = [await Store.open(store_url, auto_upgrade=False) for _ in range(2)]
    try:
        entries = await make_entries(stores[0], n=2)
        source = tg_source(10)
        await stores[0].record_skipped(
            source, reason="unavailable", detail=None, file_size=None, mime_type=None
        )
        results = await asyncio.gather(
            *(
                s.record_sighting(source, signals(3), [match_for(e) for e in entries])
                for s in stores * 2
            )
        )
        assert not any(r.sighting_created for r in results)
        assert len({r.sighting_id for r in results}) == 1
        new = [h.id for r in results for h in r.new_hits]
        assert len(new) == len(set(new)) == 2
        assert await count(stores[0], "sightings") == 1
    finally:
        for s in stores:
            await s.close()


async def test_signals_for_telegram_media_round_trip(store: Store) -> None:
    sig = full_signals(1)
    await store.record_sighting(tg_source(1, media_id=777), sig, [])
    assert await store.signals_for_telegram_media(777) == sig
    assert await store.signals_for_telegram_media(778) is None


async def test_signals_of_a_failed_hash_keep_the_failure(store: Store) -> None:
    failed = signals(2, perceptual=False, failure="truncated")
    await store.record_sighting(tg_source(2, media_id=55), failed, [])
    got = await store.signals_for_telegram_media(55)
    assert got == failed
    assert got is not None
    assert got.failure == HashFailure("truncated", "detail")
    assert got.queries == ()


async def test_queries_are_filled_in_later_never_overwritten(store: Store) -> None:
    failed = signals(3, perceptual=False, failure="timeout")
    await store.record_sighting(tg_source(1, media_id=1), failed, [])
    full = full_signals(3)
    await store.record_sighting(tg_source(2, media_id=2), full, [])
    assert await store.signals_for_telegram_media(1) == full  # same media, now fully known
    # A later, different set of variants for the same content does not replace the first.
    other = replace(full, queries=full.queries[:1], trimmed=False)
    await store.record_sighting(tg_source(3, media_id=3), other, [])
    assert await store.signals_for_telegram_media(3) == full


async def test_media_without_stored_queries_gets_original_queries_rebuilt(store: Store) -> None:
    sig = full_signals(4)
    await store.record_sighting(tg_source(1, media_id=4), sig, [])
    async with store.engine.begin() as conn:  # as media recorded before the column existed
        await conn.execute(text("UPDATE media SET queries = NULL, trimmed = NULL"))
    got = await store.signals_for_telegram_media(4)
    assert got is not None
    assert got.queries == (
        QueryHash(HashType.PDQ, sig.pdq or "", Variant.ORIGINAL, sig.pdq_quality),
        QueryHash(HashType.PHASH, sig.phash or "", Variant.ORIGINAL),
    )
    assert got.trimmed is False
    assert (got.sha256, got.md5, got.size_bytes, got.mime, got.width, got.height) == (
        sig.sha256,
        sig.md5,
        sig.size_bytes,
        sig.mime,
        sig.width,
        sig.height,
    )


async def test_skipped_video_kind_is_recorded(store: Store) -> None:
    source = replace(tg_source(11), media_kind=MediaKind.VIDEO)
    assert await store.record_skipped(
        source, reason="unsupported_kind", detail=None, file_size=5, mime_type="video/mp4"
    )
    row = await sighting_row(store, source.key)
    assert row["media_kind"] == "video"


async def test_an_overlong_mime_type_from_a_sender_is_cut_not_fatal(store: Store) -> None:
    source = tg_source(12)
    assert await store.record_skipped(
        source, reason="mime_not_allowed", detail=None, file_size=1, mime_type="x/" + "y" * 500
    )
    row = await sighting_row(store, source.key)
    assert row["mime_type"] == ("x/" + "y" * 500)[:100]
