"""An optional evidence store: each hit's media kept sealed to a public key, for a limited time.

Off by default (the monitor keeps hashes and metadata, never media). When ``[evidence] enabled``,
the media of a hit is encrypted with a libsodium *sealed box* to the unit's X25519 public key
(``[evidence] public_key``): the daemon host can write evidence but cannot read it back - only the
holder of the private key (kept on another machine, made by ``monitor evidence keygen``) can
open it with ``monitor evidence open``. Items not needed for ``retention_days`` are deleted by
``monitor evidence purge`` and by the daemon (hourly; after each ``monitor run --once``). The
daemon's side - which media is sealed, when, and what happens on a failed write - is
:mod:`monitor.evidence_keeper`.

One file per media item, named by its SHA-256 (``<dir>/ab/abcdef....sealed``), written
atomically with mode 0600 in 0700 folders. The sealed plaintext is a small JSON header (format
version, SHA-256, size, MIME type, when and where it was seen) followed by the media bytes, so an
opened item can be checked against its hash. The same media twice is stored once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from monitor.errors import ConfigError, InputError

__all__ = [
    "EvidenceItem",
    "EvidenceStore",
    "generate_keypair",
    "load_private_key",
    "open_item",
    "parse_public_key",
]

SUFFIX = ".sealed"
FORMAT = 1
_MAX_HEADER = 64 * 1024


def parse_public_key(text: str, key: str = "evidence.public_key") -> PublicKey:
    """An X25519 public key from its base64 text (as ``monitor evidence keygen`` prints it)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            key, "is not base64 (use the public key `monitor evidence keygen` printed)"
        ) from None
    if len(raw) != PublicKey.SIZE:
        raise ConfigError(key, f"must be {PublicKey.SIZE} bytes of base64, got {len(raw)}")
    return PublicKey(raw)


def generate_keypair(private_path: Path) -> str:
    """Write a new private key to ``private_path`` (mode 0600, never overwritten); return the
    public key as base64 for ``[evidence] public_key``."""
    private = PrivateKey.generate()
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{private_path} exists; refusing to overwrite a private key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(bytes(private)) + b"\n")
    return base64.b64encode(bytes(private.public_key)).decode("ascii")


def load_private_key(path: Path) -> PrivateKey:
    try:
        mode = path.stat().st_mode
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the private key {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise InputError(f"the private key {path} can be read by other users: chmod 600 {path}")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            f"{path} is not a private key written by `monitor evidence keygen`"
        ) from None
    if len(raw) != PrivateKey.SIZE:
        raise InputError(f"{path} is not a private key written by `monitor evidence keygen`")
    return PrivateKey(raw)


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """An opened evidence item: its header and the media bytes (checked against the SHA-256)."""

    header: dict[str, Any]
    data: bytes


def open_item(path: Path, private: PrivateKey) -> EvidenceItem:
    """Decrypt one sealed item; refuses one that is damaged or was sealed to another key."""
    try:
        sealed = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        plain = SealedBox(private).decrypt(sealed)
    except CryptoError:
        raise InputError(
            f"{path}: cannot be opened with this key (another key, or damaged)"
        ) from None
    newline = plain.find(b"\n", 0, _MAX_HEADER)
    if newline < 0:
        raise InputError(f"{path}: no header")
    header = json.loads(plain[:newline])
    data = plain[newline + 1 :]
    if hashlib.sha256(data).hexdigest() != header.get("sha256"):
        raise InputError(f"{path}: the media does not match its SHA-256")
    return EvidenceItem(header=header, data=data)


class EvidenceStore:
    """Writes sealed items under ``root``; never reads them back (it has no private key)."""

    def __init__(self, root: Path, public_key: PublicKey, retention_days: int) -> None:
        self.root = root
        self._box = SealedBox(public_key)
        self.retention_days = retention_days

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}{SUFFIX}"

    def prepare(self) -> None:
        """Create the folder (0700) if missing; raises ``OSError`` when it cannot be."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.root))

    def put(self, data: bytes, *, mime: str | None, seen_at: datetime, where: str | None) -> Path:
        """Seal ``data`` (once per SHA-256) and return its file; atomic, 0600."""
        return self.seal(data, mime=mime, seen_at=seen_at, where=where)[0]

    def seal(
        self, data: bytes, *, mime: str | None, seen_at: datetime, where: str | None
    ) -> tuple[Path, bool]:
        """Seal ``data`` and return its file and whether it was written now. Media kept before
        is not written again: its file's time is renewed, so the retention period counts from
        the last time it was needed. Only sealed bytes reach the disk (a ``.tmp-`` file renamed
        into place); the plaintext stays in memory."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha256)
        if path.exists():
            with contextlib.suppress(FileNotFoundError):  # purged meanwhile: sealed again
                os.utime(path)
                return path, False
        header = {
            "format": FORMAT,
            "sha256": sha256,
            "size": len(data),
            "mime": mime,
            "seen_at": seen_at.astimezone(UTC).isoformat(),
            "where": where,
        }
        plain = json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + data
        sealed = self._box.encrypt(plain)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)  # 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(sealed)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path, True

    def items(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir():
                yield from sorted(folder.glob(f"*{SUFFIX}"))

    def purge(self, now: float | None = None) -> int:
        """Delete items (and stale temporary files) older than the retention period."""
        cutoff = (time.time() if now is None else now) - self.retention_days * 86400
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if not path.name.endswith(SUFFIX):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += not path.name.startswith(".tmp-")
        return removed
