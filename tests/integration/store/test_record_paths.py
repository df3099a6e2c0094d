"""``record_sighting`` has two ways to write on SQLite: the common case (new media, a new place,
a channel already known) goes through the driver; everything else through SQLAlchemy, as on
PostgreSQL. Both must store and answer exactly the same, and all or nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from monitor.domain import FrameMatch, HashType, MatchKind, QueryHash, Tier, Variant
from monitor.errors import StoreError
from monitor.store import Store
from tests.integration.store.factories import hex_of, make_entries, match_for, signals, tg_source
from tests.integration.store.test_video_hits import video

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


async def _count(store: Store, table: str) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def test_what_is_recorded_reads_back_the_same(store: Store) -> None:
    e1, e2, _ = await make_entries(store)
    # The first sighting in a channel writes the channel row; the next ones know it.
    await store.record_sighting(tg_source(1, media_id=1), signals(1), [], seen_at=T0)
    photo = replace(
        signals(2),
        queries=(
            QueryHash(HashType.PDQ, hex_of("q0"), Variant.ORIGINAL, 90),
            QueryHash(HashType.PDQ, hex_of("q1"), Variant.FLIP_H, 90),
        ),
        trimmed=True,
    )
    frame = replace(
        match_for(e2, tier=Tier.MATCH, distance=20),
        kind=MatchKind.FRAME,
        frames=(FrameMatch(None, 3.0, 20),),
    )
    result = await store.record_sighting(
        tg_source(2, media_id=2),
        photo,
        [match_for(e1, distance=4), frame],
        seen_at=T0,
        alert_targets=("chat", "webhook"),
        alert_min_tier=Tier.MATCH,
    )
    assert result.sighting_created
    assert len(result.hits) == 2
    assert result.new_hits == result.hits
    for hit in result.hits:
        assert await store.get_hit(hit.id) == hit
    assert await _count(store, "alert_deliveries") == 4
    assert await store.signals_for_telegram_media(2) == photo
    assert await store.signals_for_telegram_media(999) is None


async def test_videos_read_back_the_same(store: Store) -> None:
    await store.record_sighting(tg_source(1, media_id=1), signals(1), [], seen_at=T0)
    clip = video("v")
    await store.record_sighting(tg_source(2, media_id=2), clip.as_signals(), [], seen_at=T0)
    assert await store.signals_for_telegram_media(2) == clip.as_signals()


async def test_known_media_in_a_new_message_and_a_renamed_channel(store: Store) -> None:
    (e1,) = await make_entries(store, n=1)
    first = await store.record_sighting(
        tg_source(1, media_id=1), signals(1), [match_for(e1)], seen_at=T0
    )
    # The same bytes posted again: the same media row, a sighting of its own, a new hit.
    again = await store.record_sighting(
        tg_source(2, media_id=2), signals(1), [match_for(e1)], seen_at=T0
    )
    assert again.sighting_created
    assert again.media_id == first.media_id
    assert len(again.new_hits) == 1
    # The channel renamed: the row follows, and the hit shows the new title.
    renamed = await store.record_sighting(
        tg_source(3, media_id=3, title="New title"), signals(3), [match_for(e1)], seen_at=T0
    )
    [hit] = renamed.hits
    assert hit.source is not None
    assert hit.source.chat_title == "New title"
    assert (await store.get_hit(first.hits[0].id)).source.chat_title == "New title"  # type: ignore[union-attr]
    assert await _count(store, "channels") == 1


async def test_a_skipped_sighting_gets_its_media_attached(store: Store) -> None:
    await store.record_sighting(tg_source(1, media_id=1), signals(1), [], seen_at=T0)
    source = tg_source(2, media_id=2)
    assert await store.record_skipped(
        source, reason="unavailable", detail="gone", file_size=10, mime_type="image/jpeg"
    )
    result = await store.record_sighting(source, signals(2), [], seen_at=T0)
    assert not result.sighting_created
    assert await _count(store, "sightings") == 2
    assert await store.signals_for_telegram_media(2) == signals(2)


@pytest.mark.parametrize("known_channel", [True, False])
async def test_a_failed_write_leaves_nothing_behind(store: Store, known_channel: bool) -> None:
    (e1,) = await make_entries(store, n=1)
    if known_channel:
        await store.record_sighting(tg_source(1, media_id=1), signals(1), [], seen_at=T0)
    before = {t: await _count(store, t) for t in ("media", "sightings", "hits", "channels")}
    missing = replace(match_for(e1), entry_id=e1.id + 1000)  # no such entry: a foreign key fails
    with pytest.raises(StoreError):
        await store.record_sighting(
            tg_source(2, media_id=2, chat_id=-1001234567890 if known_channel else -100777),
            signals(2),
            [missing],
            seen_at=T0,
            alert_targets=("chat",),
        )
    after = {t: await _count(store, t) for t in ("media", "sightings", "hits", "channels")}
    assert after == before
    assert await _count(store, "alert_deliveries") == 0
    # ... and the store still works.
    ok = await store.record_sighting(tg_source(3, media_id=3), signals(3), [match_for(e1)])
    assert len(ok.new_hits) == 1
