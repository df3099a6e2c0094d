"""A store with hits in several channels, written through the store API, for CLI tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store import Store
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

T0 = datetime(2024, 8, 26, 9, 0, tzinfo=UTC)


@dataclass
class Seeded:
    url: str
    hits: dict[str, int] = field(default_factory=dict)  # name -> hit id


def seed(data_dir: Path) -> Seeded:
    """Hits: ``a1``, ``a2`` in channel A (-1001000000001, @class32); ``b1`` in B
    (-1001000000002, no username, a title that looks like a spreadsheet formula); the same
    media as ``a1`` seen in B (``b_same``); and ``file`` (a local file, no channel). Recorded
    an hour apart from ``T0``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{data_dir / 'monitor.sqlite3'}"
    seeded = Seeded(url)

    async def go() -> None:
        store = await Store.open(url)
        try:
            e = await make_entries(store, "ncii", n=4)
            plan = [
                (
                    "a1",
                    tg_source(
                        11,
                        chat_id=-1001000000001,
                        title="Class 3-2",
                        username="class32",
                        media_id=1,
                    ),
                    signals(1),
                    e[0],
                ),
                (
                    "a2",
                    tg_source(
                        12,
                        chat_id=-1001000000001,
                        title="Class 3-2",
                        username="class32",
                        media_id=2,
                    ),
                    signals(2),
                    e[1],
                ),
                (
                    "b1",
                    tg_source(
                        21,
                        chat_id=-1001000000002,
                        title='=HYPERLINK("http://x")',
                        username=None,
                        media_id=3,
                    ),
                    signals(3),
                    e[2],
                ),
                (
                    "b_same",
                    tg_source(
                        22,
                        chat_id=-1001000000002,
                        title='=HYPERLINK("http://x")',
                        username=None,
                        media_id=1,
                    ),
                    signals(1),
                    e[0],
                ),
                ("file", file_source("/evidence/x.jpg"), signals(4), e[3]),
            ]
            for i, (name, source, sig, entry) in enumerate(plan):
                result = await store.record_sighting(
                    source, sig, [match_for(entry, distance=i * 3)], seen_at=T0 + timedelta(hours=i)
                )
                seeded.hits[name] = result.hits[0].id
        finally:
            await store.close()

    asyncio.run(go())
    return seeded
