"""`monitor hash FILE...`: every signal of each file, as text or JSON lines. No database."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from monitor.cli.output import print_json_line, signals_json
from monitor.cli.state import state_of
from monitor.domain import Signals
from monitor.errors import InputError, MediaError
from monitor.hashing import hash_file


def hash_files(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Image files to hash."),
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
    if s.failure is not None:
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
