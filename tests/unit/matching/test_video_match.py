"""Video matching rules: listed videos (vpdq entries) against posted videos and images.

Frame hashes here are random 256-bit values with controlled bit flips, so every distance is
known exactly; real decoded videos go through the same code in the daemon tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from monitor.domain import (
    Bank,
    Entry,
    EntryStatus,
    FrameHash,
    HashType,
    ListFrame,
    MatchKind,
    QueryHash,
    Signals,
    Thresholds,
    Tier,
    Variant,
    VideoSignals,
)
from monitor.matching.matcher import Matcher
from monitor.matching.video_match import FrameIndex, distinct_frames

rng = np.random.default_rng(5)


def random_pdq() -> str:
    return bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()


def flip(value: str, bits: int, start: int = 0) -> str:
    number = int(value, 16)
    for bit in range(start, start + bits):
        number ^= 1 << bit
    return f"{number:064x}"


LISTED = [random_pdq() for _ in range(20)]  # a 20-second listed video, one frame a second
OTHER = [random_pdq() for _ in range(30)]


def video_entry(
    entry_id: int = 1,
    frames: Sequence[str] = LISTED,
    video_id: str = "Case-7/video-1",
    bank: str = "videos",
    times: Sequence[float] | None = None,
    qualities: Sequence[int | None] | None = None,
    status: EntryStatus = EntryStatus.ACTIVE,
) -> Entry:
    times = list(times) if times is not None else [float(i) for i in range(len(frames))]
    qualities = list(qualities) if qualities is not None else [100] * len(frames)
    return Entry(
        id=entry_id,
        bank=bank,
        hash_type=HashType.VPDQ,
        value=video_id,
        status=status,
        case_id="C-7",
        label="listed video",
        frames=tuple(
            ListFrame(t, pdq, q) for t, pdq, q in zip(times, frames, qualities, strict=True)
        ),
    )


def posted(
    frames: Sequence[str],
    *,
    start: float = 0.0,
    step: float = 1.0,
    duration: float | None = None,
    trimmed: Sequence[str | None] | None = None,
    sha256: str = "11" * 32,
    truncated: bool = False,
) -> Signals:
    hashes = tuple(
        FrameHash(
            timestamp=start + i * step,
            until=start + i * step,
            pdq=pdq,
            quality=90,
            trimmed_pdq=trimmed[i] if trimmed else None,
            trimmed_quality=90 if trimmed and trimmed[i] else None,
        )
        for i, pdq in enumerate(frames)
    )
    end = start + len(frames) * step if duration is None else duration
    return VideoSignals(
        sha256=sha256,
        md5="22" * 16,
        size_bytes=1000,
        container="mp4",
        mime="video/mp4",
        duration=end,
        frames=hashes,
        truncated=truncated,
    ).as_signals()


def matcher(*entries: Entry, thresholds: Thresholds | None = None, enabled: bool = True) -> Matcher:
    banks = [
        Bank("videos", thresholds=thresholds or Thresholds(), enabled=enabled),
        Bank("photos", thresholds=thresholds or Thresholds()),
    ]
    return Matcher.build(banks, list(entries))


def test_reencoded_copy_is_a_video_match_with_timestamps() -> None:
    m = matcher(video_entry())
    query = posted([flip(v, 6, i) for i, v in enumerate(LISTED)])
    [match] = m.match(query)
    assert match.kind is MatchKind.VIDEO
    assert match.hash_type is HashType.VPDQ
    assert match.entry_value == "Case-7/video-1"
    assert match.coverage == 1.0
    assert match.distance == 6
    assert match.tier is Tier.NEAR_EXACT
    assert match.threshold == 31
    assert match.span == (0.0, 20.0)
    assert [(p.query_ts, p.entry_ts, p.distance) for p in match.frames] == [
        (float(i), float(i), 6) for i in range(20)
    ]
    assert match.case_id == "C-7"


def test_far_but_within_threshold_is_a_match_tier() -> None:
    m = matcher(video_entry())
    [match] = m.match(posted([flip(v, 20, i) for i, v in enumerate(LISTED)]))
    assert match.kind is MatchKind.VIDEO
    assert (match.tier, match.distance) == (Tier.MATCH, 20)


def test_threshold_is_inclusive_per_frame() -> None:
    m = matcher(video_entry())
    [at] = m.match(posted([flip(v, 31) for v in LISTED]))
    assert at.distance == 31
    assert m.match(posted([flip(v, 32) for v in LISTED])) == []


def test_trimmed_clip_is_a_clip_match_with_both_timelines() -> None:
    m = matcher(video_entry())
    clip = [flip(v, 4) for v in LISTED[5:11]]  # seconds 5..10 of the listed video, 6 s
    [match] = m.match(posted(clip))
    assert match.kind is MatchKind.CLIP
    assert match.coverage == pytest.approx(6 / 20)
    assert match.span == (0.0, 6.0)
    assert [(p.query_ts, p.entry_ts) for p in match.frames] == [
        (float(i), float(i + 5)) for i in range(6)
    ]


def test_clip_inside_a_longer_unrelated_video() -> None:
    m = matcher(video_entry())
    frames = OTHER[:10] + LISTED[2:6] + OTHER[10:20]
    [match] = m.match(posted(frames, start=100.0))
    assert match.kind is MatchKind.CLIP
    assert match.span == (110.0, 114.0)


def test_two_matching_seconds_are_not_a_clip() -> None:
    m = matcher(video_entry())
    assert m.match(posted(OTHER[:10] + LISTED[2:4] + OTHER[10:20])) == []


def test_a_non_matching_frame_breaks_the_run() -> None:
    m = matcher(video_entry())
    frames = OTHER[:5] + LISTED[0:2] + [OTHER[20]] + LISTED[2:4] + OTHER[5:10]
    assert m.match(posted(frames)) == []


def test_short_posted_video_matching_throughout_is_a_clip() -> None:
    m = matcher(video_entry())
    [match] = m.match(posted(LISTED[7:9]))  # a 2-second GIF cut from the listed video
    assert match.kind is MatchKind.CLIP
    assert match.span == (0.0, 2.0)


def test_unrelated_video_does_not_match() -> None:
    m = matcher(video_entry())
    assert m.match(posted(OTHER)) == []


def test_per_bank_video_share_and_clip_seconds() -> None:
    half = LISTED[:12]  # 60% of the listed frames
    loose = matcher(video_entry(), thresholds=Thresholds(video_share=0.5))
    [match] = loose.match(posted(half))
    assert match.kind is MatchKind.VIDEO
    default = matcher(video_entry())
    [match] = default.match(posted(half))
    assert match.kind is MatchKind.CLIP
    strict = matcher(video_entry(), thresholds=Thresholds(clip_seconds=30.0))
    assert strict.match(posted(OTHER[:5] + LISTED[:12] + OTHER[5:10])) == []


def test_run_length_uses_time_not_frame_count() -> None:
    m = matcher(video_entry(), thresholds=Thresholds(clip_seconds=3.0))
    # sampled every 2 seconds: two consecutive matching frames span 4 seconds
    frames = OTHER[:3] + LISTED[3:5] + OTHER[3:6]
    [match] = m.match(posted(frames, step=2.0))
    assert match.kind is MatchKind.CLIP
    assert match.span == (6.0, 10.0)


def test_collapsed_static_run_covers_its_time() -> None:
    m = matcher(video_entry())
    hashes = (
        FrameHash(0.0, 0.0, OTHER[0], 90),
        FrameHash(1.0, 6.0, LISTED[4], 90, count=6),  # a 6-second static shot
        FrameHash(7.0, 7.0, OTHER[1], 90),
    )
    video = VideoSignals("33" * 32, "44" * 16, 10, duration=8.0, frames=hashes)
    [match] = m.match(video.as_signals())
    assert match.kind is MatchKind.CLIP
    assert match.span == (1.0, 7.0)


def test_truncated_video_does_not_stretch_the_last_frame_to_the_declared_end() -> None:
    m = matcher(video_entry())
    frames = OTHER[:5] + LISTED[:2]
    assert m.match(posted(frames, duration=600.0, truncated=True)) == []
    [match] = m.match(posted(frames, duration=600.0))
    assert match.kind is MatchKind.CLIP  # the last frame lasts until the declared end


def test_trimmed_frames_match_through_their_trimmed_hash() -> None:
    m = matcher(video_entry())
    letterboxed = [OTHER[i % 30] for i in range(20)]
    [match] = m.match(posted(letterboxed, trimmed=LISTED))
    assert match.kind is MatchKind.VIDEO
    assert match.variant is Variant.TRIMMED
    assert match.query_value == LISTED[0]


def test_distinct_frames_count_once_and_low_quality_frames_are_ignored() -> None:
    static = [LISTED[0]] * 10 + LISTED[1:5]  # 10 seconds of one shot, then 4 frames
    entry = video_entry(frames=static, qualities=[100] * 13 + [10])
    m = matcher(entry)
    # the shot plus 3 of the good frames: 4 of 4 distinct usable frames
    [match] = m.match(posted([LISTED[0], *LISTED[1:4]]))
    assert match.kind is MatchKind.VIDEO
    assert match.coverage == 1.0
    frames = distinct_frames(entry.frames)
    assert [(f.timestamp, f.pdq) for f in frames] == [
        (0.0, LISTED[0]),
        (10.0, LISTED[1]),
        (11.0, LISTED[2]),
        (12.0, LISTED[3]),
    ]


def test_video_without_usable_frames_is_rejected_not_fatal() -> None:
    m = matcher(
        video_entry(1, frames=LISTED[:3], qualities=[5, 5, 5]),
        video_entry(2, frames=LISTED[3:8], video_id="ok"),
    )
    stats = m.stats()
    assert stats.by_type[HashType.VPDQ] == 1
    assert stats.rejected == 1
    assert "no frame of usable quality" in stats.rejected_examples[0][1]
    assert stats.listed_frames == 5


def test_invalid_frame_hash_rejects_the_entry_with_its_time() -> None:
    bad = video_entry(frames=[LISTED[0], "00" * 32], video_id="bad")
    m = matcher(bad)
    assert m.stats().rejected == 1
    assert "frame at 1 s" in m.stats().rejected_examples[0][1]


def test_withdraw_and_replace_video_entries() -> None:
    m = matcher(video_entry())
    assert m.withdraw([1]) == 1
    assert m.match(posted(LISTED)) == []
    m.add_entries([video_entry(frames=OTHER[:10])])  # same entry, new frames
    assert m.match(posted(LISTED)) == []
    [match] = m.match(posted(OTHER[:10]))
    assert match.entry_id == 1
    m.add_entries([video_entry(frames=OTHER[:10], status=EntryStatus.WITHDRAWN)])
    assert m.match(posted(OTHER[:10])) == []
    assert m.stats().listed_frames == 0


def test_disabled_bank_never_matches_videos() -> None:
    m = matcher(video_entry(), enabled=False)
    assert m.match(posted(LISTED)) == []
    image = Signals(
        "11" * 32,
        "22" * 16,
        10,
        queries=(QueryHash(HashType.PDQ, LISTED[3], Variant.ORIGINAL, 90),),
    )
    assert m.match(image) == []


def test_video_frame_matches_a_listed_photo() -> None:
    photo = Entry(2, "photos", HashType.PDQ, LISTED[0], EntryStatus.ACTIVE, label="photo")
    m = matcher(photo)
    frames = [*OTHER[:4], flip(LISTED[0], 3), *OTHER[4:6], flip(LISTED[0], 12)]
    [match] = m.match(posted(frames))
    assert match.kind is MatchKind.FRAME
    assert match.hash_type is HashType.PDQ
    assert match.entry_id == 2
    assert (match.distance, match.tier) == (3, Tier.NEAR_EXACT)
    assert [(p.query_ts, p.entry_ts, p.distance) for p in match.frames] == [
        (4.0, None, 3),
        (7.0, None, 12),
    ]
    assert match.span == (4.0, 7.0)


def test_image_matches_a_frame_of_a_listed_video() -> None:
    m = matcher(video_entry())
    still = Signals(
        "11" * 32,
        "22" * 16,
        10,
        pdq=flip(LISTED[9], 5),
        queries=(
            QueryHash(HashType.PDQ, flip(LISTED[9], 5), Variant.ORIGINAL, 90),
            QueryHash(HashType.PDQ, flip(LISTED[9], 20), Variant.ROT90, 90),
        ),
    )
    [match] = m.match(still)
    assert match.kind is MatchKind.FRAME
    assert match.hash_type is HashType.VPDQ
    assert match.entry_value == "Case-7/video-1"
    assert (match.distance, match.tier, match.variant) == (5, Tier.NEAR_EXACT, Variant.ORIGINAL)
    assert [(p.query_ts, p.entry_ts) for p in match.frames] == [(None, 9.0)]


def test_rotated_still_uses_the_reoriented_threshold() -> None:
    m = matcher(video_entry())
    rotated = Signals(
        "11" * 32,
        "22" * 16,
        10,
        queries=(QueryHash(HashType.PDQ, flip(LISTED[9], 26), Variant.ROT90, 90),),
    )
    assert m.match(rotated) == []  # 26 > pdq_reoriented 24


def test_exact_file_hash_of_a_video() -> None:
    exact = Entry(3, "videos", HashType.MD5, "22" * 16, EntryStatus.ACTIVE)
    m = matcher(exact)
    [match] = m.match(posted(OTHER[:3]))
    assert (match.kind, match.tier, match.hash_type) == (MatchKind.FILE, Tier.EXACT, HashType.MD5)


def test_several_listed_videos_sharing_frames() -> None:
    second = video_entry(2, frames=LISTED[:10] + OTHER[:10], video_id="second")
    m = matcher(video_entry(), second)
    matches = {x.entry_value: x for x in m.match(posted(LISTED))}
    assert matches["Case-7/video-1"].kind is MatchKind.VIDEO
    assert matches["second"].kind is MatchKind.CLIP
    assert matches["second"].coverage == 0.5


def test_frame_index_sizes_zero_one_two() -> None:
    index = FrameIndex()
    assert index.search(LISTED[0], 31) == []
    index.add([(1, [ListFrame(0.0, LISTED[0])])])
    [hit] = index.search(LISTED[0], 0)
    assert (hit.entry_id, hit.frame, hit.timestamp, hit.distance) == (1, 0, 0.0, 0)
    index.add([(2, [ListFrame(4.0, LISTED[1]), ListFrame(5.0, LISTED[2])])])
    [hit] = index.search(flip(LISTED[2], 2), 31)
    assert (hit.entry_id, hit.frame, hit.timestamp, hit.distance) == (2, 1, 5.0, 2)
    index.remove([2])
    assert index.search(LISTED[2], 31) == []
    assert (len(index), index.videos, index.frame_count(1)) == (1, 1, 1)
