"""Videos through the real daemon, the real Telethon client and the loopback Telegram server.

Videos, round video messages, GIFs (Telegram's silent MP4s), video stickers and animated stickers
posted in a watched channel are fetched within ``[telegram.media] max_video_bytes`` (the document,
never its thumbnail), hashed frame by frame in the hashing pool's place (inline here) and
recorded as sightings whose media carries the video's timed frame hashes. Every video is made in
code (tests/videogen.py).

``test_listed_video_*`` (run them with ``-k listed_video``) list a video as vPDQ frames imported
from a CSV and expect ``video`` / ``clip`` hits with matched frame times: they need the video
matcher (monitor/matching/matcher.py with vpdq entries).
"""

from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.config import HashingSettings
from monitor.domain import MatchKind, Signals
from monitor.hashing.video import compute_video_signals
from monitor.matching.lists import read_hash_list
from monitor.runtime import ensure_bank
from tests.integration.daemon.harness import BANK, Env, eventually, photo
from tests.videogen import Scene, lottie_tgs, scene_video, transcode

SETTINGS = HashingSettings()
# 12 s of six distinct scenes, some panning: every second of it looks different.
SCENES = (
    Scene(61, 2.0),
    Scene(62, 2.0, pan=15),
    Scene(63, 2.0),
    Scene(64, 2.0, pan=25),
    Scene(65, 2.0),
    Scene(66, 2.0, pan=10),
)
TRIM = 5.0  # the trimmed copy starts this many seconds into the original
# Frame times are those of runs of near-identical frames (a still 2 s scene is one run, timed at
# its start), on both sides: matched times may differ by up to a scene's length.
RUN_SLACK = 2.1


@functools.cache
def original() -> bytes:
    return scene_video(SCENES, size=(320, 240), crf=18)


@functools.cache
def reencoded() -> bytes:
    """The whole original at another size and bitrate, as a re-post would give."""
    return transcode(original(), size=(256, 192), bitrate=200_000)


@functools.cache
def trimmed() -> bytes:
    """The original from TRIM seconds on, re-encoded."""
    return transcode(original(), start=TRIM, crf=23)


@functools.cache
def unrelated() -> bytes:
    return scene_video([Scene(71, 3.0), Scene(72, 3.0, pan=20)], size=(320, 240))


@functools.cache
def square() -> bytes:
    """A round video message's shape."""
    return scene_video([Scene(73, 2.0), Scene(74, 2.0, pan=10)], size=(240, 240))


@functools.cache
def gif_mp4() -> bytes:
    """A GIF as Telegram sends it: a short, silent MP4 loop."""
    return scene_video([Scene(75, 1.5), Scene(76, 1.5)], size=(240, 180))


@functools.cache
def video_sticker() -> bytes:
    return scene_video([Scene(77, 2.0, pan=10)], size=(256, 256), container="webm")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _media_rows(env: Env) -> dict[int, Any]:
    """Per message id: (media kind, skip reason, sha256, hash failure reason, frames)."""
    async with env.store() as store, store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT s.message_id, s.media_kind, s.skip_reason, s.telegram_media_id,"
                    " m.sha256, m.hash_failure_reason, m.frames FROM sightings s"
                    " LEFT JOIN media m ON m.id = s.media_id"
                )
            )
        ).all()
    return {r.message_id: r for r in rows}


async def _signals(env: Env, telegram_media_id: int) -> Signals | None:
    async with env.store() as store:
        return await store.signals_for_telegram_media(telegram_media_id)


def _media_id(env: Env, channel: Any, msg_id: int) -> int:
    media = channel.messages[msg_id].media
    assert media is not None
    return int(media.id)


async def test_a_video_posted_live_is_recorded_with_its_frame_hashes(env: Env) -> None:
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")  # so the channel's pts is known to Telethon
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        msg = env.world.post_document(
            channel,
            original(),
            "video/mp4",
            "clip.mp4",
            kind="video",
            duration=12.0,
            size=(320, 240),
            thumb=photo(80, (90, 68)),
        )
        media_id = _media_id(env, channel, msg)
        signals = await eventually(lambda: _signals(env, media_id), seconds=15)
        assert daemon.counters["videos_hashed"] == 1
    assert signals.sha256 == _sha(original())  # the video itself, not its thumbnail
    assert signals.video is not None
    assert signals.video.container == "mp4"
    assert signals.video.duration == pytest.approx(12.0, abs=0.2)
    expected = compute_video_signals(original(), SETTINGS)
    assert [f.timestamp for f in signals.frames] == [f.timestamp for f in expected.frames]
    assert [f.pdq for f in signals.frames] == [f.pdq for f in expected.frames]
    assert len(signals.frames) >= 6  # at least one per scene
    assert all(thumb == "" for _, _, thumb in env.world.served)  # no thumbnail was fetched
    rows = await _media_rows(env)
    assert rows[msg].media_kind == "video"
    assert rows[msg].skip_reason is None


