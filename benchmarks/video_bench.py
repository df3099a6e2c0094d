"""Report, not a test: how fast video hashing is on one core, against the clip's running time.

    .venv/bin/python -m benchmarks.video_bench [--quick] [--seconds 60] [--size 1280x720]
                                               [--fps 30] [--bitrate 2500000] [--runs 3]

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

``figures(quick)`` (the suite, group ``video``) reports the same as figures: seconds of video
hashed per CPU second (default settings and keyframes only, each with its spread over the
runs), the plain decode for reference, and the matching time. ``--quick``: a 4 s 320x240 clip
and 50 listed videos.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, machine, pin_to_one_core, print_table, versions
from monitor.config import HashingSettings
from monitor.domain import Bank, Entry, EntryStatus, HashType, ListFrame, VideoSignals
from monitor.hashing.video import compute_video_signals, video_file_signals
from monitor.matching.matcher import Matcher
from monitor.synthetic import photo_like

GROUP = "video"
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


@dataclass(frozen=True)
class Params:
    seconds: float = 60.0
    size: tuple[int, int] = (1280, 720)
    fps: int = 30
    bitrate: int = 2_500_000
    runs: int = 3
    listed_videos: int = 10_000


FULL = Params()
QUICK = Params(seconds=4.0, size=(320, 240), fps=15, bitrate=300_000, runs=1, listed_videos=50)


@dataclass(frozen=True)
class Timed:
    cpu: tuple[float, ...]  # CPU seconds of each run
    wall: tuple[float, ...]
    signals: VideoSignals

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)


def timed(run: Callable[[], VideoSignals], runs: int) -> Timed:
    """CPU and wall seconds of ``runs`` calls, and the last result."""
    cpu, wall = [], []
    result = None
    for _ in range(max(1, runs)):
        c, w = time.process_time(), time.perf_counter()
        result = run()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    assert result is not None
    return Timed(tuple(cpu), tuple(wall), result)


def report(label: str, t: Timed, seconds: float, out: Callable[[str], None]) -> None:
    cpu, signals = t.median_cpu, t.signals
    out(f"{label}: {cpu:.2f} s CPU ({t.median_wall:.2f} s wall), median")
    out(
        f"    {seconds / cpu:.1f} s of video hashed per CPU second; hashing takes "
        f"{100 * cpu / seconds:.1f} % of the clip's running time"
    )
    out(
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


def bench(params: Params, out: Callable[[str], None]) -> list[Figure]:
    """Make the clip, time hashing and matching it; print as it goes, return the figures."""
    width, height = params.size
    seconds = params.seconds
    out(pin_to_one_core())
    settings = HashingSettings()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        path = Path(tmp) / "clip.mp4"
        start = time.perf_counter()
        make_clip(path, seconds, (width, height), params.fps, params.bitrate)
        made = time.perf_counter() - start
        data = path.read_bytes()
        with av.open(io.BytesIO(data)) as container:
            keyframes = sum(1 for p in container.demux(video=0) if p.size and p.is_keyframe)
        clip = f"{seconds:g} s {width}x{height} H.264 clip"
        out(
            f"clip: {seconds:g} s, {width}x{height} at {params.fps} fps, H.264 (x264 veryfast, "
            f"B-frames), {len(data) / 1e6:.1f} MB ({8 * len(data) / seconds / 1e6:.2f} "
            f"Mbit/s), {keyframes} keyframes; made in {made:.1f} s"
        )

        full = timed(lambda: compute_video_signals(data, settings), params.runs)
        report("compute_video_signals, default settings", full, seconds, out)
        figures.append(
            _rate_figure(f"hashed per CPU second, {clip}, default settings", full, seconds)
        )

        keyframes_only = replace(settings, video=replace(settings.video, full_decode_seconds=0.0))
        keys = timed(lambda: compute_video_signals(data, keyframes_only), params.runs)
        report("keyframes only (the mode for long videos)", keys, seconds, out)
        figures.append(
            _rate_figure(f"hashed per CPU second, {clip}, keyframes only", keys, seconds)
        )

        from_path = timed(lambda: video_file_signals(path, settings), 1)
        report("video_file_signals (from the path), one run", from_path, seconds, out)

        decode_cpu, count = plain_decode(data)
        out(
            f"reference: plain PyAV decode of all {count} frames, no hashing: {decode_cpu:.2f} s "
            f"CPU ({100 * decode_cpu / seconds:.1f} % of running time)"
        )
        figures.append(
            Figure(
                GROUP,
                f"plain decode of every frame (reference), {clip}",
                seconds / decode_cpu,
                "video s/CPU s",
            )
        )
        clip_signals = compute_video_signals(data, settings)
    figures += match_video(clip_signals, params.listed_videos, params.runs, out)
    return figures


def _rate_figure(name: str, t: Timed, seconds: float) -> Figure:
    rates = [seconds / cpu for cpu in t.cpu]
    return Figure(
        GROUP,
        name,
        seconds / t.median_cpu,
        "video s/CPU s",
        spread=f"min {min(rates):.1f}, max {max(rates):.1f} over {len(rates)} runs",
    )


def match_video(
    clip: VideoSignals, listed: int, runs: int, out: Callable[[str], None]
) -> list[Figure]:
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
    ms = 1000 * statistics.median(times)
    out(
        f"matching: {listed + 1:,} listed videos ({stats.listed_frames:,} distinct frames, "
        f"index {stats.memory_bytes / 2**20:.0f} MiB, built in {built:.1f} s); the clip's "
        f"{len(clip.frames)} frame hashes matched in {ms:.1f} ms "
        f"CPU (median of {len(times)}): {match.kind.value} match, coverage {match.coverage:.0%}"
    )
    return [
        Figure(
            GROUP,
            f"match a posted video ({len(clip.frames)} frame hashes) against {listed + 1:,} "
            f"listed videos ({match.kind.value} match found)",
            ms,
            "ms",
            spread=f"min {1000 * min(times):.3g}, max {1000 * max(times):.3g} ms over "
            f"{len(times)} runs",
        )
    ]


def figures(quick: bool) -> list[Figure]:
    return bench(QUICK if quick else FULL, lambda line: print(line, flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny clip, a short list")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--size")
    parser.add_argument("--fps", type=int)
    parser.add_argument("--bitrate", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--listed-videos", type=int)
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    for name in ("seconds", "fps", "bitrate", "runs", "listed_videos"):
        if getattr(args, name) is not None:
            params = replace(params, **{name: getattr(args, name)})
    if args.size:
        width, height = (int(v) for v in args.size.lower().split("x"))
        params = replace(params, size=(width, height))
    print(machine())
    print(versions())
    print_table(bench(params, print))


if __name__ == "__main__":
    main()
