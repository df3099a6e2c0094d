"""Report, not a test: how fast `monitor report` streams a large export, and that memory stays flat.

    .venv/bin/python benchmarks/report_bench.py [--hits 100000] [--channels 200] [--url URL]

Fills a fresh store (SQLite in a temporary folder unless ``--url``) with ``--hits`` hits spread
over ``--channels`` channels (bulk inserts: the fixture is not what is measured), then exports
every format to a file and prints, per format: seconds, hits per second, file size, and the
growth of the process's peak RSS during the export (a streamed export should not grow with the
number of hits).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from monitor.domain import HitFilter
from monitor.reports import ReportFormat, ReportSink, write_report
from monitor.store import Store
from monitor.store.models import BankRow, ChannelRow, EntryRow, HitRow, MediaRow, SightingRow

T0 = datetime(2024, 8, 1, tzinfo=UTC)
BATCH = 5_000


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


async def bench(url: str, hits: int, channels: int, out_dir: Path) -> None:
    store = await Store.open(url)
    try:
        started = time.perf_counter()
        await fill(store, hits, channels)
        print(
            f"filled {hits:,} hits in {channels} channels in {time.perf_counter() - started:.1f} s"
        )
        where = HitFilter(since=T0, until=T0 + timedelta(days=365))
        started = time.perf_counter()
        summary = await store.report_summary(where, timezone="Asia/Seoul")
        print(f"summary: {time.perf_counter() - started:.2f} s")
        print(f"{'format':<6} {'seconds':>8} {'hits/s':>9} {'MiB':>7} {'peak RSS growth MiB':>20}")
        for fmt in ReportFormat:
            before = peak_rss_mib()
            started = time.perf_counter()
            with ReportSink(out_dir / f"report.{fmt.value}", overwrite=True) as sink:
                rows = await write_report(fmt, summary, store.iter_report_rows(where), sink)
            seconds = time.perf_counter() - started
            assert rows == hits, (rows, hits)
            print(
                f"{fmt.value:<6} {seconds:>8.2f} {rows / seconds:>9,.0f} "
                f"{sink.bytes / 2**20:>7.1f} {peak_rss_mib() - before:>20.1f}"
            )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--url", default=None, help="an empty database (default: temp SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        asyncio.run(bench(url, args.hits, args.channels, Path(tmp)))


if __name__ == "__main__":
    main()
