"""The SQL store: SQLAlchemy models, engine, Alembic schema, and a repository of domain objects.

Nothing outside this package sees an ORM row or a SQLAlchemy session.
"""

from monitor.store.engine import check_connection, create_engine
from monitor.store.leases import ChannelLease, DaemonInfo, Heartbeat, LeaseLost, LeaseToken
from monitor.store.repository import Store
from monitor.store.results import (
    AuditEntry,
    EntryEvent,
    EntryEventKind,
    FloodWaitSummary,
    ImportResult,
)
from monitor.store.schema import current, downgrade, ensure_schema, head, upgrade

__all__ = [
    "AuditEntry",
    "ChannelLease",
    "DaemonInfo",
    "EntryEvent",
    "EntryEventKind",
    "FloodWaitSummary",
    "Heartbeat",
    "ImportResult",
    "LeaseLost",
    "LeaseToken",
    "Store",
    "check_connection",
    "create_engine",
    "current",
    "downgrade",
    "ensure_schema",
    "head",
    "upgrade",
]
