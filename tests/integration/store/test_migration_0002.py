"""Revision 0002 on a database with data: upgrade from 0001, down again, up again, nothing lost.

SQLite copies ``sightings`` to make ``media_id`` nullable; these tests make sure the hits (which
cascade from sightings), the constraints, the indexes and the audit log's triggers survive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.domain import (
    ChannelState,
    CheckOutcome,
    HitFilter,
    RecheckResult,
    ReviewStatus,
    Tier,
)
from monitor.store import Store, create_engine, schema
from monitor.telegram.refs import parse_ref
from tests.integration.store.factories import hex_of, match_for, signals, tg_source

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NEW_TABLES = {
    "watched_channels",
    "telegram_sessions",
    "telegram_update_states",
    "telegram_entities",
    "flood_waits",
    "alert_deliveries",
}
# Revision 0003 (review and takedown), which the upgrade to head brings too.
TABLES_0003 = {"suppressions", "takedowns", "takedown_checks"}


async def reflect(engine: AsyncEngine) -> dict[str, Table]:
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: metadata.reflect(c))
    return dict(metadata.tables)


async def columns(engine: AsyncEngine, table: str) -> set[str]:
    return {c.name for c in (await reflect(engine))[table].columns}


async def seed_0001(engine: AsyncEngine) -> list[int]:
    """Rows as version 0001 wrote them: a bank, two entries, two media, sightings and hits, a
    channel, an audit row. Ids come from the database (its sequences must stay in step).
    Returns the hit ids."""
    t = await reflect(engine)
    hits = []

    async def add(conn: Any, table: str, **values: Any) -> int:
        return int(
            (
                await conn.execute(insert(t[table]).values(**values).returning(t[table].c.id))
            ).scalar_one()
        )

    async with engine.begin() as conn:
        bank_id = await add(
            conn,
            "banks",
            name="b",
            source="",
            description="",
            enabled=True,
            pdq_threshold=31,
            pdq_near_exact_threshold=10,
            pdq_reoriented_threshold=24,
            phash_threshold=8,
            created_at=T0,
            updated_at=T0,
        )
        channel_id = await add(
            conn, "channels", telegram_id=-1001, username="c", created_at=T0, updated_at=T0
        )
        for i in (1, 2):
            entry_id = await add(
                conn,
                "entries",
                bank_id=bank_id,
                hash_type="pdq",
                value=hex_of(("entry", i)),
                status="active",
                metadata={},
                created_at=T0,
                updated_at=T0,
            )
            media_id = await add(
                conn,
                "media",
                sha256=hex_of(("sha", i)),
                md5=hex_of(("md5", i))[:32],
                size_bytes=100,
                pdq=hex_of(("pdq", i)),
                pdq_quality=90,
                phash=hex_of(("phash", i))[:16],
                first_seen_at=T0,
            )
            sighting_id = await add(
                conn,
                "sightings",
                media_id=media_id,
                source_kind="telegram",
                source_key=f"tg:-1001:{i}:{i}",
                channel_id=channel_id,
                chat_id=-1001,
                message_id=i,
                telegram_media_id=1000 + i,
                media_kind="photo",
                seen_at=T0,
            )
            hits.append(
                await add(
                    conn,
                    "hits",
                    sighting_id=sighting_id,
                    entry_id=entry_id,
                    hash_type="pdq",
                    distance=3,
                    tier="near-exact",
                    variant="original",
                    query_value=hex_of(("q", i)),
                    threshold=31,
                    created_at=T0,
                    review_status="confirmed" if i == 1 else "new",
                )
            )
        await add(
            conn, "audit_log", at=T0, actor="alice", action="bank.create", subject="b", details={}
        )
    return hits


async def hit_rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, sighting_id, entry_id, tier, review_status FROM hits ORDER BY id")
        )
        return [tuple(r) for r in rows]


async def refuses(engine: AsyncEngine, statement: str) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    except DBAPIError:
        return True
    return False


async def test_upgrade_from_0001_with_data_then_down_and_up_again(empty_store_url: str) -> None:
    await schema.upgrade(empty_store_url, "0001")
    engine = create_engine(empty_store_url)
    try:
        seeded = await seed_0001(engine)
        before = await hit_rows(engine)
        assert len(before) == 2

        await schema.upgrade(engine)
        assert await schema.current(engine) == schema.head()
        assert await schema.check(engine) == []
        assert await hit_rows(engine) == before
        tables = set(await reflect(engine))
        assert tables >= NEW_TABLES
        assert "_hits_set_aside" not in tables
        # What the copy of sightings must keep: its checks, its foreign keys' cascades, its
        # unique key; and audit_log its triggers.
        assert await refuses(
            engine,
            "INSERT INTO sightings (source_kind, source_key, media_kind, seen_at) "
            "VALUES ('carrier-pigeon', 'k1', 'photo', '2024-06-01 12:00:00')",
        )
        assert await refuses(
            engine,
            "INSERT INTO sightings (source_kind, source_key, media_kind, seen_at) "
            "VALUES ('file', 'tg:-1001:1:1', 'photo', '2024-06-01 12:00:00')",
        )
        assert await refuses(engine, "UPDATE audit_log SET actor = 'mallory'")
        assert await refuses(engine, "DELETE FROM audit_log")

        store = Store(engine)
        [confirmed] = await store.list_hits(HitFilter(statuses=(ReviewStatus.CONFIRMED,)))
        assert confirmed.id == seeded[0]
        assert confirmed.source is not None
        assert confirmed.source.chat_username == "c"
        assert await store.get_cursor(-1001) == 0  # the new column's default on old rows
        got = await store.signals_for_telegram_media(1001)  # queries rebuilt from the columns
        assert got is not None
        assert [q.variant.value for q in got.queries] == ["original", "original"]

        # Use everything new, so that the downgrade has rows to remove.
        await store.record_skipped(
            tg_source(99, chat_id=-1001),
            reason="too_large",
            detail=None,
            file_size=9,
            mime_type=None,
        )
        entries = [e async for e in store.iter_entries("b")]
        result = await store.record_sighting(
            tg_source(100, chat_id=-1001),
            signals(100),
            [match_for(entries[0], tier=Tier.EXACT)],
            alert_targets=["chat"],
        )
        assert len(await store.due_alerts()) == 1
        await store.advance_cursor(-1001, 100, last_message_at=T0)
        entry, _ = await store.add_watched_channel(parse_ref("@c_chan"), origin="cli", actor="a")
        await store.set_channel_state(entry.id, ChannelState.ACTIVE, telegram_id=-1001)
        await store.save_session_auth(
            "default", dc_id=2, server_address="h", port=443, auth_key=b"k" * 256, takeout_id=None
        )
        await store.save_entities("default", [(1, 2, "u", None, None, None)])
        await store.record_flood_wait("default", "GetHistoryRequest", 3)
        # ... and of 0003: a review with suppression, a takedown and a re-check.
        await store.review_hits(
            [result.hits[0].id], ReviewStatus.FALSE_POSITIVE, actor="kim", suppress_reason="meme"
        )
        await store.review_hits([result.hits[0].id], ReviewStatus.CONFIRMED, actor="kim")
        [takedown] = await store.mark_reported(
            [result.hits[0].id], reported_to="Telegram", reference=None, actor="park"
        )
        await store.record_checks(
            [RecheckResult(takedown.sighting_id, CheckOutcome.DELETED, takedown.reported_at)],
            checked_by="daemon",
        )
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM v_hits"))).scalar() == 3
        with_new_hit = await hit_rows(engine)
        assert len(with_new_hit) == 3

        await schema.downgrade(engine, "0001")
        assert await schema.current(engine) == "0001"
        assert await hit_rows(engine) == with_new_hit
        tables = set(await reflect(engine))
        assert not tables & (NEW_TABLES | TABLES_0003)
        assert "_hits_set_aside" not in tables
        assert not {"cursor", "last_message_at", "last_reconciled_at"} & await columns(
            engine, "channels"
        )
        assert not {"queries", "trimmed"} & await columns(engine, "media")
        assert not {"skip_reason", "skip_detail", "file_size", "mime_type"} & await columns(
            engine, "sightings"
        )
        async with engine.connect() as conn:
            keys = list(
                (
                    await conn.execute(select(text("source_key")).select_from(text("sightings")))
                ).scalars()
            )
        assert tg_source(99, chat_id=-1001).key not in keys  # the one without media is gone
        assert tg_source(100, chat_id=-1001).key in keys
        assert await refuses(
            engine,
            "INSERT INTO sightings (source_kind, source_key, media_kind, seen_at) "
            "VALUES ('file', 'no-media', 'photo', '2024-06-01 12:00:00')",
        )  # media_id is required again
        assert await refuses(engine, "DELETE FROM audit_log")

        await schema.upgrade(engine)
        assert await schema.current(engine) == schema.head()
        assert await schema.check(engine) == []
        assert await hit_rows(engine) == with_new_hit
        assert (await store.get_hit(result.hits[0].id)).tier == Tier.EXACT
    finally:
        await engine.dispose()


@pytest.mark.parametrize("table", sorted(NEW_TABLES))
async def test_new_tables_start_empty(store: Store, table: str) -> None:
    async with store.engine.connect() as conn:
        assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0  # noqa: S608
