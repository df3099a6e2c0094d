"""Report, not a test: how fast video hashing is on one core, against the clip's running time.

    .venv/bin/python benchmarks/video_bench.py [--seconds 60] [--size 1280x720] [--fps 30]
                                               [--bitrate 2500000] [--runs 3]

Makes a synthetic clip in code (``--seconds`` of panning photo-like scenes from
:mod:`monitor.synthetic`, a new scene every 6 s, H.264 by x264 ``veryfast`` with B-frames and its
default keyframe placement, at ``--bitrate``), cached in a temporary folder for the run, then pins
the process to one CPU and times :func:`compute_video_signals` with the default settings (median
of ``--runs``), the keyframe-only pass used for long videos, the same from a file path, and a
plain decode of every frame for reference. Prints CPU seconds, seconds of video hashed per CPU
second, the ratio of hashing time to the clip's running time, and frames decoded/hashed/kept.

Then matching: a list of ``--listed-videos`` videos of 60 random frame PDQs each, plus the clip
itself listed as a vpdq entry, and the clip's signals matched against it (median of ``--runs``):
milliseconds per posted video, and the match found (kind, coverage).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from monitor.config import HashingSettings
from monitor.domain import Bank, Entry, EntryStatus, HashType, ListFrame, VideoSignals
from monitor.hashing.video import compute_video_signals, video_file_signals
from monitor.matching.matcher import Matcher
from monitor.synthetic import photo_like

SCENE_SECONDS = 6.0
PAN_PX_PER_SECOND = 20


def make_clip(path: Path, seconds: float, size: tuple[int, int], fps: int, bitrate: int) -> None:
    """Panning synthetic scenes, encoded by x264 (veryfast: B-frames, scene-cut keyframes)."""
    width, height = size
    travel = int(PAN_PX_PER_SECOND * SCENE_SECONDS) + 1
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.options = {"preset": "veryfast", "threads": "1"}
        total = round(seconds * fps)
        per_scene = round(SCENE_SECONDS * fps)
        picture = np.empty(0)
        for i in range(total):
            if i % per_scene == 0:
                picture = np.asarray(photo_like(100 + i // per_scene, (width + travel, height)))
            x = int(PAN_PX_PER_SECOND * (i % per_scene) / fps)
            pixels = np.ascontiguousarray(picture[:, x : x + width])
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def timed(run: Callable[[], VideoSignals], runs: int) -> tuple[float, float, VideoSignals]:
    """Median CPU and wall seconds of ``runs`` calls, and the last result."""
    cpu, wall = [], []
    result = None
    for _ in range(runs):
        c, w = time.process_time(), time.perf_counter()
        result = run()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    assert result is not None
    return statistics.median(cpu), statistics.median(wall), result


def report(label: str, cpu: float, wall: float, signals: VideoSignals, seconds: float) -> None:
    print(f"{label}: {cpu:.2f} s CPU ({wall:.2f} s wall), median")
    print(
        f"    {seconds / cpu:.1f} s of video hashed per CPU second; hashing takes "
        f"{100 * cpu / seconds:.1f} % of the clip's running time"
    )
    print(
        f"    frames decoded {signals.frames_decoded}, hashed {signals.frames_hashed}, "
        f"kept {len(signals.frames)} after collapsing (low quality {signals.low_quality}); "
        f"failure {signals.failure}, truncated {signals.truncated}"
    )


def plain_decode(data: bytes) -> tuple[float, int]:
    start = time.process_time()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        count = sum(1 for _ in container.decode(stream))
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=2_500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--listed-videos", type=int, default=10_000)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    print(pin_to_one_core())
    settings = HashingSettings()
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        path = Path(tmp) / "clip.mp4"
        start = time.perf_counter()
        make_clip(path, args.seconds, (width, height), args.fps, args.bitrate)
        made = time.perf_counter() - start
        data = path.read_bytes()
        with av.open(io.BytesIO(data)) as container:
            keyframes = sum(1 for p in container.demux(video=0) if p.size and p.is_keyframe)
        print(
            f"clip: {args.seconds:g} s, {width}x{height} at {args.fps} fps, H.264 (x264 veryfast, "
            f"B-frames), {len(data) / 1e6:.1f} MB ({8 * len(data) / args.seconds / 1e6:.2f} "
            f"Mbit/s), {keyframes} keyframes; made in {made:.1f} s"
        )

        cpu, wall, signals = timed(lambda: compute_video_signals(data, settings), args.runs)
        report("compute_video_signals, default settings", cpu, wall, signals, args.seconds)

        keyframes_only = replace(settings, video=replace(settings.video, full_decode_seconds=0.0))
        cpu, wall, signals = timed(lambda: compute_video_signals(data, keyframes_only), args.runs)
        report("keyframes only (the mode for long videos)", cpu, wall, signals, args.seconds)

        cpu, wall, signals = timed(lambda: video_file_signals(path, settings), 1)
        report("video_file_signals (from the path), one run", cpu, wall, signals, args.seconds)

        decode_cpu, count = plain_decode(data)
        print(
            f"reference: plain PyAV decode of all {count} frames, no hashing: {decode_cpu:.2f} s "
            f"CPU ({100 * decode_cpu / args.seconds:.1f} % of running time)"
        )
        match_video(compute_video_signals(data, settings), args.listed_videos, args.runs)


def match_video(clip: VideoSignals, listed: int, runs: int) -> None:
    """Time matching the clip against ``listed`` random listed videos plus the clip itself."""
    rng = np.random.default_rng(7)
    entries = [
        Entry(
            id=1 + n,
            bank="b",
            hash_type=HashType.VPDQ,
            value=f"V{n}",
            status=EntryStatus.ACTIVE,
            frames=tuple(
                ListFrame(float(i), bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex())
                for i in range(60)
            ),
        )
        for n in range(listed)
    ]
    own = tuple(ListFrame(f.timestamp, f.pdq, f.quality) for f in clip.frames)
    entries.append(Entry(0, "b", HashType.VPDQ, "clip", EntryStatus.ACTIVE, frames=own))
    start = time.perf_counter()
    matcher = Matcher.build([Bank("b")], entries)
    built = time.perf_counter() - start
    signals = clip.as_signals()
    times = []
    for _ in range(max(runs, 5)):
        t0 = time.process_time()
        found = matcher.match(signals)
        times.append(time.process_time() - t0)
    [match] = found
    stats = matcher.stats()
    print(
        f"matching: {listed + 1:,} listed videos ({stats.listed_frames:,} distinct frames, "
        f"index {stats.memory_bytes / 2**20:.0f} MiB, built in {built:.1f} s); the clip's "
        f"{len(clip.frames)} frame hashes matched in {1000 * statistics.median(times):.1f} ms "
        f"CPU (median of {len(times)}): {match.kind.value} match, coverage {match.coverage:.0%}"
    )


if __name__ == "__main__":
    main()
