"""Media, sightings (also of media not hashed), hits and their alerts, channels, the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.domain import (
    FrameHash,
    FrameMatch,
    HashFailure,
    HashType,
    Hit,
    HitFilter,
    Match,
    MatchKind,
    MediaKind,
    QueryHash,
    RecordResult,
    ReviewStatus,
    SightingSource,
    Signals,
    SourceKind,
    Tier,
    Variant,
    VideoSignals,
)
from monitor.errors import InputError, NotFound, StoreError
from monitor.store._base import IN_CHUNK, StoreBase, chunks, sample
from monitor.store.models import (
    ALERT_TARGETS,
    AlertDeliveryRow,
    AuditRow,
    BankRow,
    Base,
    ChannelRow,
    EntryRow,
    HitRow,
    MediaRow,
    SightingRow,
    SuppressionRow,
    TakedownRow,
    utcnow,
)
from monitor.store.results import AuditEntry


class SightingsMixin(StoreBase):
    # Channel rows written or read by this store: telegram id -> (row id, username, title).
    # Rows are never deleted, so a known id stays valid; entries are added after the commit.
    _known_channels: dict[int, tuple[int, str | None, str | None]]
    _sighting_gate: asyncio.Lock
    _lane: _SqliteLane

    async def record_sighting(
        self,
        source: SightingSource,
        signals: Signals,
        matches: Sequence[Match],
        *,
        seen_at: datetime | None = None,
        alert_targets: Sequence[str] = (),
        alert_min_tier: Tier = Tier.MATCH,
    ) -> RecordResult:
        """Record that ``signals`` were seen at ``source``, with its matches; one transaction.

        Idempotent on ``source.key``: recording the same sighting again creates nothing and
        reports no new hits, also when two processes do it at the same time. Several matches on
        the same entry keep the strongest (tier, then distance); a match on an entry this media
        is suppressed for (a reviewed false positive, see ``review_hits``) is dropped. ``hits``
        are the hits of this sighting for the given matches, ``new_hits`` those this call
        created.

        A sighting recorded before without media (``record_skipped``) gets the media attached
        and its skip reason cleared (``sighting_created`` is False). Each new hit at least as
        strong as ``alert_min_tier`` gets one pending alert delivery per ``alert_targets`` entry,
        in the same transaction: a hit is never recorded without its alerts, nor alerted twice.

        This is the daemon's hot path: its statements are built once per dialect and executed
        with parameters (no statement construction per call), a channel already known is not
        written again, and media inserted by this very transaction is not looked up for
        suppressions (it cannot have any yet).
        """
        now = seen_at or utcnow()
        targets = _alert_targets(alert_targets)
        best: dict[int, Match] = {}
        for match in matches:
            have = best.get(match.entry_id)
            if have is None or (match.tier.rank, match.distance) < (have.tier.rank, have.distance):
                best[match.entry_id] = match
        sql = _write_sql(self.dialect)
        media_values = _media_values(signals, now)
        sighting_values = _source(source)
        sighting_values.update(seen_at=now)

        async with self._sighting_writes():
            if self.dialect == "sqlite":
                done = await self._record_new_on_sqlite(
                    source, media_values, sighting_values, best, now, targets, alert_min_tier
                )
                if done is not None:
                    return done
            async with self._tx(write=True) as conn:
                media_id, new_media = await self._upsert_media(conn, media_values, signals)
                channel_id, channel = await self._upsert_channel(conn, source, now)
                sighting_values["media_id"] = media_id
                sighting_values["channel_id"] = channel_id
                sighting_id = (
                    await conn.execute(sql.sighting, sighting_values)
                ).scalar_one_or_none()
                created = sighting_id is not None
                if sighting_id is None:
                    # Seen before without media (skipped): attach it. Conditional, so that of
                    # two writers at once one attaches and the other sees the result.
                    await conn.execute(sql.attach, {"key": source.key, "new_media_id": media_id})
                    row = (await conn.execute(sql.sighting_by_key, {"key": source.key})).one()
                    if row.media_id != media_id:
                        raise StoreError(
                            f"sighting {source.key!r} was recorded with other content; a "
                            "sighting key must identify the content too (e.g. include the media "
                            "id or sha256)"
                        )
                    sighting_id = row.id

                if best and not new_media:
                    suppressed = await conn.execute(
                        sql.suppressed, {"media_id": media_id, "entry_ids": list(best)}
                    )
                    for entry_id in suppressed.scalars():
                        del best[entry_id]
                new_ids: set[int] = set()
                if best:
                    inserted = await conn.execute(sql.hits, _hit_rows(best, sighting_id, now))
                    new_ids = set(inserted.scalars())
                    found = await conn.execute(
                        sql.hits_found, {"sighting_id": sighting_id, "entry_ids": list(best)}
                    )
                    hits = tuple(hit_row(row._mapping) for row in found)
                else:
                    hits = ()
                new_hits = tuple(h for h in hits if h.id in new_ids)
                alerts = _alert_rows(new_hits, targets, alert_min_tier, now)
                if alerts:
                    await conn.execute(sql.alerts, alerts)
        self._remember_channel(source.chat_id, channel)
        return RecordResult(
            sighting_id=sighting_id,
            media_id=media_id,
            sighting_created=created,
            hits=hits,
            new_hits=new_hits,
        )

    async def _record_new_on_sqlite(
        self,
        source: SightingSource,
        media_values: dict[str, Any],
        sighting_values: dict[str, Any],
        best: dict[int, Match],
        now: datetime,
        targets: tuple[str, ...],
        alert_min_tier: Tier,
    ) -> RecordResult | None:
        """``record_sighting`` on SQLite for the common case, new media seen at a new place in
        a channel already known: the same rows, written through the driver in one statement
        per row (SQLAlchemy's per-statement work and its thread hand-offs cost ten times
        SQLite's own). Anything else (media or sighting already there, a channel not known
        yet or renamed) rolls back at once and returns None: the general path does it."""
        channel_id: int | None = None
        if source.chat_id is not None:
            known = getattr(self, "_known_channels", {}).get(source.chat_id)
            if known is None or not _same_channel(source, known):
                return None
            channel_id = known[0]
        lane = self._sqlite_lane()
        async with self._engine.connect() as conn:
            db = (await conn.get_raw_connection()).driver_connection
            assert db is not None
            done = False
            try:
                await db.execute_fetchall("BEGIN IMMEDIATE")
                rows = await db.execute_fetchall(lane.media.sql, lane.media.bind(media_values))
                if not rows:
                    return None  # the media is known: the general path fills and matches it
                media_id = int(next(iter(rows))[0])
                sighting_values.update(media_id=media_id, channel_id=channel_id)
                rows = await db.execute_fetchall(
                    lane.sighting.sql, lane.sighting.bind(sighting_values)
                )
                if not rows:
                    return None  # recorded before: the general path decides what changes
                sighting_id = int(next(iter(rows))[0])
                hits: tuple[Hit, ...] = ()
                if best:
                    for row in _hit_rows(best, sighting_id, now):
                        if not await db.execute_fetchall(lane.hit.sql, lane.hit.bind(row)):
                            return None  # cannot be (a new sighting has no hits)
                    found = await db.execute_fetchall(
                        lane.hits_of_sighting.sql,
                        lane.hits_of_sighting.bind({"sighting_id": sighting_id}),
                    )
                    hits = tuple(
                        hit_row(row)
                        for row in lane.hits_of_sighting.mappings(found)
                        if row["entry_id"] in best
                    )
                alerts = _alert_rows(hits, targets, alert_min_tier, now)
                if alerts:
                    await db.executemany(lane.alert.sql, [lane.alert.bind(a) for a in alerts])
                await db.execute_fetchall("COMMIT")
                done = True
            except sqlite3.Error as exc:
                raise StoreError(_driver_error(exc)) from exc
            finally:
                if not done:
                    with contextlib.suppress(sqlite3.Error):
                        await db.execute_fetchall("ROLLBACK")
        return RecordResult(
            sighting_id=sighting_id,
            media_id=media_id,
            sighting_created=True,
            hits=hits,
            new_hits=hits,
        )

    def _sqlite_lane(self) -> _SqliteLane:
        try:
            return self._lane
        except AttributeError:
            self._lane = _SqliteLane.build(self)
            return self._lane

    async def record_skipped(
        self,
        source: SightingSource,
        *,
        reason: str,
        detail: str | None,
        file_size: int | None,
        mime_type: str | None,
        seen_at: datetime | None = None,
    ) -> bool:
        """Record media seen at ``source`` but not hashed, and why (an ``errors.MediaErrorReason``
        value). True if this created the sighting; idempotent on ``source.key``, and never
        changes a sighting already recorded (with media or without)."""
        now = seen_at or utcnow()
        values = _source(source)
        values.update(
            media_id=None,
            seen_at=now,
            skip_reason=reason[:32],
            skip_detail=detail,
            file_size=file_size,
            # A document's MIME type is whatever its sender said: keep it to the column's
            # width rather than fail the message.
            mime_type=mime_type[:100] if mime_type else mime_type,
        )
        sql = _write_sql(self.dialect)
        async with self._sighting_writes(), self._tx(write=True) as conn:
            values["channel_id"], channel = await self._upsert_channel(conn, source, now)
            created = (await conn.execute(sql.sighting, values)).scalar_one_or_none()
        self._remember_channel(source.chat_id, channel)
        return created is not None

    async def signals_for_telegram_media(self, telegram_media_id: int) -> Signals | None:
        """The signals of the media already seen under this Telegram media id, if any: a copy
        forwarded elsewhere is matched again without downloading it.

        Media recorded before every query variant was kept gets the original-orientation PDQ and
        pHash queries rebuilt from its hashes.
        """
        if self.dialect == "sqlite":
            # One statement, read through the driver: SQLAlchemy's transaction and statement
            # work would cost ten times SQLite's (see ``_record_new_on_sqlite``).
            statement = self._sqlite_lane().media_by_telegram_id
            found = await self._read_on_sqlite(statement, {"tg_id": telegram_media_id})
            rows = statement.mappings(found)
            return _signals(rows[0]) if rows else None
        sql = _write_sql(self.dialect)
        async with self._tx(write=False) as conn:
            row = (
                await conn.execute(sql.media_by_telegram_id, {"tg_id": telegram_media_id})
            ).first()
        return None if row is None else _signals(row._mapping)

    async def sighting_recorded(self, key: str) -> bool:
        """Whether the sighting ``key`` is recorded with its media (hashed, matched, its hits
        written): a reconciler pass meets every message handled live again, and skips these."""
        if self.dialect == "sqlite":
            return bool(await self._read_on_sqlite(self._sqlite_lane().recorded, {"key": key}))
        async with self._tx(write=False) as conn:
            return (
                await conn.execute(_write_sql(self.dialect).recorded, {"key": key})
            ).first() is not None

    async def _read_on_sqlite(
        self, statement: _RawStatement, values: dict[str, Any]
    ) -> list[Sequence[Any]]:
        """One read statement through the SQLite driver, outside SQLAlchemy."""
        async with self._engine.connect() as conn:
            db = (await conn.get_raw_connection()).driver_connection
            assert db is not None
            try:
                return list(await db.execute_fetchall(statement.sql, statement.bind(values)))
            except sqlite3.Error as exc:
                raise StoreError(_driver_error(exc)) from exc

    @contextlib.asynccontextmanager
    async def _sighting_writes(self) -> AsyncIterator[None]:
        """On SQLite, one sighting write at a time from this process: writers queue here and
        are handed the write lock at once, instead of polling SQLite's lock (its busy handler
        sleeps up to 100 ms between looks, which idles the lock under a burst). PostgreSQL
        locks rows, not the database: no gate."""
        if self.dialect != "sqlite":
            yield
            return
        try:
            gate = self._sighting_gate
        except AttributeError:
            gate = self._sighting_gate = asyncio.Lock()
        async with gate:
            yield

    def _remember_channel(
        self, chat_id: int | None, channel: tuple[int, str | None, str | None] | None
    ) -> None:
        """After the commit: the channel row as written, so the next sighting skips it."""
        if chat_id is None or channel is None:
            return
        try:
            known = self._known_channels
        except AttributeError:
            known = self._known_channels = {}
        if len(known) >= _MAX_KNOWN_CHANNELS:
            known.clear()
        known[chat_id] = channel

    async def _upsert_media(
        self, conn: AsyncConnection, values: dict[str, Any], signals: Signals
    ) -> tuple[int, bool]:
        """The media row's id for ``values`` (see ``_media_values``), and whether this inserted
        it; a row already there gets what an earlier, less successful hashing left empty."""
        sql = _write_sql(self.dialect)
        media_id: int | None = (await conn.execute(sql.media, values)).scalar_one_or_none()
        if media_id is not None:
            return media_id, True
        row = (await conn.execute(sql.media_by_sha256, {"sha": values["sha256"]})).one()
        # Fill in what an earlier, less successful hashing left empty; never overwrite.
        fill = {
            column: values[column]
            for column in ("mime", "width", "height", "pdq", "pdq_quality", "phash")
            if getattr(row, column) is None and values[column] is not None
        }
        if signals.perceptual_ok and row.hash_failure_reason is not None and "pdq" in fill:
            fill.update(hash_failure_reason=None, hash_failure_detail=None)
        if row.queries is None and values["queries"] is not None:
            fill.update(queries=values["queries"], trimmed=values["trimmed"])
        if signals.video is not None and (
            row.video is None or (row.frames is None and values["frames"])
        ):
            # first decoded now, or decoded better than before (frames where there were none)
            fill.update(video=values["video"], frames=values["frames"], duration=values["duration"])
            if signals.perceptual_ok and row.hash_failure_reason is not None:
                fill.update(hash_failure_reason=None, hash_failure_detail=None)
        if fill:
            await conn.execute(update(MediaRow).where(MediaRow.id == row.id).values(**fill))
        return int(row.id), False

    async def _upsert_channel(
        self, conn: AsyncConnection, source: SightingSource, now: datetime
    ) -> tuple[int | None, tuple[int, str | None, str | None] | None]:
        """The channel row's id for ``source`` (None without a chat), and the row as it is now
        (id, username, title), for ``_remember_channel`` once committed."""
        if source.chat_id is None:
            return None, None
        known = getattr(self, "_known_channels", {}).get(source.chat_id)
        if known is not None and _same_channel(source, known):
            return known[0], known
        sql = _write_sql(self.dialect)
        channel_id: int | None = (
            await conn.execute(
                sql.channel,
                {
                    "telegram_id": source.chat_id,
                    "username": source.chat_username,
                    "title": source.chat_title,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        ).scalar_one_or_none()
        if channel_id is not None:
            return channel_id, (channel_id, source.chat_username, source.chat_title)
        row = (await conn.execute(sql.channel_by_telegram_id, {"tg_id": source.chat_id})).one()
        changes: dict[str, Any] = {}
        if source.chat_username is not None and source.chat_username != row.username:
            changes["username"] = source.chat_username
        if source.chat_title is not None and source.chat_title != row.title:
            changes["title"] = source.chat_title
        if changes:
            await conn.execute(
                update(ChannelRow).where(ChannelRow.id == row.id).values(updated_at=now, **changes)
            )
        state = (
            int(row.id),
            changes.get("username", row.username),
            changes.get("title", row.title),
        )
        return state[0], state

    # --- reading hits and sightings ---------------------------------------------------------

    async def list_hits(
        self,
        where: HitFilter | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[Hit]:
        """Hits matching ``where``, newest first (or oldest first), with where they were seen."""
        order = (HitRow.created_at, HitRow.id)
        stmt = hit_filter(hits_query(), where or HitFilter())
        stmt = stmt.order_by(*(order if oldest_first else (c.desc() for c in order)))
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        async with self._tx(write=False) as conn:
            return [hit_row(row._mapping) for row in await conn.execute(stmt)]

    async def get_hit(self, hit_id: int) -> Hit:
        async with self._tx(write=False) as conn:
            row = (await conn.execute(hits_query().where(HitRow.id == hit_id))).first()
        if row is None:
            raise NotFound(f"no hit with id {hit_id}")
        return hit_row(row._mapping)

    async def count_hits(self, where: HitFilter | None = None) -> int:
        stmt = hit_filter(
            select(func.count(HitRow.id))
            .select_from(HitRow)
            .join(EntryRow, EntryRow.id == HitRow.entry_id)
            .join(BankRow, BankRow.id == EntryRow.bank_id)
            .join(SightingRow, SightingRow.id == HitRow.sighting_id)
            .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id),
            where or HitFilter(),
        )
        async with self._tx(write=False) as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def media_by_telegram_id(self, telegram_media_id: int) -> str | None:
        """The sha256 of media already seen under this Telegram media id, if any."""
        stmt = (
            select(MediaRow.sha256)
            .join(SightingRow, SightingRow.media_id == MediaRow.id)
            .where(SightingRow.telegram_media_id == telegram_media_id)
            .limit(1)
        )
        async with self._tx(write=False) as conn:
            return (await conn.execute(stmt)).scalar()

    async def sighting_exists(self, key: str) -> bool:
        stmt = select(SightingRow.id).where(SightingRow.source_key == key).limit(1)
        async with self._tx(write=False) as conn:
            return (await conn.execute(stmt)).scalar() is not None

    # --- audit log --------------------------------------------------------------------------

    async def audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
    ) -> None:
        """Append one row to the audit log (which refuses updates and deletes)."""
        async with self._tx(write=True) as conn:
            await self._audit(conn, actor, action, subject, details)

    async def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit rows first."""
        stmt = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        async with self._tx(write=False) as conn:
            return [audit_entry(row._mapping) for row in await conn.execute(stmt)]


