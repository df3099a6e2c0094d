"""What every part of the store shares: the engine, transactions, error translation, helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.domain import jsonable
from monitor.errors import MonitorError, StoreError
from monitor.store.engine import WRITE, unavailable
from monitor.store.models import AuditRow, Base, utcnow

T = TypeVar("T")

# Rows per statement for bulk writes, and values per IN (...) list (SQLite allows 32766 params).
CHUNK = 5_000
IN_CHUNK = 500


class StoreBase:
    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self._owns_engine = owns_engine

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def close(self) -> None:
        """Close the store; disposes the engine if the store created it."""
        if self._owns_engine:
            await self._engine.dispose()

    @asynccontextmanager
    async def _tx(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back on any exception.

        SQLAlchemy errors become ``StoreError`` (``DatabaseUnavailable`` for a lost or refused
        connection) with a one-line message; the monitor's own errors pass through.
        """
        try:
            async with self._engine.connect() as conn:
                if write:
                    await conn.execution_options(**WRITE)
                async with conn.begin():
                    yield conn
        except MonitorError:
            raise
        except (OSError, TimeoutError) as exc:
            raise unavailable(self._engine.url, exc) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated or _is_connect_error(exc):
                raise unavailable(self._engine.url, exc) from exc
            raise StoreError(_one_line(exc)) from exc
        except SQLAlchemyError as exc:
            raise StoreError(_one_line(exc)) from exc

    def _insert_or_ignore(self, table: type[Base], *index_elements: str) -> Insert:
        """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` for this database.

        With ``RETURNING``, a conflicting row returns nothing: select it afterwards. Under
        concurrency this waits for the other writer (row lock on PostgreSQL, the write lock on
        SQLite), so the follow-up select sees its row.
        """
        if self.dialect == "postgresql":
            return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)

    # --- bulk writes through the driver's executemany ------------------------------------------
    # SQLAlchemy's per-row parameter handling costs more than the database's own work when a
    # list has a million lines; these take rows of values already in the driver's form (see
    # ``_binder``) and hand them to the driver in chunks.

    def _binder(self, table: type[Base], column: str) -> Callable[[Any], Any]:
        """The column type's bind processing (e.g. datetime -> SQLite text), as a function."""
        dialect = self._engine.dialect
        col = table.__table__.c[column]
        process = col.type.dialect_impl(dialect).bind_processor(dialect)
        return process if process is not None else _identity

    def _placeholders(self, n: int) -> list[str]:
        style = self._engine.dialect.paramstyle
        if style == "qmark":
            return ["?"] * n
        if style == "numeric_dollar":
            return [f"${i}" for i in range(1, n + 1)]
        if style == "format":
            return ["%s"] * n
        raise StoreError(f"unsupported driver parameter style {style!r}")  # pragma: no cover

    def _names(self, table: type[Base], columns: Sequence[str]) -> list[str]:
        """The quoted table name, then the quoted column names; KeyError for unknown columns."""
        quote = self._engine.dialect.identifier_preparer.quote
        known = table.__table__.c
        return [quote(table.__tablename__)] + [quote(known[c].name) for c in columns]

    async def _bulk_insert(
        self,
        conn: AsyncConnection,
        table: type[Base],
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        if self.dialect == "postgresql" and rows:
            # COPY: several times faster than row-by-row INSERTs on PostgreSQL. It runs on the
            # same asyncpg connection, so inside the same transaction.
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            for chunk in chunks(rows, CHUNK):
                await driver.copy_records_to_table(
                    table.__tablename__,
                    records=chunk,
                    columns=[table.__table__.c[c].name for c in columns],
                )
            return
        names = self._names(table, columns)
        marks = ", ".join(self._placeholders(len(columns)))
        # Only names of the models' own tables and columns are formatted in; values are bound.
        sql = f"INSERT INTO {names[0]} ({', '.join(names[1:])}) VALUES ({marks})"  # noqa: S608
        for chunk in chunks(rows, CHUNK):
            await conn.exec_driver_sql(sql, list(chunk))

    async def _bulk_update(
        self,
        conn: AsyncConnection,
        table: type[Base],
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """``UPDATE table SET columns... WHERE id = ?``: each row is (*values, id)."""
        names = self._names(table, columns)
        marks = self._placeholders(len(columns) + 1)
        assignments = ", ".join(f"{c} = {m}" for c, m in zip(names[1:], marks, strict=False))
        sql = f"UPDATE {names[0]} SET {assignments} WHERE id = {marks[-1]}"  # noqa: S608
        for chunk in chunks(rows, CHUNK):
            await conn.exec_driver_sql(sql, list(chunk))

    async def _audit(
        self,
        conn: AsyncConnection,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        await conn.execute(
            insert(AuditRow).values(
                at=at or utcnow(),
                actor=actor,
                action=action,
                subject=subject,
                details=jsonable(details or {}),
            )
        )


def chunks(items: Sequence[T] | list[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sample(values: Iterable[str], limit: int = 10) -> str:
    """``a, b, c`` and ``(+N more)`` for messages naming many values."""
    items = list(values)
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" (+{len(items) - limit} more)"
    return text


def _identity(value: Any) -> Any:
    return value


def _is_connect_error(exc: DBAPIError) -> bool:
    orig = exc.orig
    return isinstance(orig, OSError | TimeoutError | ConnectionError) or (
        type(orig).__name__ in {"InterfaceError", "ConnectionDoesNotExistError"}
        and "connect" in str(orig).lower()
    )


def _one_line(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"database error: {type(cause).__name__}: {first[:300]}"
