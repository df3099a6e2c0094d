"""Revision 0004 (video) on a database with data: upgrade from 0003, down again, up again.

SQLite copies ``entries`` and ``hits`` to change their CHECK constraints; the rows that cascade
from them (history, suppressions, alert deliveries, takedowns) are set aside meanwhile. These
tests make sure every row comes back unchanged, with its constraints, cascades and indexes, that
old hits get their match kind, and that a downgrade refuses to lose video entries and hits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.domain import EntryStatus, HashType, ListEntry, ListFrame
from monitor.errors import SchemaMismatch
from monitor.store import Store, create_engine, schema
from tests.integration.store.factories import hex_of

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
# Tables whose rows SQLite sets aside while it copies entries and hits; and the others seeded.
SET_ASIDE = ("entry_events", "hits", "suppressions", "takedowns", "alert_deliveries")
OTHERS = ("banks", "entries", "media", "sightings", "channels", "takedown_checks", "audit_log")
NEW_HIT_COLUMNS = frozenset({"match_kind", "frames", "coverage", "span_start", "span_end"})
V_HITS_0003 = [
    "hit_id",
    "recorded_at",
    "review_status",
    "reviewed_by",
    "reviewed_at",
    "review_note",
    "tier",
    "hash_type",
    "distance",
    "threshold",
    "variant",
    "bank",
    "entry_id",
    "entry_value",
    "entry_status",
    "case_id",
    "label",
    "sha256",
    "md5",
    "pdq",
    "media_first_seen_at",
    "sighting_id",
    "source_kind",
    "media_kind",
    "chat_id",
    "channel_username",
    "channel_title",
    "message_id",
    "link",
    "posted_at",
    "seen_at",
    "path",
    "forward_chat_id",
    "forward_message_id",
    "forward_from_name",
    "removal_status",
    "reported_at",
    "removed_at",
]


async def reflect(engine: AsyncEngine) -> dict[str, Table]:
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: metadata.reflect(c))
    return dict(metadata.tables)


async def seed_0003(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table 0004 copies or that cascade from them, as version 0003 wrote them:
    a bank with a PDQ and an MD5 entry and their history, two media seen in a channel, a
    near-exact hit and an exact one, an alert, a suppression, a takedown and its re-check."""
    t = await reflect(engine)
    ids: dict[str, int] = {}

    async def add(conn: Any, table: str, **values: Any) -> int:
        stmt = insert(t[table]).values(**values).returning(t[table].c.id)
        return int((await conn.execute(stmt)).scalar_one())

    async with engine.begin() as conn:
        bank = await add(
            conn,
            "banks",
            name="b",
            source="hotline",
            description="",
            enabled=True,
            pdq_threshold=31,
            pdq_near_exact_threshold=10,
            pdq_reoriented_threshold=24,
            phash_threshold=8,
            created_at=T0,
            updated_at=T0,
        )
        channel = await add(
            conn, "channels", telegram_id=-1001, username="c", created_at=T0, updated_at=T0
        )
        for i, (hash_type, tier) in enumerate((("pdq", "near-exact"), ("md5", "exact")), 1):
            entry = ids[f"entry{i}"] = await add(
                conn,
                "entries",
                bank_id=bank,
                hash_type=hash_type,
                value=hex_of(("entry", i), HashType(hash_type)),
                status="active",
                case_id=f"C-{i}",
                metadata={"k": str(i)},
                created_at=T0,
                updated_at=T0,
            )
            await add(conn, "entry_events", entry_id=entry, event="added", source="l.csv", at=T0)
            media = ids[f"media{i}"] = await add(
                conn,
                "media",
                sha256=hex_of(("sha", i)),
                md5=hex_of(("md5", i))[:32],
                size_bytes=100,
                pdq=hex_of(("pdq", i)),
                pdq_quality=90,
                first_seen_at=T0,
                queries=[["pdq", "original", hex_of(("pdq", i)), 90]],
                trimmed=False,
            )
            sighting = ids[f"sighting{i}"] = await add(
                conn,
                "sightings",
                media_id=media,
                source_kind="telegram",
                source_key=f"tg:-1001:{i}:{i}",
                channel_id=channel,
                chat_id=-1001,
                message_id=i,
                media_kind="photo",
                seen_at=T0,
            )
            ids[f"hit{i}"] = await add(
                conn,
                "hits",
                sighting_id=sighting,
                entry_id=entry,
                hash_type=hash_type,
                distance=3 if tier != "exact" else 0,
                tier=tier,
                variant="original",
                query_value=hex_of(("q", i)),
                threshold=31,
                created_at=T0,
                review_status="confirmed" if i == 1 else "new",
            )
        await add(
            conn,
            "alert_deliveries",
            hit_id=ids["hit1"],
            target="chat",
            status="sent",
            attempts=1,
            created_at=T0,
            sent_at=T0,
        )
        await add(
            conn,
            "suppressions",
            media_id=ids["media2"],
            entry_id=ids["entry2"],
            hit_id=ids["hit2"],
            reason="meme",
            created_by="kim",
            created_at=T0,
        )
        await add(
            conn,
            "takedowns",
            hit_id=ids["hit1"],
            sighting_id=ids["sighting1"],
            reported_to="Telegram",
            reported_by="park",
            reported_at=T0,
            status="removed",
            last_checked_at=T0,
            last_outcome="deleted",
            removed_at=T0,
        )
        await add(
            conn,
            "takedown_checks",
            sighting_id=ids["sighting1"],
            checked_at=T0,
            outcome="deleted",
            checked_by="daemon",
        )
        await add(
            conn, "audit_log", at=T0, actor="a", action="bank.create", subject="b", details={}
        )
    return ids


