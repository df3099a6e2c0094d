"""Hostile videos and animations, property-based: damaged, truncated or spliced containers give a
video result (frames, or a failure with its reason) or a typed MediaError - never a crash, never
a hang past the time budget, never more frames than the caps allow."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import HashingSettings
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing import compute_media_signals
from tests.videogen import Scene, lottie_tgs, scene_video, to_animated_webp, to_gif

BASE = HashingSettings(max_bytes=256 * 1024)
LIMITS = replace(
    BASE,
    video=replace(BASE.video, max_bytes=256 * 1024, time_budget=5.0, max_frames=400),
)
FAILURES = {r.value for r in MediaErrorReason}


@cache
def samples() -> tuple[bytes, ...]:
    scenes = (Scene(11, 1.0), Scene(12, 1.0, pan=8.0))
    return (
        scene_video(scenes, size=(96, 64), fps=8),
        scene_video(scenes, size=(96, 64), fps=8, container="webm"),
        scene_video(scenes, size=(96, 64), fps=8, container="mkv"),
        to_gif(scenes, size=(64, 48), fps=4),
        to_animated_webp(scenes, size=(64, 48), fps=4),
        lottie_tgs(frames=10),
    )


mutation = st.tuples(
    st.integers(min_value=0, max_value=5),  # which sample
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16)), max_size=6),
    st.floats(0.05, 1.0),  # keep this share (truncation)
)


@settings(
    max_examples=60,
    deadline=15_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(m=mutation)
def test_damaged_videos_give_a_result_or_a_typed_error(
    m: tuple[int, list[tuple[float, bytes]], float],
) -> None:
    which, patches, keep = m
    data = bytearray(samples()[which])
    for where, patch in patches:
        at = int(where * (len(data) - 1))
        data[at : at + len(patch)] = patch
    data = data[: max(1, int(len(data) * keep))]
    try:
        signals = compute_media_signals(bytes(data), LIMITS)
    except MediaError as exc:
        assert exc.reason in (MediaErrorReason.EMPTY, MediaErrorReason.TOO_LARGE)
        return
    assert len(signals.sha256) == 64
    assert len(signals.md5) == 32
    if signals.failure is not None:
        assert signals.failure.reason in FAILURES
    if signals.video is not None:
        assert signals.video.frames_decoded <= LIMITS.video.max_frames + 1
        assert all(0.0 <= f.timestamp <= f.until for f in signals.video.frames)
