"""Alert deliveries: queued with their hits (see ``record_sighting``), sent and retried here.

Several daemons may share one store, each running an alert dispatcher. A dispatcher takes the
deliveries it is about to send with ``claim_alerts``: one conditional UPDATE moves each due
delivery's ``next_attempt_at`` to the end of a hold, and only the rows that UPDATE changed are
this caller's, so two dispatchers never take the same delivery. The hold is a lease: a claimer
that dies before marking its deliveries leaves them to become due again when it ends (sent at
least once, never lost). Marking a delivery sent or failed ends its claim; ``release_alerts``
hands back claimed deliveries that were not attempted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from monitor.domain import AlertDelivery
from monitor.errors import NotFound
from monitor.logs import redact_text
from monitor.store._base import IN_CHUNK, StoreBase, chunks
from monitor.store.models import ALERT_STATUSES, AlertDeliveryRow, HitRow, utcnow
from monitor.store.sightings import hit_row, hits_query

# Longest error message kept per delivery.
MAX_ERROR = 2000


class AlertsMixin(StoreBase):
    async def due_alerts(
        self, *, now: datetime | None = None, limit: int = 100
    ) -> list[AlertDelivery]:
        """Pending deliveries whose next attempt is due, oldest first, each with its hit.
        Read only: to send them, take them with ``claim_alerts``."""
        stmt = _deliveries_query().where(_due(now or utcnow())).limit(limit)
        async with self._tx(write=False) as conn:
            return [_delivery(row._mapping) for row in await conn.execute(stmt)]

    async def claim_alerts(
        self,
        *,
        now: datetime,
        limit: int,
        hold_seconds: float,
        skip_targets: Collection[str] = (),
    ) -> list[AlertDelivery]:
        """Take up to ``limit`` due deliveries (oldest first, none for ``skip_targets``) for
        the caller to send: their ``next_attempt_at`` moves to ``now + hold_seconds``, which
        each returned delivery carries. Only the deliveries this call changed are returned:
        another caller claiming at the same time gets others (PostgreSQL skips the rows being
        claimed, SQLite has one writer at a time). One transaction."""
        if limit <= 0:
            return []
        if hold_seconds <= 0:
            raise ValueError("an alert claim needs a hold of more than 0 seconds")
        until = now + timedelta(seconds=hold_seconds)
        candidates = (
            select(AlertDeliveryRow.id)
            .where(_due(now))
            .order_by(AlertDeliveryRow.created_at, AlertDeliveryRow.id)
            .limit(limit)
        )
        if skip_targets:
            candidates = candidates.where(AlertDeliveryRow.target.not_in(list(skip_targets)))
        if self.dialect == "postgresql":
            # Rows another claimer has locked are skipped rather than waited for.
            candidates = candidates.with_for_update(skip_locked=True)
        async with self._tx(write=True) as conn:
            # Chosen first, then updated: PostgreSQL may run a LIMIT subquery inside the UPDATE
            # more than once, taking more rows than asked for. The conditions again on the
            # UPDATE make it a compare-and-set, should a row have been claimed or marked
            # between the choice and the write.
            chosen = [int(i) for i in (await conn.execute(candidates)).scalars()]
            won: list[int] = []
            for some in chunks(chosen, IN_CHUNK):
                rows = await conn.execute(
                    update(AlertDeliveryRow)
                    .where(AlertDeliveryRow.id.in_(some), _due(now))
                    .values(next_attempt_at=until)
                    .returning(AlertDeliveryRow.id)
                )
                won += [int(r.id) for r in rows]
            claimed: list[AlertDelivery] = []
            for some in chunks(won, IN_CHUNK):
                stmt = _deliveries_query().where(AlertDeliveryRow.id.in_(some))
                claimed += [_delivery(row._mapping) for row in await conn.execute(stmt)]
        claimed.sort(key=lambda d: (d.created_at, d.id))
        return claimed

    async def release_alerts(self, claimed: Sequence[AlertDelivery], *, at: datetime) -> int:
        """Hand back deliveries taken with ``claim_alerts`` and not attempted: due again from
        ``at``. A delivery marked, or claimed anew by someone else since (its claim ended), is
        left alone. Returns how many were released."""
        by_claim: dict[datetime, list[int]] = {}
        for delivery in claimed:
            if delivery.next_attempt_at is not None:
                by_claim.setdefault(delivery.next_attempt_at, []).append(delivery.id)
        released = 0
        async with self._tx(write=True) as conn:
            for until, ids in by_claim.items():
                for some in chunks(sorted(ids), IN_CHUNK):
                    result = await conn.execute(
                        update(AlertDeliveryRow)
                        .where(
                            AlertDeliveryRow.id.in_(some),
                            AlertDeliveryRow.status == "pending",
                            AlertDeliveryRow.next_attempt_at == until,
                        )
                        .values(next_attempt_at=at)
                    )
                    released += result.rowcount
        return released

    async def mark_alert_sent(self, delivery_id: int, *, at: datetime | None = None) -> None:
        """The delivery succeeded (counts as an attempt). A delivery no longer pending stays
        as it is; ``NotFound`` for an unknown id."""
        async with self._tx(write=True) as conn:
            await self._pending_update(
                conn,
                delivery_id,
                status="sent",
                sent_at=at or utcnow(),
                next_attempt_at=None,
                attempts=AlertDeliveryRow.attempts + 1,
            )

    async def mark_alert_failed(
        self, delivery_id: int, error: str, *, next_attempt_at: datetime | None
    ) -> None:
        """An attempt failed: try again at ``next_attempt_at``, or give up (status ``failed``)
        when it is None. The error is kept, shortened and with known secrets redacted."""
        values: dict[str, object] = {
            "attempts": AlertDeliveryRow.attempts + 1,
            "last_error": redact_text(error)[:MAX_ERROR],
            "next_attempt_at": next_attempt_at,
        }
        if next_attempt_at is None:
            values["status"] = "failed"
        async with self._tx(write=True) as conn:
            await self._pending_update(conn, delivery_id, **values)

    async def alert_counts(self) -> dict[str, int]:
        """Deliveries per status: pending, sent, failed (0 when none)."""
        stmt = select(AlertDeliveryRow.status, func.count(AlertDeliveryRow.id)).group_by(
            AlertDeliveryRow.status
        )
        counts = dict.fromkeys(ALERT_STATUSES, 0)
        async with self._tx(write=False) as conn:
            for status, n in await conn.execute(stmt):
                counts[status] = int(n)
        return counts

    async def _pending_update(
        self, conn: AsyncConnection, delivery_id: int, **values: object
    ) -> None:
        updated = await conn.execute(
            update(AlertDeliveryRow)
            .where(AlertDeliveryRow.id == delivery_id, AlertDeliveryRow.status == "pending")
            .values(**values)
        )
        if updated.rowcount:
            return
        exists = (
            await conn.execute(
                select(AlertDeliveryRow.id).where(AlertDeliveryRow.id == delivery_id)
            )
        ).scalar()
        if exists is None:
            raise NotFound(f"no alert delivery with id {delivery_id}")


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(AlertDeliveryRow.status == "pending", AlertDeliveryRow.next_attempt_at <= now)


def _deliveries_query() -> Select[*tuple[Any, ...]]:
    """Deliveries with their hits, oldest first."""
    return (
        hits_query()
        .add_columns(
            AlertDeliveryRow.id.label("delivery_id"),
            AlertDeliveryRow.target.label("delivery_target"),
            AlertDeliveryRow.status.label("delivery_status"),
            AlertDeliveryRow.attempts.label("delivery_attempts"),
            AlertDeliveryRow.next_attempt_at.label("delivery_next_attempt_at"),
            AlertDeliveryRow.last_error.label("delivery_last_error"),
            AlertDeliveryRow.created_at.label("delivery_created_at"),
            AlertDeliveryRow.sent_at.label("delivery_sent_at"),
        )
        .join(AlertDeliveryRow, AlertDeliveryRow.hit_id == HitRow.id)
        .order_by(AlertDeliveryRow.created_at, AlertDeliveryRow.id)
    )


def _delivery(row: RowMapping) -> AlertDelivery:
    return AlertDelivery(
        id=row["delivery_id"],
        hit=hit_row(row),
        target=row["delivery_target"],
        status=row["delivery_status"],
        attempts=row["delivery_attempts"],
        next_attempt_at=row["delivery_next_attempt_at"],
        last_error=row["delivery_last_error"],
        created_at=row["delivery_created_at"],
        sent_at=row["delivery_sent_at"],
    )
