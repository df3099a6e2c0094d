"""The CLI end to end, in process through `monitor.cli.main`, on a temporary SQLite store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import ImageOps

from monitor.cli import main
from monitor.config import HashingSettings
from monitor.hashing import compute_signals
from monitor.synthetic import letterbox, photo_like, to_jpeg

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[logging]\nlevel = "warning"\n', "utf-8")
    return path


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str, with_config: bool = True) -> tuple[int, str, str]:
        argv = (["--config", str(config)] if with_config else []) + list(args)
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def write_list(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["hash_type", "hash", "case_id", "label", "status"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def pdq_of(data: bytes) -> str:
    pdq = compute_signals(data, HashingSettings()).pdq
    assert pdq is not None
    return pdq


def test_demo_finds_every_copy_and_nothing_else(cli: Run, tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    code, out, err = cli("demo", "--dir", str(demo_dir), "--workers", "0")
    assert code == 0, err
    code, out, _ = cli(
        "--config",
        str(demo_dir / "config.toml"),
        "hits",
        "list",
        "--format",
        "json",
        with_config=False,
    )
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    where = {Path(h["source"]["path"]).name for h in hits}
    assert where == {
        "recompressed.jpg",
        "mirrored.jpg",
        "letterboxed.jpg",
        "half-size.jpg",
        "cropped.jpg",
        "identical.jpg",
        "photo_1@26-08-2024_09-30-00.jpg",
        "reencoded-video.mp4",
        "trimmed-clip.mp4",
    }
    kinds = {Path(h["source"]["path"]).name: h["kind"] for h in hits if h["hash_type"] == "vpdq"}
    assert kinds == {"reencoded-video.mp4": "video", "trimmed-clip.mp4": "clip"}
    clip = next(h for h in hits if Path(h["source"]["path"]).name == "trimmed-clip.mp4")
    assert clip["span"][0] == 0.0
    # the clip starts 5 s into the listed video: matched times say so
    assert all(abs((p["entry_ts"] - p["query_ts"]) - 5.0) <= 1.0 for p in clip["frames"])
    tiers = {(Path(h["source"]["path"]).name, h["tier"], h["variant"]) for h in hits}
    assert ("identical.jpg", "exact", "original") in tiers
    assert any(n == "mirrored.jpg" and v == "flip_h" for n, _, v in tiers)
    assert any(n == "letterboxed.jpg" and v.startswith("trimmed") for n, _, v in tiers)
    # Running the demo again starts afresh rather than failing or doubling.
    assert cli("demo", "--dir", str(demo_dir), "--workers", "0")[0] == 0


def test_hash_prints_every_signal(cli: Run, tmp_path: Path) -> None:
    data = to_jpeg(photo_like(1))
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    code, out, _ = cli("hash", str(path), "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["sha256"] == hashlib.sha256(data).hexdigest()
    assert obj["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324 - what lists carry
    assert len(obj["pdq"]) == 64
    assert len(obj["phash"]) == 16
    assert obj["pdq_quality"] >= 50
    code, out, _ = cli("hash", str(path))
    assert code == 0
    assert obj["pdq"] in out


def test_hash_of_a_corrupt_file_is_one_line_and_exit_4(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(to_jpeg(photo_like(2))[:3000])
    code, out, err = cli("hash", str(bad))
    assert code == 4
    assert "truncated" in out or "corrupt" in out
    assert "Traceback" not in out + err


def test_list_lifecycle_import_show_withdraw_export_reimport(cli: Run, tmp_path: Path) -> None:
    a, b = pdq_of(to_jpeg(photo_like(10))), pdq_of(to_jpeg(photo_like(11)))
    md5 = "0f" * 16
    listing = write_list(
        tmp_path / "l.csv",
        [
            {"hash_type": "pdq", "hash": a, "case_id": "C-1", "label": "x", "status": "active"},
            {"hash_type": "pdq", "hash": b, "case_id": "C-2", "label": "", "status": "active"},
            {"hash_type": "md5", "hash": md5, "case_id": "C-3", "label": "", "status": "withdrawn"},
        ],
    )
    code, out, err = cli("lists", "import", str(listing), "--bank", "ncii", "--source", "test")
    assert code == 0, err
    assert "3 added" in out or "2 added" in out
    code, out, _ = cli("lists", "import", str(listing), "--bank", "ncii")
    assert code == 0
    assert "0 added" in out
    assert "unchanged" in out
    code, out, _ = cli("lists", "ls", "--json")
    bank = json.loads(out)
    assert bank["name"] == "ncii"
    assert bank["active_entries"] == 2
    assert bank["withdrawn_entries"] == 1
    assert cli("lists", "show", "ncii")[0] == 0
    code, _, _ = cli("lists", "withdraw", "ncii", b, "--reason", "source withdrew it")
    assert code == 0
    export = tmp_path / "out.csv"
    assert cli("lists", "export", "ncii", "--output", str(export))[0] == 0
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    assert [r["hash"] for r in rows] == [a]
    assert rows[0]["case_id"] == "C-1"
    code, _, err = cli("lists", "show", "nope")
    assert code == 6
    assert "nope" in err


def test_bad_list_line_names_file_and_line_and_imports_nothing(cli: Run, tmp_path: Path) -> None:
    good = pdq_of(to_jpeg(photo_like(12)))
    listing = tmp_path / "bad.csv"
    listing.write_text(f"hash_type,hash\npdq,{good}\npdq,{good[:-1]}\n", encoding="utf-8")
    code, _, err = cli("lists", "import", str(listing), "--bank", "b")
    assert code == 4
    assert "bad.csv:3" in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    code, out, _ = cli("lists", "ls", "--json")
    assert code == 0
    assert out.strip() == ""


def test_scan_records_hits_once_and_prints_json(cli: Run, tmp_path: Path) -> None:
    original = photo_like(20)
    listing = write_list(
        tmp_path / "l.csv",
        [
            {
                "hash_type": "pdq",
                "hash": pdq_of(to_jpeg(original)),
                "case_id": "K-9",
                "label": "",
                "status": "",
            }
        ],
    )
    assert cli("lists", "import", str(listing), "--bank", "k")[0] == 0
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "copy.jpg").write_bytes(
        to_jpeg(letterbox(ImageOps.mirror(original), (0, 60, 0, 60)), 70)
    )
    (posts / "other.jpg").write_bytes(to_jpeg(photo_like(21)))
    (posts / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    code, out, err = cli("scan", str(posts), "--json", "--workers", "0")
    assert code == 0, err
    lines = {Path(o["path"]).name: o for o in map(json.loads, out.splitlines())}
    assert set(lines) == {"copy.jpg", "other.jpg", "broken.png"}
    (match,) = lines["copy.jpg"]["matches"]
    assert match["case_id"] == "K-9"
    assert match["variant"] == "trimmed+flip_h"
    assert match["distance"] <= 24
    assert lines["other.jpg"]["matches"] == []
    assert lines["broken.png"]["error"]["reason"] in ("corrupt", "truncated")
    assert "1 new hits" in err
    code, out, err = cli("scan", str(posts), "--workers", "0")
    assert code == 0
    assert "0 new hits" in out
    code, out, _ = cli("hits", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert rows[0]["case_id"] == "K-9"
    assert rows[0]["review_status"] == "new"
    code, out, _ = cli("hits", "list", "--tier", "exact", "--format", "json")
    assert code == 0
    assert out == ""
    code, _, err = cli("hits", "list", "--since", "yesterday")
    assert code == 2
    assert "--since" in err
    hit_id = rows[0]["id"]
    code, out, err = cli("hits", "show", hit_id)
    assert code == 0, err
    assert "K-9" in out
    assert "trimmed+flip_h" in out
    assert "copy.jpg" in out
    code, out, _ = cli("hits", "show", hit_id, "--json")
    assert json.loads(out)["hit"]["case_id"] == "K-9"
    code, _, err = cli("hits", "show", "999999")
    assert code == 6
    assert "999999" in err


def test_bad_config_names_the_key(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hashing]\nmin_pdq_quality = 500\n", encoding="utf-8")
    code, _, err = cli("--config", str(bad), "lists", "ls", with_config=False)
    assert code == 3
    assert "hashing.min_pdq_quality" in err
    assert err.count("\n") == 1


def test_unreachable_database_is_exit_5_without_the_password(cli: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "pg.toml"
    cfg.write_text(
        '[database]\nurl = "postgresql+asyncpg://monitor:s3cretPassw0rd@127.0.0.1:1/monitor"\n'
        "connect_timeout = 2\n",
        encoding="utf-8",
    )
    for command in (["lists", "ls"], ["db", "current"], ["db", "upgrade"]):
        code, out, err = cli("--config", str(cfg), *command, with_config=False)
        assert code == 5, command
        assert "cannot use the postgresql database" in err, command
        assert "s3cretPassw0rd" not in out + err
        assert "Traceback" not in err


def test_db_commands(cli: Run) -> None:
    code, out, _ = cli("db", "upgrade")
    assert code == 0
    assert "schema at" in out
    code, out, _ = cli("db", "current")
    assert code == 0
    assert "up to date" in out


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert "scan" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "hash", str(tmp_path / "missing.jpg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 4
    assert "Traceback" not in proc.stderr


def test_bank_thresholds_change_matching_and_are_audited(cli: Run, tmp_path: Path) -> None:
    import asyncio

    from monitor.config import load_settings
    from monitor.runtime import open_store

    original = photo_like(30)
    listing = write_list(
        tmp_path / "l.csv",
        [
            {
                "hash_type": "pdq",
                "hash": pdq_of(to_jpeg(original)),
                "case_id": "T-1",
                "label": "",
                "status": "",
            }
        ],
    )
    assert cli("lists", "import", str(listing), "--bank", "t", "--by", "alice")[0] == 0
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "small.jpg").write_bytes(to_jpeg(original.resize((320, 240)), 60))
    code, out, _ = cli("scan", str(posts), "--json", "--workers", "0")
    (line,) = [json.loads(x) for x in out.splitlines()]
    (match,) = line["matches"]
    distance = match["distance"]
    assert distance > 0
    # A threshold below the distance: the same copy no longer matches.
    code, out, _ = cli(
        "lists", "set", "t", "--pdq", str(distance - 1), "--pdq-near-exact", "0", "--by", "bob"
    )
    assert code == 0
    assert f"pdq <= {distance - 1}" in out
    code, out, _ = cli("scan", str(posts), "--json", "--workers", "0")
    assert json.loads(out)["matches"] == []
    code, out, _ = cli("lists", "set", "t", "--disable")
    assert "disabled" in out

    async def audit() -> list[tuple[str, str]]:
        settings = load_settings(tmp_path / "config.toml", env={})
        async with open_store(settings) as store:
            return [(a.actor, a.action) for a in await store.audit_entries()]

    actions = asyncio.run(audit())
    assert ("alice", "bank.create") in actions
    assert ("bob", "bank.update") in actions
