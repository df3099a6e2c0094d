"""Real decoded videos through hashing and matching: re-encoded, resized, trimmed, re-muxed, turned
into a GIF, a known photo inside a video, a still taken from a listed video, and a corrupt file.

Every video is made in code (tests/videogen.py); the listed video's entry is built from its own
frame hashes exactly as a vpdq list carries them (video id, timestamp, PDQ, quality).
"""

from __future__ import annotations

from functools import cache

import pytest

from monitor.config import HashingSettings
from monitor.domain import (
    Bank,
    Entry,
    EntryStatus,
    HashType,
    ListFrame,
    Match,
    MatchKind,
    Signals,
)
from monitor.hashing import compute_media_signals
from monitor.matching.matcher import Matcher
from monitor.synthetic import photo_like, to_jpeg
from tests.videogen import Scene, scene_video, still_video, to_gif, transcode

SETTINGS = HashingSettings()
SCENES = (Scene(40, 3.0), Scene(41, 3.0, pan=10.0), Scene(42, 3.0), Scene(43, 3.0, pan=6.0))
PHOTO_SEED = 77


@cache
def original() -> bytes:
    return scene_video(SCENES, size=(320, 240), fps=10, crf=18)


@cache
def matcher() -> Matcher:
    listed = compute_media_signals(original(), SETTINGS)
    assert listed.video is not None
    video_entry = Entry(
        id=1,
        bank="reported",
        hash_type=HashType.VPDQ,
        value="V-1",
        status=EntryStatus.ACTIVE,
        frames=tuple(ListFrame(f.timestamp, f.pdq, f.quality) for f in listed.frames),
    )
    photo = compute_media_signals(to_jpeg(photo_like(PHOTO_SEED, (320, 240))), SETTINGS)
    assert photo.pdq is not None
    photo_entry = Entry(2, "reported", HashType.PDQ, photo.pdq, EntryStatus.ACTIVE)
    return Matcher.build([Bank("reported")], [video_entry, photo_entry])


def matches(data: bytes) -> dict[int, Match]:
    signals = compute_media_signals(data, SETTINGS)
    return {m.entry_id: m for m in matcher().match(signals)}


def test_the_original_is_a_video_match() -> None:
    found = matches(original())
    assert found[1].kind is MatchKind.VIDEO
    assert found[1].coverage == 1.0
    assert found[1].distance == 0


@pytest.mark.parametrize(
    "options",
    [
        {"size": (256, 192), "crf": 35},  # smaller and harder compressed
        {"size": (480, 360), "bitrate": 300_000},  # larger, at a bitrate
        {"container": "webm", "size": (320, 240)},  # another codec (VP9) and container
        {"container": "mov", "crf": 30, "gop": 5},  # re-muxed as MOV, keyframe every 0.5 s
    ],
)
def test_reencoded_copies_are_video_matches(options: dict[str, object]) -> None:
    found = matches(transcode(original(), **options))  # type: ignore[arg-type]
    assert found[1].kind is MatchKind.VIDEO
    assert found[1].coverage is not None
    assert found[1].coverage >= 0.8
    assert found[1].distance <= 31


def test_a_trimmed_clip_is_a_clip_match_with_shifted_times() -> None:
    found = matches(transcode(original(), start=6.0, crf=28))
    match = found[1]
    assert match.kind is MatchKind.CLIP
    assert match.span is not None
    assert match.span[0] == 0.0
    assert match.span[1] >= 5.0
    # each posted second matched the listed video about 6 s later
    assert all(
        p.entry_ts is not None
        and p.query_ts is not None
        and abs(p.entry_ts - p.query_ts - 6.0) <= 1.0
        for p in match.frames
    )


def test_the_listed_video_inside_a_longer_one_is_a_clip() -> None:
    longer = (Scene(90, 4.0), *SCENES[1:3], Scene(91, 4.0))
    found = matches(scene_video(longer, size=(320, 240), fps=10))
    assert found[1].kind is MatchKind.CLIP
    assert found[1].span is not None
    assert 3.0 <= found[1].span[0] <= 5.0


def test_a_gif_made_from_the_video_matches() -> None:
    found = matches(to_gif(SCENES[:2], size=(160, 120), fps=5))
    assert found[1].kind in (MatchKind.CLIP, MatchKind.VIDEO)


def test_a_known_photo_inside_a_video_is_a_frame_match() -> None:
    scenes = (Scene(95, 3.0), Scene(PHOTO_SEED, 2.0), Scene(96, 3.0))
    found = matches(scene_video(scenes, size=(320, 240), fps=10))
    match = found[2]
    assert match.kind is MatchKind.FRAME
    assert match.hash_type is HashType.PDQ
    assert {p.query_ts for p in match.frames} <= {3.0, 4.0}
    assert 1 not in found


def test_a_still_video_of_a_known_photo_matches_the_photo() -> None:
    found = matches(still_video(photo_like(PHOTO_SEED, (320, 240)), 4.0))
    assert found[2].kind is MatchKind.FRAME


def test_a_still_taken_from_the_listed_video_is_a_frame_match() -> None:
    still = to_jpeg(photo_like(42, (320, 240)), 80)  # scene 3 of the listed video
    found = matches(still)
    assert found[1].kind is MatchKind.FRAME
    assert found[1].frames[0].entry_ts is not None
    assert 6.0 <= found[1].frames[0].entry_ts < 9.0


def test_unrelated_videos_do_not_match() -> None:
    other = scene_video((Scene(300, 4.0), Scene(301, 4.0, pan=8.0)), size=(320, 240), fps=10)
    assert matches(other) == {}
    assert matches(to_gif((Scene(302, 2.0),), size=(160, 120), fps=5)) == {}


def test_a_corrupt_video_is_no_match_and_no_crash() -> None:
    data = original()
    broken = data[:200] + bytes(len(data) // 3) + data[200 + len(data) // 3 :]
    signals: Signals = compute_media_signals(broken, SETTINGS)
    assert signals.video is not None
    # what could be decoded is hashed (or a typed failure); it can only match the listed video
    assert signals.failure is None or signals.failure.reason in ("corrupt_video", "no_video_stream")
    assert all(m.entry_id == 1 for m in matcher().match(signals))
    truncated = compute_media_signals(data[: len(data) // 10], SETTINGS)
    assert truncated.video is not None
    assert truncated.failure is not None or truncated.video.truncated
