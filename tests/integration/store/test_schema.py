"""Migrations, schema checks, engine behaviour: on SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from monitor.errors import DatabaseUnavailable, SchemaMismatch, StoreError
from monitor.store import Store, check_connection, create_engine, schema
from tests.integration.store.factories import list_entry, match_for, signals, tg_source


async def test_upgrade_downgrade_upgrade_matches_models(empty_store_url: str) -> None:
    assert await schema.current(empty_store_url) is None
    await schema.upgrade(empty_store_url)
    assert await schema.current(empty_store_url) == schema.head()
    assert await schema.check(empty_store_url) == []

    await schema.downgrade(empty_store_url, "base")
    assert await schema.current(empty_store_url) is None
    engine = create_engine(empty_store_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(
                lambda c: set(c.dialect.get_table_names(c)) - {"alembic_version"}
            )
        assert tables == set()
    finally:
        await engine.dispose()

    await schema.upgrade(empty_store_url)
    assert await schema.current(empty_store_url) == schema.head()
    assert await schema.check(empty_store_url) == []


def test_migrations_are_found_as_a_package() -> None:
    location = schema.script_location()
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()
    assert schema.head() == "0005"


async def test_ensure_schema_upgrades_an_empty_database(empty_store_url: str) -> None:
    assert await schema.ensure_schema(empty_store_url, auto_upgrade=True) == schema.head()
    assert await schema.current(empty_store_url) == schema.head()
    # Already at head: nothing to do, also without auto-upgrade.
    assert await schema.ensure_schema(empty_store_url, auto_upgrade=False) == schema.head()


async def test_ensure_schema_without_auto_upgrade_refuses_an_empty_database(
    empty_store_url: str,
) -> None:
    with pytest.raises(SchemaMismatch, match=r"empty.*needs 0005.*monitor db upgrade"):
        await schema.ensure_schema(empty_store_url, auto_upgrade=False)
    with pytest.raises(SchemaMismatch):
        await Store.open(empty_store_url, auto_upgrade=False)
    assert await schema.current(empty_store_url) is None


async def test_ensure_schema_behind_without_auto_upgrade(store_url: str) -> None:
    # The database one revision behind this code.
    await schema.downgrade(store_url, "0004")
    with pytest.raises(SchemaMismatch) as caught:
        await schema.ensure_schema(store_url, auto_upgrade=False)
    assert str(caught.value) == (
        "database schema is at 0004, this version needs 0005; run `monitor db upgrade`"
    )


async def test_ensure_schema_refuses_a_newer_unknown_revision(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        for auto_upgrade in (True, False):
            with pytest.raises(SchemaMismatch, match=r"0099_future.*newer version; refusing"):
                await schema.ensure_schema(engine, auto_upgrade=auto_upgrade)
        with pytest.raises(SchemaMismatch):
            await Store.open(store_url)
    finally:
        await engine.dispose()


async def test_unavailable_database_message_names_where_but_not_the_password() -> None:
    url = "postgresql+asyncpg://monitor:Secr3t-Passw0rd@127.0.0.1:1/monitordb"
    engine = create_engine(url, connect_timeout=3)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await check_connection(engine)
    finally:
        await engine.dispose()
    message = str(caught.value)
    assert "Secr3t-Passw0rd" not in message
    assert "127.0.0.1:1" in message
    assert "monitordb" in message
    assert "\n" not in message
    with pytest.raises(DatabaseUnavailable) as caught:
        await Store.open(url, connect_timeout=3)
    assert "Secr3t-Passw0rd" not in str(caught.value)


def test_unparsable_url_does_not_echo_the_password() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        create_engine("postgresql+asyncpg://u:Secr3t@host:notaport/db")
    assert "Secr3t" not in str(caught.value)


async def test_sqlite_parent_directory_is_created_and_pragmas_set(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "monitor.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
    finally:
        await engine.dispose()
    assert path.is_file()


async def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DatabaseUnavailable, match="cannot create the directory"):
        create_engine(f"sqlite+aiosqlite:///{tmp_path / 'file' / 'db.sqlite3'}")


async def test_audit_log_refuses_update_and_delete(store: Store) -> None:
    await store.audit("alice", "bank.create", "ncmec", {"why": "test"})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    [row] = await store.audit_entries()
    assert (row.actor, row.action, row.subject, row.details) == (
        "alice",
        "bank.create",
        "ncmec",
        {"why": "test"},
    )


async def test_timestamps_come_back_timezone_aware_utc(store: Store) -> None:
    seoul = timezone(timedelta(hours=9))
    seen = datetime(2024, 6, 1, 9, 30, tzinfo=seoul)
    posted = datetime(2024, 6, 1, 8, 0, tzinfo=seoul)
    added = datetime(2020, 1, 2, 3, 4, 5, tzinfo=seoul)
    bank = await store.upsert_bank("b")
    await store.import_entries("b", [list_entry(1, added_at=added)], source="f", actor="a")
    [entry] = [e async for e in store.iter_entries("b")]
    result = await store.record_sighting(
        tg_source(posted_at=posted), signals(1), [match_for(entry)], seen_at=seen
    )
    hit = await store.get_hit(result.hits[0].id)
    assert hit.created_at == seen
    assert hit.created_at.tzinfo is UTC
    assert hit.source is not None
    assert hit.source.posted_at == posted
    assert hit.source.posted_at.tzinfo is UTC
    assert entry.added_at == added
    assert entry.added_at.tzinfo is UTC
    assert entry.created_at is not None
    assert entry.created_at.tzinfo is UTC
    assert bank.created_at is not None
    assert bank.created_at.tzinfo is UTC
    [event] = await store.entry_history(entry.id)
    assert event.at.tzinfo is UTC
    [audit] = await store.audit_entries(1)
    assert audit.at.tzinfo is UTC


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        await store.record_sighting(tg_source(), signals(1), [], seen_at=datetime(2024, 1, 1))


async def test_a_new_sqlite_store_is_private_and_a_readable_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "private" / "monitor.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    store = await Store.open(url, auto_upgrade=True)
    await store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    with pytest.raises(DatabaseUnavailable, match="chmod 600") as caught:
        await Store.open(url, auto_upgrade=True)
    assert "0644" in str(caught.value)