def audit_entry(row: RowMapping) -> AuditEntry:
    """The ``AuditEntry`` of an ``audit_log`` row."""
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        details=dict(row["details"] or {}),
    )


def _alert_targets(targets: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in targets if t not in ALERT_TARGETS]
    if unknown:
        raise InputError(
            f"unknown alert target(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(ALERT_TARGETS)}"
        )
    return tuple(dict.fromkeys(targets))


def _queries_json(queries: Sequence[QueryHash]) -> list[list[Any]]:
    return [[q.hash_type.value, q.variant.value, q.value, q.quality] for q in queries]


# What ``media.video`` keeps of a VideoSignals (the frames go to ``media.frames``).
_VIDEO_FACTS = (
    "container",
    "codec",
    "duration",
    "fps",
    "rotation",
    "frames_decoded",
    "frames_hashed",
    "low_quality",
    "keyframes_only",
    "truncated",
)


def _video_columns(video: VideoSignals | None) -> dict[str, Any]:
    """The media row's video columns: facts, timed frame hashes and duration (None: an image)."""
    if video is None:
        return {"video": None, "frames": None, "duration": None}
    return {
        "video": {name: getattr(video, name) for name in _VIDEO_FACTS},
        "frames": [
            [
                f.timestamp,
                f.until,
                f.pdq,
                f.quality,
                f.keyframe,
                f.count,
                f.trimmed_pdq,
                f.trimmed_quality,
            ]
            for f in video.frames
        ]
        or None,
        "duration": video.duration,
    }


