"""Takedown tracking: messages reported for removal, their re-checks, where removal stands.

A takedown is one message (a sighting) reported to one recipient (Telegram, a platform's abuse
desk, the police...), created from a hit. Re-checks ask Telegram about the message; each one is
kept (``takedown_checks``, never updated) and moves the status of every takedown of that message
reported before it: ``up``, ``removed`` (deleted, media removed, channel gone; ``removed_at`` is
the first check that found it so) or ``inaccessible`` (channel private to us). A failed check
(``error``) changes no status. Status changes are written to the audit log under the hit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.domain import (
    CheckOutcome,
    RecheckResult,
    RecheckTarget,
    RemovalStatus,
    ReviewStatus,
    SourceKind,
    Takedown,
    TakedownCheck,
)
from monitor.errors import InputError
from monitor.store._base import IN_CHUNK, StoreBase, chunks, sample
from monitor.store.models import (
    ChannelRow,
    HitRow,
    SightingRow,
    TakedownCheckRow,
    TakedownRow,
    utcnow,
)
from monitor.store.sightings import hits_by_id

RECIPIENT_MAX = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TakedownsMixin(StoreBase):
    async def mark_reported(
        self,
        hit_ids: Sequence[int],
        *,
        reported_to: str,
        reference: str | None,
        actor: str,
        at: datetime | None = None,
    ) -> list[Takedown]:
        """Record that the messages of these hits were reported to ``reported_to``.

        One takedown per (message, recipient): a message already reported to that recipient
        keeps its first report (its ``reported_at`` is earlier than ``at``), and two hits of
        one message give one takedown. Hits rejected as false positives are refused
        (``InputError``), unknown ids too (``NotFound``); nothing is written then. Returns
        the takedown of each hit, in the order given.
        """
        recipient = " ".join(reported_to.split())
        if not recipient:
            raise InputError("--reported-to must name who the report went to")
        if len(recipient) > RECIPIENT_MAX:
            raise InputError(f"--reported-to is longer than {RECIPIENT_MAX} characters")
        if not actor.strip():
            raise InputError("marking a takedown needs the reporter's name (--by)")
        ids = list(dict.fromkeys(hit_ids))
        if not ids:
            raise InputError("no hit ids given")
        now = at or utcnow()
        async with self._tx(write=True) as conn:
            hits = await hits_by_id(conn, ids, unchanged="nothing was marked")
            rejected = [
                str(i) for i in ids if hits[i]["review_status"] == ReviewStatus.FALSE_POSITIVE.value
            ]
            if rejected:
                raise InputError(
                    f"hit {sample(rejected)} was rejected as a false positive; review it again "
                    "before reporting it"
                )
            for hit_id in ids:
                sighting_id = hits[hit_id]["sighting_id"]
                created = (
                    await conn.execute(
                        self._insert_or_ignore(TakedownRow, "sighting_id", "reported_to")
                        .values(
                            hit_id=hit_id,
                            sighting_id=sighting_id,
                            reported_to=recipient,
                            reference=reference,
                            reported_by=actor,
                            reported_at=now,
                            status=RemovalStatus.UNCHECKED.value,
                        )
                        .returning(TakedownRow.id)
                    )
                ).scalar_one_or_none()
                if created is not None:
                    await self._audit(
                        conn,
                        actor,
                        "takedown.mark",
                        f"hit:{hit_id}",
                        {"takedown_id": created, "reported_to": recipient, "reference": reference},
                        at=now,
                    )
            sightings = sorted({hits[i]["sighting_id"] for i in ids})
            found = {
                t.sighting_id: t for t in await takedowns_of(conn, sightings, reported_to=recipient)
            }
        return [found[hits[i]["sighting_id"]] for i in ids]

    async def list_takedowns(
        self,
        *,
        statuses: Sequence[RemovalStatus] = (),
        reported_to: str | None = None,
        channels: Sequence[int] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Takedown]:
        """Takedowns, newest report first; ``since``/``until`` on the report time."""
        stmt = _takedowns_query()
        if statuses:
            stmt = stmt.where(TakedownRow.status.in_([s.value for s in statuses]))
        if reported_to is not None:
            stmt = stmt.where(TakedownRow.reported_to == reported_to)
        if channels:
            stmt = stmt.where(ChannelRow.telegram_id.in_(list(channels)))
        if since is not None:
            stmt = stmt.where(TakedownRow.reported_at >= since)
        if until is not None:
            stmt = stmt.where(TakedownRow.reported_at < until)
        stmt = stmt.order_by(TakedownRow.reported_at.desc(), TakedownRow.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._tx(write=False) as conn:
            return [_takedown(row._mapping) for row in await conn.execute(stmt)]

    async def due_rechecks(
        self,
        *,
        interval: timedelta,
        max_age: timedelta,
        now: datetime | None = None,
        limit: int = 1000,
        hit_ids: Sequence[int] = (),
    ) -> list[RecheckTarget]:
        """Reported Telegram messages to re-check now: not known removed, reported within
        ``max_age``, not checked for ``interval`` — the longest unchecked first.

        With ``hit_ids``: the messages of those hits' takedowns, whatever their state and age
        (an on-demand check).
        """
        now = now or utcnow()
        last = func.max(func.coalesce(TakedownRow.last_checked_at, _EPOCH))
        stmt = (
            select(
                SightingRow.id,
                SightingRow.chat_id,
                SightingRow.message_id,
                SightingRow.telegram_media_id,
            )
            .join(TakedownRow, TakedownRow.sighting_id == SightingRow.id)
            .where(
                SightingRow.source_kind == SourceKind.TELEGRAM.value,
                SightingRow.chat_id.is_not(None),
                SightingRow.message_id.is_not(None),
            )
            .group_by(
                SightingRow.id,
                SightingRow.chat_id,
                SightingRow.message_id,
                SightingRow.telegram_media_id,
            )
            .order_by(last, SightingRow.id)
            .limit(limit)
        )
        if hit_ids:
            stmt = stmt.where(
                TakedownRow.sighting_id.in_(
                    select(HitRow.sighting_id).where(HitRow.id.in_(list(hit_ids)))
                )
            )
        else:
            stmt = stmt.where(
                TakedownRow.status != RemovalStatus.REMOVED.value,
                TakedownRow.reported_at >= now - max_age,
            ).having(last < now - interval)
        async with self._tx(write=False) as conn:
            return [
                RecheckTarget(
                    sighting_id=row.id,
                    chat_id=row.chat_id,
                    message_id=row.message_id,
                    telegram_media_id=row.telegram_media_id,
                )
                for row in await conn.execute(stmt)
            ]

    async def record_checks(self, results: Sequence[RecheckResult], *, checked_by: str) -> int:
        """Keep re-check results and move the takedowns of those messages; one transaction.

        Returns how many takedowns changed status. Each change is audited under its hit
        (``takedown.status``), and the whole run once (``takedown.verify``).
        """
        if not results:
            return 0
        changed = 0
        outcomes: Counter[str] = Counter()
        async with self._tx(write=True) as conn:
            await conn.execute(
                insert(TakedownCheckRow),
                [
                    {
                        "sighting_id": r.sighting_id,
                        "checked_at": r.checked_at,
                        "outcome": r.outcome.value,
                        "detail": r.detail,
                        "checked_by": checked_by,
                    }
                    for r in results
                ],
            )
            for result in results:
                outcomes[result.outcome.value] += 1
                rows = await conn.execute(
                    select(TakedownRow).where(
                        TakedownRow.sighting_id == result.sighting_id,
                        TakedownRow.reported_at <= result.checked_at,
                    )
                )
                for row in rows.all():
                    changed += await self._apply_check(conn, row._mapping, result, checked_by)
            await self._audit(
                conn,
                checked_by,
                "takedown.verify",
                "takedowns",
                {"messages": len(results), "outcomes": dict(outcomes), "changed": changed},
            )
        return changed

    async def _apply_check(
        self, conn: AsyncConnection, row: RowMapping, result: RecheckResult, actor: str
    ) -> int:
        """Move one takedown by one check; 1 if its status changed."""
        before = RemovalStatus(row["status"])
        status, removed_at = next_state(before, row["removed_at"], result)
        if row["last_checked_at"] is not None and row["last_checked_at"] > result.checked_at:
            return 0  # an older result arriving late: history only
        await conn.execute(
            update(TakedownRow)
            .where(TakedownRow.id == row["id"])
            .values(
                status=status.value,
                removed_at=removed_at,
                last_checked_at=result.checked_at,
                last_outcome=result.outcome.value,
            )
        )
        if status is before:
            return 0
        details: dict[str, Any] = {
            "takedown_id": row["id"],
            "reported_to": row["reported_to"],
            "from": before.value,
            "to": status.value,
            "outcome": result.outcome.value,
            "detail": result.detail,
        }
        if removed_at is not None:
            hours = (removed_at - row["reported_at"]).total_seconds() / 3600
            details["hours_to_removal"] = round(hours, 2)
        await self._audit(
            conn, actor, "takedown.status", f"hit:{row['hit_id']}", details, at=result.checked_at
        )
        return 1

    async def takedown_checks(self, sighting_id: int) -> list[TakedownCheck]:
        async with self._tx(write=False) as conn:
            return await checks_of(conn, sighting_id)


def next_state(
    status: RemovalStatus, removed_at: datetime | None, result: RecheckResult
) -> tuple[RemovalStatus, datetime | None]:
    """A takedown's status and removal time after one check.

    Removal is dated by the first check that found the message gone; a message found up again
    (a channel back from an outage) is up, with no removal time. A channel gone private after
    the message was removed leaves it removed.
    """
    outcome = result.outcome
    if not outcome.conclusive:
        return status, removed_at
    if outcome.removed:
        return RemovalStatus.REMOVED, removed_at or result.checked_at
    if outcome is CheckOutcome.PRIVATE:
        if status is RemovalStatus.REMOVED:
            return status, removed_at
        return RemovalStatus.INACCESSIBLE, None
    return RemovalStatus.UP, None


def _takedowns_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            TakedownRow,
            SightingRow.chat_id,
            SightingRow.message_id,
            SightingRow.link,
            ChannelRow.title.label("channel_title"),
            ChannelRow.username.label("channel_username"),
        )
        .join(SightingRow, SightingRow.id == TakedownRow.sighting_id)
        .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id)
    )


def _takedown(row: RowMapping) -> Takedown:
    outcome = row["last_outcome"]
    return Takedown(
        id=row["id"],
        hit_id=row["hit_id"],
        sighting_id=row["sighting_id"],
        reported_to=row["reported_to"],
        reported_by=row["reported_by"],
        reported_at=row["reported_at"],
        reference=row["reference"],
        status=RemovalStatus(row["status"]),
        last_checked_at=row["last_checked_at"],
        last_outcome=CheckOutcome(outcome) if outcome else None,
        removed_at=row["removed_at"],
        chat_id=row["chat_id"],
        channel_title=row["channel_title"],
        channel_username=row["channel_username"],
        message_id=row["message_id"],
        link=row["link"],
    )


async def takedowns_of(
    conn: AsyncConnection, sighting_ids: Sequence[int], *, reported_to: str | None = None
) -> list[Takedown]:
    """The takedowns of these messages, oldest report first."""
    found: list[Takedown] = []
    for some in chunks(list(sighting_ids), IN_CHUNK):
        stmt = _takedowns_query().where(TakedownRow.sighting_id.in_(some))
        if reported_to is not None:
            stmt = stmt.where(TakedownRow.reported_to == reported_to)
        rows = await conn.execute(stmt.order_by(TakedownRow.reported_at, TakedownRow.id))
        found += [_takedown(row._mapping) for row in rows]
    return found


async def checks_of(conn: AsyncConnection, sighting_id: int) -> list[TakedownCheck]:
    """Every re-check of one message, oldest first."""
    rows = await conn.execute(
        select(TakedownCheckRow)
        .where(TakedownCheckRow.sighting_id == sighting_id)
        .order_by(TakedownCheckRow.checked_at, TakedownCheckRow.id)
    )
    return [
        TakedownCheck(
            id=r.id,
            sighting_id=r.sighting_id,
            checked_at=r.checked_at,
            outcome=CheckOutcome(r.outcome),
            checked_by=r.checked_by,
            detail=r.detail,
        )
        for r in rows
    ]
