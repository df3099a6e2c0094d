"""Plain results the store returns that ``monitor.domain`` does not (yet) define.

Candidates for ``monitor.domain``; they import nothing from SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from monitor.domain import AuditEntry

__all__ = ["AuditEntry", "EntryEvent", "EntryEventKind", "FloodWaitSummary", "ImportResult"]


class EntryEventKind(StrEnum):
    ADDED = "added"
    WITHDRAWN = "withdrawn"
    REINSTATED = "reinstated"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What importing one hash list did, counted per distinct (hash type, value)."""

    bank: str
    source: str
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    reinstated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.withdrawn + self.reinstated

    @property
    def total(self) -> int:
        return self.changed + self.unchanged


@dataclass(frozen=True, slots=True)
class EntryEvent:
    """One change in an entry's history."""

    id: int
    entry_id: int
    event: EntryEventKind
    at: datetime
    reason: str | None = None
    source: str | None = None  # the list file, for imports
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class FloodWaitSummary:
    """Flood waits Telegram imposed for one chat (``chat_id`` None: not tied to a chat)."""

    chat_id: int | None
    count: int
    total_seconds: int
    longest_seconds: int
    last_at: datetime
