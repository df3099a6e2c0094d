"""Aggregates for ``monitor stats`` and reports: hits per day, channel, bank, status and tier;
top channels; media seen in several channels; allow-list coverage; flood waits; takedowns.

Every aggregate is one SQL statement that groups in the database; only the groups come back.
The one exception is time to removal: a median needs every duration, so for removed messages
only their report and removal times are fetched, and the median and maximum are taken here
(exact to the microsecond on both databases). Results are the same on SQLite and PostgreSQL:
per-day buckets are UTC days on both, whatever the PostgreSQL session's time zone.

Periods: ``since`` is inclusive, ``until`` exclusive, both aware datetimes; they apply to
``hits.created_at`` for hits, ``sightings.seen_at`` for media, ``flood_waits.at`` for flood waits
and ``takedowns.reported_at`` for takedowns.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    case,
    distinct,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from monitor.domain import (
    ChannelState,
    Count,
    HitFilter,
    MediaKind,
    RemovalStats,
    RemovalStatus,
    ReviewStatus,
    Tier,
)
from monitor.errors import InputError
from monitor.store._base import StoreBase
from monitor.store.models import (
    BankRow,
    ChannelRow,
    EntryRow,
    FloodWaitRow,
    HitRow,
    MediaRow,
    SightingRow,
    TakedownRow,
    WatchedChannelRow,
    utcnow,
)
from monitor.store.sightings import hit_filter

# The label of hits (or takedowns) of sightings that are not in a Telegram chat (local files).
NO_CHANNEL = "(no channel)"
TOTAL = "total"

RemovalGroup = Literal["channel", "recipient"]
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelHits:
    """Hits in one channel in the period (``chat_id``: Bot-API form)."""

    chat_id: int
    title: str | None
    username: str | None
    label: str  # "Title (@username) [-100...]"
    hits: int
    confirmed: int
    last_hit_at: datetime


@dataclass(frozen=True, slots=True)
class SharedMedia:
    """One content (by SHA-256) seen in several channels in the period."""

    sha256: str
    kind: MediaKind  # the media kind of its first sighting (kinds rarely differ)
    channels: int  # distinct channels it was seen in
    sightings: int  # its sightings in channels
    hits: int  # its hits, ever, anywhere
    has_hits: bool
    first_seen_at: datetime  # its first and last sighting in a channel in the period
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelCoverage:
    """One enabled allow-list entry and how far the daemon got with it."""

    watched_id: int
    ref: str
    chat_id: int | None  # Bot-API form; None until resolved
    title: str | None
    username: str | None
    state: ChannelState
    cursor: int  # last message id processed in order; 0: none yet
    last_message_at: datetime | None
    last_reconciled_at: datetime | None
    reconcile_lag_seconds: float | None  # now - last_reconciled_at; None: never reconciled


@dataclass(frozen=True, slots=True)
class Coverage:
    """The allow-list (enabled entries): how many per state, and each entry."""

    by_state: tuple[Count, ...]  # key: a ChannelState value, in the enum's order; only present
    channels: tuple[ChannelCoverage, ...]  # in the order entries were added

    @property
    def watched(self) -> int:
        return sum(c.count for c in self.by_state)


@dataclass(frozen=True, slots=True)
class FloodWaitMethod:
    method: str
    count: int
    total_seconds: int
    longest_seconds: int


@dataclass(frozen=True, slots=True)
class FloodWaitStats:
    """Flood waits Telegram imposed in the period, in all and per method (most waited first)."""

    count: int
    total_seconds: int
    longest_seconds: int
    by_method: tuple[FloodWaitMethod, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything ``monitor stats`` shows, for one period."""

    generated_at: datetime
    since: datetime | None
    until: datetime | None
    total_hits: int
    by_status: tuple[Count, ...]  # every ReviewStatus, in the enum's order, zeros included
    by_tier: tuple[Count, ...]  # every Tier, strongest first, zeros included
    by_bank: tuple[Count, ...]  # banks with hits, most first
    by_day: tuple[Count, ...]  # key YYYY-MM-DD (UTC), days with hits, oldest first
    by_channel: tuple[Count, ...]  # key: channel label (or NO_CHANNEL), most first
    top_channels: tuple[ChannelHits, ...]
    shared_media: tuple[SharedMedia, ...]
    coverage: Coverage
    flood_waits: FloodWaitStats
    removal_total: RemovalStats  # key TOTAL
    removal_by_channel: tuple[RemovalStats, ...]
    removal_by_recipient: tuple[RemovalStats, ...]


