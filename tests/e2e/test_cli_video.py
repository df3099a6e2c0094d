"""`monitor hash` and `monitor scan` on videos and animations made in code (tests/videogen.py).

`monitor hash` prints a video's container, codec, duration, frames decoded and hashed and every
frame hash with its time and PDQ quality, as text and as JSON; `monitor scan` hashes video files
wherever they are (their names are never consulted) and records them through the same pipeline
as images, as ``video`` / ``animation`` / ``sticker`` sightings.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from monitor.config import HashingSettings
from monitor.hashing import compute_media_signals
from monitor.synthetic import photo_like, to_jpeg
from tests.e2e.test_cli import Run, cli, config, write_list  # noqa: F401 - fixtures
from tests.videogen import Scene, lottie_tgs, scene_video, to_gif


@functools.cache
def clip() -> bytes:
    """4 s: a still scene, then a panning one; 320 x 240 at 10 fps, H.264 in MP4."""
    return scene_video([Scene(51, 2.0), Scene(52, 2.0, pan=20)])


def test_hash_prints_a_videos_frames(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "clip.bin"  # the name says nothing: the bytes do
    path.write_bytes(clip())
    expected = compute_media_signals(clip(), HashingSettings())
    assert expected.video is not None
    code, out, err = cli("hash", str(path), "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["sha256"] == hashlib.sha256(clip()).hexdigest()
    assert obj["pdq"] is None
    video = obj["video"]
    assert video["container"] == "mp4"
    assert video["codec"] == "h264"
    assert abs(video["duration"] - 4.0) < 0.2
    assert video["frames_hashed"] == expected.video.frames_hashed >= 4
    assert video["failure"] is None
    frames = video["frames"]
    assert len(frames) == len(expected.frames) >= 2
    for got, want in zip(frames, expected.frames, strict=True):
        assert got["timestamp"] == want.timestamp
        assert got["pdq"] == want.pdq
        assert got["quality"] == want.quality

    code, out, err = cli("hash", str(path))
    assert code == 0, err
    assert "video    mp4 h264 320x240, 4.000 s, 10 fps (video/mp4)" in out
    assert f"{expected.video.frames_hashed} hashed, {len(expected.frames)} kept" in out
    for frame in expected.frames:
        assert f"pdq {frame.pdq} (quality {frame.quality})" in out
    assert "0.000" in out


def test_hash_of_a_corrupt_video_and_an_animated_sticker_say_why(
    cli: Run,  # noqa: F811
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip()[:2000])
    sticker = tmp_path / "sticker.tgs"
    sticker.write_bytes(lottie_tgs())
    code, out, _ = cli("hash", str(broken), str(sticker), "--json")
    assert code == 4  # as for images: exact hashes only
    lines = [json.loads(line) for line in out.splitlines()]
    assert [o["video"]["failure"]["reason"] for o in lines] == [
        "corrupt_video",
        "lottie_unsupported",
    ]
    assert lines[1]["md5"] == hashlib.md5(lottie_tgs()).hexdigest()  # noqa: S324 - as listed
    code, out, _ = cli("hash", str(sticker))
    assert code == 4
    assert "error    lottie_unsupported" in out
    assert "video    tgs lottie 512x512" in out


def test_scan_records_videos_through_the_pipeline(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    md5 = hashlib.md5(clip()).hexdigest()  # noqa: S324 - lists carry MD5s of videos
    listing = write_list(
        tmp_path / "l.csv",
        [{"hash_type": "md5", "hash": md5, "case_id": "V-1", "label": "", "status": ""}],
    )
    assert cli("lists", "import", str(listing), "--bank", "v")[0] == 0
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "clip.mp4").write_bytes(clip())
    (posts / "same-clip.dat").write_bytes(clip())
    (posts / "loop.gif").write_bytes(to_gif([Scene(53, 1.0), Scene(54, 1.0)]))
    (posts / "sticker.tgs").write_bytes(lottie_tgs())
    (posts / "photo.jpg").write_bytes(to_jpeg(photo_like(55)))
    code, out, err = cli("scan", str(posts), "--json", "--workers", "0")
    assert code == 0, err
    lines = {Path(o["path"]).name: o for o in map(json.loads, out.splitlines())}
    assert set(lines) == {"clip.mp4", "same-clip.dat", "loop.gif", "sticker.tgs", "photo.jpg"}
    for name in ("clip.mp4", "same-clip.dat"):
        line = lines[name]
        assert line["source"]["media_kind"] == "video"
        assert line["video"]["container"] == "mp4"
        assert line["video"]["frames"]
        (match,) = line["matches"]
        assert match["case_id"] == "V-1"
        assert match["tier"] == "exact"
    assert lines["loop.gif"]["source"]["media_kind"] == "animation"
    assert lines["loop.gif"]["video"]["frames"]
    assert lines["sticker.tgs"]["source"]["media_kind"] == "sticker"
    assert lines["sticker.tgs"]["error"]["reason"] == "lottie_unsupported"
    assert lines["photo.jpg"]["source"]["media_kind"] == "image"
    assert lines["photo.jpg"]["video"] is None
    assert "Scanned 5 files (4 of them videos or animations): 4 hashed" in err
    assert "1 not hashable (lottie_unsupported 1; exact hashes only)" in err
    assert "2 new hits" in err
    # again: nothing new
    code, out, _ = cli("scan", str(posts), "--workers", "0")
    assert code == 0
    assert "0 new hits and 0 new sightings" in out
    code, out, _ = cli("hits", "list", "--format", "json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert {h["source"]["media_kind"] for h in hits} == {"video"}


def test_scan_of_a_desktop_export_hashes_its_videos(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    export = tmp_path / "ChatExport"
    (export / "video_files").mkdir(parents=True)
    (export / "round_video_messages").mkdir()
    (export / "video_files" / "clip.mp4").write_bytes(clip())
    (export / "video_files" / "clip.mp4_thumb.jpg").write_bytes(to_jpeg(photo_like(56)))
    (export / "round_video_messages" / "round.mp4").write_bytes(clip())
    messages = [
        {
            "id": 7,
            "type": "message",
            "date_unixtime": "1724664600",
            "file": "video_files/clip.mp4",
            "thumbnail": "video_files/clip.mp4_thumb.jpg",
            "media_type": "video_file",
            "mime_type": "video/mp4",
        },
        {
            "id": 8,
            "type": "message",
            "date_unixtime": "1724664601",
            "file": "round_video_messages/round.mp4",
            "media_type": "video_message",
            "mime_type": "video/mp4",
        },
    ]
    index = {"name": "Feed", "type": "public_channel", "id": 1234567890, "messages": messages}
    (export / "result.json").write_text(json.dumps(index), encoding="utf-8")
    code, out, err = cli("scan", str(export), "--json", "--workers", "0")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    # the videos, never their thumbnails
    assert [Path(o["path"]).name for o in lines] == ["clip.mp4", "round.mp4"]
    for line in lines:
        assert line["source"]["media_kind"] == "video"
        assert line["source"]["kind"] == "desktop_export"
        assert line["video"]["frames"]
        assert line["sha256"] == hashlib.sha256(clip()).hexdigest()
    assert "Scanned 2 files (2 of them videos or animations): 2 hashed" in err
