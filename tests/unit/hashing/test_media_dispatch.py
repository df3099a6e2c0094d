"""One entry point for any media: images take the image path, videos and animations the video
path (Signals.video set), decided by the bytes alone; each path keeps its own byte cap.

Every video here is made in code (tests/videogen.py); nothing real is read.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.config import HashingSettings
from monitor.domain import Signals
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing import compute_media_signals, compute_signals, hash_file
from monitor.hashing.video import compute_video_signals
from monitor.pipeline import PoolHasher
from tests.imagegen import animated_gif, animated_webp, photo_like, to_gif, to_jpeg, to_webp
from tests.videogen import Scene, lottie_tgs, scene_video, to_animated_webp
from tests.videogen import to_gif as scenes_to_gif

SETTINGS = HashingSettings()
SMALL = (64, 48)


def _video_cap(settings: HashingSettings, **changes: object) -> HashingSettings:
    return replace(settings, video=replace(settings.video, **changes))  # type: ignore[arg-type]


@functools.cache
def mp4() -> bytes:
    """3 s, two scenes, H.264 in MP4."""
    return scene_video([Scene(21, 1.5), Scene(22, 1.5, pan=20)])


@functools.cache
def webm() -> bytes:
    return scene_video([Scene(23, 2.0)], container="webm")


@functools.cache
def gif_animation() -> bytes:
    return scenes_to_gif([Scene(24, 1.0), Scene(25, 1.0)])


def _exact(data: bytes, s: Signals) -> None:
    assert s.sha256 == hashlib.sha256(data).hexdigest()
    assert s.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert s.size_bytes == len(data)


def _is_video(s: Signals, container: str) -> None:
    assert s.video is not None
    assert s.video.container == container
    assert s.pdq is None
    assert s.phash is None
    assert s.queries == ()
    assert s.frames == s.video.frames


# --- which path -----------------------------------------------------------------------------


def test_an_image_takes_the_image_path() -> None:
    data = to_jpeg(photo_like(20))
    s = compute_media_signals(data, SETTINGS)
    assert s == compute_signals(data, SETTINGS)
    assert s.video is None
    assert s.frames == ()
    assert s.pdq is not None
    assert s.perceptual_ok


@pytest.mark.parametrize(
    ("make", "container", "mime"),
    [
        (mp4, "mp4", "video/mp4"),
        (webm, "webm", "video/webm"),
        (lambda: scene_video([Scene(26, 1.0)], container="mov"), "mov", "video/quicktime"),
        (lambda: scene_video([Scene(27, 1.0)], container="mkv"), "matroska", "video/x-matroska"),
        (gif_animation, "gif", "image/gif"),
        (lambda: to_animated_webp([Scene(28, 1.0), Scene(29, 1.0)]), "webp", "image/webp"),
    ],
)
def test_videos_and_animations_take_the_video_path(make: Any, container: str, mime: str) -> None:
    data = make()
    s = compute_media_signals(data, SETTINGS)
    _is_video(s, container)
    _exact(data, s)
    assert s.mime == mime
    assert s.failure is None
    assert s.perceptual_ok
    assert s.frames
    assert all(f.quality >= SETTINGS.min_pdq_quality for f in s.frames)
    assert s.video == compute_video_signals(data, SETTINGS)
    assert s.width
    assert s.height


def test_the_video_signals_carry_every_frame_time() -> None:
    s = compute_media_signals(mp4(), SETTINGS)
    assert s.video is not None
    assert s.video.duration == pytest.approx(3.0, abs=0.2)
    times = [f.timestamp for f in s.frames]
    assert times == sorted(times)
    assert times[0] == pytest.approx(0.0)
    assert s.video.frames_hashed >= 3  # one a second at least


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(to_gif(photo_like(30, SMALL)), id="gif-still"),
        pytest.param(to_webp(photo_like(30, SMALL)), id="webp-still"),
    ],
)
def test_a_still_gif_or_webp_is_an_image(data: bytes) -> None:
    s = compute_media_signals(data, SETTINGS)
    assert s.video is None
    assert s == compute_signals(data, SETTINGS)
    assert s.pdq is not None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(animated_gif([photo_like(31, SMALL), photo_like(32, SMALL)]), id="gif"),
        pytest.param(animated_webp([photo_like(31, SMALL), photo_like(32, SMALL)]), id="webp"),
    ],
)
def test_an_animated_gif_or_webp_is_a_video(data: bytes) -> None:
    s = compute_media_signals(data, SETTINGS)
    assert s.video is not None
    assert s.video.frames_decoded == 2
    assert s.frames  # 0.2 s long: its first frame is the one sample


def test_an_animated_sticker_is_recorded_unhashable_with_its_exact_hashes() -> None:
    data = lottie_tgs()
    s = compute_media_signals(data, SETTINGS)
    _is_video(s, "tgs")
    _exact(data, s)
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.LOTTIE_UNSUPPORTED.value
    assert not s.perceptual_ok
    assert s.mime == "application/x-tgsticker"
    assert s.frames == ()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), id="mp4-garbage"),
        pytest.param(mp4()[: len(mp4()) // 8], id="mp4-cut"),
        pytest.param(b"\x1a\x45\xdf\xa3\x01webm" + bytes(500), id="webm-garbage"),
    ],
)
def test_a_corrupt_video_fails_as_a_video_with_its_exact_hashes(data: bytes) -> None:
    s = compute_media_signals(data, SETTINGS)
    assert s.video is not None
    _exact(data, s)
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.CORRUPT_VIDEO.value
    assert s.frames == ()
    assert not s.perceptual_ok


def test_random_bytes_are_an_image_failure() -> None:
    data = os.urandom(2000)
    s = compute_media_signals(data, SETTINGS)
    assert s.video is None
    _exact(data, s)
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.UNSUPPORTED_FORMAT.value


def test_a_black_video_is_low_quality() -> None:
    from tests.videogen import flat_video

    s = compute_media_signals(flat_video(seconds=1.0), SETTINGS)
    assert s.video is not None
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.LOW_QUALITY.value


def test_empty_bytes_raise() -> None:
    with pytest.raises(MediaError) as err:
        compute_media_signals(b"", SETTINGS)
    assert err.value.reason is MediaErrorReason.EMPTY


# --- caps -------------------------------------------------------------------------------------


def test_each_path_has_its_own_byte_cap() -> None:
    video = mp4()
    image = to_jpeg(photo_like(33))
    # a video larger than the image cap is still hashed: its cap is video.max_bytes
    small_images = replace(SETTINGS, max_bytes=min(len(video), len(image)) - 1)
    assert compute_media_signals(video, small_images).video is not None
    with pytest.raises(MediaError) as err:
        compute_media_signals(image, small_images)
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    # and over the video cap it is refused
    with pytest.raises(MediaError) as err:
        compute_media_signals(video, _video_cap(SETTINGS, max_bytes=len(video) - 1))
    assert err.value.reason is MediaErrorReason.TOO_LARGE


# --- files ------------------------------------------------------------------------------------


def test_files_give_the_same_signals_as_bytes(tmp_path: Path) -> None:
    for name, data in (
        ("a.jpg", to_jpeg(photo_like(34))),
        ("b.bin", mp4()),  # names and extensions are never consulted
        ("c.gif", gif_animation()),
        ("d.webm", webm()),
        ("e.tgs", lottie_tgs()),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert hash_file(path, SETTINGS) == compute_media_signals(data, SETTINGS), name


class _OpenSpy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[str] = []
        real = builtins.open

        def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
            self.opened.append(os.fspath(file))
            return real(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", spy)


def test_a_video_file_over_the_image_cap_is_hashed_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mp4()
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    settings = replace(SETTINGS, max_bytes=1024)
    reads: list[int] = []
    real = builtins.open

    class Counting:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            chunk: bytes = self._handle.read(size)
            return chunk

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real(file, *args, **kwargs)
        return Counting(handle) if os.fspath(file) == str(path) else handle

    monkeypatch.setattr(builtins, "open", counting_open)
    s = hash_file(path, settings)
    assert s.video is not None
    assert s.failure is None
    assert s.sha256 == hashlib.sha256(data).hexdigest()
    # the head to tell its kind, then bounded chunks (exact hashes, FFmpeg): never "all of it"
    assert reads[0] <= 64 * 1024
    assert reads
    assert all(0 < size <= 1024 * 1024 for size in reads)


def test_a_file_over_both_caps_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.mp4"
    with path.open("wb") as fh:
        fh.truncate(8 * 1024 * 1024 * 1024)  # holes
    spy = _OpenSpy(monkeypatch)
    with pytest.raises(MediaError) as err:
        hash_file(path, SETTINGS)
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    assert str(8 * 1024 * 1024 * 1024) in err.value.detail
    assert spy.opened == []


def test_an_image_over_its_cap_is_refused_even_within_the_video_cap(tmp_path: Path) -> None:
    data = to_jpeg(photo_like(35))
    path = tmp_path / "big.jpg"
    path.write_bytes(data)
    with pytest.raises(MediaError) as err:
        hash_file(path, replace(SETTINGS, max_bytes=len(data) - 1))
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    assert f"limit {len(data) - 1} bytes" in err.value.detail


def test_an_animated_gif_over_the_image_cap_is_a_video_and_a_still_one_is_refused(
    tmp_path: Path,
) -> None:
    animated = gif_animation()
    still = to_gif(photo_like(36))
    settings = replace(SETTINGS, max_bytes=min(len(animated), len(still)) - 1)
    (tmp_path / "a.gif").write_bytes(animated)
    (tmp_path / "s.gif").write_bytes(still)
    assert hash_file(tmp_path / "a.gif", settings).video is not None
    with pytest.raises(MediaError) as err:
        hash_file(tmp_path / "s.gif", settings)
    assert err.value.reason is MediaErrorReason.TOO_LARGE


def test_a_video_file_over_the_video_cap_is_refused(tmp_path: Path) -> None:
    data = mp4()
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    settings = _video_cap(replace(SETTINGS, max_bytes=100), max_bytes=len(data) - 1)
    with pytest.raises(MediaError) as err:
        hash_file(path, settings)
    assert err.value.reason is MediaErrorReason.TOO_LARGE


# --- the worker pool --------------------------------------------------------------------------


def test_video_signals_are_plain_data_that_cross_processes() -> None:
    s = compute_media_signals(mp4(), SETTINGS)
    assert pickle.loads(pickle.dumps(s)) == s  # noqa: S301 - our own bytes, as the pool does


async def test_the_pool_hashes_videos_in_worker_processes(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4())
    expected = compute_media_signals(mp4(), SETTINGS)
    with PoolHasher(SETTINGS, workers=1) as hasher:
        from_bytes = await hasher.hash_bytes(mp4())
        from_file = await hasher.hash_file(path)
    assert from_bytes == expected
    assert from_file == expected
    with PoolHasher(SETTINGS, workers=0) as inline:
        assert await inline.hash_bytes(mp4()) == expected


async def test_the_pool_starts_every_worker_warm() -> None:
    """``start`` brings up one process per worker, each having hashed an image already; a
    worker that ignores SIGINT/SIGTERM is still stopped by ``close``."""
    import multiprocessing

    with PoolHasher(SETTINGS, workers=2) as hasher:
        assert await hasher.start() > 0
        children = multiprocessing.active_children()
        assert len(children) >= 2
        data = to_jpeg(photo_like(5, SMALL), 85)
        assert await hasher.hash_bytes(data) == compute_signals(data, SETTINGS)
    assert not any(p.is_alive() for p in children)
    with PoolHasher(SETTINGS, workers=0) as inline:
        assert await inline.start() == 0.0
