"""The optional evidence store in the real daemon: the media of each new hit sealed to the unit's
public key from the bytes already downloaded, nothing for other media, nothing at all on disk
when it is off, and a hit never lost to a failed evidence write."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from monitor.evidence import (
    SUFFIX,
    EvidenceStore,
    generate_keypair,
    load_private_key,
    open_item,
    parse_public_key,
)
from monitor.evidence_keeper import AUDIT_ACTION
from tests.integration.daemon.harness import Env, eventually, photo


def _enable(env: Env, **extra: object) -> Path:
    """Turn evidence on with a new key pair; the private key's path (outside the data dir)."""
    key = env.tmp / "keys" / "unit.key"
    key.parent.mkdir()
    public = generate_keypair(key)
    env.configure(evidence={"enabled": True, "public_key": public, **extra})
    return key


def _sealed(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{SUFFIX}")) if root.is_dir() else []


def _files_holding(root: Path, needles: list[bytes]) -> list[Path]:
    """Every file under ``root`` that holds any of ``needles``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            if any(needle in content for needle in needles):
                found.append(path)
    return found


def _pieces(data: bytes) -> list[bytes]:
    """The whole media and slices of it: a copy written in parts would hold those."""
    middle = len(data) // 2
    return [data, data[512:1024], data[middle : middle + 512], data[-512:]]


async def test_the_media_of_each_new_hit_is_sealed_and_opens_to_the_posted_bytes(
    env: Env,
) -> None:
    key = _enable(env)
    await env.list_photos(1)
    unlisted = photo(500)
    source = env.world.create_channel("feed", members=[env.user])
    copies = env.world.create_channel("copies", members=[env.user])
    msg = env.world.post_photo(source, env.listed[1])
    env.world.post_photo(source, unlisted)
    env.world.forward(source, msg, copies)  # matched without a download: no bytes, same item
    await env.watch("@feed", "@copies")
    summary = await env.run_once()

    root = env.settings.evidence_dir
    assert root == env.tmp / "data" / "evidence"
    assert root.stat().st_mode & 0o777 == 0o700
    (item,) = _sealed(root)
    assert item.stat().st_mode & 0o777 == 0o600
    opened = open_item(item, load_private_key(key))
    assert opened.data == env.listed[1]
    assert opened.header["sha256"] == hashlib.sha256(env.listed[1]).hexdigest()
    assert opened.header["mime"] == "image/jpeg"
    assert opened.header["where"].startswith(("https://t.me/feed/", "https://t.me/copies/"))
    assert summary.counters.get("evidence_written") == 1
    assert "evidence_failed" not in summary.counters
    # Only sealed bytes reached the disk: no plaintext copy of the hit or the unlisted photo.
    assert _files_holding(env.tmp, _pieces(env.listed[1]) + _pieces(unlisted)) == []
    async with env.store() as store:
        hits = await store.list_hits()
        assert len(hits) == 2  # the post and its forward
        audited = {
            hit.id: [a for a in await store.hit_history(hit.id) if a.action == AUDIT_ACTION]
            for hit in hits
        }
    sealed_for = [hit_id for hit_id, rows in audited.items() if rows]
    assert len(sealed_for) >= 1  # the downloaded copy's hit (both, when they shared it)
    for hit_id in sealed_for:
        (row,) = audited[hit_id]
        assert row.details["sha256"] == opened.header["sha256"]
        assert row.details["path"] == str(item)


async def test_a_hit_while_running_is_sealed_and_old_items_are_purged(env: Env) -> None:
    _enable(env, retention_days=30)
    root = env.settings.evidence_dir
    stale = EvidenceStore(root, parse_public_key(env.settings.evidence.public_key), 30).put(
        b"sealed long ago", mime=None, seen_at=datetime(2020, 1, 1, tzinfo=UTC), where=None
    )
    month_and_a_day = time.time() - 31 * 86400
    os.utime(stale, (month_and_a_day, month_and_a_day))
    await env.list_photos(2)
    channel = env.world.create_channel("feed", members=[env.user])
    await env.watch("@feed")
    with capture_logs() as logs:
        async with env.running() as daemon:
            await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
            env.world.post_photo(channel, photo(77))
            env.world.post_photo(channel, env.listed[2])
            await eventually(lambda: daemon.counters["evidence_written"] >= 1, seconds=15)
            await eventually(lambda: daemon.counters["media_hashed"] >= 2, seconds=15)
    assert not stale.exists()
    purged = [e for e in logs if e["event"] == "evidence_purged"]
    assert [e["deleted"] for e in purged][:1] == [1]
    (item,) = _sealed(root)
    assert item.name == f"{hashlib.sha256(env.listed[2]).hexdigest()}{SUFFIX}"


async def test_with_evidence_off_no_media_is_written_anywhere(env: Env) -> None:
    await env.list_photos(3)
    unlisted = photo(501)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[3])
    env.world.post_photo(channel, unlisted)
    await env.watch("@feed")
    summary = await env.run_once()
    assert summary.counters.get("hits") == 1
    assert summary.counters.get("media_downloaded") == 2
    assert not any(k.startswith("evidence_") for k in summary.counters)
    assert _files_holding(env.tmp, _pieces(env.listed[3]) + _pieces(unlisted)) == []
    assert not env.settings.evidence_dir.exists()
    # The data dir holds nothing (the harness keeps the store next to it).
    data_dir = env.settings.data_dir
    assert not data_dir.exists() or not [p for p in data_dir.rglob("*") if p.is_file()]


async def test_an_unusable_evidence_folder_loses_no_hit(env: Env) -> None:
    blocker = env.tmp / "not-a-folder"
    blocker.write_bytes(b"")
    _enable(env, directory=str(blocker / "evidence"))
    await env.list_photos(4)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[4])
    await env.watch("@feed")
    with capture_logs() as logs:
        summary = await env.run_once()
    assert summary.counters.get("hits") == 1
    assert summary.counters.get("evidence_failed") == 1
    assert "evidence_written" not in summary.counters
    events = {e["event"]: e for e in logs}
    assert events["evidence_dir_unusable"]["log_level"] == "error"
    failed = events["evidence_write_failed"]
    assert failed["log_level"] == "error"
    assert failed["reason"].startswith("NotADirectoryError")
    assert failed["sha256"] == hashlib.sha256(env.listed[4]).hexdigest()
    async with env.store() as store:
        (hit,) = await store.list_hits()
        assert hit.case_id == "case-4"
        assert not [a for a in await store.hit_history(hit.id) if a.action == AUDIT_ACTION]
    assert _files_holding(env.tmp, _pieces(env.listed[4])) == []
