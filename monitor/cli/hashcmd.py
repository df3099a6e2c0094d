"""`monitor hash FILE...`: every signal of each file, as text or JSON lines. No database.

Images and videos alike: a video or animation shows its container, codec, size, duration and
frame rate, how many frames were decoded and hashed, and each kept frame hash with its time in
the video, its PDQ quality and its span (a run of near-identical frames collapsed into one). In
JSON the same is under ``video`` (``frames``: ``timestamp``, ``until``, ``pdq``, ``quality``,
``keyframe``, ``count``, ``trimmed_pdq``, ``trimmed_quality``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from monitor.cli.output import print_json_line, signals_json
from monitor.cli.state import state_of
from monitor.domain import Signals, VideoSignals
from monitor.errors import InputError, MediaError
from monitor.hashing import hash_file


def hash_files(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Image or video files to hash."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file on stdout."),
) -> None:
    state = state_of(ctx)
    settings = state.settings.hashing
    failed = 0
    for path in files:
        try:
            signals = hash_file(path, settings)
        except MediaError as exc:
            failed += 1
            _report_failure(state.err, path, exc.reason.value, exc.detail, as_json)
            continue
        except OSError as exc:
            failed += 1
            _report_failure(state.err, path, "unreadable", exc.strerror or str(exc), as_json)
            continue
        if as_json:
            print_json_line({"path": str(path), **signals_json(signals)})
        else:
            _print_text(state.out, path, signals)
        if signals.failure is not None:
            failed += 1
    if failed:
        raise typer.Exit(InputError.exit_code)


def _report_failure(err: Console, path: Path, reason: str, detail: str, as_json: bool) -> None:
    if as_json:
        print_json_line({"path": str(path), "error": {"reason": reason, "detail": detail}})
    err.print(f"{path}: {reason}: {detail}" if detail else f"{path}: {reason}", markup=False)


def _print_text(out: Console, path: Path, s: Signals) -> None:
    lines = [
        f"{path}",
        f"  sha256   {s.sha256}",
        f"  md5      {s.md5}",
        f"  size     {s.size_bytes} bytes",
    ]
    if s.video is not None:
        lines += _video_lines(s.video)
    elif s.failure is not None:
        detail = f" ({s.failure.detail})" if s.failure.detail else ""
        lines.append(f"  error    {s.failure.reason}{detail}: exact hashes only")
    else:
        lines += [
            f"  format   {s.mime} {s.width}x{s.height}",
            f"  pdq      {s.pdq} (quality {s.pdq_quality})",
            f"  phash    {s.phash}",
            f"  trimmed  {'yes' if s.trimmed else 'no'}; {len(s.queries)} query hashes",
        ]
    out.print("\n".join(lines), markup=False, highlight=False)


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f}"


def _video_lines(v: VideoSignals) -> list[str]:
    size = f" {v.width}x{v.height}" if v.width and v.height else ""
    facts = [f"{v.container or '?'} {v.codec or '?'}{size}"]
    if v.duration is not None:
        facts.append(f"{v.duration:.3f} s")
    if v.fps:
        facts.append(f"{v.fps:g} fps")
    if v.rotation:
        facts.append(f"rotation {v.rotation} (not applied)")
    lines = [f"  video    {', '.join(facts)} ({v.mime or 'unknown MIME type'})"]
    notes = []
    if v.low_quality:
        notes.append(f"{v.low_quality} below the PDQ quality minimum")
    if v.keyframes_only:
        notes.append("keyframes only (long video)")
    if v.truncated:
        notes.append("truncated: frames may cover only part of the video")
    lines.append(
        f"  frames   {v.frames_decoded} decoded, {v.frames_hashed} hashed, {len(v.frames)} kept"
        + (f"; {'; '.join(notes)}" if notes else "")
    )
    if v.failure is not None:
        detail = f" ({v.failure.detail})" if v.failure.detail else ""
        lines.append(f"  error    {v.failure.reason}{detail}: exact hashes only")
        return lines
    for f in v.frames:
        span = _seconds(f.timestamp) if f.count == 1 else f"{f.timestamp:.3f}-{f.until:.3f}"
        extra = " key" if f.keyframe else ""
        if f.count > 1:
            extra += f" x{f.count}"
        lines.append(f"  {span:>15} s  pdq {f.pdq} (quality {f.quality}){extra}")
        if f.trimmed_pdq is not None:
            lines.append(f"  {'':>15}    trimmed {f.trimmed_pdq} (quality {f.trimmed_quality})")
    return lines
