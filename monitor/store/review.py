"""Analysts' side of hits: review decisions (audited), suppressed media, a hit's full evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.domain import (
    AuditEntry,
    EntryStatus,
    HitEvidence,
    MediaFacts,
    OtherSighting,
    ReviewResult,
    ReviewStatus,
)
from monitor.errors import InputError, NotFound
from monitor.store._base import IN_CHUNK, StoreBase, chunks
from monitor.store.models import (
    AuditRow,
    BankRow,
    ChannelRow,
    EntryEventRow,
    EntryRow,
    HitRow,
    MediaRow,
    SightingRow,
    SuppressionRow,
    utcnow,
)
from monitor.store.results import EntryEventKind
from monitor.store.sightings import audit_entry, hit_row, hits_by_id, hits_query, source_of
from monitor.store.takedowns import checks_of, takedowns_of


def hit_subject(hit_id: int) -> str:
    """The audit log subject of everything done to one hit."""
    return f"hit:{hit_id}"


class ReviewMixin(StoreBase):
    async def review_hits(
        self,
        hit_ids: Sequence[int],
        status: ReviewStatus,
        *,
        actor: str,
        note: str | None = None,
        withdraw_reason: str | None = None,
        suppress_reason: str | None = None,
        at: datetime | None = None,
    ) -> ReviewResult:
        """Set the review status of hits; one transaction, one audit row per hit.

        Every id must exist (``NotFound`` names the missing ones, and nothing changes). A hit
        already in ``status`` gets the new reviewer, time and note (audited as well).

        Only a rejection (``FALSE_POSITIVE``) may also act on the list:
        ``withdraw_reason`` withdraws each hit's list entry (it matches nothing any more, for
        any media; the entry's history and the audit log keep the reason);
        ``suppress_reason`` keeps the entry but stops this media producing hits on it again,
        and rejects the other ``new`` hits of that media on that entry with the same note.
        """
        if not actor.strip():
            raise InputError("a review needs the reviewer's name (--by)")
        if status is ReviewStatus.NEW:
            raise InputError("a review sets confirmed, false_positive or needs_info")
        if (withdraw_reason or suppress_reason) and status is not ReviewStatus.FALSE_POSITIVE:
            raise InputError("withdrawing an entry or suppressing media goes with a rejection")
        ids = list(dict.fromkeys(hit_ids))
        if not ids:
            raise InputError("no hit ids given")
        now = at or utcnow()
        async with self._tx(write=True) as conn:
            rows = await hits_by_id(conn, ids, unchanged="nothing was changed")
            changed: list[int] = []
            updated: list[int] = []
            for hit_id in ids:
                before = rows[hit_id]["review_status"]
                await self._set_review(conn, hit_id, before, status, actor, note, now)
                (updated if before == status.value else changed).append(hit_id)

            withdrawn: list[int] = []
            if withdraw_reason:
                entry_ids = sorted({rows[i]["entry_id"] for i in ids})
                withdrawn = await self._withdraw(conn, entry_ids, withdraw_reason, actor, now)
            suppressed = 0
            also: list[int] = []
            if suppress_reason:
                pairs = sorted({(rows[i]["media_id"], rows[i]["entry_id"], i) for i in ids})
                seen: set[tuple[int, int]] = set()
                for media_id, entry_id, hit_id in pairs:
                    if (media_id, entry_id) in seen:
                        continue
                    seen.add((media_id, entry_id))
                    if await self._suppress(
                        conn, media_id, entry_id, hit_id, suppress_reason, actor, now
                    ):
                        suppressed += 1
                    also += await self._reject_same(
                        conn, media_id, entry_id, set(ids), actor, note, hit_id, now
                    )
        return ReviewResult(
            status=status,
            changed=tuple(changed),
            updated=tuple(updated),
            withdrawn_entries=tuple(withdrawn),
            suppressed=suppressed,
            also_rejected=tuple(also),
        )

    async def _set_review(
        self,
        conn: AsyncConnection,
        hit_id: int,
        before: str,
        status: ReviewStatus,
        actor: str,
        note: str | None,
        now: datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            update(HitRow)
            .where(HitRow.id == hit_id)
            .values(
                review_status=status.value, reviewed_by=actor, reviewed_at=now, review_note=note
            )
        )
        await self._audit(
            conn,
            actor,
            "hit.review",
            hit_subject(hit_id),
            {"from": before, "to": status.value, "note": note, **(details or {})},
            at=now,
        )

    async def _withdraw(
        self,
        conn: AsyncConnection,
        entry_ids: Sequence[int],
        reason: str,
        actor: str,
        now: datetime,
    ) -> list[int]:
        """Withdraw the active ones of ``entry_ids``; their ids."""
        active = (
            await conn.execute(
                select(EntryRow.id, BankRow.name, EntryRow.value)
                .join(BankRow, BankRow.id == EntryRow.bank_id)
                .where(EntryRow.id.in_(entry_ids), EntryRow.status == EntryStatus.ACTIVE.value)
                .order_by(EntryRow.id)
            )
        ).all()
        for row in active:
            await conn.execute(
                update(EntryRow)
                .where(EntryRow.id == row.id)
                .values(status=EntryStatus.WITHDRAWN.value, updated_at=now)
            )
            await conn.execute(
                insert(EntryEventRow).values(
                    entry_id=row.id,
                    event=EntryEventKind.WITHDRAWN.value,
                    reason=reason,
                    source=None,
                    actor=actor,
                    at=now,
                )
            )
            await self._audit(
                conn,
                actor,
                "entries.withdraw",
                row.name,
                {"reason": reason, "entry_id": row.id, "value": row.value, "via": "review"},
                at=now,
            )
        return [row.id for row in active]

    async def _suppress(
        self,
        conn: AsyncConnection,
        media_id: int,
        entry_id: int,
        hit_id: int,
        reason: str,
        actor: str,
        now: datetime,
    ) -> bool:
        created = (
            await conn.execute(
                self._insert_or_ignore(SuppressionRow, "media_id", "entry_id")
                .values(
                    media_id=media_id,
                    entry_id=entry_id,
                    hit_id=hit_id,
                    reason=reason,
                    created_by=actor,
                    created_at=now,
                )
                .returning(SuppressionRow.id)
            )
        ).scalar_one_or_none()
        if created is not None:
            await self._audit(
                conn,
                actor,
                "media.suppress",
                hit_subject(hit_id),
                {"media_id": media_id, "entry_id": entry_id, "reason": reason},
                at=now,
            )
        return created is not None

    async def _reject_same(
        self,
        conn: AsyncConnection,
        media_id: int,
        entry_id: int,
        exclude: set[int],
        actor: str,
        note: str | None,
        via: int,
        now: datetime,
    ) -> list[int]:
        """Reject the other ``new`` hits of ``media_id`` on ``entry_id`` (the same decision)."""
        others = (
            await conn.execute(
                select(HitRow.id)
                .join(SightingRow, SightingRow.id == HitRow.sighting_id)
                .where(
                    SightingRow.media_id == media_id,
                    HitRow.entry_id == entry_id,
                    HitRow.review_status == ReviewStatus.NEW.value,
                )
                .order_by(HitRow.id)
            )
        ).scalars()
        done = []
        for other in others:
            if other in exclude:
                continue
            await self._set_review(
                conn,
                other,
                ReviewStatus.NEW.value,
                ReviewStatus.FALSE_POSITIVE,
                actor,
                note,
                now,
                {"same_media_as": via},
            )
            done.append(other)
        return done

    async def hit_history(self, hit_id: int) -> list[AuditEntry]:
        """Everything the audit log holds about one hit, oldest first."""
        async with self._tx(write=False) as conn:
            return await _history(conn, hit_id)

    async def hit_evidence(self, hit_id: int, *, other_limit: int = 200) -> HitEvidence:
        """One hit with its media, entry, every other sighting of the same media (up to
        ``other_limit``, newest first), its review history, takedowns and re-checks."""
        async with self._tx(write=False) as conn:
            row = (
                await conn.execute(
                    hits_query()
                    .add_columns(
                        HitRow.threshold,
                        SightingRow.seen_at,
                        SightingRow.media_id,
                        EntryRow.status.label("entry_status"),
                        EntryRow.added_at.label("entry_added_at"),
                    )
                    .where(HitRow.id == hit_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no hit with id {hit_id}")
            m = row._mapping
            hit = hit_row(m)
            media = (await conn.execute(select(MediaRow).where(MediaRow.id == m["media_id"]))).one()
            others = await _other_sightings(conn, m["media_id"], hit.sighting_id, other_limit)
            suppressed = (
                await conn.execute(
                    select(SuppressionRow.id).where(
                        SuppressionRow.media_id == m["media_id"],
                        SuppressionRow.entry_id == hit.entry_id,
                    )
                )
            ).first() is not None
            return HitEvidence(
                hit=hit,
                threshold=m["threshold"],
                seen_at=m["seen_at"],
                media=MediaFacts(
                    id=media.id,
                    sha256=media.sha256,
                    md5=media.md5,
                    size_bytes=media.size_bytes,
                    first_seen_at=media.first_seen_at,
                    mime=media.mime,
                    width=media.width,
                    height=media.height,
                    pdq=media.pdq,
                    pdq_quality=media.pdq_quality,
                    phash=media.phash,
                    duration=media.duration,
                    frames=len(media.frames) if media.frames is not None else None,
                    codec=(media.video or {}).get("codec"),
                ),
                entry_status=EntryStatus(m["entry_status"]),
                entry_added_at=m["entry_added_at"],
                other_sightings=others,
                history=tuple(await _history(conn, hit_id)),
                takedowns=tuple(await takedowns_of(conn, [hit.sighting_id])),
                checks=tuple(await checks_of(conn, hit.sighting_id)),
                suppressed=suppressed,
            )


async def _history(conn: AsyncConnection, hit_id: int) -> list[AuditEntry]:
    rows = await conn.execute(
        select(AuditRow)
        .where(AuditRow.subject == hit_subject(hit_id))
        .order_by(AuditRow.at, AuditRow.id)
    )
    return [audit_entry(row._mapping) for row in rows]


async def _other_sightings(
    conn: AsyncConnection, media_id: int, sighting_id: int, limit: int
) -> tuple[OtherSighting, ...]:
    rows = (
        await conn.execute(
            select(
                *SightingRow.__table__.c,
                ChannelRow.title.label("chat_title"),
                ChannelRow.username.label("chat_username"),
            )
            .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id)
            .where(SightingRow.media_id == media_id, SightingRow.id != sighting_id)
            .order_by(SightingRow.seen_at.desc(), SightingRow.id.desc())
            .limit(limit)
        )
    ).all()
    hits: dict[int, list[int]] = {}
    ids = [r.id for r in rows]
    for some in chunks(ids, IN_CHUNK):
        for hit_id, sid in await conn.execute(
            select(HitRow.id, HitRow.sighting_id).where(HitRow.sighting_id.in_(some))
        ):
            hits.setdefault(sid, []).append(hit_id)
    return tuple(
        OtherSighting(
            sighting_id=r.id,
            source=source_of(r._mapping),
            seen_at=r.seen_at,
            hit_ids=tuple(sorted(hits.get(r.id, ()))),
        )
        for r in rows
    )
