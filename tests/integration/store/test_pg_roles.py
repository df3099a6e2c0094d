"""The read-only analysts' role of docs/sql/analyst_role.sql, on PostgreSQL: its members read hits,
evidence, stats and views, and cannot write anything or read the Telegram session."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from monitor.domain import HashType, ListEntry, ReviewStatus
from monitor.errors import StoreError
from monitor.store import Store
from tests.integration.store.factories import hex_of, match_for, signals, tg_source

SQL = Path(__file__).resolve().parents[3] / "docs" / "sql" / "analyst_role.sql"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_analyst_role_reads_and_cannot_write(backend: str, store_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL roles")
    owner = await Store.open(store_url, auto_upgrade=False)
    try:
        await owner.upsert_bank("b")
        await owner.import_entries(
            "b", [ListEntry(HashType.PDQ, hex_of("x"))], source="b.csv", actor="alice"
        )
        [entry] = [e async for e in owner.iter_entries("b")]
        await owner.record_sighting(tg_source(1), signals("s"), [match_for(entry)])
    finally:
        await owner.close()

    tag = secrets.token_hex(4)
    group, person = f"monitor_analyst_{tag}", f"analyst_{tag}"
    admin = await asyncpg.connect(_dsn(store_url))
    try:
        await admin.execute(SQL.read_text(encoding="utf-8").replace("monitor_analyst", group))
        await admin.execute(f"CREATE ROLE {person} LOGIN IN ROLE {group}")
        reader_url = make_url(store_url).set(username=person, password=None)
        reader = await Store.open(
            reader_url.render_as_string(hide_password=False), auto_upgrade=False
        )
        try:
            [hit] = await reader.list_hits()
            evidence = await reader.hit_evidence(hit.id)
            assert evidence.hit.id == hit.id
            assert (await reader.stats()) is not None
            with pytest.raises(StoreError, match="permission denied for table audit_log"):
                await reader.audit("kim", "test", "x")
            with pytest.raises(StoreError, match="permission denied"):
                await reader.review_hits([hit.id], status=ReviewStatus.CONFIRMED, actor="kim")
            async with reader.engine.connect() as conn:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await conn.exec_driver_sql("SELECT auth_key FROM telegram_sessions")
        finally:
            await reader.close()
    finally:
        await admin.execute(f"DROP OWNED BY {person}, {group}")
        await admin.execute(f"DROP ROLE {person}")
        await admin.execute(f"DROP ROLE {group}")
        await admin.close()
