"""Plain data passed between the stages: hashing -> matching -> store -> reports.

Nothing here imports Telethon, SQLAlchemy or Pillow. Hashes travel as lower-case hex strings;
the index converts them to bits internally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class HashType(StrEnum):
    PDQ = "pdq"
    PHASH = "phash"
    MD5 = "md5"
    SHA256 = "sha256"
    # A listed video as a set of timed frame PDQs (vPDQ style). The entry's value is the list's
    # video id (case kept); its frames are stored with it (``Entry.frames``).
    VPDQ = "vpdq"

    @property
    def bits(self) -> int:
        return _BITS[self]

    @property
    def hex_len(self) -> int:
        return _BITS[self] // 4

    @property
    def perceptual(self) -> bool:
        return self in (HashType.PDQ, HashType.PHASH, HashType.VPDQ)

    @property
    def video(self) -> bool:
        return self is HashType.VPDQ


# VPDQ: the bits of each frame hash; its value is a video id of at most 64 characters.
_BITS = {
    HashType.PDQ: 256,
    HashType.PHASH: 64,
    HashType.MD5: 128,
    HashType.SHA256: 256,
    HashType.VPDQ: 256,
}


class Variant(StrEnum):
    """Which transformation of the query image produced a hash.

    The eight dihedral transforms, each optionally after trimming uniform borders. Names say what
    was done to the *query* image; a list entry matched through ``rot90`` was posted rotated.
    """

    ORIGINAL = "original"
    ROT90 = "rot90"
    ROT180 = "rot180"
    ROT270 = "rot270"
    FLIP_H = "flip_h"  # mirrored left-right
    FLIP_V = "flip_v"  # mirrored top-bottom
    TRANSPOSE = "transpose"  # mirrored about the main diagonal
    TRANSVERSE = "transverse"  # mirrored about the anti-diagonal
    TRIMMED = "trimmed"
    TRIMMED_ROT90 = "trimmed+rot90"
    TRIMMED_ROT180 = "trimmed+rot180"
    TRIMMED_ROT270 = "trimmed+rot270"
    TRIMMED_FLIP_H = "trimmed+flip_h"
    TRIMMED_FLIP_V = "trimmed+flip_v"
    TRIMMED_TRANSPOSE = "trimmed+transpose"
    TRIMMED_TRANSVERSE = "trimmed+transverse"

    @property
    def reoriented(self) -> bool:
        """True for the non-identity orientations, which get a tighter threshold."""
        return self not in (Variant.ORIGINAL, Variant.TRIMMED)

    @property
    def trimmed(self) -> bool:
        return self.value.startswith("trimmed")


class Tier(StrEnum):
    """How strong a match is. Ordered from strongest to weakest."""

    EXACT = "exact"  # cryptographic hash equal: the very same file
    NEAR_EXACT = "near-exact"  # PDQ within the near-exact distance: alert at once
    MATCH = "match"  # within the bank's threshold: an analyst confirms

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]


_TIER_RANK = {Tier.EXACT: 0, Tier.NEAR_EXACT: 1, Tier.MATCH: 2}


class MatchKind(StrEnum):
    """What matched what: the whole item, one frame, part of a listed video, or all of it."""

    FILE = "file"  # the file's cryptographic hash (MD5, SHA-256) equals the entry
    IMAGE = "image"  # the image's perceptual hash (PDQ, pHash) is near the entry
    # One frame: a frame of the posted video near a listed image, or the posted image near a
    # frame of a listed video (a still taken from it).
    FRAME = "frame"
    # A run of consecutive seconds of the posted video matches frames of one listed video.
    CLIP = "clip"
    # At least the bank's share of the listed video's distinct frames have a posted frame near.
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class FrameMatch:
    """One matched frame pair. Times in seconds; None on the side that is a still image."""

    query_ts: float | None  # in the posted video
    entry_ts: float | None  # in the listed video
    distance: int


class MediaKind(StrEnum):
    PHOTO = "photo"
    IMAGE = "image"  # an image sent as a file / found on disk
    STICKER = "sticker"
    ANIMATION = "animation"
    VIDEO = "video"
    OTHER = "other"


class SourceKind(StrEnum):
    TELEGRAM = "telegram"
    FILE = "file"
    DESKTOP_EXPORT = "desktop_export"


class EntryStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class ReviewStatus(StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    NEEDS_INFO = "needs_info"


@dataclass(frozen=True, slots=True)
class QueryHash:
    """One perceptual hash to look up: a variant of the query image."""

    hash_type: HashType
    value: str  # lower-case hex
    variant: Variant
    quality: int | None = None  # PDQ quality 0-100 of this variant; None for pHash


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything hashing learned about one media item. Never holds the bytes."""

    sha256: str
    md5: str
    size_bytes: int
    mime: str | None = None  # e.g. image/jpeg; None when undecodable
    width: int | None = None
    height: int | None = None
    pdq: str | None = None  # PDQ of the original orientation
    pdq_quality: int | None = None
    phash: str | None = None  # imagehash pHash of the original orientation
    queries: tuple[QueryHash, ...] = ()  # every variant to search, original first
    trimmed: bool = False  # a uniform border was found and trimmed variants exist
    failure: HashFailure | None = (
        None  # set when perceptual hashing failed; exact hashes still count
    )
    video: VideoSignals | None = None  # set for videos and animations (frames instead of pdq)

    @property
    def perceptual_ok(self) -> bool:
        if self.video is not None:
            return self.video.perceptual_ok
        return self.failure is None and self.pdq is not None

    @property
    def frames(self) -> tuple[FrameHash, ...]:
        """The timed frame hashes of a video (empty for an image)."""
        return self.video.frames if self.video is not None else ()


