"""SQLAlchemy table definitions. ORM rows never leave ``monitor.store``.

Enumerations are stored as their string values (``VARCHAR``), checked by CHECK constraints, so a
new value needs a migration but no native PostgreSQL enum type juggling. Every timestamp is
timezone-aware UTC in Python (see ``UTCDateTime``). Hash values are lower-case hex.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from monitor.domain import (
    ChannelState,
    CheckOutcome,
    EntryStatus,
    HashType,
    MatchKind,
    MediaKind,
    RefKind,
    RemovalStatus,
    ReviewStatus,
    SourceKind,
    Tier,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC on the Python side, whatever the backend.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text, given ``tzinfo=UTC`` again
    when read. Naive datetimes are refused on the way in: a silent guess would shift times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the text SQLAlchemy stored ("2024-06-01 12:00:00.000000"):
        # datetime.fromisoformat reads it many times faster than the generic regex parser.
        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            return self.process_result_value(value, dialect)

        return process


# JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JSONDoc: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
# 64-bit surrogate keys; SQLite needs exactly INTEGER for its rowid alias (autoincrement).
BigID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: Any) -> str:
    """A CHECK expression: ``column`` holds one of the enum's values."""
    return f"{column} IN ({', '.join(repr(str(v.value)) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
    }


class BankRow(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pdq_threshold: Mapped[int] = mapped_column(Integer)
    pdq_near_exact_threshold: Mapped[int] = mapped_column(Integer)
    pdq_reoriented_threshold: Mapped[int] = mapped_column(Integer)
    phash_threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Also moved by imports and withdrawals of its entries: the daemon reloads when it moves.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Video matching: share of a listed video's distinct frames, and seconds of a clip.
    video_share: Mapped[float] = mapped_column(Float, server_default=text("0.8"))
    clip_seconds: Mapped[float] = mapped_column(Float, server_default=text("3.0"))


class EntryRow(Base):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "hash_type", "value"),
        Index("ix_entries_hash_type_value", "hash_type", "value"),
        Index("ix_entries_status", "status"),
        CheckConstraint(_in("status", EntryStatus), name="status"),
        CheckConstraint(_in("hash_type", HashType), name="hash_type"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    hash_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime | None]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EntryFrameRow(Base):
    """One frame of a listed video (a ``vpdq`` entry): its time in the video and its PDQ."""

    __tablename__ = "entry_frames"
    __table_args__ = (Index("ix_entry_frames_entry_id_timestamp", "entry_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigID, ForeignKey("entries.id", ondelete="CASCADE"))
    timestamp: Mapped[float] = mapped_column(Float)  # seconds from the start of the video
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer)


class EntryEventRow(Base):
    """Status history of an entry: one row per change, never updated."""

    __tablename__ = "entry_events"
    __table_args__ = (
        CheckConstraint("event IN ('added', 'withdrawn', 'reinstated', 'updated')", name="event"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # the list file, when from an import
    actor: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelRow(Base):
    """A Telegram chat where media was seen or that is watched. ``telegram_id``: Bot-API form.

    ``cursor`` is the last message id processed in order (0: none yet); it only moves forward.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))  # channel, supergroup, group, user
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    last_message_at: Mapped[datetime | None]
    last_reconciled_at: Mapped[datetime | None]


class MediaRow(Base):
    """One distinct content, by SHA-256. Hashes and facts only: never the bytes."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str | None] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    phash: Mapped[str | None] = mapped_column(String(16))
    hash_failure_reason: Mapped[str | None] = mapped_column(String(32))
    hash_failure_detail: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every query variant: [[hash_type, variant, value, quality], ...]; null when unknown (media
    # recorded before the column existed, or perceptual hashing failed).
    queries: Mapped[list[Any] | None] = mapped_column(JSONDoc)
    trimmed: Mapped[bool | None] = mapped_column(Boolean)
    # Videos and animations: duration in seconds, the facts about the video (container, codec,
    # fps, frame counts, ...) and its timed frame hashes; null for images.
    duration: Mapped[float | None] = mapped_column(Float)
    video: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    frames: Mapped[list[Any] | None] = mapped_column(JSONDoc)


class SightingRow(Base):
    """Where a media item was seen. ``source_key`` is the idempotency key.

    ``media_id`` is null for media seen but not hashed (``skip_reason`` says why: too large, a
    kind or MIME type not fetched, unavailable, ...); hashing it later attaches the media.
    """

    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_chat_id_message_id", "chat_id", "message_id"),
        CheckConstraint(_in("source_kind", SourceKind), name="source_kind"),
        CheckConstraint(_in("media_kind", MediaKind), name="media_kind"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    media_id: Mapped[int | None] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    source_kind: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(Text, unique=True)
    path: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    grouped_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_media_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    media_kind: Mapped[str] = mapped_column(String(16))
    posted_at: Mapped[datetime | None]
    seen_at: Mapped[datetime] = mapped_column(index=True)
    link: Mapped[str | None] = mapped_column(Text)
    forward_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    forward_message_id: Mapped[int | None] = mapped_column(BigInteger)
    forward_from_name: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(String(32))  # an errors.MediaErrorReason
    skip_detail: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int | None] = mapped_column(BigInteger)  # as Telegram reported it
    mime_type: Mapped[str | None] = mapped_column(String(100))


class HitRow(Base):
    """A sighting that matched a list entry. One per (sighting, entry)."""

    __tablename__ = "hits"
    __table_args__ = (
        UniqueConstraint("sighting_id", "entry_id"),
        CheckConstraint(_in("tier", Tier), name="tier"),
        CheckConstraint(_in("review_status", ReviewStatus), name="review_status"),
        CheckConstraint(_in("hash_type", HashType), name="hash_type"),
        CheckConstraint(_in("match_kind", MatchKind), name="match_kind"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="RESTRICT"), index=True)
    hash_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(32))
    query_value: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    review_status: Mapped[str] = mapped_column(
        String(16), default=ReviewStatus.NEW.value, server_default=text("'new'"), index=True
    )
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    match_kind: Mapped[str] = mapped_column(
        String(16), default=MatchKind.IMAGE.value, server_default=text("'image'")
    )
    # Frame, clip and video matches: the matched frame pairs [[query_ts, entry_ts, distance],
    # ...] (a time is null on the side that is a still image), the share of the listed video's
    # distinct frames matched, and the matched span of the posted video in seconds.
    frames: Mapped[list[Any] | None] = mapped_column(JSONDoc)
    coverage: Mapped[float | None] = mapped_column(Float)
    span_start: Mapped[float | None] = mapped_column(Float)
    span_end: Mapped[float | None] = mapped_column(Float)


class AuditRow(Base):
    """Append-only: triggers (see the initial migration) refuse UPDATE and DELETE.

    ``subject`` names what the action was about (``hit:42``, a bank name, a report file):
    indexed, so that one hit's review history is a cheap lookup.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WatchedChannelRow(Base):
    """The allow-list: one row per reference (``str(ChannelRef)``); removed entries are disabled.

    ``telegram_id`` (Bot-API form), ``username`` and ``title`` are what resolving it found.
    """

    __tablename__ = "watched_channels"
    __table_args__ = (
        CheckConstraint(_in("ref_kind", RefKind), name="ref_kind"),
        CheckConstraint("origin IN ('config', 'cli')", name="origin"),
        CheckConstraint(_in("state", ChannelState), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(Text, unique=True)
    ref_kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(32), default=ChannelState.PENDING.value)
    state_detail: Mapped[str | None] = mapped_column(Text)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


SESSION_STATES = ("active", "revoked", "logged_out")


class TelegramSessionRow(Base):
    """A Telethon session kept in the database. ``auth_key`` is a secret: never log it."""

    __tablename__ = "telegram_sessions"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in SESSION_STATES)})", name="state"),
    )

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    dc_id: Mapped[int | None] = mapped_column(Integer)
    server_address: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    auth_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    takeout_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="logged_out")
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelegramUpdateStateRow(Base):
    """Telethon's update state per entity (0: the account): pts, qts, date (unix s), seq."""

    __tablename__ = "telegram_update_states"

    session: Mapped[str] = mapped_column(
        ForeignKey("telegram_sessions.name", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pts: Mapped[int] = mapped_column(BigInteger)
    qts: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)


class TelegramEntityRow(Base):
    """Telethon's entity cache: access hashes of the users, chats and channels it has seen."""

    __tablename__ = "telegram_entities"

    session: Mapped[str] = mapped_column(
        ForeignKey("telegram_sessions.name", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    date: Mapped[int | None] = mapped_column(BigInteger)


class FloodWaitRow(Base):
    """One FLOOD_WAIT Telegram imposed: on which method, how long, for which chat if known."""

    __tablename__ = "flood_waits"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    session: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(100))
    seconds: Mapped[int] = mapped_column(Integer)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)


ALERT_TARGETS = ("chat", "bot", "webhook")
ALERT_STATUSES = ("pending", "sent", "failed")


class AlertDeliveryRow(Base):
    """One alert about one hit to one target; written with the hit, in the same transaction."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("hit_id", "target"),
        Index("ix_alert_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(f"target IN ({', '.join(repr(t) for t in ALERT_TARGETS)})", name="target"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in ALERT_STATUSES)})", name="status"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    hit_id: Mapped[int] = mapped_column(BigID, ForeignKey("hits.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class SuppressionRow(Base):
    """A media item that must not produce hits on one entry again (a reviewed false positive).

    Matching still runs; recording a sighting of this media drops its match on ``entry_id``.
    """

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("media_id", "entry_id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    media_id: Mapped[int] = mapped_column(BigID, ForeignKey("media.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("entries.id", ondelete="CASCADE"), index=True
    )
    hit_id: Mapped[int | None] = mapped_column(BigID, ForeignKey("hits.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TakedownRow(Base):
    """A hit's message reported to one recipient for removal. One per (sighting, recipient).

    ``status``, ``last_checked_at``, ``last_outcome`` and ``removed_at`` follow the message's
    re-checks (``takedown_checks``) made after ``reported_at``.
    """

    __tablename__ = "takedowns"
    __table_args__ = (
        UniqueConstraint("sighting_id", "reported_to"),
        Index("ix_takedowns_status_last_checked_at", "status", "last_checked_at"),
        CheckConstraint(_in("status", RemovalStatus), name="status"),
        CheckConstraint(_in("last_outcome", CheckOutcome), name="last_outcome"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    hit_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("hits.id", ondelete="CASCADE"), index=True
    )
    sighting_id: Mapped[int] = mapped_column(BigID, ForeignKey("sightings.id", ondelete="CASCADE"))
    reported_to: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default=RemovalStatus.UNCHECKED.value)
    last_checked_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    removed_at: Mapped[datetime | None]


class TakedownCheckRow(Base):
    """One re-check of a reported message: what Telegram said, when. Never updated."""

    __tablename__ = "takedown_checks"
    __table_args__ = (
        Index("ix_takedown_checks_sighting_id_checked_at", "sighting_id", "checked_at"),
        CheckConstraint(_in("outcome", CheckOutcome), name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    sighting_id: Mapped[int] = mapped_column(BigID, ForeignKey("sightings.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    checked_by: Mapped[str] = mapped_column(Text)  # "daemon" or the CLI user


class ChannelLeaseRow(Base):
    """Which daemon processes a channel now (see ``monitor.store.leases``). One row per chat
    ever leased; ``epoch`` grows with every new holder (the fencing token). A lease is held while
    ``owner`` is set and ``expires_at`` is in the future; every time here is the database's
    clock, never a host's."""

    __tablename__ = "channel_leases"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Bot-API form
    owner: Mapped[str | None] = mapped_column(String(200), index=True)  # None: free
    epoch: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class DaemonRow(Base):
    """A running daemon's heartbeat: who shares the channels (see ``monitor.store.leases``)."""

    __tablename__ = "daemons"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    session: Mapped[str] = mapped_column(String(100))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
