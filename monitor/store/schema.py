"""The database schema, through Alembic, called from code (no ``alembic.ini`` needed).

The migration scripts ship inside the package as ``monitor._migrations`` (``migrations/`` in the
source tree), found with ``importlib.resources``, so an installed wheel upgrades its own schema.
Alembic's log lines are quiet unless ``verbose=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.errors import SchemaMismatch, StoreError
from monitor.store.engine import WRITE, check_connection, create_engine
from monitor.store.models import Base

T = TypeVar("T")

UPGRADE_HINT = "run `monitor db upgrade`"
# Serialises concurrent upgrades of one PostgreSQL database (any constant; "monitor" in ASCII).
_PG_LOCK_KEY = 0x6D6F6E69746F72


def script_location() -> Path:
    """The directory of the migration scripts, from the source tree or an installed wheel."""
    location = files("monitor._migrations")
    path = Path(str(location))
    if not (path / "env.py").is_file():  # pragma: no cover - e.g. a zipped install
        raise StoreError(f"migration scripts not found at {location}; reinstall the monitor")
    return path


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    return cfg


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows."""
    heads = _script().get_heads()
    if len(heads) != 1:  # pragma: no cover - a developer merged branches badly
        raise StoreError(f"migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def is_known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


async def upgrade(url: str | AsyncEngine, revision: str = "head", *, verbose: bool = False) -> None:
    """Upgrade the schema to ``revision`` in one transaction."""

    def run(conn: Connection, cfg: Config) -> None:
        command.upgrade(cfg, revision)

    await _with_alembic(url, run, verbose=verbose)


async def downgrade(url: str | AsyncEngine, revision: str, *, verbose: bool = False) -> None:
    """Downgrade the schema to ``revision`` ("base" removes every table) in one transaction."""

    def run(conn: Connection, cfg: Config) -> None:
        command.downgrade(cfg, revision)

    await _with_alembic(url, run, verbose=verbose)


async def current(url: str | AsyncEngine) -> str | None:
    """The revision the database is at; None for an empty database."""

    def run(conn: Connection) -> str | None:
        return _current(conn)

    return await _run_sync(url, run, write=False)


async def check(url: str | AsyncEngine) -> list[str]:
    """Differences between the models and the database schema; empty when they agree."""

    def run(conn: Connection) -> list[str]:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "target_metadata": Base.metadata},
        )
        return [repr(diff) for diff in compare_metadata(context, Base.metadata)]

    return await _run_sync(url, run, write=False)


async def ensure_schema(url: str | AsyncEngine, *, auto_upgrade: bool) -> str:
    """Make sure the schema is the one this code needs; returns the revision it is at.

    Empty or behind: upgrade when ``auto_upgrade``, else ``SchemaMismatch``. A revision this code
    does not know (written by a newer version) is always refused.
    """
    want = head()
    engine, owned = _engine(url)
    try:
        await check_connection(engine)
        have = await current(engine)
        if have == want:
            return want
        if have is not None and not is_known(have):
            raise SchemaMismatch(
                f"database schema is at {have}, which this version does not know (it needs "
                f"{want}): the database was upgraded by a newer version; refusing to run"
            )
        if not auto_upgrade:
            where = "empty" if have is None else f"at {have}"
            raise SchemaMismatch(
                f"database schema is {where}, this version needs {want}; {UPGRADE_HINT}"
            )
        await upgrade(engine)
        return want
    finally:
        if owned:
            await engine.dispose()


def _current(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise SchemaMismatch(f"database schema has several heads ({', '.join(heads)})")
    return heads[0] if heads else None


async def _with_alembic(
    url: str | AsyncEngine, fn: Callable[[Connection, Config], None], *, verbose: bool
) -> None:
    def run(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        with _quiet(verbose):
            try:
                fn(conn, cfg)
            except CommandError as exc:
                raise SchemaMismatch(" ".join(str(exc).split())) from None

    await _run_sync(url, run, write=True)


async def _run_sync(url: str | AsyncEngine, fn: Callable[[Connection], T], *, write: bool) -> T:
    engine, owned = _engine(url)
    try:
        # An unreachable or refusing database: DatabaseUnavailable (exit 5), not a traceback.
        await check_connection(engine)
        async with engine.connect() as conn:
            if write:
                await conn.execution_options(**WRITE)
            async with conn.begin():
                return await conn.run_sync(fn)
    finally:
        if owned:
            await engine.dispose()


def _engine(url: str | AsyncEngine) -> tuple[AsyncEngine, bool]:
    if isinstance(url, AsyncEngine):
        return url, False
    return create_engine(url), True


@contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """Alembic logs each step at INFO; keep that off the console unless asked for."""
    logger = logging.getLogger("alembic")
    before = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(before)
