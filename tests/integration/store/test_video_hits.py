"""Videos in the store: their facts and timed frame hashes, and video/clip/frame hits with where
they matched, through hits, evidence, filters and report rows (SQLite, and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from monitor.domain import (
    FrameHash,
    FrameMatch,
    HashFailure,
    HashType,
    HitFilter,
    ListEntry,
    ListFrame,
    Match,
    MatchKind,
    MediaKind,
    Tier,
    Variant,
    VideoSignals,
)
from monitor.store import Store
from tests.integration.store.factories import hex_of, tg_source

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def video(seed: object, frames: int = 4, **changes: object) -> VideoSignals:
    base = VideoSignals(
        sha256=hex_of(("sha256", seed), HashType.SHA256),
        md5=hex_of(("md5", seed), HashType.MD5),
        size_bytes=2_000_000,
        container="mp4",
        mime="video/mp4",
        codec="h264",
        duration=float(frames),
        width=1280,
        height=720,
        fps=30.0,
        frames=tuple(
            FrameHash(
                timestamp=float(i),
                until=float(i) + (0.5 if i == 1 else 0.0),
                pdq=hex_of(("frame", seed, i)),
                quality=88,
                keyframe=i == 0,
                count=2 if i == 1 else 1,
                trimmed_pdq=hex_of(("trim", seed, i)) if i == 2 else None,
                trimmed_quality=70 if i == 2 else None,
            )
            for i in range(frames)
        ),
        frames_decoded=frames * 30,
        frames_hashed=frames + 1,
        low_quality=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def listed_video(store: Store, bank: str = "videos") -> int:
    await store.upsert_bank(bank)
    frames = tuple(ListFrame(float(i), hex_of(("listed", i)), 90) for i in range(5))
    await store.import_entries(
        bank,
        [ListEntry(HashType.VPDQ, "Vid-01", case_id="C-1", label="listed", frames=frames)],
        source="videos.csv",
        actor="alice",
    )
    [entry] = [e async for e in store.iter_entries(bank)]
    assert entry.frames == frames
    return entry.id


def clip_match(entry_id: int) -> Match:
    return Match(
        entry_id=entry_id,
        bank="videos",
        hash_type=HashType.VPDQ,
        entry_value="Vid-01",
        query_value=hex_of("closest"),
        variant=Variant.TRIMMED,
        distance=7,
        tier=Tier.NEAR_EXACT,
        threshold=31,
        kind=MatchKind.CLIP,
        frames=(FrameMatch(12.0, 1.0, 6), FrameMatch(13.0, 2.0, 7), FrameMatch(14.0, 3.0, 9)),
        coverage=0.6,
        span=(12.0, 15.0),
    )


async def test_video_facts_and_frames_round_trip(store: Store) -> None:
    signals = video("a").as_signals()
    source = replace(tg_source(1, media_id=77), media_kind=MediaKind.VIDEO)
    await store.record_sighting(source, signals, [], seen_at=T0)
    again = await store.signals_for_telegram_media(77)
    assert again is not None
    assert again.video == signals.video
    assert again.frames == signals.frames
    assert again.perceptual_ok


async def test_a_failed_video_keeps_its_reason_and_gets_frames_later(store: Store) -> None:
    failed = video("b", failure=HashFailure("decode_timeout", "30 s"), frames=0)
    failed = replace(failed, frames=())
    source = replace(tg_source(2, media_id=78), media_kind=MediaKind.VIDEO)
    await store.record_sighting(source, failed.as_signals(), [], seen_at=T0)
    stored = await store.signals_for_telegram_media(78)
    assert stored is not None
    assert stored.video is not None
    assert stored.failure == HashFailure("decode_timeout", "30 s")
    assert stored.frames == ()
    # hashed again later (a bigger time budget): the frames are filled in, the failure cleared
    good = video("b")
    second = replace(tg_source(3, media_id=79), media_kind=MediaKind.VIDEO)
    await store.record_sighting(second, good.as_signals(), [], seen_at=T0)
    stored = await store.signals_for_telegram_media(78)
    assert stored is not None
    assert stored.frames == good.frames
    assert stored.failure is None


async def test_clip_hit_keeps_kind_frames_span_and_coverage(store: Store) -> None:
    entry_id = await listed_video(store)
    source = replace(tg_source(5, media_id=80), media_kind=MediaKind.VIDEO)
    result = await store.record_sighting(
        source, video("c").as_signals(), [clip_match(entry_id)], seen_at=T0
    )
    [hit] = result.new_hits
    assert hit.kind is MatchKind.CLIP
    assert hit.hash_type is HashType.VPDQ
    assert hit.entry_value == "Vid-01"
    assert hit.span == (12.0, 15.0)
    assert hit.coverage == 0.6
    assert hit.frames == clip_match(entry_id).frames
    assert hit.variant is Variant.TRIMMED

    [listed] = await store.list_hits(HitFilter(kinds=(MatchKind.CLIP,)))
    assert listed.frames == hit.frames
    assert await store.list_hits(HitFilter(kinds=(MatchKind.VIDEO, MatchKind.IMAGE))) == []
    assert await store.count_hits(HitFilter(kinds=(MatchKind.CLIP, MatchKind.VIDEO))) == 1

    evidence = await store.hit_evidence(hit.id)
    assert evidence.hit.span == (12.0, 15.0)
    assert evidence.media.duration == 4.0
    assert evidence.media.frames == 4
    assert evidence.media.codec == "h264"

    rows = [r async for r in store.iter_report_rows(HitFilter())]
    [row] = rows
    assert row.match_kind is MatchKind.CLIP
    assert (row.matched_from_s, row.matched_to_s, row.coverage) == (12.0, 15.0, 0.6)


async def test_image_hits_are_image_or_file_kind(store: Store) -> None:
    await store.upsert_bank("photos")
    await store.import_entries(
        "photos",
        [ListEntry(HashType.PDQ, hex_of("p")), ListEntry(HashType.SHA256, "ab" * 32)],
        source="p.csv",
        actor="alice",
    )
    entries = {e.hash_type: e async for e in store.iter_entries("photos")}
    photo = video("d").as_signals()  # any signals do; the matches say what matched
    matches = [
        Match(
            entries[HashType.PDQ].id,
            "photos",
            HashType.PDQ,
            hex_of("p"),
            hex_of("q"),
            Variant.ORIGINAL,
            4,
            Tier.NEAR_EXACT,
            31,
            kind=MatchKind.FRAME,
            frames=(FrameMatch(3.0, None, 4),),
            span=(3.0, 3.5),
        ),
        Match(
            entries[HashType.SHA256].id,
            "photos",
            HashType.SHA256,
            "ab" * 32,
            "ab" * 32,
            Variant.ORIGINAL,
            0,
            Tier.EXACT,
            0,
            kind=MatchKind.FILE,
        ),
    ]
    result = await store.record_sighting(tg_source(9, media_id=81), photo, matches, seen_at=T0)
    kinds = {h.hash_type: h for h in result.new_hits}
    assert kinds[HashType.SHA256].kind is MatchKind.FILE
    assert kinds[HashType.SHA256].frames == ()
    assert kinds[HashType.SHA256].span is None
    assert kinds[HashType.PDQ].kind is MatchKind.FRAME
    assert kinds[HashType.PDQ].frames == (FrameMatch(3.0, None, 4),)
