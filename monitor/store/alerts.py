"""Alert deliveries: queued with their hits (see ``record_sighting``), sent and retried here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.domain import AlertDelivery
from monitor.errors import NotFound
from monitor.logs import redact_text
from monitor.store._base import StoreBase
from monitor.store.models import ALERT_STATUSES, AlertDeliveryRow, HitRow, utcnow
from monitor.store.sightings import hit_row, hits_query

# Longest error message kept per delivery.
MAX_ERROR = 2000


class AlertsMixin(StoreBase):
    async def due_alerts(
        self, *, now: datetime | None = None, limit: int = 100
    ) -> list[AlertDelivery]:
        """Pending deliveries whose next attempt is due, oldest first, each with its hit."""
        stmt = (
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
            .where(
                AlertDeliveryRow.status == "pending",
                AlertDeliveryRow.next_attempt_at <= (now or utcnow()),
            )
            .order_by(AlertDeliveryRow.created_at, AlertDeliveryRow.id)
            .limit(limit)
        )
        async with self._tx(write=False) as conn:
            return [_delivery(row._mapping) for row in await conn.execute(stmt)]

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
