"""Which decoded frames get hashed, how, and how runs of near-identical frames collapse.

Selection (full decode): a frame is *sampled* when its time reaches the next multiple of
``1 / sample_rate`` seconds (the first decoded frame at or after 0 s, 1 s, 2 s ... at the default
rate; a sample time with no frame of its own is skipped, not hashed twice). Every *keyframe* is
hashed as well, up to ``max_keyframes`` of them besides the samples: encoders put keyframes at
scene cuts, so a cut between two samples is still seen. In keyframe-only mode (long videos) the
reader hands over nothing but keyframes, already spaced out, and each is hashed up to the cap.

Hashing: the frame scaled down to :data:`video_decode.FRAME_MAX_SIDE`, PDQ of its stored
orientation only (no rotation/mirror variants: a video's frames are many hashes already; matching
can still reorient the list side). A frame whose PDQ quality is below ``min_pdq_quality`` is
dropped (counted in ``low_quality``) and breaks the current run. With ``trim_borders``, a frame
with uniform bars (letterbox, pillarbox) also gets the PDQ of its picture without them.

Collapsing: consecutive hashed frames within ``collapse_distance`` bits of the *first* frame of
their run (not of the previous one, so a slow drift still starts new runs) are folded into that
first frame, which records the run's last time (``until``) and length (``count``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from monitor.config import HashingSettings
from monitor.domain import FrameHash
from monitor.hashing.distance import hamming
from monitor.hashing.pdq import pdq_hashes
from monitor.hashing.trim import find_border
from monitor.hashing.video_decode import FRAME_MAX_SIDE, Frame

__all__ = ["FrameHasher"]

_EPSILON = 1e-6  # timestamps are rounded fractions: 0.9999999 s is 1 s


@dataclass(slots=True)
class _Run:
    first: FrameHash
    until: float
    count: int

    def close(self) -> FrameHash:
        return replace(self.first, until=self.until, count=self.count)


class FrameHasher:
    """Feed it decoded frames in order with :meth:`offer`; read :meth:`result` at the end."""

    def __init__(self, settings: HashingSettings, *, keyframes_only: bool) -> None:
        video = settings.video
        self._min_quality = settings.min_pdq_quality
        self._trim = settings.trim_borders
        self._collapse = video.collapse_distance
        self._interval = 1.0 / video.sample_rate
        self._keyframes_only = keyframes_only
        self._max_keyframes = video.max_keyframes
        self._next_sample = 0.0
        self._keyframes = 0
        self._runs: list[FrameHash] = []
        self._run: _Run | None = None
        self.hashed = 0
        self.low_quality = 0
        self.best_quality: int | None = None

    def offer(self, frame: Frame) -> None:
        """Hash ``frame`` if it is due (a sample, or a keyframe within the cap)."""
        if self._keyframes_only:
            if self._keyframes >= self._max_keyframes:
                return
            self._keyframes += 1
        elif frame.time + _EPSILON >= self._next_sample:
            steps = math.floor((frame.time + _EPSILON) / self._interval) + 1
            self._next_sample = steps * self._interval
        elif frame.keyframe and self._keyframes < self._max_keyframes:
            self._keyframes += 1
        else:
            return
        self._hash(frame)

    def _hash(self, frame: Frame) -> None:
        pixels = frame.rgb(FRAME_MAX_SIDE)
        pdq = pdq_hashes(pixels, dihedral=False)
        self.hashed += 1
        if self.best_quality is None or pdq.quality > self.best_quality:
            self.best_quality = pdq.quality
        if pdq.quality < self._min_quality:
            self.low_quality += 1
            self._end_run()
            return
        run = self._run
        if run is not None and hamming(run.first.pdq, pdq.original) <= self._collapse:
            run.until = frame.time
            run.count += 1
            return
        trimmed_pdq: str | None = None
        trimmed_quality: int | None = None
        if self._trim:
            border = find_border(pixels)
            if border is not None:
                left, top, right, bottom = border.box(pixels.shape[1], pixels.shape[0])
                trimmed = pdq_hashes(pixels[top:bottom, left:right], dihedral=False)
                if trimmed.quality >= self._min_quality:
                    trimmed_pdq, trimmed_quality = trimmed.original, trimmed.quality
        self._end_run()
        first = FrameHash(
            timestamp=frame.time,
            until=frame.time,
            pdq=pdq.original,
            quality=pdq.quality,
            keyframe=frame.keyframe,
            trimmed_pdq=trimmed_pdq,
            trimmed_quality=trimmed_quality,
        )
        self._run = _Run(first, frame.time, 1)

    def _end_run(self) -> None:
        if self._run is not None:
            self._runs.append(self._run.close())
            self._run = None

    def result(self) -> tuple[FrameHash, ...]:
        """The hashes so far, one per run, in time order."""
        self._end_run()
        return tuple(self._runs)