def _video_of(row: Mapping[Any, Any], failure: HashFailure | None) -> VideoSignals | None:
    facts = row["video"]
    if facts is None:
        return None
    frames = tuple(
        FrameHash(
            timestamp=ts,
            until=until,
            pdq=pdq,
            quality=quality,
            keyframe=bool(keyframe),
            count=count,
            trimmed_pdq=trimmed_pdq,
            trimmed_quality=trimmed_quality,
        )
        for ts, until, pdq, quality, keyframe, count, trimmed_pdq, trimmed_quality in (
            row["frames"] or ()
        )
    )
    known = {name: facts[name] for name in _VIDEO_FACTS if name in facts}
    return VideoSignals(
        sha256=row["sha256"],
        md5=row["md5"],
        size_bytes=row["size_bytes"],
        mime=row["mime"],
        width=row["width"],
        height=row["height"],
        frames=frames,
        failure=failure,
        **known,
    )


def _match_details(match: Match) -> dict[str, Any]:
    """The hit columns that say what kind of match it is and, for videos, where."""
    return {
        "match_kind": match.kind.value,
        "frames": [[p.query_ts, p.entry_ts, p.distance] for p in match.frames] or None,
        "coverage": match.coverage,
        "span_start": match.span[0] if match.span else None,
        "span_end": match.span[1] if match.span else None,
    }


