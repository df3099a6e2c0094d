"""`monitor scan PATH...`: files, folders and Telegram Desktop exports against the hash lists."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from monitor.cli.output import print_json_line
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import VideoSignals, jsonable
from monitor.errors import InputError
from monitor.pipeline import Outcome, Pipeline, PoolHasher
from monitor.runtime import load_matcher, open_store
from monitor.scan import ScanSummary, scan_items
from monitor.sources.files import LocalItem, WalkReport, iter_local_items


def scan(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files, folders (recursive) or export folders."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file on stdout."),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Hashing processes (default: one per core; 0 = inline)."
    ),
) -> None:
    state = state_of(ctx)
    summary = run(_scan(state.settings, paths, as_json, workers, state.err))
    _print_summary(state.err if as_json else state.out, summary)


async def _scan(
    settings: Settings, paths: list[Path], as_json: bool, workers: int | None, err: Console
) -> ScanSummary:
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{path}: no such file or folder")
    report = WalkReport(problems=[])
    items = list(iter_local_items(paths, report))
    summary = ScanSummary(export_problems=report.problems, skipped_links=report.skipped_links)
    async with open_store(settings) as store:
        matcher = await load_matcher(store)
        pipeline = Pipeline(matcher, store)
        with (
            PoolHasher(settings.hashing, workers=_workers(workers, len(items))) as hasher,
            Progress(
                TextColumn("scanning"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
                disable=not err.is_terminal,
            ) as progress,
        ):
            task = progress.add_task("scan", total=len(items))

            def on_outcome(item: LocalItem, outcome: Outcome) -> None:
                progress.advance(task)
                if as_json:
                    print_json_line(_outcome_json(item, outcome))

            await scan_items(
                items,
                hasher=hasher,
                pipeline=pipeline,
                window=max(2, 2 * hasher.workers),
                on_outcome=on_outcome,
                summary=summary,
            )
    return summary


def _workers(requested: int | None, items: int) -> int | None:
    if requested is not None:
        return requested
    return 0 if items <= 2 else None  # a process pool is not worth starting for one or two files


def _outcome_json(item: LocalItem, outcome: Outcome) -> dict[str, object]:
    data: dict[str, object] = {"path": str(item.path), "source": jsonable(outcome.source)}
    if outcome.skipped is not None:
        data["skipped"] = {"reason": outcome.skipped.reason.value, "detail": outcome.skipped.detail}
        return data
    s = outcome.signals
    assert s is not None
    data.update(
        sha256=s.sha256,
        md5=s.md5,
        size_bytes=s.size_bytes,
        mime=s.mime,
        pdq=s.pdq,
        pdq_quality=s.pdq_quality,
        phash=s.phash,
        trimmed=s.trimmed,
        error=jsonable(s.failure),
        video=_video_json(s.video) if s.video is not None else None,
        matches=[
            {
                "bank": m.bank,
                "entry_id": m.entry_id,
                "case_id": m.case_id,
                "label": m.label,
                "hash_type": m.hash_type.value,
                "entry_hash": m.entry_value,
                "distance": m.distance,
                "threshold": m.threshold,
                "tier": m.tier.value,
                "variant": m.variant.value,
                "match_kind": m.kind.value,
                "coverage": m.coverage,
                "span": list(m.span) if m.span is not None else None,
                "frames": jsonable(m.frames),
            }
            for m in outcome.matches
        ],
        new_hits=len(outcome.new_hits),
    )
    return data


def _video_json(v: VideoSignals) -> dict[str, object]:
    """What a scan line says about a video: its facts and frame hashes (as ``monitor hash``)."""
    data = jsonable(v)
    assert isinstance(data, dict)
    for key in ("sha256", "md5", "size_bytes", "mime", "failure"):  # already on the line
        data.pop(key, None)
    return data


def _print_summary(console: Console, s: ScanSummary) -> None:
    unhashable = sum(s.unhashable.values())
    skipped = sum(s.skipped.values())
    videos = f" ({s.videos} of them videos or animations)" if s.videos else ""
    parts = [f"Scanned {s.files} files{videos}: {s.hashed} hashed"]
    if unhashable:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.unhashable.items()))
        parts.append(f"{unhashable} not hashable ({reasons}; exact hashes only)")
    if skipped:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items()))
        parts.append(f"{skipped} skipped ({reasons})")
    console.print("; ".join(parts) + ".", markup=False, highlight=False)
    tiers = ", ".join(f"{k} {v}" for k, v in sorted(s.hits_by_tier.items()))
    console.print(
        f"Matches: {s.matched_files} files matched"
        + (f", {sum(s.hits_by_tier.values())} list entries ({tiers})" if tiers else "")
        + f"; {s.new_hits} new hits and {s.new_sightings} new sightings recorded.",
        markup=False,
        highlight=False,
    )
    if s.export_problems:
        by_reason: dict[str, int] = {}
        for p in s.export_problems:
            by_reason[p.reason] = by_reason.get(p.reason, 0) + 1
        text = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items()))
        console.print(f"Export media not scanned: {text}.", markup=False, highlight=False)
    if s.skipped_links:
        console.print(f"Symbolic links not followed: {s.skipped_links}.", markup=False)
    if s.new_hits:
        console.print("Review them with: monitor hits list", markup=False, highlight=False)