async def test_every_kind_of_video_is_fetched_and_hashed_and_big_ones_are_not(env: Env) -> None:
    big = scene_video([Scene(78, 4.0, pan=30)], size=(640, 480), crf=10)
    small = max(len(original()), len(square()), len(gif_mp4()), len(video_sticker()))
    assert len(big) > small
    env.configure(**{"telegram.media": {"max_video_bytes": len(big) - 1}})
    channel = env.world.create_channel("feed", members=[env.user])
    post = env.world.post_document
    ids = {
        "video": post(channel, original(), "video/mp4", "a.mp4", kind="video", thumb=photo(81)),
        "round": post(channel, square(), "video/mp4", kind="round", duration=4.0),
        "gif": post(channel, gif_mp4(), "video/mp4", "a.gif.mp4", kind="gif", duration=3.0),
        "video_file": post(channel, unrelated(), "video/quicktime", "a.mov"),
        "video_sticker": post(channel, video_sticker(), "video/webm", kind="video_sticker"),
        "animated_sticker": post(
            channel, lottie_tgs(), "application/x-tgsticker", kind="animated_sticker"
        ),
        "too_big": post(channel, big, "video/mp4", "big.mp4", kind="video", thumb=photo(82)),
    }
    await env.watch("@feed")
    summary = await env.run_once()
    assert summary.counters["videos_hashed"] == 6
    assert summary.counters["skipped_too_large"] == 1

    served = {media_id for _, media_id, _ in env.world.served}
    assert _media_id(env, channel, ids["too_big"]) not in served  # never a byte of it
    assert all(thumb == "" for _, _, thumb in env.world.served)
    rows = await _media_rows(env)
    kinds = {name: rows[msg].media_kind for name, msg in ids.items()}
    assert kinds == {
        "video": "video",
        "round": "video",
        "gif": "animation",
        "video_file": "video",
        "video_sticker": "sticker",
        "animated_sticker": "sticker",
        "too_big": "video",
    }
    too_big = rows[ids["too_big"]]
    assert too_big.skip_reason == "too_large"
    assert too_big.sha256 is None
    sticker = rows[ids["animated_sticker"]]
    assert sticker.skip_reason is None
    assert sticker.sha256 == _sha(lottie_tgs())  # exact hashes still match lists
    assert sticker.hash_failure_reason == "lottie_unsupported"

    posted = {
        "video": original(),
        "round": square(),
        "gif": gif_mp4(),
        "video_file": unrelated(),
        "video_sticker": video_sticker(),
    }
    for name, data in posted.items():
        row = rows[ids[name]]
        assert row.skip_reason is None, name
        assert row.sha256 == _sha(data), name
        assert row.hash_failure_reason is None, name
        signals = await _signals(env, row.telegram_media_id)
        assert signals is not None, name
        assert signals.video is not None, name
        assert signals.frames, name
        assert signals.frames == compute_video_signals(data, SETTINGS).frames, name


async def test_a_forwarded_video_is_not_fetched_again(env: Env) -> None:
    source = env.world.create_channel("source", members=[env.user])
    copy = env.world.create_channel("copy", members=[env.user])
    msg = env.world.post_document(source, original(), "video/mp4", "a.mp4", kind="video")
    await env.watch("@source", "@copy")
    await env.run_once()
    downloads = env.world.request_count("upload.getFile")
    env.world.forward(source, msg, copy)
    summary = await env.run_once()
    assert env.world.request_count("upload.getFile") == downloads
    assert summary.counters["media_cached"] == 1
    async with env.store() as store, store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT s.chat_id, m.sha256, m.frames FROM sightings s"
                    " JOIN media m ON m.id = s.media_id"
                )
            )
        ).all()
    assert len(rows) == 2  # one sighting per channel, one media
    assert {r.sha256 for r in rows} == {_sha(original())}
    assert all(r.frames for r in rows)


