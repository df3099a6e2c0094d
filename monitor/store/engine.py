"""The async engine: SQLite (aiosqlite) or PostgreSQL (asyncpg), set up the same way everywhere.

SQLite gets WAL, foreign keys, a busy timeout and ``synchronous=NORMAL`` on every connection, and
its transactions are begun by us (not by the ``sqlite3`` module) so that DDL is transactional and
writers can ask for ``BEGIN IMMEDIATE`` (see ``WRITE``): a deferred transaction that reads first
and writes later fails at once with "database is locked" when another process wrote in between,
instead of waiting for the busy timeout.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.errors import DatabaseUnavailable

# Execution option asking for a write transaction (``BEGIN IMMEDIATE`` on SQLite).
WRITE = {"monitor_write": True}

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CACHE_KIB = 64 * 1024  # page cache per connection, at most


def create_engine(url: str, *, connect_timeout: float = 10.0, echo: bool = False) -> AsyncEngine:
    """An ``AsyncEngine`` for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _make_parent_dir(parsed)
        engine = create_async_engine(parsed, echo=echo)
        _setup_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_async_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,
            connect_args={"timeout": connect_timeout},
        )
    raise DatabaseUnavailable(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def describe(url: str | URL) -> str:
    """Where a database is, for messages: host, port and database; never the password."""
    parsed = url if isinstance(url, URL) else _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite database {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    user = f" as user {parsed.username!r}" if parsed.username else ""
    return f"{backend} database {parsed.database!r} at {host}:{port}{user}"


async def check_connection(engine: AsyncEngine) -> None:
    """Connect once and run ``SELECT 1``; any failure becomes one-line ``DatabaseUnavailable``."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise unavailable(engine.url, exc) from None


def unavailable(url: URL, exc: BaseException) -> DatabaseUnavailable:
    """A ``DatabaseUnavailable`` naming where, and why in one line, without the password."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    reason = " ".join(str(cause).split()) or type(cause).__name__
    if isinstance(cause, TimeoutError) and not str(cause):
        reason = "timed out"
    if parsed_password := url.password:
        reason = reason.replace(str(parsed_password), "***")
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return DatabaseUnavailable(f"cannot use the {describe(url)}: {type(cause).__name__}: {reason}")


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        # The messages repeat (parts of) the URL, password included.
        raise DatabaseUnavailable("database URL cannot be parsed") from None


def _make_parent_dir(url: URL) -> None:
    """Create the SQLite file's directory (0700) and the file itself (0600) if missing; refuse a
    file that others can read: it holds the Telegram session's auth key and every hit."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the directory of the sqlite database {database}: {exc.strerror}"
        ) from None
    try:
        # Created private before SQLite opens it; SQLite gives its -wal and -shm files the
        # database file's permissions.
        os.close(os.open(path, os.O_CREAT | os.O_RDONLY, 0o600))
        mode = path.stat().st_mode
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the sqlite database {database}: {exc.strerror}"
        ) from None
    if stat.S_ISREG(mode) and mode & 0o077:
        raise DatabaseUnavailable(
            f"the sqlite database {database} can be read or written by other users (mode "
            f"{stat.S_IMODE(mode):04o}); it holds the Telegram session and every hit: "
            f"run `chmod 600 {database}` (and its -wal and -shm files)"
        )


def _setup_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (the "begin" hook below) start transactions, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Big imports touch index pages all over the file: 2 MiB default cache thrashes.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("monitor_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