async def rows(engine: AsyncEngine, table: str, *, drop: frozenset[str] = frozenset()) -> list[Any]:
    """Every row of ``table`` by id, as dicts (without the columns in ``drop``)."""
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608
        return [{k: v for k, v in r._mapping.items() if k not in drop} for r in result]


async def snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    """The rows 0003 knows of, in every table the migration touches or cascades to."""
    dropped = {
        "hits": NEW_HIT_COLUMNS,
        "banks": frozenset({"video_share", "clip_seconds"}),
        "media": frozenset({"duration", "video", "frames"}),
    }
    return {
        table: await rows(engine, table, drop=dropped.get(table, frozenset()))
        for table in (*SET_ASIDE, *OTHERS)
    }


async def scalar(engine: AsyncEngine, sql: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def refuses(engine: AsyncEngine, statement: str, **params: Any) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement), params)
    except DBAPIError:
        return True
    return False


async def view_columns(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.exec_driver_sql("SELECT * FROM v_hits LIMIT 0")).keys())


async def check_upgraded(
    engine: AsyncEngine, before: dict[str, list[Any]], ids: dict[str, int]
) -> None:
    assert await schema.current(engine) == schema.head()
    assert await schema.check(engine) == []
    assert await snapshot(engine) == before
    tables = set(await reflect(engine))
    assert "entry_frames" in tables
    assert not {t for t in tables if t.startswith("_0004")}
    # Old hits: exact ones matched the file, the others the image.
    async with engine.connect() as conn:
        kinds: dict[int, str] = dict(
            (await conn.execute(text("SELECT id, match_kind FROM hits ORDER BY id"))).all()
        )
        banks = (await conn.execute(text("SELECT video_share, clip_seconds FROM banks"))).all()
        viewed: dict[int, str] = dict(
            (await conn.execute(text("SELECT hit_id, match_kind FROM v_hits"))).all()
        )
    assert kinds == {ids["hit1"]: "image", ids["hit2"]: "file"}
    assert viewed == kinds
    assert [tuple(b) for b in banks] == [(0.8, 3.0)]
    columns = await view_columns(engine)
    assert columns == [*V_HITS_0003[:7], "match_kind", *V_HITS_0003[7:]]  # after tier
    for name in ("hits", "entries"):
        assert await scalar(engine, f"SELECT count(*) FROM {name}") == 2  # noqa: S608

    # What the copies of entries and hits must keep: checks, unique keys, foreign keys and
    # their actions; and audit_log its triggers.
    entry1, hit1 = ids["entry1"], ids["hit1"]
    assert await refuses(
        engine,
        "INSERT INTO entries (bank_id, hash_type, value, status, metadata, created_at, "
        "updated_at) VALUES (1, 'photodna', 'x', 'active', '{}', '2024-06-01', '2024-06-01')",
    )
    assert await refuses(
        engine,
        "INSERT INTO entries (bank_id, hash_type, value, status, metadata, created_at, "
        "updated_at) SELECT bank_id, hash_type, value, status, metadata, created_at, "
        "updated_at FROM entries WHERE id = :id",
        id=entry1,
    )  # uq_entries_bank_id_hash_type_value
    assert await refuses(engine, "UPDATE hits SET match_kind = 'gif' WHERE id = :id", id=hit1)
    assert await refuses(engine, "UPDATE hits SET tier = 'maybe' WHERE id = :id", id=hit1)
    assert await refuses(engine, "DELETE FROM entries WHERE id = :id", id=entry1)  # RESTRICT
    assert await refuses(engine, "UPDATE audit_log SET actor = 'mallory'")
    assert await refuses(engine, "UPDATE hits SET entry_id = 999999 WHERE id = :id", id=hit1)
    async with engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(text(f"DELETE FROM hits WHERE id = {hit1}"))  # noqa: S608
        # The hit's alert and takedown go with it (CASCADE); the suppression of hit 2 stays.
        counted = text(
            "SELECT (SELECT count(*) FROM alert_deliveries), (SELECT count(*) FROM takedowns)"
        )
        left = (await conn.execute(counted)).one()
        assert tuple(left) == (0, 0)
        await conn.execute(text(f"DELETE FROM hits WHERE id = {ids['hit2']}"))  # noqa: S608
        hit_of_suppression = (
            await conn.execute(text("SELECT hit_id FROM suppressions"))
        ).scalar_one()
        assert hit_of_suppression is None  # SET NULL
        await conn.execute(text(f"DELETE FROM entries WHERE id = {entry1}"))  # noqa: S608
        events = (await conn.execute(text("SELECT count(*) FROM entry_events"))).scalar()
        assert events == 1  # entry 1's history went with it (CASCADE)
        await tx.rollback()
    assert await snapshot(engine) == before