# --- hits on listed videos (needs the video matcher) ----------------------------------------


async def _list_video(env: Env, data: bytes, video_id: str, case_id: str) -> None:
    """List ``data`` as a hash list would: one ``vpdq`` row per frame hash, with its time."""
    signals = compute_video_signals(data, env.settings.hashing)
    assert signals.frames
    path = env.tmp / "videos.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["hash_type", "hash", "video_id", "timestamp", "case_id"])
        for frame in signals.frames:
            writer.writerow(["vpdq", frame.pdq, video_id, f"{frame.timestamp:.3f}", case_id])
    entries = read_hash_list(path)
    settings = env.settings
    async with env.store() as store:
        await ensure_bank(store, settings, BANK, actor="test")
        await store.import_entries(BANK, entries, source=path.name, actor="test")


async def test_listed_video_reencoded_and_trimmed_copies_are_hits(env: Env) -> None:
    """NEEDS VIDEO MATCHING (monitor/matching/matcher.py with vpdq entries)."""
    await _list_video(env, original(), "vid-1", "case-video")
    channel = env.world.create_channel("feed", members=[env.user])
    whole = env.world.post_document(channel, reencoded(), "video/mp4", "re.mp4", kind="video")
    clip = env.world.post_document(channel, trimmed(), "video/mp4", "cut.mp4", kind="round")
    other = env.world.post_document(channel, unrelated(), "video/mp4", "other.mp4", kind="video")
    await env.watch("@feed")
    await env.run_once()
    async with env.store() as store:
        hits = await store.list_hits()
    by_message = {h.source.message_id: h for h in hits if h.source is not None}
    assert set(by_message) == {whole, clip}, "the unrelated video must not match"
    assert other not in by_message

    full = by_message[whole]
    assert full.case_id == "case-video"
    assert full.kind is MatchKind.VIDEO
    assert full.frames
    assert full.coverage is not None
    assert full.coverage >= env.settings.matching.video_share
    for pair in full.frames:  # same times: the whole video, re-encoded
        assert pair.query_ts is not None
        assert pair.entry_ts is not None
        assert abs(pair.query_ts - pair.entry_ts) <= RUN_SLACK
    assert full.span is not None
    assert full.span[1] - full.span[0] >= 8.0

    part = by_message[clip]
    assert part.case_id == "case-video"
    assert part.kind is MatchKind.CLIP  # 7 of 12 s: less than the video share
    assert part.frames
    for pair in part.frames:  # the clip's second t is the original's second t + TRIM
        assert pair.query_ts is not None
        assert pair.entry_ts is not None
        assert abs((pair.entry_ts - pair.query_ts) - TRIM) <= RUN_SLACK
    assert part.span is not None
    assert part.span[0] >= 0.0
    assert part.span[1] - part.span[0] >= env.settings.matching.clip_seconds
    assert part.span[1] <= 12.0 - TRIM + 0.5


async def test_listed_video_unrelated_video_is_no_hit(env: Env) -> None:
    """NEEDS VIDEO MATCHING. The negative half on its own: nothing listed matches."""
    await _list_video(env, original(), "vid-1", "case-video")
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_document(channel, unrelated(), "video/mp4", "other.mp4", kind="video")
    env.world.post_document(channel, square(), "video/mp4", kind="round")
    await env.watch("@feed")
    summary = await env.run_once()
    assert summary.counters["videos_hashed"] == 2
    async with env.store() as store:
        assert await store.list_hits() == []


def test_the_listing_is_a_vpdq_csv(tmp_path: Path) -> None:
    """The list the hit tests import: one vpdq row per frame of the original, in time order."""
    signals = compute_video_signals(original(), SETTINGS)
    path = tmp_path / "videos.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["hash_type", "hash", "video_id", "timestamp"])
        for frame in signals.frames:
            writer.writerow(["vpdq", frame.pdq, "vid-1", frame.timestamp])
    (entry,) = read_hash_list(path)
    assert entry.value == "vid-1"
    assert [f.pdq for f in entry.frames] == [f.pdq for f in signals.frames]
    assert [f.timestamp for f in entry.frames] == [f.timestamp for f in signals.frames]
