"""Everything `monitor demo` shows, made in code: reported originals, a hash list built from them,
a folder of "posted" copies (recompressed, mirrored, letterboxed, resized, cropped, identical,
plus unrelated images and a corrupt file), and a Telegram Desktop export of a channel. Also a
reported video, listed as timed frame PDQs (vpdq rows), with a re-encoded copy, a trimmed clip
and an unrelated video among the posts.

The demo lives in its own folder with its own SQLite file; it never touches the configured store.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageOps

from monitor.config import HashingSettings
from monitor.errors import InputError
from monitor.hashing import compute_signals
from monitor.hashing.video import compute_video_signals
from monitor.synthetic import crop_fraction, letterbox, photo_like, to_jpeg
from monitor.synthetic_video import Scene, scene_video, transcode

MARKER = ".monitor-demo"
BANK = "demo-reported"

# (file name, how the posted copy was made from original number N) — all synthetic.
_POSTS: list[tuple[str, int, str]] = [
    ("recompressed.jpg", 0, "JPEG recompressed at quality 55"),
    ("mirrored.jpg", 1, "mirrored left-right"),
    ("letterboxed.jpg", 2, "black bars added above and below"),
    ("half-size.jpg", 3, "resized to 50%"),
    ("cropped.jpg", 4, "1% cut from every side"),
    ("identical.jpg", 5, "byte-for-byte the reported file"),
]
# The reported video: four synthetic shots of 3 seconds, two of them panning.
VIDEO_ID = "DEMO-VIDEO-0001"
_VIDEO_SCENES = (Scene(600, 3.0), Scene(601, 3.0, pan=12.0), Scene(602, 3.0), Scene(603, 3.0, 8.0))
VIDEO_POSTS = ("reencoded-video.mp4", "trimmed-clip.mp4")


@dataclass(frozen=True, slots=True)
class DemoFiles:
    root: Path
    hash_list: Path
    posts: Path
    export: Path
    config: Path


def prepare(root: Path, settings: HashingSettings) -> DemoFiles:
    """Create (or re-create) the demo folder and everything in it."""
    if root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise InputError(f"{root} exists and is not a demo folder; choose another --dir")
        shutil.rmtree(root)
    posts = root / "posted"
    export = root / "desktop-export"
    for folder in (posts, export / "photos"):
        folder.mkdir(parents=True)
    (root / MARKER).write_text("made by `monitor demo`; safe to delete\n", encoding="utf-8")

    originals = [photo_like(seed, (800, 600)) for seed in range(100, 106)]
    original_jpegs = [to_jpeg(img, 90) for img in originals]

    rows: list[dict[str, str]] = []
    for n, data in enumerate(original_jpegs):
        signals = compute_signals(data, settings)
        rows.append(_row("pdq", signals.pdq or "", n))
    # Reported files are also listed by their cryptographic hashes, as real lists do.
    exact = compute_signals(original_jpegs[5], settings)
    rows.append(_row("sha256", exact.sha256, 5))
    rows.append(_row("md5", exact.md5, 5))
    # A withdrawn entry: listed by mistake, kept in history, never matched.
    withdrawn = compute_signals(to_jpeg(photo_like(999, (800, 600))), settings)
    rows.append({**_row("pdq", withdrawn.pdq or "", 99), "status": "withdrawn"})
    # The reported video, one row per frame hash with its time (how video lists carry frames).
    video = scene_video(_VIDEO_SCENES, size=(480, 272), fps=12, crf=20)
    for frame in compute_video_signals(video, settings).frames:
        rows.append(
            {
                **_row("vpdq", frame.pdq, 6),
                "label": "synthetic test video",
                "video_id": VIDEO_ID,
                "timestamp": f"{frame.timestamp:.3f}",
                "quality": str(frame.quality),
            }
        )
    hash_list = root / "reported-hashes.csv"
    columns = ["hash_type", "hash", "case_id", "label", "added_at", "status"]
    with hash_list.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, [*columns, "video_id", "timestamp", "quality"], restval="")
        writer.writeheader()
        writer.writerows(rows)

    copies = {
        "recompressed.jpg": to_jpeg(originals[0], 55),
        "mirrored.jpg": to_jpeg(ImageOps.mirror(originals[1])),
        "letterboxed.jpg": to_jpeg(letterbox(originals[2], (0, 120, 0, 120))),
        "half-size.jpg": to_jpeg(originals[3].resize((400, 300), Image.Resampling.LANCZOS)),
        "cropped.jpg": to_jpeg(crop_fraction(originals[4], 0.01)),
        "identical.jpg": original_jpegs[5],
    }
    for name, data in copies.items():
        (posts / name).write_bytes(data)
    for seed in range(200, 206):
        (posts / f"unrelated-{seed}.jpg").write_bytes(to_jpeg(photo_like(seed)))
    (posts / "truncated.jpg").write_bytes(to_jpeg(photo_like(300))[:4000])
    # Re-posted videos: smaller and recompressed; the last 7 seconds only; something else.
    (posts / VIDEO_POSTS[0]).write_bytes(transcode(video, size=(320, 180), crf=32))
    (posts / VIDEO_POSTS[1]).write_bytes(transcode(video, start=5.0, crf=28))
    unrelated = (Scene(700, 4.0), Scene(701, 4.0, pan=10.0))
    (posts / "unrelated-video.mp4").write_bytes(scene_video(unrelated, size=(480, 272), fps=12))
    (posts / "notes.txt").write_text("not an image\n", encoding="utf-8")

    _write_export(export, originals)
    config = root / "config.toml"
    config.write_text(
        f'# Written by `monitor demo`: the demo\'s own store.\ndata_dir = "{root.resolve()}"\n',
        encoding="utf-8",
    )
    return DemoFiles(root=root, hash_list=hash_list, posts=posts, export=export, config=config)


def _row(hash_type: str, value: str, n: int) -> dict[str, str]:
    return {
        "hash_type": hash_type,
        "hash": value,
        "case_id": f"DEMO-{n + 1:04d}",
        "label": "synthetic test image",
        "added_at": "2024-08-26",
        "status": "active",
    }


def _write_export(export: Path, originals: list[Image.Image]) -> None:
    """A channel export in Telegram Desktop's JSON format: two posts, one a known image."""
    (export / "photos" / "photo_1@26-08-2024_09-30-00.jpg").write_bytes(
        to_jpeg(originals[0].resize((640, 480)), 80)
    )
    (export / "photos" / "photo_2@26-08-2024_09-31-00.jpg").write_bytes(to_jpeg(photo_like(400)))
    t0 = int(datetime(2024, 8, 26, 0, 30, tzinfo=UTC).timestamp())
    messages = [
        _message(11, t0, "photos/photo_1@26-08-2024_09-30-00.jpg"),
        _message(12, t0 + 60, "photos/photo_2@26-08-2024_09-31-00.jpg"),
        _message(13, t0 + 120, "(File not included. Change data exporting settings to download.)"),
    ]
    data = {
        "name": "Demo channel (synthetic)",
        "type": "public_channel",
        "id": 1234567890,
        "messages": messages,
    }
    (export / "result.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def _message(msg_id: int, unixtime: int, photo: str) -> dict[str, object]:
    local = datetime.fromtimestamp(unixtime, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "id": msg_id,
        "type": "message",
        "date": local,
        "date_unixtime": str(unixtime),
        "from": "Demo channel (synthetic)",
        "from_id": "channel1234567890",
        "photo": photo,
        "width": 640,
        "height": 480,
        "text": "",
    }