async def test_upgrade_from_0003_with_data_then_down_and_up_again(empty_store_url: str) -> None:
    await schema.upgrade(empty_store_url, "0003")
    engine = create_engine(empty_store_url)
    try:
        ids = await seed_0003(engine)
        before = await snapshot(engine)
        assert {t: len(r) for t, r in before.items()} == {
            "entry_events": 2,
            "hits": 2,
            "suppressions": 1,
            "takedowns": 1,
            "alert_deliveries": 1,
            "banks": 1,
            "entries": 2,
            "media": 2,
            "sightings": 2,
            "channels": 1,
            "takedown_checks": 1,
            "audit_log": 1,
        }

        await schema.upgrade(engine)
        await check_upgraded(engine, before, ids)

        # Use what is new: a listed video with its frames, and a video hit on it.
        store = Store(engine)
        frames = (ListFrame(0.0, hex_of("f0"), 90), ListFrame(1.0, hex_of("f1"), None))
        listed = ListEntry(hash_type=HashType.VPDQ, value="Clip-1", frames=frames)
        await store.import_entries("b", [listed], source="v.csv", actor="a")
        [entry] = [e async for e in store.iter_entries("b") if e.hash_type is HashType.VPDQ]
        assert entry.frames == frames
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO hits (sighting_id, entry_id, hash_type, distance, tier, variant, "
                    "query_value, threshold, created_at, match_kind, frames, coverage, "
                    "span_start, span_end) VALUES (:s, :e, 'vpdq', 4, 'match', 'original', "
                    ":q, 31, :t, 'video', :f, 1.0, 0.0, 1.0)"
                ),
                {
                    "s": ids["sighting2"],
                    "e": entry.id,
                    "q": hex_of("f0"),
                    "t": "2024-06-02 00:00:00" if engine.dialect.name == "sqlite" else T0,
                    "f": "[[0.0, 0.0, 4], [1.0, 1.0, 4]]",
                },
            )

        # The older schema cannot hold them: refused, and nothing changed.
        with pytest.raises(SchemaMismatch, match=r"1 video list entries \(vpdq\) and 1 frame"):
            await schema.downgrade(engine, "0003")
        assert await schema.current(engine) == schema.head()
        assert await scalar(engine, "SELECT count(*) FROM entry_frames") == 2
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM hits WHERE match_kind = 'video'"))
        with pytest.raises(SchemaMismatch, match=r"1 video list entries \(vpdq\) and 0 frame"):
            await schema.downgrade(engine, "0003")
        # A frame hit on a photo entry is refused as well.
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM entries WHERE hash_type = 'vpdq'"))
            await conn.execute(
                text(f"UPDATE hits SET match_kind = 'frame' WHERE id = {ids['hit1']}")  # noqa: S608
            )
        assert await scalar(engine, "SELECT count(*) FROM entry_frames") == 0  # CASCADE
        with pytest.raises(SchemaMismatch, match=r"0 video list entries \(vpdq\) and 1 frame"):
            await schema.downgrade(engine, "0003")
        async with engine.begin() as conn:
            await conn.execute(
                text(f"UPDATE hits SET match_kind = 'image' WHERE id = {ids['hit1']}")  # noqa: S608
            )

        await schema.downgrade(engine, "0003")
        assert await schema.current(engine) == "0003"
        after = await snapshot(engine)
        # The import above wrote its audit row and moved the bank; the rest is as seeded.
        assert [a["action"] for a in after.pop("audit_log")] == ["bank.create", "entries.import"]
        [bank] = after.pop("banks")
        assert bank == {**before["banks"][0], "updated_at": bank["updated_at"]}
        assert after == {k: v for k, v in before.items() if k not in ("audit_log", "banks")}
        tables = await reflect(engine)
        assert "entry_frames" not in tables
        assert not {t for t in tables if t.startswith("_0004")}
        assert not NEW_HIT_COLUMNS & {c.name for c in tables["hits"].columns}
        assert not {"video_share", "clip_seconds"} & {c.name for c in tables["banks"].columns}
        assert not {"duration", "video", "frames"} & {c.name for c in tables["media"].columns}
        assert await view_columns(engine) == V_HITS_0003
        assert await refuses(
            engine,
            "INSERT INTO entries (bank_id, hash_type, value, status, metadata, created_at, "
            "updated_at) VALUES (1, 'vpdq', 'v', 'active', '{}', '2024-06-01', '2024-06-01')",
        )
        assert await refuses(engine, "DELETE FROM entries WHERE id = :id", id=ids["entry1"])
        assert await refuses(engine, "DELETE FROM audit_log")

        before = await snapshot(engine)
        await schema.upgrade(engine)
        await check_upgraded(engine, before, ids)
        # And the store works on it.
        assert (await store.get_bank("b")).thresholds.video_share == 0.8
        entries = [e async for e in store.iter_entries("b", EntryStatus.ACTIVE)]
        assert [e.hash_type for e in entries] == [HashType.PDQ, HashType.MD5]
    finally:
        await engine.dispose()


async def test_entry_frames_start_empty(store: Store) -> None:
    assert await scalar(store.engine, "SELECT count(*) FROM entry_frames") == 0
