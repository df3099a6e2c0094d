"""Video hashing on synthetic videos made in code: frame PDQs, their times, and what survives a
re-encode, a trim, a change of container or codec.

Distances measured with these generators (scenes of photo_like seeds 11-16, 640 x 360, x264 crf
18), frame by frame against the original's hash at the same time: re-encoded to 480 x 270 H.264 at
250 kbit/s 4-10 bits (320 x 180 at 150 kbit/s: 4-20); to VP9 0-4; to MOV at crf 23 0-2; trimmed
at 10 s and re-encoded at 480 x 270 4-12. A photo shown in a 640 x 480 video: 2 bits from the PDQ
of the photo's JPEG; pillarboxed in an 854 x 360 video: ~118 bits untrimmed, 10 through the
trimmed hash. The bounds asserted leave a few bits of margin over these.
"""

from __future__ import annotations

import functools
import json
import pickle
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from monitor.config import HashingSettings, VideoSettings
from monitor.domain import FrameHash, Thresholds, VideoSignals, jsonable
from monitor.hashing import compute_signals, hamming
from monitor.hashing.video import compute_video_signals, video_file_signals
from tests.imagegen import letterbox, photo_like, to_jpeg
from tests.videogen import (
    Scene,
    encode_video,
    flat_video,
    scene_frames,
    scene_video,
    still_video,
    to_animated_webp,
    to_gif,
    transcode,
)

T = Thresholds()
SETTINGS = HashingSettings()
SCENES = (
    Scene(11, 3),
    Scene(12, 3, pan=15),
    Scene(13, 3),
    Scene(14, 3, pan=25),
    Scene(15, 4),
    Scene(16, 4, pan=10),
)
DURATION = sum(s.seconds for s in SCENES)  # 20 s
SCENE_STARTS = (0.0, 3.0, 6.0, 9.0, 12.0, 16.0)


def _video(settings: HashingSettings = SETTINGS, **changes: object) -> HashingSettings:
    return replace(settings, video=replace(settings.video, **changes))  # type: ignore[arg-type]


@functools.cache
def original_bytes() -> bytes:
    return scene_video(SCENES, size=(640, 360), crf=18)


@functools.cache
def original() -> VideoSignals:
    return compute_video_signals(original_bytes(), SETTINGS)


@functools.cache
def _photo_pdq(seed: int) -> str:
    pdq = compute_signals(to_jpeg(photo_like(seed)), SETTINGS).pdq
    assert pdq is not None
    return pdq


def _assert_well_formed(signals: VideoSignals, settings: HashingSettings = SETTINGS) -> None:
    assert signals.failure is None
    assert signals.frames
    times = [f.timestamp for f in signals.frames]
    assert times == sorted(times)
    for previous, frame in zip(signals.frames, signals.frames[1:], strict=False):
        assert previous.until < frame.timestamp
    for frame in signals.frames:
        assert frame.until >= frame.timestamp
        assert frame.count >= 1
        assert frame.quality >= settings.min_pdq_quality
        assert len(frame.pdq) == 64
        assert frame.pdq == frame.pdq.lower()
    assert signals.frames_hashed == sum(f.count for f in signals.frames) + signals.low_quality


def _distances_at_same_time(
    copy: VideoSignals, reference: VideoSignals, offset: float = 0.0
) -> list[int]:
    """For each frame hash of ``copy``, its distance to ``reference``'s hash at the same time."""
    distances = []
    for frame in copy.frames:
        match = reference.frame_at(frame.timestamp + offset)
        assert match is not None, f"nothing at {frame.timestamp + offset} s in the reference"
        distances.append(hamming(frame.pdq, match.pdq))
    return distances


# --- the basics -----------------------------------------------------------------------------------


def test_original_is_described_and_sampled() -> None:
    signals = original()
    _assert_well_formed(signals)
    assert (signals.container, signals.mime, signals.codec) == ("mp4", "video/mp4", "h264")
    assert (signals.width, signals.height) == (640, 360)
    assert signals.fps == pytest.approx(10.0)
    assert signals.duration == pytest.approx(DURATION, abs=0.11)
    assert not signals.truncated
    assert not signals.keyframes_only
    assert signals.rotation == 0
    assert signals.size_bytes == len(original_bytes())
    # one sample per second, decoded from a 10 fps stream; the first frame is a keyframe
    assert signals.frames_hashed == DURATION
    assert signals.frames_decoded <= DURATION * 10
    assert signals.frames[0].timestamp == 0.0
    assert signals.frames[0].keyframe
    # every scene starts a new run: the still scenes collapse, the panning ones do not
    starts = {f.timestamp for f in signals.frames}
    assert set(SCENE_STARTS) <= starts
    still = [f for f in signals.frames if f.timestamp in (0.0, 6.0, 12.0)]
    assert [(f.until, f.count) for f in still] == [(2.0, 3), (8.0, 3), (15.0, 4)]