def frame_matches(stored: Any) -> tuple[FrameMatch, ...]:
    """``hits.frames`` as FrameMatch pairs."""
    return tuple(FrameMatch(q, e, d) for q, e, d in stored or ())


def _signals(row: Mapping[Any, Any]) -> Signals:
    """The ``Signals`` of a media row."""
    stored = row["queries"]
    if stored is not None:
        queries = tuple(
            QueryHash(
                hash_type=HashType(hash_type),
                value=value,
                variant=Variant(variant),
                quality=quality,
            )
            for hash_type, variant, value, quality in stored
        )
    else:
        rebuilt = []
        if row["pdq"] is not None:
            rebuilt.append(
                QueryHash(HashType.PDQ, row["pdq"], Variant.ORIGINAL, row["pdq_quality"])
            )
        if row["phash"] is not None:
            rebuilt.append(QueryHash(HashType.PHASH, row["phash"], Variant.ORIGINAL))
        queries = tuple(rebuilt)
    reason = row["hash_failure_reason"]
    failure = HashFailure(reason, row["hash_failure_detail"] or "") if reason else None
    video = _video_of(row, failure)
    if video is not None:
        return video.as_signals()
    return Signals(
        sha256=row["sha256"],
        md5=row["md5"],
        size_bytes=row["size_bytes"],
        mime=row["mime"],
        width=row["width"],
        height=row["height"],
        pdq=row["pdq"],
        pdq_quality=row["pdq_quality"],
        phash=row["phash"],
        queries=queries,
        trimmed=bool(row["trimmed"]),
        failure=failure,
    )


