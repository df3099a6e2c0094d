"""Where a report's bytes go: a file written atomically, or a stream such as stdout.

A report names channels and hits, so a file is created private to the user (mode 0o600) and
appears complete or not at all: the bytes go to a temporary file in the same directory, which is
fsynced and renamed over the target only when the whole report was written. Either way the sink
counts the bytes and hashes them (SHA-256), so the command can print a digest that proves later
which report was handed to whom.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from monitor.errors import InputError

CHUNK_CHARS = 64 * 1024


class BinaryWriter(Protocol):
    """What the renderers write to: any binary stream, or a ``ReportSink``."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class TextChunks:
    """Collects rendered text and hands it to a binary stream UTF-8 encoded, ~64 KiB at a time.

    One write per chunk instead of one per row; memory stays bounded by the chunk size. Text that
    cannot be encoded (a lone surrogate in a channel title) becomes ``?`` rather than aborting a
    report of millions of rows.
    """

    def __init__(self, out: BinaryWriter) -> None:
        self._out = out
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= CHUNK_CHARS:
            self._drain()
        return len(text)

    def flush(self) -> None:
        """Hand over everything written so far (called once, at the end of a report)."""
        self._drain()
        self._out.flush()

    def _drain(self) -> None:
        if self._parts:
            self._out.write("".join(self._parts).encode("utf-8", errors="replace"))
            self._parts.clear()
            self._size = 0


class ReportSink:
    """A binary output for one report; use as a context manager.

    With ``path``: writes a temporary file next to it and moves it into place on a clean exit;
    on any exception the temporary file is removed and ``path`` is left as it was. An existing
    ``path`` is refused unless ``overwrite`` (checked on entry, so a long query is not wasted, and
    again just before the rename). Without ``path``: writes to ``stream`` (default: stdout), which
    is flushed but not closed. ``sha256`` (hex) and ``bytes`` describe everything written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        stream: BinaryIO | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self._overwrite = overwrite
        self._stream = stream
        self._out: BinaryIO | None = None
        self._tmp: tuple[Path, Path] | None = None  # (temporary file, target) while open
        self._hash = hashlib.sha256()
        self.bytes = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def __enter__(self) -> ReportSink:
        if self.path is None:
            self._out = self._stream if self._stream is not None else sys.stdout.buffer
        else:
            self._check_target(self.path)
            try:  # mkstemp creates the file with mode 0o600
                fd, tmp = tempfile.mkstemp(
                    dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
                )
            except OSError as exc:
                raise InputError(f"cannot write report to {self.path}: {exc.strerror}") from exc
            self._tmp = (Path(tmp), self.path)
            self._out = os.fdopen(fd, "wb")
        return self

    def write(self, data: bytes, /) -> int:
        if self._out is None:
            raise ValueError("ReportSink is not open: use it as a context manager")
        self._hash.update(data)
        self.bytes += len(data)
        return self._out.write(data)

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        out, file, self._out, self._tmp = self._out, self._tmp, None, None
        if out is None:
            return
        if file is None:  # a stream: not ours to close
            out.flush()
            return
        tmp, target = file
        try:
            with out:  # closed even when flush or fsync fails
                if exc_type is None:
                    out.flush()
                    os.fsync(out.fileno())
            if exc_type is None:
                self._publish(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _check_target(self, path: Path) -> None:
        if path.is_dir():
            raise InputError(f"report output {path} is a directory; give a file name")
        if not path.parent.is_dir():
            raise InputError(f"report output directory {path.parent} does not exist")
        if path.exists() and not self._overwrite:
            raise InputError(f"report output {path} already exists; refusing to overwrite it")

    def _publish(self, tmp: Path, target: Path) -> None:
        self._check_target(target)
        os.replace(tmp, target)
        _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable: a crash right after must not bring back the old state."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
