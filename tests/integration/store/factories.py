"""Small builders of domain objects for the store tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from monitor.domain import (
    Entry,
    EntryStatus,
    HashFailure,
    HashType,
    ListEntry,
    Match,
    MediaKind,
    SightingSource,
    Signals,
    SourceKind,
    Tier,
    Variant,
)
from monitor.store import Store


def hex_of(seed: object, hash_type: HashType = HashType.PDQ) -> str:
    """A deterministic lower-case hex value of the right length for ``hash_type``."""
    digest = hashlib.sha256(repr(seed).encode()).hexdigest() * 2
    return digest[: hash_type.hex_len]


def list_entry(
    seed: object,
    *,
    hash_type: HashType = HashType.PDQ,
    status: EntryStatus = EntryStatus.ACTIVE,
    case_id: str | None = None,
    label: str | None = None,
    added_at: datetime | None = None,
    metadata: dict[str, str] | None = None,
    line: int = 0,
) -> ListEntry:
    return ListEntry(
        hash_type=hash_type,
        value=hex_of(seed, hash_type),
        status=status,
        case_id=case_id,
        label=label,
        added_at=added_at,
        metadata=metadata or {},
        line=line,
    )


def signals(seed: object, *, perceptual: bool = True, failure: str | None = None) -> Signals:
    return Signals(
        sha256=hex_of(("sha256", seed), HashType.SHA256),
        md5=hex_of(("md5", seed), HashType.MD5),
        size_bytes=12345,
        mime="image/jpeg" if perceptual else None,
        width=640 if perceptual else None,
        height=480 if perceptual else None,
        pdq=hex_of(("pdq", seed)) if perceptual else None,
        pdq_quality=90 if perceptual else None,
        phash=hex_of(("phash", seed), HashType.PHASH) if perceptual else None,
        failure=HashFailure(failure, "detail") if failure else None,
    )


def tg_source(
    message_id: int = 56,
    *,
    chat_id: int = -1001234567890,
    media_id: int = 5012,
    title: str | None = "Some channel",
    username: str | None = "somechannel",
    posted_at: datetime | None = None,
) -> SightingSource:
    return SightingSource(
        kind=SourceKind.TELEGRAM,
        key=f"tg:{chat_id}:{message_id}:{media_id}",
        chat_id=chat_id,
        chat_title=title,
        chat_username=username,
        message_id=message_id,
        telegram_media_id=media_id,
        media_kind=MediaKind.PHOTO,
        posted_at=posted_at or datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        link=f"https://t.me/{username}/{message_id}" if username else None,
        forward_chat_id=-1009999,
        forward_message_id=7,
        forward_from_name="Origin",
    )


def file_source(path: str) -> SightingSource:
    return SightingSource(
        kind=SourceKind.FILE, key=f"file:{path}", path=path, media_kind=MediaKind.IMAGE
    )


def match_for(
    entry: Entry,
    *,
    distance: int = 3,
    tier: Tier = Tier.NEAR_EXACT,
    variant: Variant = Variant.ORIGINAL,
    threshold: int = 31,
) -> Match:
    return Match(
        entry_id=entry.id,
        bank=entry.bank,
        hash_type=entry.hash_type,
        entry_value=entry.value,
        query_value=hex_of(("query", entry.value), entry.hash_type),
        variant=variant,
        distance=distance,
        tier=tier,
        threshold=threshold,
        case_id=entry.case_id,
        label=entry.label,
    )


async def make_entries(store: Store, bank: str = "b", n: int = 3, start: int = 0) -> list[Entry]:
    await store.upsert_bank(bank)
    await store.import_entries(
        bank,
        [list_entry(i, case_id=f"case-{i}", label="csam") for i in range(start, start + n)],
        source=f"{bank}.csv",
        actor="alice",
    )
    return [e async for e in store.iter_entries(bank)]