def _same_channel(source: SightingSource, known: tuple[int, str | None, str | None]) -> bool:
    """Nothing to write to a channel row known as ``known`` for this sighting."""
    return (source.chat_username is None or source.chat_username == known[1]) and (
        source.chat_title is None or source.chat_title == known[2]
    )


def _hit_rows(best: dict[int, Match], sighting_id: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "sighting_id": sighting_id,
            "entry_id": m.entry_id,
            "hash_type": m.hash_type.value,
            "distance": m.distance,
            "tier": m.tier.value,
            "variant": m.variant.value,
            "query_value": m.query_value,
            "threshold": m.threshold,
            "created_at": now,
            "review_status": ReviewStatus.NEW.value,
            **_match_details(m),
        }
        # A fixed order, so concurrent writers take row locks in the same order.
        for m in sorted(best.values(), key=lambda m: m.entry_id)
    ]


def _alert_rows(
    new_hits: Sequence[Hit], targets: Sequence[str], min_tier: Tier, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "hit_id": hit.id,
            "target": target,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for hit in sorted(new_hits, key=lambda h: h.id)
        if hit.tier.rank <= min_tier.rank
        for target in targets
    ]


def _driver_error(exc: BaseException) -> str:
    """One line, as ``StoreBase._tx`` words the errors SQLAlchemy wraps."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"database error: {type(exc).__name__}: {first[:300]}"


@dataclass(frozen=True, slots=True)
class _RawStatement:
    """A statement for the SQLite driver: its SQL (``?`` placeholders), the parameters in
    order with their bind processing, and the result columns with their result processing,
    all taken from SQLAlchemy's own compiler and column types, so values are stored and read
    exactly as the general path stores and reads them."""

    sql: str
    names: tuple[str, ...]
    binders: tuple[Callable[[Any], Any] | None, ...]
    defaults: dict[str, Any]
    keys: tuple[str, ...] = ()
    processors: tuple[Callable[[Any], Any] | None, ...] = ()

    @classmethod
    def of(cls, stmt: Insert | Select[*tuple[Any, ...]], dialect: Dialect) -> _RawStatement:
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        binders = tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
        columns = list(stmt.selected_columns) if isinstance(stmt, Select) else []
        return cls(
            sql=compiled.string,
            names=names,
            binders=binders,
            defaults=dict(compiled.params),
            keys=tuple(stmt.selected_columns.keys()) if isinstance(stmt, Select) else (),
            processors=tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ),
        )

    def bind(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, binder in zip(self.names, self.binders, strict=True):
            value = values[name] if name in values else self.defaults[name]
            out.append(value if binder is None or value is None else binder(value))
        return tuple(out)

    def mappings(self, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        keys, processors = self.keys, self.processors
        return [
            {
                key: value if process is None else process(value)
                for key, process, value in zip(keys, processors, row, strict=True)
            }
            for row in rows
        ]


# The columns each row of the SQLite lane carries: what _media_values, _source (with seen_at,
# media_id, channel_id), _hit_rows and _alert_rows give (a key missing there is a KeyError).
_MEDIA_COLUMNS = (
    "sha256",
    "md5",
    "size_bytes",
    "mime",
    "width",
    "height",
    "pdq",
    "pdq_quality",
    "phash",
    "hash_failure_reason",
    "hash_failure_detail",
    "first_seen_at",
    "queries",
    "trimmed",
    "video",
    "frames",
    "duration",
)
_SIGHTING_COLUMNS = (
    "source_kind",
    "source_key",
    "path",
    "chat_id",
    "message_id",
    "grouped_id",
    "telegram_media_id",
    "media_kind",
    "posted_at",
    "link",
    "forward_chat_id",
    "forward_message_id",
    "forward_from_name",
    "seen_at",
    "media_id",
    "channel_id",
)
_HIT_COLUMNS = (
    "sighting_id",
    "entry_id",
    "hash_type",
    "distance",
    "tier",
    "variant",
    "query_value",
    "threshold",
    "created_at",
    "review_status",
    "match_kind",
    "frames",
    "coverage",
    "span_start",
    "span_end",
)
_ALERT_COLUMNS = ("hit_id", "target", "status", "attempts", "next_attempt_at", "created_at")


@dataclass(frozen=True, slots=True)
class _SqliteLane:
    """The statements of ``_record_new_on_sqlite`` and the media lookup, for the driver."""

    media: _RawStatement
    sighting: _RawStatement
    hit: _RawStatement
    hits_of_sighting: _RawStatement
    alert: _RawStatement
    media_by_telegram_id: _RawStatement
    recorded: _RawStatement

    @classmethod
    def build(cls, store: StoreBase) -> _SqliteLane:
        dialect = store.engine.dialect

        def insert(table: type[Base], columns: Sequence[str], *conflict: str) -> Insert:
            return (
                sqlite_insert(table)
                .values({c: bindparam(c, type_=table.__table__.c[c].type) for c in columns})
                .on_conflict_do_nothing(index_elements=conflict)
            )

        return cls(
            media=_RawStatement.of(
                insert(MediaRow, _MEDIA_COLUMNS, "sha256").returning(MediaRow.id), dialect
            ),
            sighting=_RawStatement.of(
                insert(SightingRow, _SIGHTING_COLUMNS, "source_key").returning(SightingRow.id),
                dialect,
            ),
            hit=_RawStatement.of(
                insert(HitRow, _HIT_COLUMNS, "sighting_id", "entry_id").returning(HitRow.id),
                dialect,
            ),
            hits_of_sighting=_RawStatement.of(
                hits_query().where(HitRow.sighting_id == bindparam("sighting_id")), dialect
            ),
            alert=_RawStatement.of(
                insert(AlertDeliveryRow, _ALERT_COLUMNS, "hit_id", "target"), dialect
            ),
            media_by_telegram_id=_RawStatement.of(
                _write_sql("sqlite").media_by_telegram_id, dialect
            ),
            recorded=_RawStatement.of(_write_sql("sqlite").recorded, dialect),
        )


def _media_values(signals: Signals, now: datetime) -> dict[str, Any]:
    """A media row's columns for ``signals``."""
    failure = signals.failure
    known_queries = bool(signals.queries) or signals.perceptual_ok
    return {
        "sha256": signals.sha256.lower(),
        "md5": signals.md5.lower(),
        "size_bytes": signals.size_bytes,
        "mime": signals.mime,
        "width": signals.width,
        "height": signals.height,
        "pdq": signals.pdq,
        "pdq_quality": signals.pdq_quality,
        "phash": signals.phash,
        "hash_failure_reason": failure.reason if failure else None,
        "hash_failure_detail": failure.detail if failure else None,
        "first_seen_at": now,
        "queries": _queries_json(signals.queries) if known_queries else None,
        "trimmed": signals.trimmed if known_queries else None,
        **_video_columns(signals.video),
    }


