"""`monitor lists ...`: banks of hashes of already-reported content."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from monitor.cli.output import print_json_line, table
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import Bank, Entry, EntryStatus, HashType, ListEntry, Thresholds, jsonable
from monitor.matching import parse_hash_type, read_hash_list, write_hash_list
from monitor.runtime import bank_details, current_actor, ensure_bank, open_store
from monitor.store import ImportResult

app = typer.Typer(no_args_is_help=True)

FORMATS = ("csv", "txt", "jsonl")


@app.command("import")
def import_list(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ...,
        help="The hash list: CSV with a header, plain text, or JSON lines. Videos are listed "
        "one frame per line (hash_type vpdq, video_id, timestamp, hash = the frame's PDQ).",
    ),
    bank: str = typer.Option(..., "--bank", "-b", help="Bank to import into (created if new)."),
    fmt: str | None = typer.Option(
        None, "--format", help="csv, txt or jsonl (default: from the extension)."
    ),
    hash_type: str | None = typer.Option(
        None,
        "--type",
        help="Hash type of a plain text list: pdq, phash, md5, sha256 (videos need csv or jsonl).",
    ),
    source: str | None = typer.Option(
        None, "--source", help="Who supplied the list (e.g. StopNCII)."
    ),
    description: str | None = typer.Option(None, "--description", help="What the bank holds."),
    by: str | None = typer.Option(
        None, "--by", help="Who imports (for the audit log; default: login name)."
    ),
) -> None:
    """Validate every line, then import all of it or nothing. Re-importing is idempotent."""
    state = state_of(ctx)
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    try:
        default_type = parse_hash_type(hash_type) if hash_type else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--type") from None
    entries = read_hash_list(file, fmt, default_type)
    result = run(_import(state.settings, file, bank, entries, source, description, by))
    videos = [e for e in entries if e.hash_type is HashType.VPDQ]
    listed = f"{len(entries)} entries"
    if videos:
        frames = sum(len(e.frames) for e in videos)
        listed += f" ({len(videos)} videos with {frames} frames)"
    state.out.print(
        f"{file}: {listed} -> bank {bank!r}: {result.added} added, "
        f"{result.updated} updated, {result.withdrawn} withdrawn, {result.reinstated} reinstated, "
        f"{result.unchanged} unchanged.",
        markup=False,
        highlight=False,
    )


async def _import(
    settings: Settings,
    file: Path,
    bank: str,
    entries: list[ListEntry],
    source: str | None,
    description: str | None,
    by: str | None,
) -> ImportResult:
    async with open_store(settings) as store:
        actor = by or current_actor()
        await ensure_bank(
            store, settings, bank, source=source, description=description, actor=actor
        )
        return await store.import_entries(bank, entries, source=file.name, actor=actor)


@app.command("ls")
def list_banks(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Every bank with its entry counts and thresholds."""
    state = state_of(ctx)
    banks = run(_banks(state.settings))
    if as_json:
        for bank in banks:
            print_json_line(bank)
        return
    if not banks:
        state.out.print("No banks yet. Import one with: monitor lists import FILE --bank NAME")
        return
    table(
        state.out,
        None,
        [
            "bank",
            "enabled",
            "active",
            "withdrawn",
            "pdq",
            "near-exact",
            "reoriented",
            "phash",
            "video share",
            "clip s",
            "source",
        ],
        [
            [
                b.name,
                "yes" if b.enabled else "no",
                b.active_entries,
                b.withdrawn_entries,
                b.thresholds.pdq,
                b.thresholds.pdq_near_exact,
                b.thresholds.pdq_reoriented,
                b.thresholds.phash,
                f"{b.thresholds.video_share:g}",
                f"{b.thresholds.clip_seconds:g}",
                b.source,
            ]
            for b in banks
        ],
    )


async def _banks(settings: Settings) -> list[Bank]:
    async with open_store(settings) as store:
        return await store.list_banks()


@app.command("show")
def show_bank(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Bank name."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
) -> None:
    """One bank: description, thresholds, counts per hash type and status."""
    state = state_of(ctx)
    bank, counts, frames = run(_show(state.settings, name))
    if as_json:
        print_json_line({"bank": jsonable(bank), "counts": counts, "frames": frames})
        return
    lines = [
        f"bank         {bank.name} ({'enabled' if bank.enabled else 'disabled'})",
        f"source       {bank.source or '-'}",
        f"description  {bank.description or '-'}",
        f"thresholds   {_thresholds(bank.thresholds)}",
        f"entries      {bank.active_entries} active, {bank.withdrawn_entries} withdrawn",
    ]
    videos = sum(v for k, v in counts.items() if k.startswith(f"{HashType.VPDQ.value}/"))
    if videos:
        lines.append(f"videos       {videos} listed, {frames} frames")
    state.out.print("\n".join(lines), markup=False, highlight=False)
    if counts:
        table(
            state.out,
            None,
            ["hash type", "status", "entries"],
            [[k.split("/")[0], k.split("/")[1], v] for k, v in sorted(counts.items())],
        )


async def _show(settings: Settings, name: str) -> tuple[Bank, dict[str, int], int]:
    """The bank, its entries per "hash type/status", and the frames of its listed videos."""
    async with open_store(settings) as store:
        bank = await store.get_bank(name)
        counts: dict[str, int] = {}
        frames = 0
        async for entry in store.iter_entries(bank=name):
            key = f"{entry.hash_type.value}/{entry.status.value}"
            counts[key] = counts.get(key, 0) + 1
            frames += len(entry.frames)
        return bank, counts, frames


