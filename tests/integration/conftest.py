"""Store fixtures: the same tests on SQLite (always) and PostgreSQL (when reachable).

PostgreSQL comes from ``$MONITOR_TEST_POSTGRES_URL`` (default: the local ``test`` database, as a
server to create throw-away databases ``monitor_test_<random>`` in). Unreachable, its parameters
are skipped, unless ``MONITOR_TEST_REQUIRE_POSTGRES=1`` (CI), which fails them loudly instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from monitor.store import Store, upgrade

T = TypeVar("T")

POSTGRES_URL_ENV = "MONITOR_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "MONITOR_TEST_REQUIRE_POSTGRES"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _in_thread(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a loop of its own, away from pytest-asyncio's loops."""

    async def main() -> T:
        return await fn()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


@pytest.fixture(scope="session")
def postgres_server_url() -> str | None:
    """The PostgreSQL server to create test databases on; None (skip) if unreachable."""
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)

    async def ping() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
        await conn.close()

    try:
        _in_thread(ping)
    except Exception as exc:
        where = make_url(url).render_as_string(hide_password=True)
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(
                f"{REQUIRE_POSTGRES_ENV}=1 but PostgreSQL at {where} is unreachable: {exc!r}"
            )
        return None
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def empty_store_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """The URL of a fresh, empty database (no tables) on each backend; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'monitor.sqlite3'}"
        return
    postgres_server_url: str | None = request.getfixturevalue("postgres_server_url")
    if postgres_server_url is None:
        pytest.skip(f"PostgreSQL unreachable (set {POSTGRES_URL_ENV})")
    name = f"monitor_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(postgres_server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def store_url(empty_store_url: str) -> str:
    """The URL of a fresh database with the current schema."""
    await upgrade(empty_store_url)
    return empty_store_url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A ``Store`` on a fresh database with the current schema."""
    opened = await Store.open(store_url, auto_upgrade=False)
    try:
        yield opened
    finally:
        await opened.close()