@dataclass(frozen=True, slots=True)
class HashFailure:
    """Why perceptual hashing did not happen (errors.MediaError, as data)."""

    reason: str  # an errors.MediaErrorReason value
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-bank matching thresholds. ``distance <= threshold`` matches (inclusive)."""

    pdq: int = 31
    pdq_near_exact: int = 10
    pdq_reoriented: int = 24  # for non-identity orientations (flips, rotations)
    phash: int = 8
    # A video match: at least this share of a listed video's distinct frames have a posted
    # frame within ``pdq``.
    video_share: float = 0.8
    # A clip match: at least this many consecutive seconds of the posted video match frames of
    # one listed video.
    clip_seconds: float = 3.0


@dataclass(frozen=True, slots=True)
class Bank:
    name: str
    source: str = ""
    description: str = ""
    enabled: bool = True
    thresholds: Thresholds = field(default_factory=Thresholds)
    id: int | None = None
    active_entries: int = 0
    withdrawn_entries: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One parsed hash-list line, before it is stored."""

    hash_type: HashType
    value: str  # normalised lower-case hex
    status: EntryStatus = EntryStatus.ACTIVE
    case_id: str | None = None
    label: str | None = None
    added_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # every other column
    line: int = 0  # where it came from, for messages
    frames: tuple[ListFrame, ...] = ()  # VPDQ entries: the listed video's frames, time order