def test_exact_hashes_are_of_the_file_bytes() -> None:
    import hashlib

    data = original_bytes()
    signals = original()
    assert signals.sha256 == hashlib.sha256(data).hexdigest()
    assert signals.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_frames_are_the_scenes_pictures() -> None:
    """A still scene's frame hash is the hash of the picture shown (a frame of it, as encoded)."""
    frame = next(scene_frames([Scene(13, 1)], size=(640, 360)))
    picture = compute_signals(to_jpeg_array(frame), SETTINGS).pdq
    assert picture is not None
    at_six = original().frame_at(6.5)
    assert at_six is not None
    assert hamming(at_six.pdq, picture) <= T.pdq_near_exact


def to_jpeg_array(pixels: np.ndarray) -> bytes:
    from PIL import Image

    return to_jpeg(Image.fromarray(pixels), quality=95)


def test_result_is_deterministic_and_plain_data() -> None:
    again = compute_video_signals(original_bytes(), SETTINGS)
    assert again == original()
    text = json.dumps(jsonable(again))
    decoded = json.loads(text)
    assert decoded["frames"][0]["pdq"] == again.frames[0].pdq
    assert decoded["failure"] is None
    copy = pickle.loads(pickle.dumps(again))  # noqa: S301 - our own bytes, as the pool does
    assert copy == again


def test_frame_at_finds_the_covering_run() -> None:
    signals = original()
    first = signals.frames[0]
    assert signals.frame_at(0.0) == first
    assert signals.frame_at(2.9) == first  # inside the run 0-2 s, before the next hash at 3 s
    assert signals.frame_at(-1.0) is None
    last = signals.frame_at(1e9)
    assert last == signals.frames[-1]


