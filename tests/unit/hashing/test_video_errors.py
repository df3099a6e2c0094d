"""Hostile, damaged and oversized videos end in a typed reason, quickly; never in an exception
from the decoder, a hang or a crash. Caps and the wall-clock budget come from [hashing.video]."""

from __future__ import annotations

import functools
import io
import itertools
import os
import pickle
import random
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from monitor.config import HashingSettings
from monitor.domain import VideoSignals
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing.video import compute_video_signals, video_file_signals
from monitor.hashing.video_decode import Deadline, VideoDecodeError
from tests.imagegen import to_jpeg
from tests.videogen import Scene, lottie_tgs, scene_video, to_animated_webp, to_gif

SETTINGS = HashingSettings()
FAST = 1.0  # seconds: every refusal here must come well within this

# Every reason a video's content may fail with.
CONTENT_REASONS = {
    "corrupt_video",
    "no_video_stream",
    "too_many_pixels",
    "too_long",
    "too_many_frames",
    "decode_timeout",
    "unsupported_format",
    "low_quality",
    "lottie_unsupported",
}


def _video(**changes: object) -> HashingSettings:
    return replace(SETTINGS, video=replace(SETTINGS.video, **changes))  # type: ignore[arg-type]


@functools.cache
def clip() -> bytes:
    """4 s, 320 x 240, 10 fps, H.264 in MP4 with its index first (as streamed)."""
    return scene_video([Scene(1, 2.0), Scene(2, 2.0, pan=20)])


@functools.cache
def clip_index_last() -> bytes:
    return scene_video([Scene(1, 2.0), Scene(2, 2.0, pan=20)], faststart=False)


def _timed(data: bytes, settings: HashingSettings = SETTINGS) -> VideoSignals:
    start = time.perf_counter()
    signals = compute_video_signals(data, settings)
    assert time.perf_counter() - start < FAST
    return signals


def _failed(signals: VideoSignals, reason: MediaErrorReason) -> VideoSignals:
    assert signals.failure is not None, "expected a failure"
    assert signals.failure.reason == reason.value, signals.failure
    assert signals.frames == ()
    assert not signals.perceptual_ok
    assert len(signals.sha256) == 64  # the exact hashes are there all the same
    assert len(signals.md5) == 32
    return signals


# --- caps -----------------------------------------------------------------------------------------


def test_too_long_is_refused_from_the_header() -> None:
    signals = _failed(_timed(clip(), _video(max_duration=3.0)), MediaErrorReason.TOO_LONG)
    assert signals.frames_decoded == 0  # refused before decoding
    assert signals.duration == pytest.approx(4.0, abs=0.11)  # the claim is on record
    assert "limit 3 s" in signals.failure.detail  # type: ignore[union-attr]


def test_too_long_is_caught_from_frame_times_without_a_declared_duration() -> None:
    # an animated WebP declares no duration: its frame times are what is checked
    webp = to_animated_webp([Scene(1, 1.0), Scene(2, 1.0), Scene(3, 1.0)])
    signals = _failed(_timed(webp, _video(max_duration=1.5)), MediaErrorReason.TOO_LONG)
    assert 0 < signals.frames_decoded <= 15


def test_too_many_pixels_is_refused_from_the_header() -> None:
    signals = _failed(
        _timed(clip(), _video(max_pixels=320 * 240 - 1)), MediaErrorReason.TOO_MANY_PIXELS
    )
    assert signals.frames_decoded == 0
    assert (signals.width, signals.height) == (320, 240)
    assert compute_video_signals(clip(), _video(max_pixels=320 * 240)).failure is None


def test_too_many_pixels_in_an_animation() -> None:
    gif = to_gif([Scene(1, 1.0)], size=(160, 120))
    webp = to_animated_webp([Scene(1, 1.0), Scene(2, 1.0)], size=(160, 120))
    for data in (gif, webp):
        _failed(_timed(data, _video(max_pixels=160 * 120 - 1)), MediaErrorReason.TOO_MANY_PIXELS)


def test_too_many_frames() -> None:
    signals = _failed(_timed(clip(), _video(max_frames=5)), MediaErrorReason.TOO_MANY_FRAMES)
    assert signals.frames_decoded == 6  # stopped at the first frame over the cap
    webp = to_animated_webp([Scene(s, 0.4) for s in range(1, 6)])  # 5 frames (not merged)
    _failed(_timed(webp, _video(max_frames=4)), MediaErrorReason.TOO_MANY_FRAMES)


