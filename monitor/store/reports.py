"""What exports read: the rows of a report, streamed in channel order, and its summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import RowMapping

from monitor.domain import (
    HashType,
    HitFilter,
    MatchKind,
    MediaKind,
    ReportRow,
    ReportSummary,
    ReviewStatus,
    SourceKind,
    Tier,
    Variant,
)
from monitor.store.models import (
    BankRow,
    ChannelRow,
    EntryRow,
    HitRow,
    MediaRow,
    SightingRow,
    TakedownRow,
    utcnow,
)
from monitor.store.sightings import hit_filter
from monitor.store.stats import HITS_JOINED, REMOVAL_RANK, StatsMixin, removal_rank

# Rows fetched from the database per round trip while streaming.
STREAM_BATCH = 1_000

# A message's removal status over its takedowns (one per recipient): the most advanced one.
_BY_RANK = {rank: status for status, rank in REMOVAL_RANK.items()}


class ReportsMixin(StatsMixin):
    """Exports; the summary reuses the aggregates of ``StatsMixin``."""

    async def iter_report_rows(self, where: HitFilter) -> AsyncIterator[ReportRow]:
        """The hits ``where`` covers, one ``ReportRow`` each, streamed (never all in memory):
        by channel (title, then chat id; hits not seen in a chat last), then post time (or
        capture time), then hit id."""
        posted = func.coalesce(SightingRow.posted_at, SightingRow.seen_at)
        stmt = hit_filter(_report_query(), where).order_by(
            SightingRow.chat_id.is_(None),
            func.lower(func.coalesce(ChannelRow.title, "")),
            SightingRow.chat_id,
            posted,
            HitRow.id,
        )
        async with self._tx(write=False) as conn:
            result = await conn.stream(stmt.execution_options(yield_per=STREAM_BATCH))
            async for row in result:
                yield _report_row(row._mapping)

    async def report_summary(
        self, where: HitFilter, *, timezone: str, now: datetime | None = None
    ) -> ReportSummary:
        """Totals and groupings of the hits ``where`` covers, and the removal statistics of
        their messages' takedowns per channel and per recipient."""
        async with self._tx(write=False) as conn:
            by_status = await self._by_status(conn, where)
            by_channel = await self._by_channel(conn, where)
            channels = (
                await conn.execute(
                    hit_filter(
                        select(func.count(func.distinct(SightingRow.chat_id))).select_from(
                            HITS_JOINED
                        ),
                        where,
                    )
                )
            ).scalar_one()
            by_bank = await self._by_bank(conn, where)
            by_day = await self._by_day(conn, where)
        removal = await self.removal_for_hits(where)
        return ReportSummary(
            generated_at=now or utcnow(),
            since=where.since,
            until=where.until,
            timezone=timezone,
            filters=where.describe(),
            total_hits=sum(c.count for c in by_status),
            channels=int(channels or 0),
            by_status=tuple(by_status),
            by_bank=tuple(by_bank),
            by_day=tuple(by_day),
            by_channel=tuple(by_channel),
            removal_by_channel=removal.by_channel,
            removal_by_recipient=removal.by_recipient,
            removal_total=removal.total,
        )


def _report_query() -> Select[*tuple[Any, ...]]:
    reported = (
        select(
            TakedownRow.sighting_id,
            func.min(TakedownRow.reported_at).label("reported_at"),
            func.min(TakedownRow.removed_at).label("removed_at"),
            func.max(removal_rank(TakedownRow.status)).label("removal_rank"),
            func.aggregate_strings(TakedownRow.reported_to, "; ").label("reported_to"),
        )
        .group_by(TakedownRow.sighting_id)
        .subquery("reported")
    )
    return (
        select(
            HitRow.id,
            HitRow.created_at,
            HitRow.review_status,
            HitRow.tier,
            HitRow.hash_type,
            HitRow.distance,
            HitRow.variant,
            HitRow.match_kind,
            HitRow.span_start,
            HitRow.span_end,
            HitRow.coverage,
            BankRow.name.label("bank"),
            EntryRow.id.label("entry_id"),
            EntryRow.value.label("entry_value"),
            EntryRow.case_id,
            EntryRow.label,
            SightingRow.media_kind,
            MediaRow.sha256,
            MediaRow.md5,
            MediaRow.pdq,
            MediaRow.first_seen_at,
            SightingRow.source_kind,
            SightingRow.chat_id,
            ChannelRow.title.label("channel_title"),
            ChannelRow.username.label("channel_username"),
            SightingRow.message_id,
            SightingRow.link,
            SightingRow.posted_at,
            SightingRow.seen_at,
            SightingRow.path,
            reported.c.removal_rank,
            reported.c.reported_to,
            reported.c.reported_at,
            reported.c.removed_at,
        )
        .select_from(HitRow)
        .join(EntryRow, EntryRow.id == HitRow.entry_id)
        .join(BankRow, BankRow.id == EntryRow.bank_id)
        .join(SightingRow, SightingRow.id == HitRow.sighting_id)
        .join(MediaRow, MediaRow.id == SightingRow.media_id)
        .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id)
        .outerjoin(reported, reported.c.sighting_id == SightingRow.id)
    )


def _report_row(row: RowMapping) -> ReportRow:
    rank = row["removal_rank"]
    return ReportRow(
        hit_id=row["id"],
        recorded_at=row["created_at"],
        review_status=ReviewStatus(row["review_status"]),
        tier=Tier(row["tier"]),
        hash_type=HashType(row["hash_type"]),
        distance=row["distance"],
        variant=Variant(row["variant"]),
        bank=row["bank"],
        entry_id=row["entry_id"],
        entry_value=row["entry_value"],
        case_id=row["case_id"],
        label=row["label"],
        media_kind=MediaKind(row["media_kind"]),
        sha256=row["sha256"],
        md5=row["md5"],
        pdq=row["pdq"],
        first_seen_at=row["first_seen_at"],
        source_kind=SourceKind(row["source_kind"]),
        chat_id=row["chat_id"],
        channel_title=row["channel_title"],
        channel_username=row["channel_username"],
        message_id=row["message_id"],
        link=row["link"],
        posted_at=row["posted_at"],
        seen_at=row["seen_at"],
        path=row["path"],
        removal_status=None if rank is None else _BY_RANK[int(rank)],
        reported_to=row["reported_to"],
        reported_at=row["reported_at"],
        removed_at=row["removed_at"],
        match_kind=MatchKind(row["match_kind"]),
        matched_from_s=row["span_start"],
        matched_to_s=row["span_end"],
        coverage=row["coverage"],
    )
