from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from monitor.domain import ReportRow
from monitor.errors import InputError
from monitor.reports import ReportFormat, ReportSink, write_report
from tests.unit.reports.samples import sample_rows, sample_summary, stream


class Boom(Exception):
    pass


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would make files world-readable: the sink must not rely on the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_then(target: Path, data: bytes, then: Callable[[], object]) -> None:
    """Write ``data`` to a sink for ``target``, then call ``then`` before the sink closes."""
    with ReportSink(target) as sink:
        sink.write(data)
        then()


def boom() -> None:
    raise Boom


@pytest.mark.usefixtures("open_umask")
def test_file_is_written_private_with_its_digest(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    with ReportSink(target) as sink:
        sink.write(b"hello, ")
        sink.write(b"world\n")
        assert not target.exists()  # nothing visible before the end
    data = target.read_bytes()
    assert data == b"hello, world\n"
    assert sink.sha256 == hashlib.sha256(data).hexdigest()
    assert sink.bytes == len(data)
    assert mode(target) == 0o600
    assert os.listdir(tmp_path) == ["report.csv"]  # no temporary file left


def test_exception_mid_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    with pytest.raises(Boom):
        write_then(target, b"<!DOCTYPE html>", boom)
    assert os.listdir(tmp_path) == []


async def test_failing_row_source_leaves_no_file(tmp_path: Path) -> None:
    async def rows_then_failure() -> AsyncIterator[ReportRow]:
        for r in sample_rows():
            yield r
        raise Boom

    target = tmp_path / "report.json"
    with pytest.raises(Boom), ReportSink(target) as sink:
        await write_report(ReportFormat.JSON, sample_summary(), rows_then_failure(), sink)
    assert os.listdir(tmp_path) == []


def test_existing_file_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"older report")
    with pytest.raises(InputError, match="already exists"), ReportSink(target):
        pytest.fail("must not get here")
    assert target.read_bytes() == b"older report"
    assert os.listdir(tmp_path) == ["report.csv"]


@pytest.mark.usefixtures("open_umask")
def test_overwrite_replaces_and_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"older report")
    target.chmod(0o644)
    with ReportSink(target, overwrite=True) as sink:
        sink.write(b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600


def test_file_appearing_while_writing_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    with pytest.raises(InputError, match="already exists"):
        write_then(target, b"ours", lambda: target.write_bytes(b"someone else's"))
    assert target.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == ["report.csv"]


def test_bad_targets_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"), ReportSink(tmp_path / "no" / "r.csv"):
        pass
    with pytest.raises(InputError, match="is a directory"), ReportSink(tmp_path):
        pass


def test_stream_is_written_flushed_and_left_open() -> None:
    stream_ = io.BytesIO()
    with ReportSink(stream=stream_) as sink:
        sink.write(b"abc")
    assert stream_.getvalue() == b"abc"
    assert not stream_.closed
    assert sink.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert sink.bytes == 3


def test_writing_outside_the_context_is_an_error(tmp_path: Path) -> None:
    sink = ReportSink(tmp_path / "r.csv")
    with pytest.raises(ValueError, match="not open"):
        sink.write(b"x")


@pytest.mark.parametrize("fmt", list(ReportFormat))
async def test_report_to_file_matches_digest(tmp_path: Path, fmt: ReportFormat) -> None:
    target = tmp_path / f"report.{fmt}"
    with ReportSink(target) as sink:
        count = await write_report(fmt, sample_summary(), stream(sample_rows()), sink)
    assert count == 6
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sink.sha256
    assert target.stat().st_size == sink.bytes