@dataclass(frozen=True, slots=True, order=True)
class ListFrame:
    """One frame of a listed video: its time in the video and its PDQ."""

    timestamp: float  # seconds from the start
    pdq: str  # 64 lower-case hex
    quality: int | None = None  # PDQ quality 0-100 when the list gives it


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored hash-list entry."""

    id: int
    bank: str
    hash_type: HashType
    value: str
    status: EntryStatus
    case_id: str | None = None
    label: str | None = None
    added_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    frames: tuple[ListFrame, ...] = ()  # VPDQ entries: the listed video's frames, time order


@dataclass(frozen=True, slots=True)
class Match:
    """A query that hit a list entry."""

    entry_id: int
    bank: str
    hash_type: HashType
    entry_value: str
    query_value: str
    variant: Variant
    distance: int
    tier: Tier
    threshold: int
    case_id: str | None = None
    label: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    kind: MatchKind = MatchKind.IMAGE
    # Video and frame matches: the matched frame pairs (time order of the posted item), the
    # share of the listed video's distinct frames matched, and the matched span of the posted
    # video in seconds. For these ``distance`` is the median distance of the pairs.
    frames: tuple[FrameMatch, ...] = ()
    coverage: float | None = None
    span: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class SightingSource:
    """Where one media item was seen. ``key`` makes the write idempotent."""

    kind: SourceKind
    key: str  # unique per (place, media): e.g. "tg:-1001234:56:5012" or "file:/abs/path"
    path: str | None = None  # local files and export folders
    chat_id: int | None = None  # Telegram chat id in Bot-API form (-100...) where known
    chat_title: str | None = None
    chat_username: str | None = None
    message_id: int | None = None
    grouped_id: int | None = None
    telegram_media_id: int | None = None
    media_kind: MediaKind = MediaKind.IMAGE
    posted_at: datetime | None = None  # always timezone-aware UTC
    link: str | None = None
    forward_chat_id: int | None = None
    forward_message_id: int | None = None
    forward_from_name: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    id: int
    media_id: int
    source: SightingSource
    seen_at: datetime
    sha256: str


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording one sighting did. ``new_hits`` are those not recorded before."""

    sighting_id: int
    media_id: int
    sighting_created: bool
    hits: tuple[Hit, ...]
    new_hits: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    sighting_id: int
    entry_id: int
    bank: str
    hash_type: HashType
    distance: int
    tier: Tier
    variant: Variant
    review_status: ReviewStatus
    created_at: datetime
    sha256: str
    case_id: str | None = None
    label: str | None = None
    entry_value: str = ""
    query_value: str = ""
    source: SightingSource | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    kind: MatchKind = MatchKind.IMAGE
    frames: tuple[FrameMatch, ...] = ()
    coverage: float | None = None
    span: tuple[float, float] | None = None


class ChannelState(StrEnum):
    """Where an allow-list entry stands. Only ``ACTIVE`` channels are read."""

    PENDING = "pending"  # not resolved yet
    ACTIVE = "active"  # resolved and readable (member, or a public channel): watched
    INVITE_VALID = "invite_valid"  # an invite link checked and usable, not joined yet
    NEEDS_APPROVAL = "needs_approval"  # a join request was sent; the channel's admins decide
    INVITE_EXPIRED = "invite_expired"  # the invite link is expired, revoked or unknown
    NOT_FOUND = "not_found"  # no such username / id (or no access hash known for the id)
    PRIVATE = "private"  # the channel is private to us now (left, kicked, banned, made private)
    GONE = "gone"  # the channel was deleted
    FLOOD_WAIT = "flood_wait"  # Telegram asked us to wait before resolving or joining
    ERROR = "error"  # anything else; see the detail

    @property
    def watched(self) -> bool:
        return self is ChannelState.ACTIVE


class RefKind(StrEnum):
    USERNAME = "username"  # @name, t.me/name
    INVITE = "invite"  # t.me/+HASH, t.me/joinchat/HASH
    ID = "id"  # a numeric id


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A parsed allow-list reference. ``value``: the username (no @), the invite hash, or the
    channel id in Bot-API form (-100...)."""

    kind: RefKind
    value: str

    def __str__(self) -> str:
        if self.kind is RefKind.USERNAME:
            return f"@{self.value}"
        if self.kind is RefKind.INVITE:
            return f"https://t.me/+{self.value}"
        return self.value


@dataclass(frozen=True, slots=True)
class WatchedChannel:
    """An allow-list entry and what is known of the Telegram chat it names."""

    id: int
    ref: str  # normalised: "@name", "https://t.me/+HASH" or "-100..."
    ref_kind: RefKind
    origin: str  # "config" (from the config file) or "cli" (monitor channels add)
    enabled: bool
    state: ChannelState
    state_detail: str | None = None
    telegram_id: int | None = None  # Bot-API form (-100...)
    username: str | None = None
    title: str | None = None
    cursor: int = 0  # last message id processed in order; 0: none yet
    last_message_at: datetime | None = None
    last_reconciled_at: datetime | None = None
    added_by: str | None = None
    added_at: datetime | None = None
    resolved_at: datetime | None = None
    joined_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TelegramAccount:
    """Who a stored session is signed in as (no secrets)."""

    session: str
    state: str  # "active", "revoked" or "logged_out"
    state_reason: str | None = None
    user_id: int | None = None
    is_bot: bool = False
    username: str | None = None
    display_name: str | None = None
    dc_id: int | None = None
    server_address: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionData:
    """Everything a Telethon session needs, as stored. ``auth_key`` is a secret: never log it.

    ``update_states``: entity id (0: the account) -> (pts, qts, date as unix seconds, seq).
    ``entities``: (id, access_hash, username, phone, name, date as unix seconds or None).
    """

    name: str
    dc_id: int
    server_address: str
    port: int
    auth_key: bytes | None = field(repr=False)
    takeout_id: int | None = None
    update_states: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    entities: tuple[tuple[int, int, str | None, str | None, str | None, int | None], ...] = ()
    account: TelegramAccount | None = None


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One alert about one hit to one target ("chat", "bot", "webhook")."""

    id: int
    hit: Hit
    target: str
    status: str  # "pending", "sent" or "failed"
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None


