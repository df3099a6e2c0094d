"""Telling videos and animations from images by magic bytes, and the [hashing.video] settings."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pytest

from monitor.config import HashingSettings, VideoSettings, load_settings
from monitor.errors import ConfigError
from monitor.hashing.video import VideoKind, is_video, sniff_kind
from monitor.hashing.video_sniff import is_animated, lottie_info
from tests.imagegen import animated_gif, animated_webp, photo_like, to_gif, to_jpeg, to_png, to_webp
from tests.videogen import Scene, lottie_tgs, scene_video


@functools.cache
def _sample(name: str) -> bytes:
    one = [Scene(1, 0.5)]
    small = (64, 48)
    samples = {
        "mp4": lambda: scene_video(one, size=small),
        "mov": lambda: scene_video(one, size=small, container="mov"),
        "webm": lambda: scene_video(one, size=small, container="webm"),
        "mkv": lambda: scene_video(one, size=small, container="mkv"),
        "mp4-not-faststart": lambda: scene_video(one, size=small, faststart=False),
        "gif-animated": lambda: animated_gif([photo_like(1, small), photo_like(2, small)]),
        "webp-animated": lambda: animated_webp([photo_like(1, small), photo_like(2, small)]),
        "gif-still": lambda: to_gif(photo_like(1, small)),
        "webp-still": lambda: to_webp(photo_like(1, small)),
        "jpeg": lambda: to_jpeg(photo_like(1, small)),
        "png": lambda: to_png(photo_like(1, small)),
        "tgs": lambda: lottie_tgs(),
        "gzip-text": lambda: gzip.compress(b"just some text, not an animation"),
        "gzip-json": lambda: gzip.compress(json.dumps({"a": 1}).encode()),
        "heic-brand": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "avif-brand": lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64),
        "qt-no-ftyp": lambda: b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat" + bytes(64),
        "text": lambda: b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.invalid/a.ts\n",
        "empty": lambda: b"",
    }
    return samples[name]()


@pytest.mark.parametrize(
    ("name", "kind", "video"),
    [
        ("mp4", VideoKind.MP4, True),
        ("mp4-not-faststart", VideoKind.MP4, True),
        ("mov", VideoKind.MOV, True),
        ("qt-no-ftyp", VideoKind.MOV, True),
        ("webm", VideoKind.WEBM, True),
        ("mkv", VideoKind.MATROSKA, True),
        ("gif-animated", VideoKind.GIF, True),
        ("webp-animated", VideoKind.WEBP, True),
        ("tgs", VideoKind.TGS, True),
        # still animations name their container but go to the image path
        ("gif-still", VideoKind.GIF, False),
        ("webp-still", VideoKind.WEBP, False),
        ("jpeg", None, False),
        ("png", None, False),
        ("heic-brand", None, False),
        ("avif-brand", None, False),
        ("gzip-text", None, False),
        ("gzip-json", None, False),
        ("text", None, False),
        ("empty", None, False),
    ],
)
def test_sniff_kind_and_is_video(name: str, kind: VideoKind | None, video: bool) -> None:
    data = _sample(name)
    assert sniff_kind(data) is kind
    assert is_video(data) is video


def test_animation_flags() -> None:
    assert is_animated(_sample("gif-animated"))
    assert is_animated(_sample("webp-animated"))
    assert not is_animated(_sample("gif-still"))
    assert not is_animated(_sample("webp-still"))
    assert not is_animated(_sample("mp4"))
    # a GIF cut inside its first frame is not taken for an animation, and does not raise
    assert not is_animated(_sample("gif-animated")[:40])


def test_kinds_have_a_mime_type() -> None:
    assert {kind.mime for kind in VideoKind} >= {"video/mp4", "video/webm", "image/gif"}
    assert VideoKind.TGS.mime == "application/x-tgsticker"


def test_lottie_header_is_read() -> None:
    info = lottie_info(lottie_tgs(width=512, height=512, fps=60, frames=180))
    assert info is not None
    assert (info.width, info.height, info.fps, info.duration) == (512, 512, 60.0, 3.0)
    assert lottie_info(_sample("gzip-json")) is None  # JSON, but no "v"/"layers"
    assert lottie_info(_sample("gzip-text")) is None
    assert lottie_info(_sample("mp4")) is None
    assert lottie_info(lottie_tgs()[:30]) is None  # cut-off gzip


def test_lottie_check_stops_at_a_gzip_bomb() -> None:
    bomb = gzip.compress(b'{"v": "5.5.2", "layers": [' + b" " * (40 * 1024 * 1024) + b"]}")
    assert len(bomb) < 100_000
    assert lottie_info(bomb) is None  # more than 16 MiB of JSON: not a sticker, not read whole


# --- settings -----------------------------------------------------------------------------------


def test_video_settings_defaults() -> None:
    video = HashingSettings().video
    assert video == VideoSettings()
    assert video.sample_rate == 1.0
    assert video.time_budget == 30.0
    assert video.max_pixels == 4096 * 2160


def test_video_settings_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[hashing]\nmin_pdq_quality = 60\n\n"
        "[hashing.video]\nsample_rate = 2\nmax_duration = 60\ncollapse_distance = -1\n",
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert settings.hashing.min_pdq_quality == 60
    assert settings.hashing.video.sample_rate == 2.0
    assert settings.hashing.video.max_duration == 60.0
    assert settings.hashing.video.collapse_distance == -1
    assert settings.hashing.video.max_frames == VideoSettings().max_frames


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("sample_rate = 0", "hashing.video.sample_rate"),
        ("time_budget = -1", "hashing.video.time_budget"),
        ("max_bytes = 0", "hashing.video.max_bytes"),
        ("max_pixels = 0", "hashing.video.max_pixels"),
        ("max_frames = 0", "hashing.video.max_frames"),
        ("max_duration = 0", "hashing.video.max_duration"),
        ("max_keyframes = 0", "hashing.video.max_keyframes"),
        ("full_decode_seconds = -5", "hashing.video.full_decode_seconds"),
        ("collapse_distance = 300", "hashing.video.collapse_distance"),
        ("sample_rate = 'often'", "hashing.video.sample_rate"),
        ("max_frame = 5", "hashing.video.max_frame"),
    ],
)
def test_bad_video_settings_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[hashing.video]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == key
