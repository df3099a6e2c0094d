"""Frames of listed videos, and the rules that turn frame matches into video and clip matches.

A listed video (a ``vpdq`` entry) is a set of timed frame PDQs. :class:`FrameIndex` keeps every
listed video's *distinct* frames (equal PDQ values within one video are one frame, at its first
time) in one exact radius index, so that any frame hash - of a posted video, or a posted image -
finds every listed frame near it in one search.

Rules over one posted video and one listed video (``judge``), with the bank's thresholds:

* a frame pair matches when their PDQ distance is within ``thresholds.pdq``;
* **video**: at least ``thresholds.video_share`` of the listed video's distinct frames have a
  posted frame that matches them (re-encoded, resized, re-muxed copies);
* **clip**: a run of consecutive posted frames that all match the listed video spans at least
  ``thresholds.clip_seconds`` of the posted video (a trimmed copy, or a known video inside a
  longer one). A run spans from its first frame's time to the next posted frame's time (the end
  of the video for the last frame). A posted video shorter than ``clip_seconds`` matches as a
  clip when every one of its frames matches;
* the match's distance is the median over the matched posted frames of their best distance, and
  it is ``near-exact`` when that median is within ``thresholds.pdq_near_exact``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.domain import (
    FrameHash,
    FrameMatch,
    HashType,
    ListFrame,
    MatchKind,
    Thresholds,
    Tier,
    Variant,
)
from monitor.matching.hashes import InvalidHash, normalize_hash
from monitor.matching.index import BinaryIndex

__all__ = [
    "MAX_PAIRS",
    "MIN_LISTED_QUALITY",
    "FrameHit",
    "FrameIndex",
    "VideoVerdict",
    "distinct_frames",
    "judge",
]

# Listed frames whose list gives a PDQ quality below this are not indexed (Meta's guidance: PDQ
# bits of flat or tiny frames are unreliable). Frames without a quality are kept.
MIN_LISTED_QUALITY = 50
# Frame pairs kept on one match (evidence); the span, coverage and median use all of them.
MAX_PAIRS = 600
_EPSILON = 1e-6


def distinct_frames(frames: Iterable[ListFrame]) -> list[ListFrame]:
    """The frames worth indexing: valid PDQ, quality not known to be low, one per PDQ value
    (its earliest time). Raises :class:`InvalidHash` naming the first bad frame."""
    seen: dict[str, ListFrame] = {}
    for frame in sorted(frames):
        try:
            value = normalize_hash(HashType.PDQ, frame.pdq)
        except InvalidHash as exc:
            raise InvalidHash(f"frame at {frame.timestamp:g} s: {exc}") from None
        if frame.quality is not None and frame.quality < MIN_LISTED_QUALITY:
            continue
        if value not in seen:
            seen[value] = ListFrame(frame.timestamp, value, frame.quality)
    return sorted(seen.values())


@dataclass(frozen=True, slots=True)
class FrameHit:
    """A listed frame found near a query hash."""

    entry_id: int
    frame: int  # position of the frame among its video's distinct frames
    timestamp: float  # in the listed video
    distance: int


class FrameIndex:
    """Distinct frames of every listed video; frame ids are internal and never reused."""

    def __init__(self) -> None:
        self._index = BinaryIndex(256)
        self._entry_of: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._time_of: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self._next_id = 0
        self._entries: dict[int, tuple[int, int]] = {}  # entry id -> (first frame id, count)

    def __len__(self) -> int:
        """Distinct listed frames indexed."""
        return len(self._index)

    def __contains__(self, entry_id: int) -> bool:
        return entry_id in self._entries

    @property
    def videos(self) -> int:
        return len(self._entries)

    def frame_count(self, entry_id: int) -> int:
        """The listed video's distinct frames (0 if it is not indexed)."""
        found = self._entries.get(entry_id)
        return 0 if found is None else found[1]

    def memory_bytes(self) -> int:
        return (
            self._index.memory_bytes()
            + int(self._entry_of.nbytes + self._time_of.nbytes)
            + 120 * len(self._entries)
        )

    def add(self, entries: Sequence[tuple[int, Sequence[ListFrame]]]) -> None:
        """Index each (entry id, distinct frames); an entry already present is replaced."""
        self.remove(entry_id for entry_id, _ in entries)
        total = sum(len(frames) for _, frames in entries)
        if not total:
            return
        first = self._next_id
        self._grow(first + total)
        ids = np.arange(first, first + total, dtype=np.int64)
        values: list[str] = []
        position = first
        for entry_id, frames in entries:
            if not frames:
                continue
            self._entries[entry_id] = (position, len(frames))
            for frame in frames:
                self._entry_of[position] = entry_id
                self._time_of[position] = frame.timestamp
                values.append(frame.pdq)
                position += 1
        self._next_id = first + total
        self._index.add(ids, values)

    def remove(self, entry_ids: Iterable[int]) -> None:
        gone: list[int] = []
        for entry_id in entry_ids:
            found = self._entries.pop(entry_id, None)
            if found is not None:
                start, count = found
                gone.extend(range(start, start + count))
        if gone:
            self._index.remove(gone)

    def compact(self) -> None:
        self._index.compact()

    def search(self, value: str, radius: int) -> list[FrameHit]:
        """Every listed frame within ``radius`` of ``value``."""
        hits = []
        for frame_id, distance in self._index.search(value, radius):
            entry_id = int(self._entry_of[frame_id])
            start, _ = self._entries[entry_id]
            hits.append(
                FrameHit(entry_id, frame_id - start, float(self._time_of[frame_id]), distance)
            )
        return hits

    def _grow(self, size: int) -> None:
        if size <= len(self._entry_of):
            return
        capacity = max(size, 2 * len(self._entry_of), 1024)
        entry_of = np.zeros(capacity, dtype=np.int64)
        time_of = np.zeros(capacity, dtype=np.float64)
        entry_of[: len(self._entry_of)] = self._entry_of
        time_of[: len(self._time_of)] = self._time_of
        self._entry_of, self._time_of = entry_of, time_of