def test_too_large_and_empty_raise_before_reading() -> None:
    with pytest.raises(MediaError) as info:
        compute_video_signals(clip(), _video(max_bytes=len(clip()) - 1))
    assert info.value.reason is MediaErrorReason.TOO_LARGE
    with pytest.raises(MediaError) as info:
        compute_video_signals(b"", SETTINGS)
    assert info.value.reason is MediaErrorReason.EMPTY
    assert compute_video_signals(clip(), _video(max_bytes=len(clip()))).failure is None


def test_files_are_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip())
    with pytest.raises(MediaError) as info:
        video_file_signals(path, _video(max_bytes=100))
    assert info.value.reason is MediaErrorReason.TOO_LARGE
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError) as info:
        video_file_signals(empty, SETTINGS)
    assert info.value.reason is MediaErrorReason.EMPTY
    with pytest.raises(MediaError) as info:
        video_file_signals(tmp_path, SETTINGS)
    assert info.value.reason is MediaErrorReason.UNSUPPORTED_KIND
    with pytest.raises(FileNotFoundError):
        video_file_signals(tmp_path / "missing.mp4", SETTINGS)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    with pytest.raises(MediaError) as info:
        video_file_signals(fifo, SETTINGS)  # would block forever if it were opened
    assert info.value.reason is MediaErrorReason.UNSUPPORTED_KIND


# --- the wall-clock budget ------------------------------------------------------------------------


def test_budget_ends_decoding_with_decode_timeout() -> None:
    signals = _failed(_timed(clip(), _video(time_budget=1e-6)), MediaErrorReason.DECODE_TIMEOUT)
    assert "budget" in signals.failure.detail  # type: ignore[union-attr]
    webp = to_animated_webp([Scene(1, 1.0), Scene(2, 1.0)])
    _failed(_timed(webp, _video(time_budget=1e-6)), MediaErrorReason.DECODE_TIMEOUT)