def test_file_path_gives_the_same_signals(tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"  # the name says nothing: the bytes are sniffed
    path.write_bytes(original_bytes())
    assert video_file_signals(path, SETTINGS) == original()


# --- what survives a repost ---------------------------------------------------------------------


def test_reencoded_at_another_bitrate_and_size_matches_frame_by_frame() -> None:
    copy_bytes = transcode(original_bytes(), size=(480, 270), bitrate=250_000)
    copy = compute_video_signals(copy_bytes, SETTINGS)
    _assert_well_formed(copy)
    assert (copy.width, copy.height) == (480, 270)
    assert copy.sha256 != original().sha256
    distances = _distances_at_same_time(copy, original())
    assert len(distances) >= len(SCENES)
    assert max(distances) <= 16
    assert statistics.median(distances) <= T.pdq_near_exact


def test_reencoded_to_vp9_webm_matches() -> None:
    copy = compute_video_signals(transcode(original_bytes(), container="webm"), SETTINGS)
    _assert_well_formed(copy)
    assert (copy.container, copy.mime, copy.codec) == ("webm", "video/webm", "vp9")
    assert copy.duration == pytest.approx(DURATION, abs=0.11)
    assert max(_distances_at_same_time(copy, original())) <= 12


def test_mov_matches() -> None:
    copy = compute_video_signals(transcode(original_bytes(), container="mov", crf=23), SETTINGS)
    _assert_well_formed(copy)
    assert (copy.container, copy.mime, copy.codec) == ("mov", "video/quicktime", "h264")
    assert max(_distances_at_same_time(copy, original())) <= 12


def test_trimmed_clip_matches_ten_seconds_later() -> None:
    clip = compute_video_signals(
        transcode(original_bytes(), start=10.0, size=(480, 270), crf=26), SETTINGS
    )
    _assert_well_formed(clip)
    assert clip.duration == pytest.approx(DURATION - 10.0, abs=0.11)
    assert clip.frames[0].timestamp == 0.0  # times restart at the trimmed clip's start
    distances = _distances_at_same_time(clip, original(), offset=10.0)
    assert max(distances) <= 14
    # and it is not the beginning of the original that matches
    assert hamming(clip.frames[0].pdq, original().frames[0].pdq) > T.pdq


def test_video_of_a_known_photo_matches_the_photo() -> None:
    photo = photo_like(40)
    size = photo.size  # 640 x 480
    frames = [
        *scene_frames([Scene(1, 2)], size),
        *[np.asarray(photo)] * 20,
        *scene_frames([Scene(2, 2)], size),
    ]
    signals = compute_video_signals(encode_video(frames, crf=23), SETTINGS)
    _assert_well_formed(signals)
    distances = {f.timestamp: hamming(f.pdq, _photo_pdq(40)) for f in signals.frames}
    assert distances[2.0] <= T.pdq_near_exact  # the photo is on screen from 2 s to 4 s
    assert min(d for t, d in distances.items() if t != 2.0) > T.pdq  # the rest is unrelated


def test_pillarboxed_photo_matches_through_the_trimmed_hash() -> None:
    photo = photo_like(40)
    boxed = np.asarray(letterbox(photo.resize((480, 360)), (187, 0, 187, 0)))  # 854 x 360
    frames = [
        *scene_frames([Scene(1, 2)], (854, 360)),
        *[boxed] * 20,
        *scene_frames([Scene(2, 2)], (854, 360)),
    ]
    signals = compute_video_signals(encode_video(frames, crf=23), SETTINGS)
    boxed_frame = signals.frame_at(2.0)
    assert boxed_frame is not None
    assert hamming(boxed_frame.pdq, _photo_pdq(40)) > T.pdq  # the bars hide it ...
    assert boxed_frame.trimmed_pdq is not None
    assert boxed_frame.trimmed_quality is not None
    assert hamming(boxed_frame.trimmed_pdq, _photo_pdq(40)) <= 16  # ... trimming finds it
    assert signals.frames[0].trimmed_pdq is None  # photo-like scenes have no bars
    no_trim = compute_video_signals(
        encode_video(frames, crf=23), replace(SETTINGS, trim_borders=False)
    )
    assert all(f.trimmed_pdq is None for f in no_trim.frames)


# --- animations -----------------------------------------------------------------------------------

ANIMATION = (Scene(21, 1.0), Scene(22, 1.0), Scene(23, 1.0))


def _assert_animation(signals: VideoSignals) -> None:
    _assert_well_formed(signals)
    assert [f.timestamp for f in signals.frames] == [0.0, 1.0, 2.0]
    assert signals.duration == pytest.approx(3.0, abs=0.01)
    for frame, scene in zip(signals.frames, ANIMATION, strict=True):
        picture = compute_signals(to_jpeg(photo_like(scene.seed, (160, 120))), SETTINGS).pdq
        assert picture is not None
        assert hamming(frame.pdq, picture) <= 20  # a 160 x 120 GIF loses much to its palette


def test_animated_gif_decodes_and_hashes() -> None:
    signals = compute_video_signals(to_gif(ANIMATION), SETTINGS)
    assert (signals.container, signals.mime, signals.codec) == ("gif", "image/gif", "gif")
    assert (signals.width, signals.height) == (160, 120)
    _assert_animation(signals)


def test_animated_webp_decodes_and_hashes_through_pillow() -> None:
    signals = compute_video_signals(to_animated_webp(ANIMATION), SETTINGS)
    assert (signals.container, signals.mime, signals.codec) == ("webp", "image/webp", "webp")
    assert (signals.width, signals.height) == (160, 120)
    assert signals.frames[0].keyframe
    _assert_animation(signals)


def test_animation_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sticker.webp"
    data = to_animated_webp(ANIMATION)
    path.write_bytes(data)
    assert video_file_signals(path, SETTINGS) == compute_video_signals(data, SETTINGS)


# --- collapsing, quality, sampling ----------------------------------------------------------------


def test_static_video_collapses_to_one_hash() -> None:
    signals = compute_video_signals(still_video(photo_like(5, (320, 240)), 10.0), SETTINGS)
    _assert_well_formed(signals)
    assert len(signals.frames) == 1
    (frame,) = signals.frames
    assert frame.timestamp == 0.0
    assert frame.until == pytest.approx(9.0)
    assert frame.count == signals.frames_hashed == 10


def test_collapsing_can_be_turned_off() -> None:
    data = still_video(photo_like(5, (320, 240)), 4.0)
    signals = compute_video_signals(data, _video(collapse_distance=-1))
    assert [(f.timestamp, f.until, f.count) for f in signals.frames] == [
        (float(t), float(t), 1) for t in range(4)
    ]


def test_black_video_has_no_frames_and_says_why() -> None:
    signals = compute_video_signals(flat_video((0, 0, 0), 3.0), SETTINGS)
    assert signals.frames == ()
    assert signals.failure is not None
    assert signals.failure.reason == "low_quality"
    assert "best 0" in signals.failure.detail
    assert signals.low_quality == signals.frames_hashed == 3
    assert not signals.perceptual_ok
    assert signals.duration == pytest.approx(3.0, abs=0.11)  # the facts are still recorded


def test_flat_stretch_breaks_a_run_and_is_skipped() -> None:
    picture = np.asarray(photo_like(8, (320, 240)))
    black = np.zeros_like(picture)
    frames = [picture] * 20 + [black] * 20 + [picture] * 20
    signals = compute_video_signals(encode_video(frames), SETTINGS)
    assert [(f.timestamp, f.until) for f in signals.frames] == [(0.0, 1.0), (4.0, 5.0)]
    assert signals.low_quality == 2
    assert signals.failure is None


def test_quality_minimum_comes_from_the_settings() -> None:
    data = flat_video((0, 0, 0), 2.0)
    signals = compute_video_signals(data, replace(SETTINGS, min_pdq_quality=0))
    assert signals.failure is None
    assert len(signals.frames) == 1


def test_higher_sample_rate_hashes_more_frames() -> None:
    signals = compute_video_signals(original_bytes(), _video(sample_rate=2.0, collapse_distance=-1))
    assert signals.frames_hashed == 2 * DURATION
    assert [f.timestamp for f in signals.frames[:4]] == [0.0, 0.5, 1.0, 1.5]


def test_keyframes_between_samples_are_hashed() -> None:
    # keyframe every 0.7 s: those not on a sample are hashed too, marked as keyframes
    data = scene_video([Scene(31, 3.0, pan=30)], gop=7)
    signals = compute_video_signals(data, _video(collapse_distance=-1))
    keyframes = [f.timestamp for f in signals.frames if f.keyframe]
    assert keyframes == pytest.approx([0.0, 0.7, 1.4, 2.1, 2.8])
    assert len(signals.frames) == 3 + 4  # samples at 0, 1, 2 s and the other keyframes
    capped = compute_video_signals(data, _video(collapse_distance=-1, max_keyframes=2))
    assert len(capped.frames) == 3 + 2


def test_long_video_is_hashed_from_keyframes_only() -> None:
    data = scene_video([Scene(s, 2.0, pan=20) for s in (41, 42, 43)], gop=5)
    full = compute_video_signals(data, _video(collapse_distance=-1))
    fast = compute_video_signals(data, _video(collapse_distance=-1, full_decode_seconds=5.0))
    assert not full.keyframes_only
    assert fast.keyframes_only  # 6 s > 5 s
    assert fast.failure is None
    assert all(f.keyframe for f in fast.frames)
    # keyframes every 0.5 s, but no closer than one sample interval: 0, 1, 2 ... 5 s
    assert [f.timestamp for f in fast.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert fast.frames_decoded == 6 < full.frames_decoded
    # the keyframes are the same pictures the full decode sampled
    assert max(_distances_at_same_time(fast, full)) <= 4


def test_keyframe_cap_spreads_over_a_long_video() -> None:
    data = scene_video([Scene(s, 2.0, pan=20) for s in (41, 42, 43)], gop=5)
    fast = compute_video_signals(
        data, _video(collapse_distance=-1, full_decode_seconds=0.0, max_keyframes=3)
    )
    assert [f.timestamp for f in fast.frames] == [0.0, 2.0, 4.0]


def test_display_rotation_is_recorded_not_applied() -> None:
    import io
    from fractions import Fraction

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "threads": "1"}
        stream.set_display_rotation(90)
        for i, pixels in enumerate(scene_frames([Scene(1, 1.0)], (320, 240))):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    signals = compute_video_signals(buf.getvalue(), SETTINGS)
    assert signals.rotation == 90
    assert (signals.width, signals.height) == (320, 240)  # stored size, not displayed size


def test_a_clip_hashes_fast() -> None:
    start = time.perf_counter()
    compute_video_signals(original_bytes(), SETTINGS)
    assert time.perf_counter() - start < 2.0  # 20 s of 640 x 360: ~0.2 s here


def test_signals_without_failure_are_perceptual() -> None:
    signals = original()
    assert signals.perceptual_ok
    assert isinstance(signals.frames[0], FrameHash)
    assert VideoSettings().sample_rate == 1.0
