"""Report rows and a summary built in code: three channels (one hostile), a file, Asia/Seoul."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta

from monitor.domain import (
    Count,
    HashType,
    MediaKind,
    RemovalStats,
    RemovalStatus,
    ReportRow,
    ReportSummary,
    ReviewStatus,
    SourceKind,
    Tier,
    Variant,
)

TIMEZONE = "Asia/Seoul"
T0 = datetime(2024, 8, 26, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
HOSTILE_TITLE = '=HYPERLINK("http://x")<script>alert(1)</script>'
ALPHA, HOSTILE = -1001000000001, -1001000000002


def row(hit_id: int, **overrides: object) -> ReportRow:
    """A Telegram hit in channel Alpha, posted at ``T0 + hit_id minutes``; fields overridable."""
    fields: dict[str, object] = {
        "hit_id": hit_id,
        "recorded_at": T0 + timedelta(minutes=hit_id, seconds=30),
        "review_status": ReviewStatus.CONFIRMED,
        "tier": Tier.NEAR_EXACT,
        "hash_type": HashType.PDQ,
        "distance": 4,
        "variant": Variant.ORIGINAL,
        "bank": "ncmec-2024",
        "entry_id": 7,
        "entry_value": "f" * 64,
        "case_id": "C-77",
        "label": "series A",
        "media_kind": MediaKind.PHOTO,
        "sha256": f"{hit_id:064x}",
        "md5": f"{hit_id:032x}",
        "pdq": "a" * 64,
        "first_seen_at": T0 - timedelta(days=1),
        "source_kind": SourceKind.TELEGRAM,
        "chat_id": ALPHA,
        "channel_title": "Alpha news",
        "channel_username": "alpha",
        "message_id": 100 + hit_id,
        "link": f"https://t.me/alpha/{100 + hit_id}",
        "posted_at": T0 + timedelta(minutes=hit_id),
        "seen_at": T0 + timedelta(minutes=hit_id, seconds=10),
    }
    fields.update(overrides)
    return ReportRow(**fields)  # type: ignore[arg-type]


def _hostile(hit_id: int, **overrides: object) -> ReportRow:
    fields: dict[str, object] = {
        "chat_id": HOSTILE,
        "channel_title": HOSTILE_TITLE,
        "channel_username": "evil_chan",
        "link": f"https://t.me/evil_chan/{hit_id}",
    }
    return row(hit_id, **(fields | overrides))


def sample_rows() -> list[ReportRow]:
    """Ordered as the store orders them: by chat id, files last, then post time."""
    return [
        row(  # reported and removed 5.5 hours later
            1,
            removal_status=RemovalStatus.REMOVED,
            reported_to="abuse@telegram.org; -hotline",
            reported_at=T0 + timedelta(hours=1),
            removed_at=T0 + timedelta(hours=6, minutes=30),
        ),
        row(  # reported, never re-checked
            2,
            removal_status=RemovalStatus.UNCHECKED,
            reported_to="abuse@telegram.org",
            reported_at=T0 + timedelta(hours=1),
            review_status=ReviewStatus.NEW,
        ),
        row(3, posted_at=T0 + timedelta(days=2)),  # never reported
        _hostile(
            4,
            label="=1+1",
            case_id="@SUM(A1)",
            bank="+bank",
            tier=Tier.EXACT,
            hash_type=HashType.SHA256,
            distance=0,
            removal_status=RemovalStatus.UP,
            reported_to="-2+3",
            reported_at=T0 + timedelta(hours=2),
        ),
        _hostile(5, link="javascript:alert(1)", label="<img src=x onerror=alert(1)>"),
        row(  # a file on disk: no channel, no message, no link
            6,
            source_kind=SourceKind.FILE,
            media_kind=MediaKind.IMAGE,
            chat_id=None,
            channel_title=None,
            channel_username=None,
            message_id=None,
            link=None,
            posted_at=None,
            path="/evidence/\t-x.jpg",
            pdq=None,
            case_id=None,
            label=None,
        ),
    ]


def sample_summary(timezone: str = TIMEZONE) -> ReportSummary:
    """Consistent with ``sample_rows``."""
    removed = RemovalStats(
        "Alpha news", reported=2, removed=1, inaccessible=0, up=0, unchecked=1,
        median_hours_to_removal=5.5, max_hours_to_removal=5.5,
    )  # fmt: skip
    hostile = RemovalStats(HOSTILE_TITLE, reported=1, removed=0, inaccessible=0, up=1, unchecked=0)
    return ReportSummary(
        generated_at=T0 + timedelta(days=3),
        since=T0 - timedelta(hours=3),
        until=T0 + timedelta(days=3),
        timezone=timezone,
        filters={"status": ["confirmed", "new"], "channel": None, "bank": "ncmec-2024"},
        total_hits=6,
        channels=2,
        by_status=(Count("confirmed", 5), Count("new", 1)),
        by_bank=(Count("ncmec-2024", 5), Count("+bank", 1)),
        by_day=(Count("2024-08-26", 5), Count("2024-08-28", 1)),  # 3 days, one without hits
        by_channel=(Count("Alpha news", 3), Count(HOSTILE_TITLE, 2), Count("(files)", 1)),
        removal_by_channel=(removed, hostile),
        removal_by_recipient=(
            RemovalStats("abuse@telegram.org", 2, 1, 0, 0, 1, 5.5, 5.5),
            RemovalStats("-2+3", 1, 0, 0, 1, 0),
        ),
        removal_total=RemovalStats("all", 3, 1, 0, 1, 1, 5.5, 5.5),
    )


def empty_summary() -> ReportSummary:
    return ReportSummary(
        generated_at=T0,
        since=T0 - timedelta(days=1),
        until=T0,
        timezone=TIMEZONE,
        filters={},
        total_hits=0,
        channels=0,
        by_status=(),
        by_bank=(),
        by_day=(),
        by_channel=(),
        removal_by_channel=(),
        removal_by_recipient=(),
    )


async def stream(rows: Iterable[ReportRow]) -> AsyncIterator[ReportRow]:
    for r in rows:
        yield r
