"""Alembic environment: async, for SQLite and PostgreSQL alike.

Two ways in:

* ``monitor.store.schema`` (what the program and ``monitor db upgrade`` use) opens the connection
  itself and hands it over in ``config.attributes["connection"]``; nothing here touches logging.
* The ``alembic`` command line (developers: ``alembic revision --autogenerate -m "..."``), with
  the top-level ``alembic.ini``. The database URL is ``-x url=...``, else ``sqlalchemy.url`` from
  the ini file, else the monitor's own configuration (``$MONITOR_CONFIG``,
  ``$MONITOR_DATABASE_URL``, or the default SQLite file).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from monitor.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the custom column types as the plain types the migrations use."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        # Alembic renders JSONB(astext_type=Text()) without importing Text.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    sqlite = dialect_name == "sqlite"
    return {
        "target_metadata": target_metadata,
        "render_as_batch": sqlite,  # SQLite cannot ALTER most things: copy-and-move tables
        # The monitor's SQLite engine emits BEGIN itself, so DDL there is transactional too.
        "transactional_ddl": True,
        "compare_type": True,
        "render_item": _render_item,
    }


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from monitor.config import load_settings

    return load_settings().database_url


def run_migrations_offline() -> None:
    url = _url()
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    from monitor.store.engine import WRITE, create_engine

    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.execution_options(**WRITE)
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