def _thresholds(t: Thresholds) -> str:
    return (
        f"pdq <= {t.pdq}, near-exact <= {t.pdq_near_exact}, reoriented <= {t.pdq_reoriented}, "
        f"phash <= {t.phash}, video share >= {t.video_share:g}, clip >= {t.clip_seconds:g} s"
    )


def _video_share(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise typer.BadParameter("must be more than 0 and at most 1 (a share, e.g. 0.8)")
    return value


def _clip_seconds(value: float | None) -> float | None:
    if value is not None and not 0 < value < float("inf"):
        raise typer.BadParameter("must be a number of seconds greater than 0")
    return value


@app.command("set")
def set_bank(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Bank name."),
    enabled: bool | None = typer.Option(
        None, "--enable/--disable", help="Match against this bank or not."
    ),
    pdq: int | None = typer.Option(None, "--pdq", min=0, max=256, help="PDQ match threshold."),
    near_exact: int | None = typer.Option(
        None, "--pdq-near-exact", min=0, max=256, help="PDQ near-exact threshold."
    ),
    reoriented: int | None = typer.Option(
        None, "--pdq-reoriented", min=0, max=256, help="PDQ threshold for flips and rotations."
    ),
    phash: int | None = typer.Option(None, "--phash", min=0, max=64, help="pHash match threshold."),
    video_share: float | None = typer.Option(
        None,
        "--video-share",
        callback=_video_share,
        help="Video match: share (0-1] of a listed video's distinct frames that must match.",
    ),
    clip_seconds: float | None = typer.Option(
        None,
        "--clip-seconds",
        callback=_clip_seconds,
        help="Clip match: consecutive seconds of a posted video that must match a listed video.",
    ),
    source: str | None = typer.Option(None, "--source"),
    description: str | None = typer.Option(None, "--description"),
    by: str | None = typer.Option(None, "--by", help="Who changes it (default: login name)."),
) -> None:
    """Change a bank's thresholds, enabled flag, source or description (kept in the audit log)."""
    state = state_of(ctx)
    bank = run(
        _set(
            state.settings,
            name,
            enabled,
            pdq,
            near_exact,
            reoriented,
            phash,
            video_share,
            clip_seconds,
            source,
            description,
            by or current_actor(),
        )
    )
    state.out.print(
        f"bank {bank.name}: {'enabled' if bank.enabled else 'disabled'}; "
        f"{_thresholds(bank.thresholds)}",
        markup=False,
        highlight=False,
    )


async def _set(
    settings: Settings,
    name: str,
    enabled: bool | None,
    pdq: int | None,
    near_exact: int | None,
    reoriented: int | None,
    phash: int | None,
    video_share: float | None,
    clip_seconds: float | None,
    source: str | None,
    description: str | None,
    by: str,
) -> Bank:
    async with open_store(settings) as store:
        bank = await store.get_bank(name)
        t = bank.thresholds
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "pdq": pdq,
                "pdq_near_exact": near_exact,
                "pdq_reoriented": reoriented,
                "phash": phash,
                "video_share": video_share,
                "clip_seconds": clip_seconds,
            }.items()
            if v is not None
        }
        thresholds = replace(t, **changes) if changes else None
        updated = await store.upsert_bank(
            name, source=source, description=description, enabled=enabled, thresholds=thresholds
        )
        await store.audit(by, "bank.update", name, bank_details(updated))
        return updated


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Bank name."),
    hashes: list[str] = typer.Argument(
        ..., help="Hash values to withdraw (any type), or video ids (as listed, case kept)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the entry's history)."),
    by: str | None = typer.Option(None, "--by", help="Who withdraws (default: login name)."),
) -> None:
    """Stop matching entries; they stay in the bank's history."""
    state = state_of(ctx)
    count = run(_withdraw(state.settings, name, hashes, reason, by or current_actor()))
    state.out.print(f"{count} entries withdrawn from {name}.", markup=False, highlight=False)


async def _withdraw(settings: Settings, name: str, hashes: list[str], reason: str, by: str) -> int:
    async with open_store(settings) as store:
        return await store.withdraw_entries(
            name, [h.strip() for h in hashes], reason=reason, actor=by
        )


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Bank name."),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
    include_withdrawn: bool = typer.Option(
        False, "--include-withdrawn", help="Also withdrawn entries, with status."
    ),
) -> None:
    """Write a bank in the format `lists import` reads back (a video as one line per frame)."""
    state = state_of(ctx)
    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter("must be csv or jsonl", param_hint="--format")
    status = None if include_withdrawn else EntryStatus.ACTIVE
    entries = run(_entries(state.settings, name, status))
    if output is None:
        write_hash_list(entries, sys.stdout, fmt)
        return
    tmp = output.with_name(output.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        write_hash_list(entries, fh, fmt)
    tmp.replace(output)
    state.err.print(f"{len(entries)} entries written to {output}", markup=False, highlight=False)


async def _entries(settings: Settings, name: str, status: EntryStatus | None) -> list[Entry]:
    async with open_store(settings) as store:
        await store.get_bank(name)
        return [e async for e in store.iter_entries(bank=name, status=status)]
