"""`monitor lists` with listed videos (timed frame PDQs) and the banks' video thresholds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.e2e.test_cli import Run, cli, config  # noqa: F401 - fixtures

PDQ = [
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    "1" * 63 + "2",
    "a5" * 32,
]
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def video_list(path: Path) -> Path:
    path.write_text(
        "hash_type,hash,video_id,timestamp,quality,case_id\n"
        f"vpdq,{PDQ[1]},Clip-7,1.0,80,C-7\n"
        f"vpdq,{PDQ[0]},Clip-7,0.0,90,\n"
        f"pdq,{PDQ[2]},Clip-7,2.5,,\n"
        f"vpdq,{PDQ[0]},other,0,,C-8\n"
        f"md5,{MD5},Clip-7,,,C-7\n",
        encoding="utf-8",
    )
    return path


def test_import_show_export_withdraw_a_video_list(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    listing = video_list(tmp_path / "videos.csv")
    code, out, err = cli("lists", "import", str(listing), "--bank", "vids")
    assert code == 0, err
    assert "3 entries (2 videos with 4 frames)" in out
    assert "3 added" in out
    code, out, _ = cli("lists", "import", str(listing), "--bank", "vids")
    assert "0 added" in out
    assert "3 unchanged" in out

    code, out, _ = cli("lists", "show", "vids")
    assert code == 0
    assert "videos       2 listed, 4 frames" in out
    assert "video share >= 0.8, clip >= 3 s" in out
    code, out, _ = cli("lists", "show", "vids", "--json")
    shown = json.loads(out)
    assert shown["counts"] == {"vpdq/active": 2, "md5/active": 1}
    assert shown["frames"] == 4

    # Export: one line per frame, in time order; it reads back unchanged.
    export = tmp_path / "out.csv"
    assert cli("lists", "export", "vids", "--output", str(export))[0] == 0
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    assert [(r["hash_type"], r["video_id"], r["timestamp"], r["hash"]) for r in rows] == [
        ("vpdq", "Clip-7", "0.0", PDQ[0]),
        ("vpdq", "Clip-7", "1.0", PDQ[1]),
        ("vpdq", "Clip-7", "2.5", PDQ[2]),
        ("vpdq", "other", "0.0", PDQ[0]),
        ("md5", "Clip-7", "", MD5),
    ]
    assert [r["quality"] for r in rows[:3]] == ["90", "80", ""]
    assert {r["case_id"] for r in rows[:3]} == {"C-7"}
    code, out, _ = cli("lists", "import", str(export), "--bank", "vids")
    assert "3 unchanged" in out
    code, out, _ = cli("lists", "export", "vids", "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(o["video_id"], o["timestamp"]) for o in lines[:4]] == [
        ("Clip-7", 0.0),
        ("Clip-7", 1.0),
        ("Clip-7", 2.5),
        ("other", 0.0),
    ]

    # Withdraw a video by its id, as listed (case kept).
    code, _, err = cli("lists", "withdraw", "vids", "clip-7", "--reason", "r")
    assert code == 6
    assert "clip-7" in err
    code, out, err = cli("lists", "withdraw", "vids", "Clip-7", "--reason", "source withdrew it")
    assert code == 0, err
    assert "1 entries withdrawn" in out
    code, out, _ = cli("lists", "ls", "--json")
    bank = json.loads(out)
    assert (bank["active_entries"], bank["withdrawn_entries"]) == (2, 1)


def test_a_txt_list_cannot_hold_videos(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    listing = tmp_path / "frames.txt"
    listing.write_text(f"{PDQ[0]}\n", encoding="utf-8")
    code, _, err = cli("lists", "import", str(listing), "--bank", "b", "--type", "vpdq")
    assert code == 4
    assert "txt list cannot hold video frames" in err


def test_bad_frame_line_names_the_line(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    listing = tmp_path / "bad.csv"
    listing.write_text(
        f"hash_type,hash,video_id,timestamp\nvpdq,{PDQ[0]},v,0\npdq,{PDQ[1]},v,\n",
        encoding="utf-8",
    )
    code, _, err = cli("lists", "import", str(listing), "--bank", "b")
    assert code == 4
    assert "bad.csv:3" in err
    assert "needs a timestamp" in err


def test_set_video_thresholds(cli: Run, tmp_path: Path) -> None:  # noqa: F811
    assert cli("lists", "import", str(video_list(tmp_path / "v.csv")), "--bank", "t")[0] == 0
    code, out, err = cli("lists", "set", "t", "--video-share", "0.5", "--clip-seconds", "1.5")
    assert code == 0, err
    assert "video share >= 0.5, clip >= 1.5 s" in out
    code, out, _ = cli("lists", "ls", "--json")
    thresholds = json.loads(out)["thresholds"]
    assert (thresholds["video_share"], thresholds["clip_seconds"]) == (0.5, 1.5)
    assert thresholds["pdq"] == 31  # the others untouched
    code, out, _ = cli("lists", "ls")
    assert "video share" in out
    assert "1.5" in out
    for option, value in (
        ("--video-share", "0"),
        ("--video-share", "1.01"),
        ("--video-share", "-0.5"),
        ("--clip-seconds", "0"),
        ("--clip-seconds", "-1"),
        ("--clip-seconds", "inf"),
    ):
        code, _, err = cli("lists", "set", "t", option, value)
        assert code == 2, (option, value)
        assert option in err
    code, out, _ = cli("lists", "set", "t", "--video-share", "1")
    assert code == 0
    assert "video share >= 1" in out
    code, out, _ = cli("lists", "ls", "--json")
    assert json.loads(out)["thresholds"]["clip_seconds"] == 1.5  # unchanged by the refusals
