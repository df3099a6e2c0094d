"""Report, not a test: how fast `monitor report` streams a large export, and that memory stays flat.

    .venv/bin/python -m benchmarks.report_bench [--quick] [--hits 100000] [--channels 200]
                                                [--runs 3] [--url URL]

Fills a fresh store (SQLite in a temporary folder unless ``--url``) with ``--hits`` hits spread
over ``--channels`` channels (bulk inserts: the fixture is not what is measured), then exports
every format to a file ``--runs`` times and prints, per format: seconds, hits per second, file
size, and how far the process's resident memory rose above where it was during the export
(sampled every 10 ms; a streamed export should not grow with the number of hits).

``figures(quick)`` (the suite, group ``reports``): per format the median hits per second with
its spread over the runs, and the largest memory rise. ``--quick``: 500 hits, one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, machine, print_table, rss_mib, versions
from monitor.domain import HitFilter
from monitor.reports import ReportFormat, ReportSink, write_report
from monitor.store import Store
from monitor.store.models import BankRow, ChannelRow, EntryRow, HitRow, MediaRow, SightingRow

GROUP = "reports"
T0 = datetime(2024, 8, 1, tzinfo=UTC)
BATCH = 5_000


@dataclass(frozen=True)
class Params:
    hits: int = 100_000
    channels: int = 200
    runs: int = 3


FULL = Params()
QUICK = Params(hits=500, channels=5, runs=1)


@contextlib.contextmanager
def rss_rise() -> Iterator[list[float]]:
    """How far resident memory rises above its level at the start of the block, in MiB,
    sampled every 10 ms (the result's only item, once the block has ended). The process's peak
    (``ru_maxrss``) would hide it when an earlier benchmark in the same process peaked higher."""
    start = rss_mib()
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_mib())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result: list[float] = []
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result.append(max(peak[0], rss_mib()) - start)


def hexof(*parts: object, n: int = 64) -> str:
    return (hashlib.sha256(repr(parts).encode()).hexdigest() * 2)[:n]


async def fill(store: Store, hits: int, channels: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(BankRow).values(
                id=1,
                name="bench",
                pdq_threshold=31,
                pdq_near_exact_threshold=10,
                pdq_reoriented_threshold=24,
                phash_threshold=10,
            )
        )
        await conn.execute(
            insert(ChannelRow),
            [
                {
                    "id": c + 1,
                    "telegram_id": -1001000000000 - c,
                    "title": f"Channel {c}",
                    "username": f"chan{c}",
                }
                for c in range(channels)
            ],
        )
        await conn.execute(
            insert(EntryRow),
            [
                {
                    "id": e + 1,
                    "bank_id": 1,
                    "hash_type": "pdq",
                    "value": hexof("e", e),
                    "status": "active",
                    "case_id": f"case-{e}",
                    "meta": {},
                }
                for e in range(1000)
            ],
        )
    for start in range(0, hits, BATCH):
        ids = range(start + 1, min(hits, start + BATCH) + 1)
        async with store.engine.begin() as conn:
            await conn.execute(
                insert(MediaRow),
                [
                    {
                        "id": i,
                        "sha256": hexof("s", i),
                        "md5": hexof("m", i, n=32),
                        "size_bytes": 100_000,
                        "pdq": hexof("p", i),
                        "first_seen_at": T0,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(SightingRow),
                [
                    {
                        "id": i,
                        "media_id": i,
                        "source_kind": "telegram",
                        "source_key": f"k{i}",
                        "channel_id": i % channels + 1,
                        "chat_id": -1001000000000 - i % channels,
                        "message_id": i,
                        "media_kind": "photo",
                        "posted_at": T0 + timedelta(seconds=i),
                        "seen_at": T0 + timedelta(seconds=i),
                        "link": f"https://t.me/chan{i % channels}/{i}",
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(HitRow),
                [
                    {
                        "id": i,
                        "sighting_id": i,
                        "entry_id": i % 1000 + 1,
                        "hash_type": "pdq",
                        "distance": i % 32,
                        "tier": "match",
                        "variant": "original",
                        "query_value": hexof("p", i),
                        "threshold": 31,
                        "created_at": T0 + timedelta(seconds=i),
                        "review_status": "confirmed",
                    }
                    for i in ids
                ],
            )


async def bench(
    url: str, params: Params, out_dir: Path, out: Callable[[str], None]
) -> list[Figure]:
    hits = params.hits
    store = await Store.open(url)
    figures: list[Figure] = []
    try:
        started = time.perf_counter()
        await fill(store, hits, params.channels)
        out(
            f"filled {hits:,} hits in {params.channels} channels in "
            f"{time.perf_counter() - started:.1f} s"
        )
        where = HitFilter(since=T0, until=T0 + timedelta(days=365))
        started = time.perf_counter()
        summary = await store.report_summary(where, timezone="Asia/Seoul")
        out(f"summary: {time.perf_counter() - started:.2f} s")
        out(f"{'format':<6} {'seconds':>8} {'hits/s':>9} {'MiB':>7} {'RSS rise MiB':>13}")
        for fmt in ReportFormat:
            rates, rises = [], []
            for _ in range(max(1, params.runs)):
                with rss_rise() as rise:
                    started = time.perf_counter()
                    with ReportSink(out_dir / f"report.{fmt.value}", overwrite=True) as sink:
                        rows = await write_report(fmt, summary, store.iter_report_rows(where), sink)
                    seconds = time.perf_counter() - started
                assert rows == hits, (rows, hits)
                rates.append(rows / seconds)
                rises.append(rise[0])
                out(
                    f"{fmt.value:<6} {seconds:>8.2f} {rows / seconds:>9,.0f} "
                    f"{sink.bytes / 2**20:>7.1f} {rise[0]:>13.1f}"
                )
            figures.append(
                Figure(
                    GROUP,
                    f"{fmt.value} report export, {hits:,} hits",
                    statistics.median(rates),
                    "hits/s",
                    spread=f"min {min(rates):,.0f}, max {max(rates):,.0f} over {len(rates)} runs",
                )
            )
            figures.append(
                Figure(
                    GROUP, f"{fmt.value} report export, RSS rise, {hits:,} hits", max(rises), "MiB"
                )
            )
    finally:
        await store.close()
    return figures


def run(params: Params, url: str | None, out: Callable[[str], None]) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        os.chmod(tmp, 0o700)
        database = Path(tmp) / "bench.sqlite3"
        return asyncio.run(bench(url or f"sqlite+aiosqlite:///{database}", params, Path(tmp), out))


def figures(quick: bool) -> list[Figure]:
    return run(QUICK if quick else FULL, None, lambda line: print(line, flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 hits, one run")
    parser.add_argument("--hits", type=int)
    parser.add_argument("--channels", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--url", default=None, help="an empty database (default: temp SQLite)")
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    for name in ("hits", "channels", "runs"):
        if getattr(args, name) is not None:
            params = replace(params, **{name: getattr(args, name)})
    print(machine())
    print(versions())
    print_table(run(params, args.url, print))


if __name__ == "__main__":
    main()
