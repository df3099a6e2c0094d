"""The store: one object, every method one transaction, domain objects in and out.

The methods live in mixins by subject (``entries``: banks and list entries; ``sightings``:
media, sightings, hits and the audit log; ``review``: review decisions and a hit's evidence;
``takedowns``: takedown requests and re-checks; ``stats``: aggregates; ``telegram``: the
allow-list, cursors, flood waits and sessions; ``leases``: which daemon processes which
channel; ``alerts``: alert deliveries); ``Store`` puts them
together and opens and closes.
"""

from __future__ import annotations

from types import TracebackType

from monitor.store.alerts import AlertsMixin
from monitor.store.engine import check_connection, create_engine
from monitor.store.entries import EntriesMixin
from monitor.store.leases import LeasesMixin
from monitor.store.reports import ReportsMixin
from monitor.store.review import ReviewMixin
from monitor.store.schema import ensure_schema
from monitor.store.sightings import SightingsMixin
from monitor.store.stats import StatsMixin
from monitor.store.takedowns import TakedownsMixin
from monitor.store.telegram import TelegramMixin


class Store(
    EntriesMixin,
    SightingsMixin,
    ReviewMixin,
    TakedownsMixin,
    ReportsMixin,
    StatsMixin,
    TelegramMixin,
    LeasesMixin,
    AlertsMixin,
):
    """The monitor's database. ``Store(engine)`` uses an engine the caller owns and disposes;
    ``await Store.open(url)`` creates its own, checks it, and disposes it on ``close()``."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        connect_timeout: float = 10.0,
        echo: bool = False,
        auto_upgrade: bool = True,
    ) -> Store:
        """Connect (``DatabaseUnavailable``), check the schema (``SchemaMismatch``), return it."""
        engine = create_engine(url, connect_timeout=connect_timeout, echo=echo)
        try:
            await check_connection(engine)
            await ensure_schema(engine, auto_upgrade=auto_upgrade)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, owns_engine=True)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