@dataclass(slots=True)
class _Best:
    distance: int
    entry_ts: float
    variant: Variant


@dataclass(frozen=True, slots=True)
class VideoVerdict:
    """A posted video against one listed video, when the rules call it a match."""

    kind: MatchKind  # VIDEO or CLIP
    tier: Tier
    distance: int  # median over the matched posted frames
    coverage: float  # share of the listed video's distinct frames matched
    span: tuple[float, float]  # matched part of the posted video, seconds
    pairs: tuple[FrameMatch, ...]  # at most MAX_PAIRS, posted-time order
    query_value: str  # PDQ of the closest posted frame
    variant: Variant  # ORIGINAL or TRIMMED: how the closest posted frame was hashed


class VideoTally:
    """Frame matches of one posted video against one listed video, gathered frame by frame."""

    __slots__ = ("listed", "per_query")

    def __init__(self) -> None:
        self.listed: set[int] = set()  # listed distinct frames matched by some posted frame
        self.per_query: dict[int, _Best] = {}  # posted frame position -> its best pair

    def add(self, query: int, hit: FrameHit, variant: Variant) -> None:
        self.listed.add(hit.frame)
        best = self.per_query.get(query)
        if best is None or hit.distance < best.distance:
            self.per_query[query] = _Best(hit.distance, hit.timestamp, variant)


def judge(
    tally: VideoTally,
    frames: Sequence[FrameHash],
    listed_frames: int,
    thresholds: Thresholds,
    duration: float | None,
) -> VideoVerdict | None:
    """Apply the video and clip rules (see the module docstring); None if neither holds."""
    if not tally.per_query or not listed_frames or not frames:
        return None
    coverage = len(tally.listed) / listed_frames
    ends = _frame_ends(frames, duration)
    if coverage + _EPSILON >= thresholds.video_share:
        chosen = sorted(tally.per_query)
        kind = MatchKind.VIDEO
    else:
        run = _longest_run(sorted(tally.per_query), frames, ends)
        start, stop = run
        length = ends[stop] - frames[start].timestamp
        whole = start == 0 and stop == len(frames) - 1
        if length + _EPSILON < thresholds.clip_seconds and not whole:
            return None
        chosen = list(range(start, stop + 1))
        kind = MatchKind.CLIP
    distances = [tally.per_query[q].distance for q in chosen]
    median = round(float(np.median(distances)))
    closest = min(chosen, key=lambda q: (tally.per_query[q].distance, q))
    best = tally.per_query[closest]
    trimmed = best.variant is Variant.TRIMMED
    pairs = tuple(
        FrameMatch(frames[q].timestamp, tally.per_query[q].entry_ts, tally.per_query[q].distance)
        for q in chosen[:MAX_PAIRS]
    )
    frame = frames[closest]
    query_value = (frame.trimmed_pdq if trimmed else None) or frame.pdq
    return VideoVerdict(
        kind=kind,
        tier=Tier.NEAR_EXACT if median <= thresholds.pdq_near_exact else Tier.MATCH,
        distance=median,
        coverage=coverage,
        span=(frames[chosen[0]].timestamp, ends[chosen[-1]]),
        pairs=pairs,
        query_value=query_value,
        variant=best.variant,
    )


def _frame_ends(frames: Sequence[FrameHash], duration: float | None) -> list[float]:
    """Where each posted frame's stretch of time ends: at the next frame, or the video's end."""
    ends = [frames[i + 1].timestamp for i in range(len(frames) - 1)]
    last = frames[-1]
    if duration is not None and duration >= last.until:
        ends.append(duration)
    else:  # unknown or truncated: the last frame lasts as long as frames are apart
        step = float(np.median(np.diff([f.timestamp for f in frames]))) if len(frames) > 1 else 1.0
        ends.append(last.until + step)
    return ends


def _longest_run(
    matched: list[int], frames: Sequence[FrameHash], ends: list[float]
) -> tuple[int, int]:
    """The run of consecutive matched posted frames spanning the most time (first, last)."""
    best = (matched[0], matched[0])
    best_length = -1.0
    start = previous = matched[0]
    for position in [*matched[1:], None]:
        if position is not None and position == previous + 1:
            previous = position
            continue
        length = ends[previous] - frames[start].timestamp
        if length > best_length:
            best, best_length = (start, previous), length
        if position is not None:
            start = previous = position
    return best