class CheckOutcome(StrEnum):
    """What one takedown re-check found for a reported message."""

    UP = "up"  # the message is there with the reported media
    DELETED = "deleted"  # the message no longer exists
    MEDIA_REMOVED = "media_removed"  # the message exists but no longer carries that media
    PRIVATE = "private"  # the channel is private to us now (made private, or we were removed)
    GONE = "gone"  # the channel itself no longer exists (deleted or banned)
    ERROR = "error"  # could not tell (network, flood wait, ...): tried again at the next check

    @property
    def removed(self) -> bool:
        """The content is no longer on Telegram at that place."""
        return self in (CheckOutcome.DELETED, CheckOutcome.MEDIA_REMOVED, CheckOutcome.GONE)

    @property
    def conclusive(self) -> bool:
        return self is not CheckOutcome.ERROR


class RemovalStatus(StrEnum):
    """Where a reported message stands, from its latest conclusive re-check."""

    UNCHECKED = "unchecked"  # reported, never re-checked yet
    UP = "up"  # still up at the last check
    REMOVED = "removed"  # deleted, media removed, or channel gone
    INACCESSIBLE = "inaccessible"  # channel private to us: not visible publicly, not proven gone


@dataclass(frozen=True, slots=True)
class RecheckTarget:
    """One reported Telegram message to re-check."""

    sighting_id: int
    chat_id: int  # Bot-API form (-100...)
    message_id: int
    telegram_media_id: int | None = None  # the reported media; None: any media counts as up


@dataclass(frozen=True, slots=True)
class RecheckResult:
    sighting_id: int
    outcome: CheckOutcome
    checked_at: datetime  # aware UTC
    detail: str | None = None  # e.g. the Telegram error name


@dataclass(frozen=True, slots=True)
class Takedown:
    """A hit's message reported to someone for removal, and where its removal stands."""

    id: int
    hit_id: int
    sighting_id: int
    reported_to: str
    reported_by: str
    reported_at: datetime
    reference: str | None = None
    status: RemovalStatus = RemovalStatus.UNCHECKED
    last_checked_at: datetime | None = None
    last_outcome: CheckOutcome | None = None
    removed_at: datetime | None = None  # first conclusive check that found it removed
    # Where the message is (Telegram sightings); filled by listings, not needed to record.
    chat_id: int | None = None
    channel_title: str | None = None
    channel_username: str | None = None
    message_id: int | None = None
    link: str | None = None

    @property
    def time_to_removal(self) -> timedelta | None:
        if self.removed_at is None:
            return None
        return self.removed_at - self.reported_at