# Channels remembered per store (the allow-list is far smaller; a scan of exports too).
_MAX_KNOWN_CHANNELS = 10_000


@dataclass(frozen=True, slots=True)
class _WriteSql:
    """The statements of the sighting write path, built once per dialect and executed with
    parameters: building SQLAlchemy constructs per call costs more than SQLite's own work."""

    media: Insert  # insert-or-ignore on sha256, RETURNING id; parameters: the row's columns
    media_by_sha256: Select[*tuple[Any, ...]]  # :sha
    channel: Insert  # insert-or-ignore on telegram_id, RETURNING id
    channel_by_telegram_id: Select[*tuple[Any, ...]]  # :tg_id
    sighting: Insert  # insert-or-ignore on source_key, RETURNING id
    attach: Update  # media onto a sighting recorded without: :key, :new_media_id
    sighting_by_key: Select[*tuple[Any, ...]]  # :key
    suppressed: Select[*tuple[Any, ...]]  # :media_id, :entry_ids
    hits: Insert  # insert-or-ignore on (sighting_id, entry_id), RETURNING id; many rows
    hits_found: Select[*tuple[Any, ...]]  # :sighting_id, :entry_ids
    alerts: Insert  # insert-or-ignore on (hit_id, target); many rows
    media_by_telegram_id: Select[*tuple[Any, ...]]  # :tg_id
    recorded: Select[*tuple[Any, ...]]  # :key; a row if recorded with media


