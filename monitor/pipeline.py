"""One media item through hash -> match -> record -> act.

The pipeline knows its collaborators only by the small Protocols below, so the same path serves
`monitor scan` (files on disk) and the Telegram daemon (downloaded bytes), and tests can drive it
with fakes. Hashing is CPU work: ``PoolHasher`` runs it in worker processes, off the event loop.
Images and videos take the same path: hashing tells them apart by their bytes and a video comes
back as a :class:`Signals` whose ``video`` is set (its timed frame hashes), which the matcher and
the recorder understand; a video's decoding is bounded by ``[hashing.video] time_budget``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from monitor.config import HashingSettings
from monitor.domain import Hit, Match, RecordResult, SightingSource, Signals
from monitor.errors import MediaError
from monitor.hashing import compute_media_signals, hash_file
from monitor.logs import get_logger

log = get_logger(__name__)


class Hasher(Protocol):
    async def hash_file(self, path: Path) -> Signals: ...

    async def hash_bytes(self, data: bytes) -> Signals: ...


class MatcherLike(Protocol):
    def match(self, signals: Signals) -> list[Match]: ...


@runtime_checkable
class ChangingMatcher(Protocol):
    """A matcher whose lists are changed in place while the daemon runs: matching waits
    while a change is being applied (in a thread)."""

    async def settled(self) -> None: ...


class Recorder(Protocol):
    async def record_sighting(
        self, source: SightingSource, signals: Signals, matches: Sequence[Match]
    ) -> RecordResult: ...


class EvidenceSink(Protocol):
    """Keeps the media of new hits (``monitor.evidence_keeper.EvidenceKeeper``); never raises
    for a failed write."""

    async def keep(
        self, source: SightingSource, signals: Signals, hits: Sequence[Hit], data: bytes
    ) -> object: ...


HitHandler = Callable[[SightingSource, Sequence[Hit]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one media item. ``skipped`` is set when nothing could be recorded."""

    source: SightingSource
    signals: Signals | None = None
    matches: tuple[Match, ...] = ()
    record: RecordResult | None = None
    skipped: MediaError | None = None

    @property
    def new_hits(self) -> tuple[Hit, ...]:
        return self.record.new_hits if self.record else ()


class PoolHasher:
    """Hash in a pool of worker processes (``workers=0`` hashes inline: tests, tiny jobs)."""

    def __init__(self, settings: HashingSettings, workers: int | None = None) -> None:
        self._settings = settings
        count = (os.cpu_count() or 1) if workers is None else workers
        self._pool: Executor | None = None
        if count > 0:
            # "spawn": workers are direct children (a forkserver would be one more process
            # that a service manager's SIGTERM kills, leaving the pool unable to shut down),
            # and nothing of the parent's threads or event loop is inherited.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=count,
                mp_context=context,
                initializer=_start_worker,
                initargs=(settings,),
            )
        self.workers = count

    async def start(self) -> float:
        """Start every worker now and warm it up (imports, one tiny image hashed), rather
        than on the first media of a burst (0.3-0.5 s each); the seconds it took."""
        if self._pool is None:
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        # One task per worker, submitted together: the pool starts a process for each.
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, os.getpid) for _ in range(self.workers))
        )
        return loop.time() - started

    async def hash_file(self, path: Path) -> Signals:
        if self._pool is None:
            return hash_file(path, self._settings)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, hash_file, path, self._settings)

    async def hash_bytes(self, data: bytes) -> Signals:
        if self._pool is None:
            return compute_media_signals(data, self._settings)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, compute_media_signals, data, self._settings)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PoolHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_worker(settings: HashingSettings) -> None:
    """In each hashing worker, once. Ctrl-C reaches the whole process group and service
    managers signal every process of the service; the parent decides when workers stop (it
    drains first and then shuts the pool down), so a worker must not die mid-hash on
    SIGINT/SIGTERM. Then one tiny image is hashed: the imports and first-call set-up are paid
    here, not by the first media that arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(Exception):  # warming up is an optimisation, never a failure
        compute_media_signals(_warm_up_image(), settings)


def _warm_up_image() -> bytes:
    """A small JPEG of a gradient, made in code."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


class Pipeline:
    """Match signals, record the sighting and its hits in one transaction, then act on new hits.

    ``on_new_hits`` runs after the commit; if it fails the hit is already safe in the store.
    With an ``evidence`` sink (``[evidence] enabled``) the media bytes handed to ``handle`` are
    kept for new hits, right after the commit (``keeps_media`` tells callers to hand them).
    """

    def __init__(
        self,
        matcher: MatcherLike,
        recorder: Recorder,
        on_new_hits: HitHandler | None = None,
        *,
        evidence: EvidenceSink | None = None,
    ) -> None:
        self._matcher = matcher
        # Looked at once here rather than per media item (a Protocol isinstance is not free).
        self._changing = matcher if isinstance(matcher, ChangingMatcher) else None
        self._recorder = recorder
        self._on_new_hits = on_new_hits
        self._evidence = evidence

    @property
    def keeps_media(self) -> bool:
        """Whether ``handle`` wants the media bytes (for the evidence store)."""
        return self._evidence is not None

    async def handle(
        self, source: SightingSource, signals: Signals, media: bytes | None = None
    ) -> Outcome:
        """Match and record; ``media``, the bytes ``signals`` were computed from (when they
        were just downloaded), is sealed as evidence if this records a new hit."""
        if self._changing is not None:
            await self._changing.settled()  # then match at once: no await in between
        matches = tuple(self._matcher.match(signals))
        record = await self._recorder.record_sighting(source, signals, matches)
        if record.new_hits and media is not None and self._evidence is not None:
            await self._evidence.keep(source, signals, record.new_hits, media)
        if record.new_hits and self._on_new_hits is not None:
            try:
                await self._on_new_hits(source, record.new_hits)
            except Exception as exc:  # the hit is committed; a failed action must not undo it
                log.error("hit_action_failed", error=str(exc), source=source.key)
        return Outcome(source=source, signals=signals, matches=matches, record=record)