def test_budget_is_checked_between_packets_and_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that advances one "second" per look: decoding stops mid-stream, not at the end."""
    import monitor.hashing.video as video_module

    looks = itertools.count()

    def ticking(seconds: float) -> Deadline:
        return Deadline(seconds, clock=lambda: float(next(looks)))

    monkeypatch.setattr(video_module, "Deadline", ticking)
    signals = _failed(
        compute_video_signals(clip(), _video(time_budget=30.0)), MediaErrorReason.DECODE_TIMEOUT
    )
    assert 0 < signals.frames_decoded < 40  # 40 frames in the clip
    assert "30 s budget" in signals.failure.detail  # type: ignore[union-attr]


def test_decode_errors_cross_a_process_boundary() -> None:
    error = VideoDecodeError(MediaErrorReason.DECODE_TIMEOUT, "over the 30 s budget")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as the pool does
    assert type(copy) is VideoDecodeError
    assert (copy.reason, copy.detail, str(copy)) == (error.reason, error.detail, str(error))


# --- damaged and hostile bytes --------------------------------------------------------------------


def test_random_bytes_are_not_a_format() -> None:
    data = random.Random(1).randbytes(50_000)
    _failed(_timed(data), MediaErrorReason.UNSUPPORTED_FORMAT)


def test_an_image_is_not_a_video() -> None:
    from monitor.synthetic import photo_like

    _failed(_timed(to_jpeg(photo_like(1, (64, 48)))), MediaErrorReason.UNSUPPORTED_FORMAT)


def test_a_playlist_is_never_opened() -> None:
    """HLS would make FFmpeg fetch URLs and files: it is not a format we name, so never read."""
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    _failed(_timed(playlist), MediaErrorReason.UNSUPPORTED_FORMAT)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", id="ftyp-only"),
        pytest.param(
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
            + random.Random(2).randbytes(40_000),
            id="ftyp-then-random",
        ),
        pytest.param(
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" + random.Random(3).randbytes(40_000),
            id="ebml-then-random",
        ),
        pytest.param(b"GIF89a" + random.Random(4).randbytes(10_000), id="gif-then-random"),
        pytest.param(
            b"RIFF\x00\x10\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02" + random.Random(5).randbytes(9_000),
            id="webp-then-random",
        ),
    ],
)
def test_a_signature_over_garbage_is_a_corrupt_video(data: bytes) -> None:
    _failed(_timed(data), MediaErrorReason.CORRUPT_VIDEO)


def test_truncated_file_returns_what_it_decoded() -> None:
    data = clip()
    signals = _timed(data[: len(data) * 6 // 10])
    assert signals.failure is None
    assert signals.truncated
    assert signals.frames  # the beginning is there
    assert signals.frames[-1].until < 4.0
    whole = compute_video_signals(data, SETTINGS)
    assert signals.frames[0].pdq == whole.frames[0].pdq


def test_truncated_before_the_first_frame_is_corrupt() -> None:
    data = clip()
    _failed(_timed(data[:2_000]), MediaErrorReason.CORRUPT_VIDEO)


def test_truncated_without_its_index_is_corrupt() -> None:
    """With the moov index at the end (not "faststart") a cut file cannot be read at all."""
    data = clip_index_last()
    assert compute_video_signals(data, SETTINGS).failure is None
    _failed(_timed(data[: len(data) // 2]), MediaErrorReason.CORRUPT_VIDEO)


def test_truncated_animation_keeps_its_first_frames() -> None:
    webp = to_animated_webp([Scene(s, 0.4) for s in range(1, 6)])
    signals = _timed(webp[: len(webp) * 7 // 10])
    if signals.failure is None:  # Pillow may refuse a cut WebP outright: both are fine
        assert signals.truncated
        assert signals.frames
    else:
        assert signals.failure.reason == "corrupt_video"
    gif = to_gif([Scene(s, 0.4) for s in range(1, 6)])
    signals = _timed(gif[: len(gif) * 7 // 10])
    assert signals.failure is None
    assert signals.frames
    assert signals.frames_decoded < 5


def test_audio_only_file_has_no_video_stream() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(10):
            samples = (np.sin(np.arange(1024) / 10.0) * 0.1).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    _failed(_timed(buf.getvalue()), MediaErrorReason.NO_VIDEO_STREAM)


def test_mutated_videos_never_raise() -> None:
    """Byte flips, cuts and splices of a real clip: a reason or frames, never an exception."""
    rng = random.Random(7)
    data = clip()
    start = time.perf_counter()
    for _ in range(40):
        mutated = bytearray(data)
        how = rng.choice(["flip", "cut", "splice", "zero"])
        if how == "flip":
            for _ in range(rng.randint(1, 50)):
                mutated[rng.randrange(32, len(mutated))] ^= 1 << rng.randrange(8)
        elif how == "cut":
            del mutated[rng.randrange(32, len(mutated)) :]
        elif how == "splice":
            at = rng.randrange(32, len(mutated))
            mutated[at:at] = rng.randbytes(rng.randint(1, 5000))
        else:
            at = rng.randrange(32, len(mutated))
            mutated[at : at + 4096] = bytes(min(4096, len(mutated) - at))
        signals = compute_video_signals(bytes(mutated), SETTINGS)
        if signals.failure is not None:
            assert signals.failure.reason in CONTENT_REASONS, signals.failure
            assert signals.frames == ()
        else:
            assert signals.frames
    assert time.perf_counter() - start < 15.0


# --- animated stickers ----------------------------------------------------------------------------


def test_tgs_sticker_is_unhashable_with_its_reason() -> None:
    data = lottie_tgs(width=512, height=512, fps=60, frames=180)
    signals = _failed(_timed(data), MediaErrorReason.LOTTIE_UNSUPPORTED)
    assert (signals.container, signals.mime, signals.codec) == (
        "tgs",
        "application/x-tgsticker",
        "lottie",
    )
    assert (signals.width, signals.height, signals.fps) == (512, 512, 60.0)
    assert signals.duration == pytest.approx(3.0)


def test_tgs_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sticker.tgs"
    path.write_bytes(lottie_tgs())
    signals = video_file_signals(path, SETTINGS)
    assert signals.failure is not None
    assert signals.failure.reason == "lottie_unsupported"


def test_gzip_that_looks_like_lottie_but_is_not() -> None:
    import gzip

    broken = gzip.compress(b'{"v": "5.5.2", "fr": 60, "layers": [')  # cut-off JSON
    _failed(_timed(broken), MediaErrorReason.CORRUPT_VIDEO)