@functools.cache
def _write_sql(dialect: str) -> _WriteSql:
    def insert_or_ignore(table: type[Base], *index_elements: str) -> Insert:
        if dialect == "postgresql":
            return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)

    return _WriteSql(
        media=insert_or_ignore(MediaRow, "sha256").returning(MediaRow.id),
        media_by_sha256=select(MediaRow).where(MediaRow.sha256 == bindparam("sha")),
        channel=insert_or_ignore(ChannelRow, "telegram_id").returning(ChannelRow.id),
        channel_by_telegram_id=select(ChannelRow.id, ChannelRow.username, ChannelRow.title).where(
            ChannelRow.telegram_id == bindparam("tg_id")
        ),
        sighting=insert_or_ignore(SightingRow, "source_key").returning(SightingRow.id),
        attach=update(SightingRow)
        .where(SightingRow.source_key == bindparam("key"), SightingRow.media_id.is_(None))
        .values(media_id=bindparam("new_media_id"), skip_reason=None, skip_detail=None),
        sighting_by_key=select(SightingRow.id, SightingRow.media_id).where(
            SightingRow.source_key == bindparam("key")
        ),
        suppressed=select(SuppressionRow.entry_id).where(
            SuppressionRow.media_id == bindparam("media_id"),
            SuppressionRow.entry_id.in_(bindparam("entry_ids", expanding=True)),
        ),
        hits=insert_or_ignore(HitRow, "sighting_id", "entry_id").returning(HitRow.id),
        hits_found=hits_query().where(
            HitRow.sighting_id == bindparam("sighting_id"),
            HitRow.entry_id.in_(bindparam("entry_ids", expanding=True)),
        ),
        alerts=insert_or_ignore(AlertDeliveryRow, "hit_id", "target"),
        media_by_telegram_id=select(MediaRow)
        .join(SightingRow, SightingRow.media_id == MediaRow.id)
        .where(SightingRow.telegram_media_id == bindparam("tg_id"))
        .order_by(SightingRow.id)
        .limit(1),
        recorded=select(SightingRow.id).where(
            SightingRow.source_key == bindparam("key"), SightingRow.media_id.is_not(None)
        ),
    )


def _source(source: SightingSource) -> dict[str, Any]:
    return {
        "source_kind": source.kind.value,
        "source_key": source.key,
        "path": source.path,
        "chat_id": source.chat_id,
        "message_id": source.message_id,
        "grouped_id": source.grouped_id,
        "telegram_media_id": source.telegram_media_id,
        "media_kind": source.media_kind.value,
        "posted_at": source.posted_at,
        "link": source.link,
        "forward_chat_id": source.forward_chat_id,
        "forward_message_id": source.forward_message_id,
        "forward_from_name": source.forward_from_name,
    }


def hits_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            HitRow.id,
            HitRow.sighting_id,
            HitRow.entry_id,
            HitRow.hash_type,
            HitRow.distance,
            HitRow.tier,
            HitRow.variant,
            HitRow.query_value,
            HitRow.review_status,
            HitRow.created_at,
            HitRow.reviewed_by,
            HitRow.reviewed_at,
            HitRow.review_note,
            HitRow.match_kind,
            HitRow.frames.label("matched_frames"),
            HitRow.coverage,
            HitRow.span_start,
            HitRow.span_end,
            BankRow.name.label("bank"),
            EntryRow.value.label("entry_value"),
            EntryRow.case_id,
            EntryRow.label,
            MediaRow.sha256,
            SightingRow.source_kind,
            SightingRow.source_key,
            SightingRow.path,
            SightingRow.chat_id,
            SightingRow.message_id,
            SightingRow.grouped_id,
            SightingRow.telegram_media_id,
            SightingRow.media_kind,
            SightingRow.posted_at,
            SightingRow.link,
            SightingRow.forward_chat_id,
            SightingRow.forward_message_id,
            SightingRow.forward_from_name,
            ChannelRow.title.label("chat_title"),
            ChannelRow.username.label("chat_username"),
        )
        .select_from(HitRow)
        .join(EntryRow, EntryRow.id == HitRow.entry_id)
        .join(BankRow, BankRow.id == EntryRow.bank_id)
        .join(SightingRow, SightingRow.id == HitRow.sighting_id)
        .join(MediaRow, MediaRow.id == SightingRow.media_id)
        .outerjoin(ChannelRow, ChannelRow.id == SightingRow.channel_id)
    )


