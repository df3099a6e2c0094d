"""One Telegram message through policy -> cache or download -> hash -> match -> record.

Photos, images, stickers, GIFs and videos all take this one path: hashing tells a video from an
image by its bytes (in the worker pool, within ``[hashing.video]`` caps and time budget), and a
video's signals carry its timed frame hashes (``Signals.video``) to the matcher and the store.

The media cache is keyed by Telegram's media id (``photo.id`` / ``document.id``), which survives
forwards: a forwarded copy is recorded as a sighting of its own without being downloaded or
hashed again, first from memory, else from the store (the hashes of every media item seen are
kept, with all their query variants). Concurrent messages carrying the same media share one
download.

A reconciler pass meets again every message since the cursor, most of them handled live
already: a message whose sighting is recorded with its media is skipped after one lookup.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.config import MediaPolicy
from monitor.domain import QueryHash, SightingSource, Signals
from monitor.errors import MediaError, MediaErrorReason
from monitor.logs import get_logger
from monitor.pipeline import Hasher, Pipeline
from monitor.telegram.cursors import PassTracker
from monitor.telegram.media import MediaRef, check_policy, download, media_ref
from monitor.telegram.sources import Chat, sighting_source

log = get_logger(__name__)


class MediaStore(Protocol):
    async def signals_for_telegram_media(self, telegram_media_id: int) -> Signals | None: ...

    async def sighting_recorded(self, key: str) -> bool: ...

    async def record_skipped(
        self,
        source: SightingSource,
        *,
        reason: str,
        detail: str | None,
        file_size: int | None,
        mime_type: str | None,
    ) -> bool: ...


@dataclass(slots=True)
class WorkItem:
    """A message to process. ``tracker`` is set for reconciler passes (they move the cursor)."""

    message: Any
    chat: Chat
    origin: str  # "live", "edit", "reconcile" or "backfill"
    tracker: PassTracker | None = None
    attempts: int = 0
    done: asyncio.Future[bool] | None = field(default=None, repr=False)


class SignalsCache:
    """Telegram media id -> Signals, least recently used first out.

    A full cache holds ``cache_size`` entries for as long as the daemon runs, so an image's
    signals are kept packed: its hashes as one ``bytes`` (a 64-hex-digit string takes 113
    bytes, its 32 bytes 65), and the query variants' kinds and qualities as a tuple shared by
    every entry that has the same (about 0.9 KiB an entry instead of about 3). Videos, and anything
    that would not come back identical, are kept as they are.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[int, Signals | _Packed] = OrderedDict()
        self._specs: dict[_Spec, _Spec] = {}

    def get(self, media_id: int) -> Signals | None:
        found = self._items.get(media_id)
        if found is None:
            return None
        self._items.move_to_end(media_id)
        return found.unpack() if isinstance(found, _Packed) else found

    def put(self, media_id: int, signals: Signals) -> None:
        if self._size <= 0:
            return
        self._items[media_id] = self._pack(signals)
        self._items.move_to_end(media_id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def _pack(self, signals: Signals) -> Signals | _Packed:
        if signals.video is not None:
            return signals
        try:
            parts = [bytes.fromhex(signals.sha256), bytes.fromhex(signals.md5)]
            parts += [bytes.fromhex(signals.pdq)] if signals.pdq is not None else []
            parts += [bytes.fromhex(signals.phash)] if signals.phash is not None else []
            parts += [bytes.fromhex(q.value) for q in signals.queries]
        except ValueError:
            return signals
        spec: _Spec = (
            sys.intern(signals.mime) if signals.mime is not None else None,
            signals.pdq_quality,
            signals.trimmed,
            signals.failure,
            tuple(len(p) for p in parts),
            signals.pdq is not None,
            signals.phash is not None,
            tuple((q.hash_type, q.variant, q.quality) for q in signals.queries),
        )
        if len(self._specs) >= _MAX_SPECS:
            self._specs.clear()
        packed = _Packed(
            b"".join(parts),
            signals.size_bytes,
            signals.width,
            signals.height,
            self._specs.setdefault(spec, spec),
        )
        return packed if packed.unpack() == signals else signals


# (mime, pdq quality, trimmed, failure, lengths of the packed hashes, has pdq, has phash, the
# queries' (hash type, variant, quality)): few distinct ones (a photo's variants mostly share
# one quality), shared by the entries that have the same.
_Spec = tuple[Any, ...]
_MAX_SPECS = 10_000


@dataclass(frozen=True, slots=True)
class _Packed:
    hashes: bytes  # sha256, md5, [pdq], [phash], then every query's value
    size_bytes: int
    width: int | None
    height: int | None
    spec: _Spec

    def unpack(self) -> Signals:
        (mime, quality, trimmed, failure, lengths, has_pdq, has_phash, qs) = self.spec
        size, width, height = self.size_bytes, self.width, self.height
        values, at = [], 0
        for length in lengths:
            values.append(self.hashes[at : at + length].hex())
            at += length
        sha256, md5, *rest = values
        pdq = rest.pop(0) if has_pdq else None
        phash = rest.pop(0) if has_phash else None
        return Signals(
            sha256=sha256,
            md5=md5,
            size_bytes=size,
            mime=mime,
            width=width,
            height=height,
            pdq=pdq,
            pdq_quality=quality,
            phash=phash,
            queries=tuple(
                QueryHash(hash_type, value, variant, q_quality)
                for (hash_type, variant, q_quality), value in zip(qs, rest, strict=True)
            ),
            trimmed=trimmed,
            failure=failure,
        )


class MessageProcessor:
    def __init__(
        self,
        client: Any,
        store: MediaStore,
        hasher: Hasher,
        pipeline: Pipeline,
        policy: MediaPolicy,
        counters: Counter[str],
        *,
        on_hit: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._hasher = hasher
        self._pipeline = pipeline
        self._policy = policy
        self._counters = counters
        self._cache = SignalsCache(policy.cache_size)
        self._inflight: dict[int, asyncio.Future[Signals]] = {}
        self._on_hit = on_hit

    async def process(self, item: WorkItem) -> None:
        """Record the message's media (if any). Raises on a failure worth retrying later
        (network, database, flood wait); content problems are recorded, not raised."""
        message = item.message
        ref = media_ref(message)
        self._counters["messages"] += 1
        self._counters[f"messages_{item.origin}"] += 1
        if ref is None:
            return
        source = sighting_source(message, item.chat, ref)
        if item.tracker is not None and await self._store.sighting_recorded(source.key):
            # A reconciler pass meets again every message handled live since the cursor: one
            # look instead of matching and writing it all again (which would change nothing).
            self._counters["sightings_known"] += 1
            return
        skip = check_policy(ref, self._policy)
        if skip is not None:
            await self._skipped(source, ref, skip.reason.value, skip.detail)
            return
        try:
            signals, data = await self._signals(message, ref)
        except MediaError as exc:
            await self._skipped(source, ref, exc.reason.value, exc.detail)
            return
        # ``data`` is set only when this message's media was downloaded just now and the
        # pipeline keeps the media of new hits (the evidence store); else it was never kept.
        outcome = await self._pipeline.handle(source, signals, data)
        del data
        self._counters["media_recorded"] += 1
        created = outcome.record is not None and outcome.record.sighting_created
        self._counters["sightings_new" if created else "sightings_known"] += 1
        if outcome.new_hits:
            self._counters["hits"] += len(outcome.new_hits)
            for hit in outcome.new_hits:
                self._counters[f"hits_{hit.tier.value}"] += 1
                log.warning(
                    "hit",
                    hit_id=hit.id,
                    bank=hit.bank,
                    case_id=hit.case_id,
                    tier=hit.tier.value,
                    match_kind=hit.kind.value,
                    distance=hit.distance,
                    link=source.link,
                )
            if self._on_hit is not None:
                self._on_hit()

    async def record_failure(self, item: WorkItem, detail: str) -> None:
        """Record that the item's media was seen but could not be processed at all."""
        ref = media_ref(item.message)
        if ref is None:
            return
        source = sighting_source(item.message, item.chat, ref)
        await self._skipped(source, ref, MediaErrorReason.PROCESSING_ERROR.value, detail[:500])

    async def _skipped(
        self, source: SightingSource, ref: MediaRef, reason: str, detail: str
    ) -> None:
        self._counters[f"skipped_{reason}"] += 1
        log.info("media_skipped", reason=reason, detail=detail, kind=ref.kind.value, size=ref.size)
        await self._store.record_skipped(
            source, reason=reason, detail=detail, file_size=ref.size, mime_type=ref.mime
        )

    async def _signals(self, message: Any, ref: MediaRef) -> tuple[Signals, bytes | None]:
        """The media's signals, and its bytes if they were downloaded here and the pipeline
        keeps media (evidence); otherwise the bytes are dropped as soon as they are hashed."""
        cached = self._cache.get(ref.media_id)
        if cached is not None:
            self._counters["media_cached"] += 1
            return cached, None
        pending = self._inflight.get(ref.media_id)
        if pending is not None:  # the same media in another message, being fetched right now
            self._counters["media_cached"] += 1
            return await asyncio.shield(pending), None
        future: asyncio.Future[Signals] = asyncio.get_running_loop().create_future()
        self._inflight[ref.media_id] = future
        kept: bytes | None = None
        try:
            signals = await self._store.signals_for_telegram_media(ref.media_id)
            if signals is not None:
                self._counters["media_cached"] += 1
            else:
                data = await download(self._client, message, ref, self._policy)
                self._counters["media_downloaded"] += 1
                self._counters["bytes_downloaded"] += len(data)
                signals = await self._hasher.hash_bytes(data)
                if self._pipeline.keeps_media:
                    kept = data
                del data
                self._counters["media_hashed"] += 1
                self._counters[f"media_hashed_{ref.kind.value}"] += 1
                if signals.video is not None:
                    self._counters["videos_hashed"] += 1
                if signals.failure is not None:
                    self._counters[f"unhashable_{signals.failure.reason}"] += 1
                    log.info(
                        "media_unhashable",
                        reason=signals.failure.reason,
                        detail=signals.failure.detail,
                        kind=ref.kind.value,
                        size=ref.size,
                    )
            self._cache.put(ref.media_id, signals)
            future.set_result(signals)
            return signals, kept
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._inflight[ref.media_id]
