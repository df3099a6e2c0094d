"""Sealing the media of new hits (monitor.evidence_keeper) and how the bytes get there: the
pipeline hands them over only for new hits, the Telegram processor only when it downloaded them
just now and the pipeline keeps media; a failed write is logged and counted, never raised."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from telethon import types

from monitor.config import HashingSettings, MediaPolicy, Settings, load_settings
from monitor.domain import Hit, Match, RecordResult, SightingSource, Signals
from monitor.evidence import (
    EvidenceStore,
    generate_keypair,
    load_private_key,
    open_item,
    parse_public_key,
)
from monitor.evidence_keeper import AUDIT_ACTION, EvidenceKeeper
from monitor.hashing import compute_media_signals
from monitor.pipeline import Pipeline, PoolHasher
from monitor.synthetic import photo_like, to_jpeg
from monitor.telegram.processor import MessageProcessor, WorkItem
from monitor.telegram.sources import Chat
from tests.unit.alerts.helpers import make_hit, make_source

SEEN = datetime(2024, 8, 26, 3, 0, tzinfo=UTC)
DATA = to_jpeg(photo_like(11))
SIGNALS = compute_media_signals(DATA, HashingSettings())
CHAT = Chat(chat_id=-1001234567890, title="Feed", username="feed", entity=None, watched_id=1)


class FakeAudit:
    def __init__(self, fail: bool = False) -> None:
        self.rows: list[tuple[str, str, str, dict[str, Any] | None]] = []
        self.fail = fail

    async def audit(
        self, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
    ) -> None:
        if self.fail:
            raise RuntimeError("database is locked")
        self.rows.append((actor, action, subject, details))


def _keeper(
    tmp_path: Path, audit: FakeAudit | None = None
) -> tuple[EvidenceKeeper, Counter[str], Path]:
    key = tmp_path / "unit.key"
    public = generate_keypair(key)
    counters: Counter[str] = Counter()
    store = EvidenceStore(tmp_path / "evidence", parse_public_key(public), 30)
    return EvidenceKeeper(store, counters, audit=audit, actor="daemon:test"), counters, key


# --- the store -----------------------------------------------------------------------------------


def test_seal_writes_once_and_renews_the_retention_of_what_it_keeps_again(tmp_path: Path) -> None:
    keeper, _, _ = _keeper(tmp_path)
    store = keeper.store
    path, created = store.seal(DATA, mime="image/jpeg", seen_at=SEEN, where=None)
    assert created
    old = time.time() - 10 * 86400
    os.utime(path, (old, old))
    again, created = store.seal(DATA, mime="image/jpeg", seen_at=SEEN, where="elsewhere")
    assert (again, created) == (path, False)
    assert path.stat().st_mtime > old + 9 * 86400
    assert store.purge() == 0  # kept: needed again 10 days into a 30-day retention


def test_prepare_makes_a_private_folder_and_refuses_a_file(tmp_path: Path) -> None:
    keeper, _, _ = _keeper(tmp_path)
    keeper.store.prepare()
    assert keeper.store.root.stat().st_mode & 0o777 == 0o700
    public = parse_public_key(generate_keypair(tmp_path / "other.key"))
    blocked = EvidenceStore(tmp_path / "unit.key", public, 1)  # a file, not a folder
    with pytest.raises(FileExistsError):
        blocked.prepare()


# --- the keeper ----------------------------------------------------------------------------------


async def test_keep_seals_counts_and_audits_every_hit(tmp_path: Path) -> None:
    audit = FakeAudit()
    keeper, counters, key = _keeper(tmp_path, audit)
    hits = [make_hit(1), make_hit(2)]
    source = make_source()
    path = await keeper.keep(source, SIGNALS, hits, DATA)
    assert path is not None
    opened = open_item(path, load_private_key(key))
    assert opened.data == DATA
    assert opened.header["where"] == source.link
    assert counters == Counter(evidence_written=1)
    assert [(a, action, subject) for a, action, subject, _ in audit.rows] == [
        ("daemon:test", AUDIT_ACTION, "hit:1"),
        ("daemon:test", AUDIT_ACTION, "hit:2"),
    ]
    assert audit.rows[0][3] == {"sha256": SIGNALS.sha256, "path": str(path), "new": True}
    assert await keeper.keep(source, SIGNALS, [make_hit(3)], DATA) == path
    assert counters == Counter(evidence_written=1, evidence_renewed=1)


async def test_a_failed_write_is_logged_with_its_reason_and_counted_never_raised(
    tmp_path: Path,
) -> None:
    keeper, counters, _ = _keeper(tmp_path)
    keeper.store.prepare()
    # The item's shard folder is taken by a file: the write fails after a good start.
    (keeper.store.root / SIGNALS.sha256[:2]).write_bytes(b"")
    with capture_logs() as logs:
        assert await keeper.keep(make_source(), SIGNALS, [make_hit(5)], DATA) is None
    assert counters == Counter(evidence_failed=1)
    (event,) = [e for e in logs if e["event"] == "evidence_write_failed"]
    assert event["log_level"] == "error"
    assert event["reason"].startswith("FileExistsError: File exists")
    assert event["hit_ids"] == [5]
    assert DATA.hex()[:64] not in json.dumps(logs, default=str)
    assert list(keeper.store.items()) == []


async def test_a_failed_audit_keeps_the_evidence(tmp_path: Path) -> None:
    keeper, counters, _ = _keeper(tmp_path, FakeAudit(fail=True))
    with capture_logs() as logs:
        path = await keeper.keep(make_source(), SIGNALS, [make_hit(6)], DATA)
    assert path is not None
    assert path.exists()
    assert counters == Counter(evidence_written=1)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["evidence_audit_failed"]


async def test_an_unusable_folder_is_logged_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    keeper, _, _ = _keeper(tmp_path)
    keeper.store.root = tmp_path / "file" / "evidence"
    with capture_logs() as logs:
        assert not await keeper.prepare()
    (event,) = logs
    assert event["event"] == "evidence_dir_unusable"
    assert event["reason"].startswith("NotADirectoryError")


async def test_purge_counts_what_it_deleted(tmp_path: Path) -> None:
    keeper, counters, _ = _keeper(tmp_path)
    path = keeper.store.put(DATA, mime=None, seen_at=SEEN, where=None)
    old = time.time() - 31 * 86400
    os.utime(path, (old, old))
    assert await keeper.purge() == 1
    assert await keeper.purge() == 0
    assert counters == Counter(evidence_purged=1)


def test_a_keeper_only_when_enabled(tmp_path: Path) -> None:
    assert EvidenceKeeper.from_settings(Settings(data_dir=tmp_path), Counter()) is None
    public = generate_keypair(tmp_path / "k")
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[evidence]\nenabled = true\npublic_key = "{public}"\n'
        "retention_days = 7\n",
        encoding="utf-8",
    )
    keeper = EvidenceKeeper.from_settings(load_settings(config, env={}), Counter())
    assert keeper is not None
    assert keeper.store.root == tmp_path / "evidence"
    assert keeper.store.retention_days == 7


# --- the pipeline and the processor hand the bytes over -------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.kept: list[tuple[str, list[int], bytes]] = []

    async def keep(
        self, source: SightingSource, signals: Signals, hits: Sequence[Hit], data: bytes
    ) -> object:
        self.kept.append((source.key, [h.id for h in hits], data))
        return None


class Recorder:
    """Records each sighting; the first sighting of each source key gets one new hit."""

    def __init__(self, hit_for: set[str] | None = None) -> None:
        self.hit_for = hit_for
        self.seen: set[str] = set()

    async def record_sighting(
        self, source: SightingSource, signals: Signals, matches: Sequence[Match]
    ) -> RecordResult:
        new = source.key not in self.seen and (self.hit_for is None or source.key in self.hit_for)
        self.seen.add(source.key)
        hits = (make_hit(len(self.seen), source=source),) if new else ()
        return RecordResult(len(self.seen), 1, True, hits, hits)


class NoMatches:
    def match(self, signals: Signals) -> list[Match]:
        return []


async def test_the_pipeline_keeps_media_only_for_new_hits() -> None:
    sink = Sink()
    pipeline = Pipeline(NoMatches(), Recorder(hit_for={"a"}), evidence=sink)
    assert pipeline.keeps_media
    assert not Pipeline(NoMatches(), Recorder()).keeps_media
    await pipeline.handle(make_source(key="b"), SIGNALS, DATA)  # no hit
    await pipeline.handle(make_source(key="a"), SIGNALS)  # a hit, but no bytes
    await pipeline.handle(make_source(key="a"), SIGNALS, DATA)  # recorded before: no new hit
    assert sink.kept == []
    pipeline = Pipeline(NoMatches(), Recorder(hit_for={"a"}), evidence=sink)
    await pipeline.handle(make_source(key="a"), SIGNALS, DATA)
    assert sink.kept == [("a", [1], DATA)]


class Client:
    def __init__(self, files: dict[int, bytes]) -> None:
        self.files = files
        self.downloads = 0

    async def download_media(self, message: Any, **kwargs: Any) -> bytes:
        self.downloads += 1
        return self.files[message.media.document.id]


class MediaStore:
    async def signals_for_telegram_media(self, telegram_media_id: int) -> Signals | None:
        return None

    async def sighting_recorded(self, key: str) -> bool:
        return False

    async def record_skipped(self, source: SightingSource, **kwargs: Any) -> bool:
        raise AssertionError(f"skipped: {kwargs}")


def _image_message(msg_id: int, doc_id: int, size: int) -> Any:
    doc = types.Document(
        id=doc_id,
        access_hash=1,
        file_reference=b"r",
        date=SEEN,
        mime_type="image/jpeg",
        size=size,
        dc_id=2,
        attributes=[types.DocumentAttributeImageSize(640, 480)],
    )
    return types.Message(
        id=msg_id,
        peer_id=types.PeerChannel(1234567890),
        date=SEEN,
        message="",
        media=types.MessageMediaDocument(document=doc),
    )


async def test_the_processor_hands_over_only_bytes_it_downloaded() -> None:
    sink = Sink()
    client = Client({9: DATA})
    pipeline = Pipeline(NoMatches(), Recorder(), evidence=sink)
    processor = MessageProcessor(
        client,
        MediaStore(),
        PoolHasher(HashingSettings(), workers=0),
        pipeline,
        MediaPolicy(),
        Counter(),
    )
    await processor.process(WorkItem(_image_message(1, 9, len(DATA)), CHAT, "live"))
    # The same media again (a forward): a hit of its own, from the cache, no bytes.
    await processor.process(WorkItem(_image_message(2, 9, len(DATA)), CHAT, "live"))
    assert client.downloads == 1
    assert [(ids, hashlib.sha256(data).hexdigest()) for _, ids, data in sink.kept] == [
        ([1], SIGNALS.sha256)
    ]
