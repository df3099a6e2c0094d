"""The daemon's side of the optional evidence store: seal each new hit's media, purge old items.

``[evidence] enabled``: right after a hit is committed, the media bytes already downloaded to
hash it are sealed (see :mod:`monitor.evidence`) in a worker thread, so encrypting and writing a
large video never holds up the event loop. Nothing is downloaded again for evidence and the
plaintext never reaches the disk. A failure to keep evidence (disk full, permissions) is logged as
``evidence_write_failed`` with its reason (never the media) and counted (``evidence_failed``); the
hit is already safe in the store and everything carries on. Each hit whose media was kept gets an
``evidence.sealed`` row in its audit history (``monitor hits show``) naming the sealed file.

What has no evidence: media recorded without being downloaded - a forwarded copy recognised by
its Telegram media id, from memory or the store - because the first copy was downloaded and, if
it was a hit then, sealed under the same SHA-256. A copy that becomes a hit only later (a hash
list imported after the first copy was seen) therefore has none. ``monitor scan`` keeps none
either: the files it reads are already on the unit's own disk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monitor.config import Settings
from monitor.domain import Hit, SightingSource, Signals
from monitor.evidence import EvidenceStore, parse_public_key
from monitor.logs import get_logger
from monitor.store.review import hit_subject

log = get_logger(__name__)

__all__ = ["PURGE_INTERVAL", "AuditLog", "EvidenceKeeper"]

# Seconds between two retention purges while the daemon runs.
PURGE_INTERVAL = 3600.0
AUDIT_ACTION = "evidence.sealed"


class AuditLog(Protocol):
    async def audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
    ) -> None: ...


class EvidenceKeeper:
    """Seals the media of new hits into an :class:`EvidenceStore`; never raises for a failed
    write (the hit is committed already)."""

    def __init__(
        self,
        store: EvidenceStore,
        counters: Counter[str],
        *,
        audit: AuditLog | None = None,
        actor: str = "daemon",
    ) -> None:
        self.store = store
        self._counters = counters
        self._audit = audit
        self._actor = actor

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        counters: Counter[str],
        *,
        audit: AuditLog | None = None,
        actor: str = "daemon",
    ) -> EvidenceKeeper | None:
        """A keeper when ``[evidence] enabled`` (the key was checked when settings loaded)."""
        evidence = settings.evidence
        if not evidence.enabled:
            return None
        store = EvidenceStore(
            settings.evidence_dir, parse_public_key(evidence.public_key), evidence.retention_days
        )
        return cls(store, counters, audit=audit, actor=actor)

    async def prepare(self) -> bool:
        """Create the evidence folder (0700). A folder that cannot be made is logged, not
        fatal: hits are still recorded (each then logs ``evidence_write_failed``)."""
        try:
            await asyncio.to_thread(self.store.prepare)
        except OSError as exc:
            log.error("evidence_dir_unusable", directory=str(self.store.root), reason=_reason(exc))
            return False
        log.info(
            "evidence_enabled",
            directory=str(self.store.root),
            retention_days=self.store.retention_days,
        )
        return True

    async def keep(
        self, source: SightingSource, signals: Signals, hits: Sequence[Hit], data: bytes
    ) -> Path | None:
        """Seal ``data`` (the media of ``hits``) and audit it; the sealed file, or None if it
        could not be written (logged and counted)."""
        hit_ids = [hit.id for hit in hits]
        try:
            path, created = await asyncio.to_thread(
                self.store.seal,
                data,
                mime=signals.mime,
                seen_at=datetime.now(UTC),
                where=source.link or source.key,
            )
        except Exception as exc:
            self._counters["evidence_failed"] += 1
            log.error(
                "evidence_write_failed",
                reason=_reason(exc),
                sha256=signals.sha256,
                hit_ids=hit_ids,
                directory=str(self.store.root),
            )
            return None
        self._counters["evidence_written" if created else "evidence_renewed"] += 1
        log.info("evidence_sealed", sha256=signals.sha256, path=str(path), new=created)
        if self._audit is not None:
            details = {"sha256": signals.sha256, "path": str(path), "new": created}
            try:
                for hit_id in hit_ids:
                    await self._audit.audit(self._actor, AUDIT_ACTION, hit_subject(hit_id), details)
            except Exception as exc:  # the evidence is kept; only its audit row is missing
                log.error("evidence_audit_failed", error=str(exc), hit_ids=hit_ids)
        return path

    async def purge(self) -> int:
        """Delete items older than the retention period; the number deleted (a failure is
        logged and counts as none)."""
        try:
            removed = await asyncio.to_thread(self.store.purge)
        except OSError as exc:
            log.error("evidence_purge_failed", reason=_reason(exc))
            return 0
        if removed:
            self._counters["evidence_purged"] += removed
        log.info(
            "evidence_purged",
            deleted=removed,
            retention_days=self.store.retention_days,
            directory=str(self.store.root),
        )
        return removed

    async def purge_loop(self, stop: asyncio.Event, interval: float = PURGE_INTERVAL) -> None:
        """Purge now and then every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            await self.purge()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def _reason(exc: BaseException) -> str:
    """Why a write failed, without anything of the media: ``PermissionError: Permission
    denied (/var/lib/.../ab)``."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{type(exc).__name__}: {exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"[:300]
