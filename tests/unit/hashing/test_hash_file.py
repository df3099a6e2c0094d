"""hash_file: the size is checked with stat before anything is read, and at most max_bytes+1 is."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import pytest

from monitor.config import HashingSettings
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing import compute_signals, hash_file
from tests.imagegen import photo_like, to_jpeg


class _OpenSpy:
    """Wraps builtins.open; records every path opened and the sizes of reads made on it."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.reads: list[int] = []
        self._real = builtins.open

    def __call__(self, file: Any, *args: Any, **kwargs: Any) -> Any:
        self.opened.append(os.fspath(file))
        handle = self._real(file, *args, **kwargs)
        spy = self

        class Reader:
            def __enter__(self) -> Reader:
                return self

            def __exit__(self, *exc: object) -> None:
                handle.close()

            def read(self, size: int = -1) -> Any:
                spy.reads.append(size)
                return handle.read(size)

        return Reader()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _OpenSpy:
    spy = _OpenSpy()
    monkeypatch.setattr(builtins, "open", spy)
    return spy


def test_same_result_as_compute_signals(tmp_path: Path, settings: HashingSettings) -> None:
    data = to_jpeg(photo_like(31))
    path = tmp_path / "picture.jpg"
    path.write_bytes(data)
    assert hash_file(path, settings) == compute_signals(data, settings)
    assert hash_file(str(path), settings) == compute_signals(data, settings)


def test_extension_is_ignored(tmp_path: Path, settings: HashingSettings) -> None:
    data = to_jpeg(photo_like(32))
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    s = hash_file(path, settings)
    assert s.failure is None
    assert s.mime == "image/jpeg"


def test_oversized_sparse_file_is_refused_unread(tmp_path: Path, spy: _OpenSpy) -> None:
    settings = HashingSettings(max_bytes=1024 * 1024)
    path = tmp_path / "huge.jpg"
    with path.open("wb") as fh:  # Path.open is not the patched builtin, so set up freely
        fh.truncate(64 * 1024 * 1024 * 1024)  # 64 GiB of holes: reading it would be noticed
    with pytest.raises(MediaError) as err:
        hash_file(path, settings)
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    assert str(64 * 1024 * 1024 * 1024) in err.value.detail
    assert spy.opened == []
    assert spy.reads == []


def test_empty_file_is_refused_unread(
    tmp_path: Path, spy: _OpenSpy, settings: HashingSettings
) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(MediaError) as err:
        hash_file(path, settings)
    assert err.value.reason is MediaErrorReason.EMPTY
    assert spy.opened == []


def test_reads_at_most_max_bytes_plus_one(tmp_path: Path, spy: _OpenSpy) -> None:
    data = to_jpeg(photo_like(33))
    settings = HashingSettings(max_bytes=len(data))
    path = tmp_path / "exact.jpg"
    path.write_bytes(data)
    assert hash_file(path, settings).failure is None
    assert spy.opened == [str(path)]
    assert spy.reads == [len(data) + 1]


def test_file_that_grows_after_the_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = HashingSettings(max_bytes=100)
    path = tmp_path / "growing.bin"
    path.write_bytes(b"x" * 50)
    real_open = builtins.open

    def grow_then_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(file) == str(path):
            with real_open(path, "ab") as fh:
                fh.write(b"y" * 500)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", grow_then_open)
    with pytest.raises(MediaError) as err:
        hash_file(path, settings)
    assert err.value.reason is MediaErrorReason.TOO_LARGE


def test_directory_is_not_a_media_file(tmp_path: Path, settings: HashingSettings) -> None:
    with pytest.raises(MediaError) as err:
        hash_file(tmp_path, settings)
    assert err.value.reason is MediaErrorReason.UNSUPPORTED_KIND


def test_missing_file_raises_oserror(tmp_path: Path, settings: HashingSettings) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "nope.jpg", settings)
