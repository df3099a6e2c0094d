"""The columns of a hit report and the row → flat record conversion the three formats share.

One place decides what a report says about a hit, so CSV, JSON and HTML cannot drift apart.
Every time appears twice: in UTC (``2024-08-26T03:00:00Z``) and in the report's local time zone
(``2024-08-26T12:00:00+09:00``), both ISO 8601 to the second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.domain import ReportRow
from monitor.errors import InputError, MonitorError

Cell = str | int | float | None

# The channel a hit was posted in: repeated on every CSV row, a group header in JSON and HTML.
CHANNEL_COLUMNS: tuple[str, ...] = ("chat_id", "channel_title", "channel_username")

COLUMNS: tuple[str, ...] = (
    "hit_id",
    "link",
    *CHANNEL_COLUMNS,
    "message_id",
    "posted_at_utc",
    "posted_at_local",
    "media_kind",
    "sha256",
    "md5",
    "pdq",
    "bank",
    "entry_id",
    "entry_value",
    "case_id",
    "label",
    "distance",
    "tier",
    "variant",
    "hash_type",
    "match_kind",
    "matched_from_s",
    "matched_to_s",
    "coverage",
    "first_seen_at_utc",
    "first_seen_at_local",
    "recorded_at_utc",
    "recorded_at_local",
    "review_status",
    "removal_status",
    "reported_to",
    "reported_at_utc",
    "reported_at_local",
    "removed_at_utc",
    "removed_at_local",
    "hours_to_removal",
    "source_kind",
    "path",
    "seen_at_utc",
    "seen_at_local",
)

HIT_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in CHANNEL_COLUMNS)


def zone(name: str) -> ZoneInfo:
    """The report's local zone; an unknown name is the user's input, so an ``InputError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')"
        ) from None


def as_utc(value: datetime) -> datetime:
    """Naive datetimes from the store are UTC (SQLite keeps no offset): say so explicitly."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def local_iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    return as_utc(value).astimezone(tz).isoformat(timespec="seconds")


def hours_to_removal(row: ReportRow) -> float | None:
    """Hours from the first report to the first check that found the content gone."""
    if row.removed_at is None or row.reported_at is None:
        return None
    return round((as_utc(row.removed_at) - as_utc(row.reported_at)).total_seconds() / 3600, 2)


def flatten(row: ReportRow, tz: ZoneInfo) -> dict[str, Cell]:
    """One hit as ``{column: value}`` in ``COLUMNS`` order; numbers stay numbers, None is empty."""
    return {
        "hit_id": row.hit_id,
        "link": row.link,
        "chat_id": row.chat_id,
        "channel_title": row.channel_title,
        "channel_username": row.channel_username,
        "message_id": row.message_id,
        "posted_at_utc": utc_iso(row.posted_at),
        "posted_at_local": local_iso(row.posted_at, tz),
        "media_kind": row.media_kind.value,
        "sha256": row.sha256,
        "md5": row.md5,
        "pdq": row.pdq,
        "bank": row.bank,
        "entry_id": row.entry_id,
        "entry_value": row.entry_value,
        "case_id": row.case_id,
        "label": row.label,
        "distance": row.distance,
        "tier": row.tier.value,
        "variant": row.variant.value,
        "hash_type": row.hash_type.value,
        "match_kind": row.match_kind.value,
        "matched_from_s": row.matched_from_s,
        "matched_to_s": row.matched_to_s,
        "coverage": row.coverage,
        "first_seen_at_utc": utc_iso(row.first_seen_at),
        "first_seen_at_local": local_iso(row.first_seen_at, tz),
        "recorded_at_utc": utc_iso(row.recorded_at),
        "recorded_at_local": local_iso(row.recorded_at, tz),
        "review_status": row.review_status.value,
        "removal_status": None if row.removal_status is None else row.removal_status.value,
        "reported_to": row.reported_to,
        "reported_at_utc": utc_iso(row.reported_at),
        "reported_at_local": local_iso(row.reported_at, tz),
        "removed_at_utc": utc_iso(row.removed_at),
        "removed_at_local": local_iso(row.removed_at, tz),
        "hours_to_removal": hours_to_removal(row),
        "source_kind": row.source_kind.value,
        "path": row.path,
        "seen_at_utc": utc_iso(row.seen_at),
        "seen_at_local": local_iso(row.seen_at, tz),
    }


class ChannelGroups:
    """Tells where one channel's rows end and the next channel's begin, from the row order alone.

    Rows must come grouped by channel (the store orders them); a channel that shows up again
    after another one would be split into two groups in JSON and HTML, so it is an error. Only
    the ids of channels already closed are kept (one int per channel, never rows).
    """

    def __init__(self) -> None:
        self._closed: set[int | None] = set()
        self._current: int | None = None
        self._started = False

    def starts_group(self, row: ReportRow) -> bool:
        """True when ``row`` opens a new channel group (the first row included)."""
        if self._started and row.chat_id == self._current:
            return False
        if row.chat_id in self._closed:
            raise MonitorError(
                f"report rows are not grouped by channel: chat {row.chat_id} appears again "
                f"after other channels (hit {row.hit_id})"
            )
        if self._started:
            self._closed.add(self._current)
        self._current = row.chat_id
        self._started = True
        return True
