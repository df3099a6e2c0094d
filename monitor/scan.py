"""`monitor scan`: hash local files and Desktop exports, match them, record sightings and hits.

Hashing runs ahead in the worker pool (a bounded window), while results are matched and
recorded in input order, one transaction per file, so the output is deterministic and a crash
leaves every file either fully recorded or not at all; scanning again is idempotent.

Every regular file is hashed whatever its name: hashing tells images from videos and animations
by their bytes. A file found on disk is recorded as an ``image``, or as a ``video``,
``animation`` or ``sticker`` (.tgs) when its bytes say so. A Desktop export names the kind of
each file itself; only a file it calls ``other`` is named by its bytes the same way.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from monitor.domain import MediaKind, SightingSource, Signals, SourceKind
from monitor.errors import MediaError, MediaErrorReason
from monitor.pipeline import Hasher, Outcome, Pipeline
from monitor.sources.desktop_export import ExportProblem
from monitor.sources.files import LocalItem

OutcomeHandler = Callable[[LocalItem, Outcome], None]


@dataclass(slots=True)
class ScanSummary:
    files: int = 0
    hashed: int = 0  # perceptual hashes computed (images, and videos with frames)
    videos: int = 0  # of the files hashed or unhashable: videos and animations
    unhashable: Counter[str] = field(default_factory=Counter)  # recorded with exact hashes only
    skipped: Counter[str] = field(default_factory=Counter)  # not recorded at all, by reason
    new_sightings: int = 0
    matched_files: int = 0
    new_hits: int = 0
    hits_by_tier: Counter[str] = field(default_factory=Counter)
    export_problems: list[ExportProblem] = field(default_factory=list)
    skipped_links: int = 0


async def scan_items(
    items: Iterable[LocalItem],
    *,
    hasher: Hasher,
    pipeline: Pipeline,
    window: int = 8,
    on_outcome: OutcomeHandler | None = None,
    summary: ScanSummary | None = None,
) -> ScanSummary:
    summary = summary or ScanSummary()
    pending: deque[tuple[LocalItem, asyncio.Future[Signals | MediaError]]] = deque()
    try:
        for item in items:
            pending.append((item, asyncio.ensure_future(_hash(hasher, item.path))))
            if len(pending) >= window:
                await _finish(*pending.popleft(), pipeline, summary, on_outcome)
        while pending:
            await _finish(*pending.popleft(), pipeline, summary, on_outcome)
    finally:
        for _, task in pending:
            task.cancel()
    return summary


async def _hash(hasher: Hasher, path: Path) -> Signals | MediaError:
    try:
        return await hasher.hash_file(path)
    except MediaError as exc:
        return exc
    except OSError as exc:
        return MediaError(MediaErrorReason.CORRUPT, f"cannot read: {exc.strerror or exc}")


async def _finish(
    item: LocalItem,
    task: asyncio.Future[Signals | MediaError],
    pipeline: Pipeline,
    summary: ScanSummary,
    on_outcome: OutcomeHandler | None,
) -> None:
    result = await task
    summary.files += 1
    if isinstance(result, MediaError):
        summary.skipped[result.reason.value] += 1
        outcome = Outcome(source=item.source, skipped=result)
    else:
        source = _with_kind(item.source, result)
        if source.kind is SourceKind.FILE:
            # The same path with other content is another sighting.
            source = replace(source, key=f"{source.key}:{result.sha256}")
        outcome = await pipeline.handle(source, result)
        summary.videos += int(result.video is not None)
        if result.failure is not None:
            summary.unhashable[result.failure.reason] += 1
        else:
            summary.hashed += 1
        assert outcome.record is not None
        summary.new_sightings += int(outcome.record.sighting_created)
        summary.matched_files += int(bool(outcome.matches))
        summary.new_hits += len(outcome.record.new_hits)
        for match in outcome.matches:
            summary.hits_by_tier[match.tier.value] += 1
    if on_outcome is not None:
        on_outcome(item, outcome)


def _with_kind(source: SightingSource, signals: Signals) -> SightingSource:
    """A file's media kind once its bytes are known: a video or animation found on disk (or one
    an export calls ``other``) is recorded as such, not as an image."""
    video = signals.video
    unknown = MediaKind.IMAGE if source.kind is SourceKind.FILE else MediaKind.OTHER
    if video is None or source.media_kind is not unknown:
        return source
    if video.container == "tgs":
        kind = MediaKind.STICKER
    elif video.container in ("gif", "webp"):
        kind = MediaKind.ANIMATION
    else:
        kind = MediaKind.VIDEO
    return replace(source, media_kind=kind)
