"""Rows stream through the renderers: memory does not grow with the number of rows."""

from __future__ import annotations

import dataclasses
import sys
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from monitor.domain import ReportRow
from monitor.reports import ReportFormat, write_report
from tests.unit.reports.samples import row, sample_summary

ROWS = 3_000  # under tracemalloc (slow); enough that holding the rows or the output would show
MORE_ROWS = 15_000
ROWS_PER_CHANNEL = 500


class CountingSink:
    """Keeps only the byte count: what the renderer holds is all that stays in memory."""

    def __init__(self) -> None:
        self.bytes = 0
        self.writes = 0

    def write(self, data: bytes, /) -> int:
        self.bytes += len(data)
        self.writes += 1
        return len(data)

    def flush(self) -> None:
        pass


async def many_rows(count: int, blocks: list[int] | None = None) -> AsyncIterator[ReportRow]:
    """Fresh rows, grouped by channel, files last; samples the allocated blocks as it goes."""
    template = row(0)
    for i in range(count):
        chat = None if i >= count - ROWS_PER_CHANNEL else -1000000000000 - i // ROWS_PER_CHANNEL
        yield dataclasses.replace(template, hit_id=i, chat_id=chat, sha256=f"{i:064x}")
        if blocks is not None and i % 1000 == 999:
            blocks.append(sys.getallocatedblocks())


def rows_in_a_list_size(count: int) -> int:
    """What the renderers would hold if they collected the rows (for comparison)."""
    tracemalloc.start()
    try:
        kept = [dataclasses.replace(row(0), hit_id=i, sha256=f"{i:064x}") for i in range(count)]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == count
    return size


@pytest.mark.parametrize("fmt", list(ReportFormat))
async def test_peak_memory_is_a_small_fraction_of_the_rows(fmt: ReportFormat) -> None:
    sink = CountingSink()
    tracemalloc.start()
    try:
        written = await write_report(fmt, sample_summary(), many_rows(ROWS), sink)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written == ROWS
    list_size = rows_in_a_list_size(ROWS)
    assert peak < 600_000, f"peak {peak} bytes while streaming {ROWS} rows"
    assert peak < list_size / 4  # the rows are not kept
    assert peak < sink.bytes / 4  # nor is the output
    assert sink.writes < sink.bytes / 30_000  # chunked, not one write per row


@pytest.mark.parametrize("fmt", list(ReportFormat))
async def test_allocations_do_not_grow_with_rows(fmt: ReportFormat) -> None:
    """More rows, without tracemalloc: the allocated block count stays flat after warm-up."""
    blocks: list[int] = []
    written = await write_report(
        fmt, sample_summary(), many_rows(MORE_ROWS, blocks), CountingSink()
    )
    assert written == MORE_ROWS
    assert max(blocks[2:]) - min(blocks[2:]) < 1_000  # keeping a row or a dict per row: 12k+