def hit_filter(stmt: Select[*tuple[Any, ...]], where: HitFilter) -> Select[*tuple[Any, ...]]:
    """``stmt`` restricted to the hits ``where`` covers. ``stmt`` must join ``hits``,
    ``entries``, ``banks``, ``sightings`` and (outer) ``channels``."""
    if where.statuses:
        stmt = stmt.where(HitRow.review_status.in_([s.value for s in where.statuses]))
    if where.banks:
        stmt = stmt.where(BankRow.name.in_(where.banks))
    if where.channels:
        stmt = stmt.where(ChannelRow.telegram_id.in_(where.channels))
    if where.tiers:
        stmt = stmt.where(HitRow.tier.in_([t.value for t in where.tiers]))
    if where.hash_types:
        stmt = stmt.where(HitRow.hash_type.in_([h.value for h in where.hash_types]))
    if where.kinds:
        stmt = stmt.where(HitRow.match_kind.in_([k.value for k in where.kinds]))
    if where.case_id is not None:
        stmt = stmt.where(EntryRow.case_id == where.case_id)
    if where.since is not None:
        stmt = stmt.where(HitRow.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(HitRow.created_at < where.until)
    if where.min_distance is not None:
        stmt = stmt.where(HitRow.distance >= where.min_distance)
    if where.max_distance is not None:
        stmt = stmt.where(HitRow.distance <= where.max_distance)
    if where.reported is not None:
        reported = exists().where(TakedownRow.sighting_id == HitRow.sighting_id)
        stmt = stmt.where(reported if where.reported else ~reported)
    return stmt


def source_of(row: Mapping[Any, Any]) -> SightingSource:
    """The ``SightingSource`` of a row with the sightings columns and ``chat_title`` and
    ``chat_username`` (from ``channels``)."""
    return SightingSource(
        kind=SourceKind(row["source_kind"]),
        key=row["source_key"],
        path=row["path"],
        chat_id=row["chat_id"],
        chat_title=row["chat_title"],
        chat_username=row["chat_username"],
        message_id=row["message_id"],
        grouped_id=row["grouped_id"],
        telegram_media_id=row["telegram_media_id"],
        media_kind=MediaKind(row["media_kind"]),
        posted_at=row["posted_at"],
        link=row["link"],
        forward_chat_id=row["forward_chat_id"],
        forward_message_id=row["forward_message_id"],
        forward_from_name=row["forward_from_name"],
    )


def hit_row(row: Mapping[Any, Any]) -> Hit:
    """The ``Hit`` of a row of ``hits_query()``."""
    return Hit(
        id=row["id"],
        sighting_id=row["sighting_id"],
        entry_id=row["entry_id"],
        bank=row["bank"],
        hash_type=HashType(row["hash_type"]),
        distance=row["distance"],
        tier=Tier(row["tier"]),
        variant=Variant(row["variant"]),
        review_status=ReviewStatus(row["review_status"]),
        created_at=row["created_at"],
        sha256=row["sha256"],
        case_id=row["case_id"],
        label=row["label"],
        entry_value=row["entry_value"],
        query_value=row["query_value"],
        source=source_of(row),
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        review_note=row["review_note"],
        kind=MatchKind(row["match_kind"]),
        frames=frame_matches(row["matched_frames"]),
        coverage=row["coverage"],
        span=None if row["span_start"] is None else (row["span_start"], row["span_end"]),
    )


async def hits_by_id(
    conn: AsyncConnection, ids: Sequence[int], *, unchanged: str
) -> dict[int, RowMapping]:
    """Each hit's id, review status, entry, sighting and media, by id; ``NotFound`` naming the
    missing ids (the message ends with ``unchanged``, e.g. "nothing was changed")."""
    found: dict[int, RowMapping] = {}
    for some in chunks(list(ids), IN_CHUNK):
        rows = await conn.execute(
            select(
                HitRow.id,
                HitRow.review_status,
                HitRow.entry_id,
                HitRow.sighting_id,
                SightingRow.media_id,
            )
            .join(SightingRow, SightingRow.id == HitRow.sighting_id)
            .where(HitRow.id.in_(some))
        )
        for row in rows:
            found[row.id] = row._mapping
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise NotFound(f"no hit with id {sample(missing)}; {unchanged}")
    return found