HitDimension = Literal["day", "channel", "bank", "status", "tier"]


@dataclass(frozen=True, slots=True)
class RemovalSummary:
    by_channel: tuple[RemovalStats, ...]
    by_recipient: tuple[RemovalStats, ...]
    total: RemovalStats


def channel_label(chat_id: int | None, title: str | None, username: str | None) -> str:
    """``Title (@username) [-100...]``, with what is known; NO_CHANNEL without a chat."""
    if chat_id is None:
        return NO_CHANNEL
    if title and username:
        return f"{title} (@{username}) [{chat_id}]"
    if title or username:
        return f"{title or '@' + str(username)} [{chat_id}]"
    return str(chat_id)


def utc_day(dialect: str, column: Any) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a timestamp column's UTC day, as text, on either database.

    SQLite keeps naive UTC text ("2024-06-01 23:59:59.999999"): its date() is the UTC day.
    PostgreSQL keeps timestamptz: ``timezone('UTC', t)`` is the UTC wall time whatever the
    session's TimeZone. Literals, not parameters, so GROUP BY repeats the same expression.
    """
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.to_char(utc, literal_column("'YYYY-MM-DD'"))
    return func.date(column)


# --- the mixin ----------------------------------------------------------------------------


class StatsMixin(StoreBase):
    # --- hits ---------------------------------------------------------------------------------
    # ``where`` selects the hits as for ``list_hits``; ``since``/``until``, when given, replace
    # its period (a shorthand for the common case).

    async def hits_by(
        self,
        dimension: HitDimension,
        where: HitFilter | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Count]:
        """Hits counted by one dimension:

        - ``day``: per UTC day (key ``YYYY-MM-DD``), days with hits only, oldest first;
        - ``channel``: key ``channel_label`` (NO_CHANNEL for files), most first;
        - ``bank``: banks with hits, most first;
        - ``status``: all four review statuses in ``ReviewStatus`` order, zeros included;
        - ``tier``: all three tiers, strongest first, zeros included.
        """
        counters = {
            "day": self._by_day,
            "channel": self._by_channel,
            "bank": self._by_bank,
            "status": self._by_status,
            "tier": self._by_tier,
        }
        if dimension not in counters:
            raise InputError(f"cannot count hits by {dimension!r}; use {', '.join(counters)}")
        async with self._tx(write=False) as conn:
            return await counters[dimension](conn, _where(where, since, until))

    async def top_channels(
        self,
        where: HitFilter | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
    ) -> list[ChannelHits]:
        """The ``limit`` channels with the most hits, with confirmed hits and the last hit."""
        async with self._tx(write=False) as conn:
            return await self._top_channels(conn, _where(where, since, until), limit)

    async def media_in_several_channels(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        min_channels: int = 2,
    ) -> list[SharedMedia]:
        """Media seen (``seen_at`` in the period) in at least ``min_channels`` distinct channels,
        most channels first; ``limit`` of them."""
        async with self._tx(write=False) as conn:
            return await self._shared_media(conn, since, until, limit, min_channels)

    # --- monitoring ---------------------------------------------------------------------------

    async def coverage(self, *, now: datetime | None = None) -> Coverage:
        """The enabled allow-list entries per state, and each with its cursor, last message,
        last reconciliation and the lag since (at ``now``, default the current time)."""
        async with self._tx(write=False) as conn:
            return await self._coverage(conn, now or utcnow())

    async def flood_wait_stats(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> FloodWaitStats:
        """Flood waits whose ``at`` is in the period: in all and per method."""
        async with self._tx(write=False) as conn:
            return await self._flood_waits(conn, since, until)

    # --- takedowns ----------------------------------------------------------------------------

    async def removal_stats(
        self,
        *,
        group_by: RemovalGroup,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: int | None = None,
        bank: str | None = None,
    ) -> list[RemovalStats]:
        """Takedown outcomes per channel (key: ``channel_label``) or per recipient, most
        reported first.

        Per channel, a message counts once however many recipients it was reported to: removed
        if any of its takedowns is, else inaccessible, up, unchecked (in that order), its time
        to removal from its first report to its earliest removal. Per recipient, each takedown
        counts on its own. The period applies to ``reported_at``; ``channel`` is a Bot-API chat
        id; ``bank`` keeps takedowns whose hit is on an entry of that bank.
        """
        if group_by not in ("channel", "recipient"):
            raise InputError(f"cannot group removals by {group_by!r}; use channel or recipient")
        async with self._tx(write=False) as conn:
            if group_by == "channel":
                return await self._removal_by_channel(conn, since, until, channel, bank)
            return await self._removal_by_recipient(conn, since, until, channel, bank)

    async def removal_total(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: int | None = None,
        bank: str | None = None,
    ) -> RemovalStats:
        """Takedown outcomes over every reported message (key ``total``), each counted once;
        filters as for ``removal_stats``."""
        async with self._tx(write=False) as conn:
            return await self._removal_total(conn, since, until, channel, bank)

    async def removal_for_hits(self, where: HitFilter) -> RemovalSummary:
        """Takedown outcomes of the messages that have a hit ``where`` covers (what a report
        shows): per channel, per recipient and in total, whenever they were reported."""
        async with self._tx(write=False) as conn:
            return RemovalSummary(
                by_channel=tuple(
                    await self._removal_by_channel(conn, None, None, None, None, where)
                ),
                by_recipient=tuple(
                    await self._removal_by_recipient(conn, None, None, None, None, where)
                ),
                total=await self._removal_total(conn, None, None, None, None, where),
            )

    # --- everything at once -------------------------------------------------------------------

    async def stats(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        top: int = 10,
        now: datetime | None = None,
    ) -> Stats:
        """Every aggregate above for one period, read in one transaction."""
        if top < 1:
            raise InputError("top must be at least 1")
        now = now or utcnow()
        where = HitFilter(since=since, until=until)
        async with self._tx(write=False) as conn:
            by_status = await self._by_status(conn, where)
            return Stats(
                generated_at=now,
                since=since,
                until=until,
                total_hits=sum(c.count for c in by_status),
                by_status=tuple(by_status),
                by_tier=tuple(await self._by_tier(conn, where)),
                by_bank=tuple(await self._by_bank(conn, where)),
                by_day=tuple(await self._by_day(conn, where)),
                by_channel=tuple(await self._by_channel(conn, where)),
                top_channels=tuple(await self._top_channels(conn, where, top)),
                shared_media=tuple(await self._shared_media(conn, since, until, top, 2)),
                coverage=await self._coverage(conn, now),
                flood_waits=await self._flood_waits(conn, since, until),
                removal_total=await self._removal_total(conn, since, until, None, None),
                removal_by_channel=tuple(
                    await self._removal_by_channel(conn, since, until, None, None)
                ),
                removal_by_recipient=tuple(
                    await self._removal_by_recipient(conn, since, until, None, None)
                ),
            )

    # --- the statements -----------------------------------------------------------------------

    async def _count_hits_by(
        self, conn: AsyncConnection, key: Any, where: HitFilter
    ) -> list[tuple[Any, int]]:
        n = func.count(HitRow.id).label("n")
        key = key.label("k")
        stmt = hit_filter(select(key, n).select_from(HITS_JOINED), where).group_by(key)
        return [(row.k, int(row.n)) for row in await conn.execute(stmt)]

    async def _by_day(self, conn: AsyncConnection, where: HitFilter) -> list[Count]:
        rows = await self._count_hits_by(conn, utc_day(self.dialect, HitRow.created_at), where)
        return [Count(str(day), n) for day, n in sorted(rows)]

    async def _by_bank(self, conn: AsyncConnection, where: HitFilter) -> list[Count]:
        rows = await self._count_hits_by(conn, BankRow.name, where)
        return sorted((Count(str(name), n) for name, n in rows), key=lambda c: (-c.count, c.key))

    async def _by_status(self, conn: AsyncConnection, where: HitFilter) -> list[Count]:
        counts = dict(await self._count_hits_by(conn, HitRow.review_status, where))
        return [Count(s.value, counts.get(s.value, 0)) for s in ReviewStatus]

    async def _by_tier(self, conn: AsyncConnection, where: HitFilter) -> list[Count]:
        counts = dict(await self._count_hits_by(conn, HitRow.tier, where))
        return [Count(t.value, counts.get(t.value, 0)) for t in sorted(Tier, key=lambda t: t.rank)]

    async def _by_channel(self, conn: AsyncConnection, where: HitFilter) -> list[Count]:
        n = func.count(HitRow.id).label("n")
        stmt = select(ChannelRow.telegram_id, ChannelRow.title, ChannelRow.username, n)
        stmt = hit_filter(stmt.select_from(HITS_JOINED), where).group_by(
            ChannelRow.id, ChannelRow.telegram_id, ChannelRow.title, ChannelRow.username
        )
        counts = [
            Count(channel_label(row.telegram_id, row.title, row.username), int(row.n))
            for row in await conn.execute(stmt)
        ]
        return sorted(counts, key=lambda c: (-c.count, c.key))

    async def _top_channels(
        self, conn: AsyncConnection, where: HitFilter, limit: int
    ) -> list[ChannelHits]:
        n = func.count(HitRow.id).label("n")
        confirmed = func.sum(
            case((HitRow.review_status == ReviewStatus.CONFIRMED.value, 1), else_=0)
        ).label("confirmed")
        last = func.max(HitRow.created_at).label("last_hit_at")
        stmt = select(
            ChannelRow.telegram_id, ChannelRow.title, ChannelRow.username, n, confirmed, last
        )
        stmt = (
            hit_filter(stmt.select_from(HITS_JOINED), where)
            .where(SightingRow.channel_id.is_not(None))
            .group_by(ChannelRow.id, ChannelRow.telegram_id, ChannelRow.title, ChannelRow.username)
            .order_by(n.desc(), last.desc(), ChannelRow.telegram_id)
            .limit(limit)
        )
        return [
            ChannelHits(
                chat_id=int(row.telegram_id),
                title=row.title,
                username=row.username,
                label=channel_label(row.telegram_id, row.title, row.username),
                hits=int(row.n),
                confirmed=int(row.confirmed or 0),
                last_hit_at=row.last_hit_at,
            )
            for row in await conn.execute(stmt)
        ]

    async def _shared_media(
        self,
        conn: AsyncConnection,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        min_channels: int,
    ) -> list[SharedMedia]:
        channels = func.count(distinct(SightingRow.channel_id)).label("channels")
        sightings = func.count(SightingRow.id).label("sightings")
        hs = aliased(SightingRow)
        hits = (
            select(func.count(HitRow.id))
            .select_from(HitRow)
            .join(hs, hs.id == HitRow.sighting_id)
            .where(hs.media_id == MediaRow.id)
            .scalar_subquery()
            .label("hits")
        )
        stmt = (
            select(
                MediaRow.sha256,
                func.min(SightingRow.media_kind).label("kind"),
                channels,
                sightings,
                hits,
                func.min(SightingRow.seen_at).label("first_seen_at"),
                func.max(SightingRow.seen_at).label("last_seen_at"),
            )
            .select_from(SightingRow)
            .join(MediaRow, MediaRow.id == SightingRow.media_id)
            .where(SightingRow.channel_id.is_not(None))
        )
        stmt = (
            _period(stmt, SightingRow.seen_at, since, until)
            .group_by(MediaRow.id, MediaRow.sha256)
            .having(func.count(distinct(SightingRow.channel_id)) >= min_channels)
            .order_by(channels.desc(), sightings.desc(), MediaRow.sha256)
            .limit(limit)
        )
        return [
            SharedMedia(
                sha256=row.sha256,
                kind=MediaKind(row.kind),
                channels=int(row.channels),
                sightings=int(row.sightings),
                hits=int(row.hits),
                has_hits=int(row.hits) > 0,
                first_seen_at=row.first_seen_at,
                last_seen_at=row.last_seen_at,
            )
            for row in await conn.execute(stmt)
        ]

    async def _coverage(self, conn: AsyncConnection, now: datetime) -> Coverage:
        n = func.count(WatchedChannelRow.id).label("n")
        counted = await conn.execute(
            select(WatchedChannelRow.state, n)
            .where(WatchedChannelRow.enabled.is_(True))
            .group_by(WatchedChannelRow.state)
        )
        per_state = {row.state: int(row.n) for row in counted}
        order = [s.value for s in ChannelState]
        by_state = tuple(
            Count(state, per_state[state])
            for state in sorted(per_state, key=lambda s: (order.index(s) if s in order else 99, s))
        )
        rows = await conn.execute(
            select(
                WatchedChannelRow.id,
                WatchedChannelRow.ref,
                WatchedChannelRow.telegram_id,
                func.coalesce(WatchedChannelRow.title, ChannelRow.title).label("title"),
                func.coalesce(WatchedChannelRow.username, ChannelRow.username).label("username"),
                WatchedChannelRow.state,
                ChannelRow.cursor,
                ChannelRow.last_message_at,
                ChannelRow.last_reconciled_at,
            )
            .outerjoin(ChannelRow, ChannelRow.telegram_id == WatchedChannelRow.telegram_id)
            .where(WatchedChannelRow.enabled.is_(True))
            .order_by(WatchedChannelRow.id)
        )
        channels = tuple(
            ChannelCoverage(
                watched_id=int(row.id),
                ref=row.ref,
                chat_id=row.telegram_id,
                title=row.title,
                username=row.username,
                state=ChannelState(row.state),
                cursor=int(row.cursor or 0),
                last_message_at=row.last_message_at,
                last_reconciled_at=row.last_reconciled_at,
                reconcile_lag_seconds=(
                    None
                    if row.last_reconciled_at is None
                    else (now - row.last_reconciled_at).total_seconds()
                ),
            )
            for row in rows
        )
        return Coverage(by_state=by_state, channels=channels)

    async def _flood_waits(
        self, conn: AsyncConnection, since: datetime | None, until: datetime | None
    ) -> FloodWaitStats:
        total = func.sum(FloodWaitRow.seconds).label("total")
        stmt = select(
            FloodWaitRow.method,
            func.count(FloodWaitRow.id).label("n"),
            total,
            func.max(FloodWaitRow.seconds).label("longest"),
        )
        stmt = (
            _period(stmt, FloodWaitRow.at, since, until)
            .group_by(FloodWaitRow.method)
            .order_by(total.desc(), FloodWaitRow.method)
        )
        methods = tuple(
            FloodWaitMethod(
                method=row.method,
                count=int(row.n),
                total_seconds=int(row.total),
                longest_seconds=int(row.longest),
            )
            for row in await conn.execute(stmt)
        )
        return FloodWaitStats(
            count=sum(m.count for m in methods),
            total_seconds=sum(m.total_seconds for m in methods),
            longest_seconds=max((m.longest_seconds for m in methods), default=0),
            by_method=methods,
        )

    async def _removal_by_channel(
        self,
        conn: AsyncConnection,
        since: datetime | None,
        until: datetime | None,
        channel: int | None,
        bank: str | None,
        hits: HitFilter | None = None,
    ) -> list[RemovalStats]:
        msg = _messages(since, until, channel, bank, hits)
        source = SightingRow.__table__.join(msg, msg.c.sighting_id == SightingRow.id).outerjoin(
            ChannelRow, ChannelRow.id == SightingRow.channel_id
        )
        group = (ChannelRow.id, ChannelRow.telegram_id, ChannelRow.title, ChannelRow.username)
        counts = (
            select(*group[1:], *_outcome_counts(msg.c.rank)).select_from(source).group_by(*group)
        )
        durations = (
            select(ChannelRow.telegram_id, msg.c.reported_at, msg.c.removed_at)
            .select_from(source)
            .where(msg.c.rank == REMOVAL_RANK[RemovalStatus.REMOVED], msg.c.removed_at.is_not(None))
        )
        hours = await _hours_by(conn, durations, "telegram_id")
        result = [
            _removal(
                channel_label(row.telegram_id, row.title, row.username),
                row,
                hours.get(row.telegram_id, []),
            )
            for row in await conn.execute(counts)
        ]
        return sorted(result, key=lambda r: (-r.reported, r.key))

    async def _removal_by_recipient(
        self,
        conn: AsyncConnection,
        since: datetime | None,
        until: datetime | None,
        channel: int | None,
        bank: str | None,
        hits: HitFilter | None = None,
    ) -> list[RemovalStats]:
        rank = removal_rank(TakedownRow.status)
        counts = _takedown_filter(
            select(TakedownRow.reported_to, *_outcome_counts(rank)),
            since,
            until,
            channel,
            bank,
            hits,
        ).group_by(TakedownRow.reported_to)
        durations = _takedown_filter(
            select(TakedownRow.reported_to, TakedownRow.reported_at, TakedownRow.removed_at),
            since,
            until,
            channel,
            bank,
            hits,
        ).where(
            TakedownRow.status == RemovalStatus.REMOVED.value, TakedownRow.removed_at.is_not(None)
        )
        hours = await _hours_by(conn, durations, "reported_to")
        result = [
            _removal(row.reported_to, row, hours.get(row.reported_to, []))
            for row in await conn.execute(counts)
        ]
        return sorted(result, key=lambda r: (-r.reported, r.key))

    async def _removal_total(
        self,
        conn: AsyncConnection,
        since: datetime | None,
        until: datetime | None,
        channel: int | None,
        bank: str | None,
        hits: HitFilter | None = None,
    ) -> RemovalStats:
        msg = _messages(since, until, channel, bank, hits)
        row = (await conn.execute(select(*_outcome_counts(msg.c.rank)).select_from(msg))).one()
        durations = select(msg.c.reported_at, msg.c.removed_at).where(
            msg.c.rank == REMOVAL_RANK[RemovalStatus.REMOVED], msg.c.removed_at.is_not(None)
        )
        hours = [_hours(r.reported_at, r.removed_at) for r in await conn.execute(durations)]
        return _removal(TOTAL, row, hours)


# --- helpers ------------------------------------------------------------------------------

# The most telling status of a message reported to several recipients wins.
REMOVAL_RANK = {
    RemovalStatus.UNCHECKED: 0,
    RemovalStatus.UP: 1,
    RemovalStatus.INACCESSIBLE: 2,
    RemovalStatus.REMOVED: 3,
}


def removal_rank(status: Any) -> ColumnElement[int]:
    return case(
        *((status == s.value, r) for s, r in REMOVAL_RANK.items() if r),
        else_=0,
    )


def _outcome_counts(rank: Any) -> list[ColumnElement[Any]]:
    def of(status: RemovalStatus) -> ColumnElement[Any]:
        return func.sum(case((rank == REMOVAL_RANK[status], 1), else_=0)).label(status.value)

    return [func.count().label("reported"), *(of(s) for s in RemovalStatus)]


def _removal(key: str, row: Any, hours: Sequence[float]) -> RemovalStats:
    return RemovalStats(
        key=key,
        reported=int(row.reported or 0),
        removed=int(row.removed or 0),
        inaccessible=int(row.inaccessible or 0),
        up=int(row.up or 0),
        unchecked=int(row.unchecked or 0),
        median_hours_to_removal=statistics.median(hours) if hours else None,
        max_hours_to_removal=max(hours) if hours else None,
    )


def _hours(reported_at: datetime, removed_at: datetime) -> float:
    return (removed_at - reported_at).total_seconds() / 3600


async def _hours_by(conn: AsyncConnection, durations: Any, key: str) -> dict[Any, list[float]]:
    """Hours from report to removal of each row of ``durations``, grouped by column ``key``."""
    hours: dict[Any, list[float]] = {}
    for row in await conn.execute(durations):
        hours.setdefault(getattr(row, key), []).append(_hours(row.reported_at, row.removed_at))
    return hours


def _takedown_filter(
    stmt: S,
    since: datetime | None,
    until: datetime | None,
    channel: int | None,
    bank: str | None,
    hits: HitFilter | None = None,
) -> S:
    """``stmt`` over takedowns, with the channel and bank filters and the period applied; with
    ``hits``, only the takedowns of messages that have a hit ``hits`` covers."""
    source: FromClause = TakedownRow.__table__
    if channel is not None:
        source = source.join(SightingRow, SightingRow.id == TakedownRow.sighting_id).join(
            ChannelRow, ChannelRow.id == SightingRow.channel_id
        )
    if bank is not None:
        source = (
            source.join(HitRow, HitRow.id == TakedownRow.hit_id)
            .join(EntryRow, EntryRow.id == HitRow.entry_id)
            .join(BankRow, BankRow.id == EntryRow.bank_id)
        )
    stmt = _period(stmt.select_from(source), TakedownRow.reported_at, since, until)
    if channel is not None:
        stmt = stmt.where(ChannelRow.telegram_id == channel)
    if bank is not None:
        stmt = stmt.where(BankRow.name == bank)
    if hits is not None:
        covered = hit_filter(select(HitRow.sighting_id).select_from(HITS_JOINED), hits)
        stmt = stmt.where(TakedownRow.sighting_id.in_(covered))
    return stmt


def _messages(
    since: datetime | None,
    until: datetime | None,
    channel: int | None,
    bank: str | None,
    hits: HitFilter | None = None,
) -> Any:
    """One row per reported message (sighting): first report, its best status, first removal."""
    rank = removal_rank(TakedownRow.status)
    removed_at = case(
        (TakedownRow.status == RemovalStatus.REMOVED.value, TakedownRow.removed_at),
        else_=None,
    )
    stmt = _takedown_filter(
        select(
            TakedownRow.sighting_id.label("sighting_id"),
            func.min(TakedownRow.reported_at).label("reported_at"),
            func.max(rank).label("rank"),
            func.min(removed_at).label("removed_at"),
        ),
        since,
        until,
        channel,
        bank,
        hits,
    )
    return stmt.group_by(TakedownRow.sighting_id).subquery("messages")


# What ``hit_filter`` needs joined: hits, their entries and banks, sightings and channels.
HITS_JOINED: FromClause = (
    HitRow.__table__.join(EntryRow, EntryRow.id == HitRow.entry_id)
    .join(BankRow, BankRow.id == EntryRow.bank_id)
    .join(SightingRow, SightingRow.id == HitRow.sighting_id)
    .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id)
)


def _where(where: HitFilter | None, since: datetime | None, until: datetime | None) -> HitFilter:
    where = where or HitFilter()
    if since is not None:
        where = replace(where, since=since)
    if until is not None:
        where = replace(where, until=until)
    return where


def _period(stmt: S, column: Any, since: datetime | None, until: datetime | None) -> S:
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column < until)
    return stmt