@dataclass(frozen=True, slots=True)
class TakedownCheck:
    """One re-check of a reported message, as kept in the history."""

    id: int
    sighting_id: int
    checked_at: datetime
    outcome: CheckOutcome
    checked_by: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class HitFilter:
    """Which hits a listing, a report or a count covers. Empty tuples and None: no filter.

    ``since`` is inclusive and ``until`` exclusive, on the time the hit was recorded.
    ``channels`` are Telegram chat ids in Bot-API form (-100...). ``reported``: True only hits
    whose message was reported for takedown, False only those not reported yet.
    """

    statuses: tuple[ReviewStatus, ...] = ()
    banks: tuple[str, ...] = ()
    channels: tuple[int, ...] = ()
    tiers: tuple[Tier, ...] = ()
    hash_types: tuple[HashType, ...] = ()
    kinds: tuple[MatchKind, ...] = ()
    case_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_distance: int | None = None
    max_distance: int | None = None
    reported: bool | None = None

    def describe(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (for audit rows and report headers)."""
        out: dict[str, Any] = {}
        for name in (
            "statuses",
            "banks",
            "channels",
            "tiers",
            "hash_types",
            "kinds",
            "case_id",
            "since",
            "until",
            "min_distance",
            "max_distance",
            "reported",
        ):
            value = getattr(self, name)
            if value not in ((), None):
                out[name] = jsonable(value)
        return out


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What is kept of one media item: hashes and facts, never the bytes."""

    id: int
    sha256: str
    md5: str
    size_bytes: int
    first_seen_at: datetime
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    phash: str | None = None
    duration: float | None = None  # videos: seconds
    frames: int | None = None  # videos: timed frame hashes kept
    codec: str | None = None  # videos: the decoder used


@dataclass(frozen=True, slots=True)
class OtherSighting:
    """Another place the same media was seen, with the ids of the hits recorded there."""

    sighting_id: int
    source: SightingSource
    seen_at: datetime
    hit_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HitEvidence:
    """Everything known about one hit, for an analyst deciding on it."""

    hit: Hit
    threshold: int
    seen_at: datetime  # when this sighting was captured
    media: MediaFacts
    entry_status: EntryStatus
    entry_added_at: datetime | None
    other_sightings: tuple[OtherSighting, ...]
    history: tuple[AuditEntry, ...]  # review, takedown and other actions on this hit
    takedowns: tuple[Takedown, ...]
    checks: tuple[TakedownCheck, ...]  # re-checks of this hit's message, oldest first
    suppressed: bool  # this media no longer produces hits on this entry


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the append-only audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """What one review did."""

    status: ReviewStatus
    changed: tuple[int, ...]  # hits whose status changed
    updated: tuple[int, ...]  # hits already in that status (reviewer, time and note updated)
    withdrawn_entries: tuple[int, ...] = ()  # entries withdrawn with the rejection
    suppressed: int = 0  # (media, entry) pairs newly suppressed
    also_rejected: tuple[int, ...] = ()  # other new hits of the suppressed media on that entry


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One hit in an export. Times aware UTC (renderers add the local time)."""

    hit_id: int
    recorded_at: datetime  # when the hit was recorded
    review_status: ReviewStatus
    tier: Tier
    hash_type: HashType
    distance: int
    variant: Variant
    bank: str
    entry_id: int
    entry_value: str
    case_id: str | None
    label: str | None
    media_kind: MediaKind
    sha256: str
    md5: str
    pdq: str | None
    first_seen_at: datetime  # the media's first sighting anywhere
    source_kind: SourceKind
    chat_id: int | None = None  # Bot-API form
    channel_title: str | None = None
    channel_username: str | None = None
    message_id: int | None = None
    link: str | None = None
    posted_at: datetime | None = None
    seen_at: datetime | None = None  # this sighting's capture time
    path: str | None = None  # file sightings
    removal_status: RemovalStatus | None = None  # None: never reported
    reported_to: str | None = None  # "; "-joined recipients
    reported_at: datetime | None = None  # the first report
    removed_at: datetime | None = None
    match_kind: MatchKind = MatchKind.IMAGE
    matched_from_s: float | None = None  # videos: the matched part of the posted video, seconds
    matched_to_s: float | None = None
    coverage: float | None = None  # video matches: share of the listed video's frames matched


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class RemovalStats:
    """Takedown outcomes for one group (a channel, a recipient, or everything)."""

    key: str
    reported: int  # reported messages
    removed: int
    inaccessible: int
    up: int
    unchecked: int
    median_hours_to_removal: float | None = None
    max_hours_to_removal: float | None = None

    @property
    def removal_rate(self) -> float | None:
        return None if self.reported == 0 else self.removed / self.reported


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What a report's header, summary and charts show; computed before the rows stream."""

    generated_at: datetime
    since: datetime | None
    until: datetime | None
    timezone: str  # IANA name for local times
    filters: dict[str, Any]  # status, channel, bank as given
    total_hits: int
    channels: int
    by_status: tuple[Count, ...]
    by_bank: tuple[Count, ...]
    by_day: tuple[Count, ...]  # key: YYYY-MM-DD (UTC), every day of the range with hits
    by_channel: tuple[Count, ...]  # key: channel label, most hits first
    removal_by_channel: tuple[RemovalStats, ...]
    removal_by_recipient: tuple[RemovalStats, ...]
    removal_total: RemovalStats | None = None


def jsonable(value: Any) -> Any:
    """Turn domain objects into JSON-ready structures (enums to values, datetimes to ISO 8601)."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class FrameHash:
    """PDQ of one video frame, or of a run of near-identical consecutive frames collapsed into it.

    Times are presentation times in seconds from the start of the video. ``timestamp`` is the
    run's first frame (the one hashed here), ``until`` its last hashed frame (equal to
    ``timestamp`` for a run of one), ``count`` the hashed frames in the run.
    """

    timestamp: float
    until: float
    pdq: str  # 64 lower-case hex, the frame as stored (no rotation or mirror variants)
    quality: int  # PDQ quality 0-100, at least HashingSettings.min_pdq_quality
    keyframe: bool = False  # the run's first frame is a keyframe (intra frame) of the stream
    count: int = 1
    trimmed_pdq: str | None = None  # PDQ with uniform borders (letterbox bars) cut away, if any
    trimmed_quality: int | None = None


@dataclass(frozen=True, slots=True)
class VideoSignals:
    """Everything hashing learned about one video or animation. Never holds the bytes or pixels.

    ``failure`` set means no perceptual hash (``frames`` is empty); the exact hashes still count.
    ``truncated`` means the frames may cover only part of the video: the file ended early (or
    well before its declared duration), or the decoder rejected damaged packets (skipped; after
    16 decoding stops). What could be decoded was hashed; it is no failure.
    """

    sha256: str
    md5: str
    size_bytes: int
    container: str | None = None  # mp4, mov, webm, matroska, gif, webp, tgs
    mime: str | None = None  # e.g. video/mp4, image/gif
    codec: str | None = None  # FFmpeg decoder: h264, hevc, vp9, libdav1d (AV1), gif; webp, lottie
    duration: float | None = None  # seconds, as the container declares it (or as decoded)
    width: int | None = None
    height: int | None = None
    fps: float | None = None  # average frame rate
    rotation: int = 0  # display rotation the container asks for, in degrees; NOT applied
    frames: tuple[FrameHash, ...] = ()  # in time order, one per run of near-identical frames
    frames_decoded: int = 0  # frames the decoder produced
    frames_hashed: int = 0  # frames PDQ was computed for (sampled and keyframes)
    low_quality: int = 0  # hashed frames dropped for a PDQ quality below the minimum
    keyframes_only: bool = False  # a long video: only its keyframes were decoded and hashed
    truncated: bool = False
    failure: HashFailure | None = None

    @property
    def perceptual_ok(self) -> bool:
        return self.failure is None and bool(self.frames)

    def as_signals(self) -> Signals:
        """The :class:`Signals` the pipeline carries for this video."""
        return Signals(
            sha256=self.sha256,
            md5=self.md5,
            size_bytes=self.size_bytes,
            mime=self.mime,
            width=self.width,
            height=self.height,
            failure=self.failure,
            video=self,
        )

    def frame_at(self, seconds: float) -> FrameHash | None:
        """The hash that covers time ``seconds``: the last run starting at or before it."""
        found: FrameHash | None = None
        for frame in self.frames:
            if frame.timestamp > seconds:
                break
            found = frame
        return found
