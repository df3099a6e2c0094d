"""The optional evidence store: sealed to a public key (the writer cannot open it), opened only
with the private key, checked against its hash, private files, retention."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError, InputError
from monitor.evidence import (
    EvidenceStore,
    generate_keypair,
    load_private_key,
    open_item,
    parse_public_key,
)
from monitor.synthetic import photo_like, to_jpeg

SEEN = datetime(2024, 8, 26, 3, 0, tzinfo=UTC)


def store(tmp_path: Path) -> tuple[EvidenceStore, Path]:
    key = tmp_path / "unit.key"
    public = generate_keypair(key)
    return EvidenceStore(tmp_path / "evidence", parse_public_key(public), 30), key


def test_sealed_item_opens_only_with_the_private_key(tmp_path: Path) -> None:
    evidence, key = store(tmp_path)
    data = to_jpeg(photo_like(3))
    path = evidence.put(data, mime="image/jpeg", seen_at=SEEN, where="https://t.me/c/1/2")
    sha = hashlib.sha256(data).hexdigest()
    assert path == tmp_path / "evidence" / sha[:2] / f"{sha}.sealed"
    raw = path.read_bytes()
    assert data not in raw
    assert data[:64] not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    item = open_item(path, load_private_key(key))
    assert item.data == data
    assert item.header["sha256"] == sha
    assert item.header["where"] == "https://t.me/c/1/2"
    assert item.header["seen_at"] == "2024-08-26T03:00:00+00:00"
    # the same media again is stored once
    assert evidence.put(data, mime="image/jpeg", seen_at=SEEN, where=None) == path
    assert list(evidence.items()) == [path]


def test_another_key_or_a_damaged_item_is_refused(tmp_path: Path) -> None:
    evidence, _ = store(tmp_path)
    path = evidence.put(b"media bytes", mime=None, seen_at=SEEN, where=None)
    other = tmp_path / "other.key"
    generate_keypair(other)
    with pytest.raises(InputError, match="cannot be opened with this key"):
        open_item(path, load_private_key(other))
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(InputError, match="another key, or damaged"):
        open_item(path, load_private_key(tmp_path / "unit.key"))


def test_private_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    key = tmp_path / "k"
    generate_keypair(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(InputError, match="refusing to overwrite"):
        generate_keypair(key)
    key.chmod(0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_private_key(key)


def test_purge_keeps_what_is_within_retention(tmp_path: Path) -> None:
    evidence, _ = store(tmp_path)
    old = evidence.put(b"old", mime=None, seen_at=SEEN, where=None)
    new = evidence.put(b"new", mime=None, seen_at=SEEN, where=None)
    long_ago = time.time() - 31 * 86400
    os.utime(old, (long_ago, long_ago))
    assert evidence.purge() == 1
    assert not old.exists()
    assert new.exists()


def test_config_needs_a_valid_public_key_when_enabled(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[evidence]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == "evidence.public_key"
    path.write_text('[evidence]\nenabled = true\npublic_key = "bm90IGEga2V5"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings(path, env={})
    public = generate_keypair(tmp_path / "k")
    path.write_text(
        f'data_dir = "{tmp_path}"\n[evidence]\nenabled = true\npublic_key = "{public}"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, env={})
    assert settings.evidence_dir == tmp_path / "evidence"
