"""`monitor demo`: the whole path on synthetic data, in a folder of its own, in about a minute."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from monitor import demo as demo_data
from monitor.cli.hits import render_hits
from monitor.cli.scancmd import _print_summary, _scan
from monitor.cli.state import run, state_of
from monitor.config import DatabaseSettings, Settings
from monitor.domain import Hit, ListEntry
from monitor.matching import read_hash_list
from monitor.runtime import current_actor, ensure_bank, open_store
from monitor.store import ImportResult


def demo(
    ctx: typer.Context,
    directory: Path = typer.Option(
        Path("monitor-demo"), "--dir", help="Folder for the demo's files and store."
    ),
    workers: int | None = typer.Option(None, "--workers", min=0, help="Hashing processes."),
) -> None:
    state = state_of(ctx)
    out = state.out
    settings = replace(
        state.settings, data_dir=directory.resolve(), database=DatabaseSettings()
    )  # never the configured store
    out.print(f"Making synthetic images, videos and a hash list in {directory}/ ...", markup=False)
    files = demo_data.prepare(directory, settings.hashing)
    entries = read_hash_list(files.hash_list, None, None)
    result = run(_import(settings, files.hash_list, entries))
    out.print(
        f"Imported {files.hash_list.name}: {result.added} entries into bank "
        f"{demo_data.BANK!r} ({result.withdrawn} of them withdrawn).",
        markup=False,
    )
    out.print(f"Scanning {files.posts}/ and the Desktop export {files.export}/ ...", markup=False)
    summary = run(_scan(settings, [files.posts, files.export], False, workers, state.err))
    _print_summary(out, summary)
    hits = run(_hits(settings))
    render_hits(out, hits, settings.reports.timezone)
    first = hits[-1].id if hits else 1
    m = f"monitor --config {files.config}"
    out.print(
        "\nEvery copy of a reported image was found, the re-encoded video and the trimmed clip\n"
        "as video and clip matches with their matched times; the unrelated files were not.\n"
        "Explore further (docs/analysts.md walks through it):\n"
        f"  {m} hits show {first}\n"
        f"  {m} hits review {first} --confirm --note 'checked' --by you\n"
        f"  {m} report --since 2000-01-01 --format html -o {files.config.parent}/report.html\n"
        f"  {m} stats",
        markup=False,
        highlight=False,
    )


async def _import(settings: Settings, hash_list: Path, entries: list[ListEntry]) -> ImportResult:
    async with open_store(settings) as store:
        await ensure_bank(
            store,
            settings,
            demo_data.BANK,
            source="monitor demo",
            description="Synthetic images standing in for reported content",
            actor=current_actor(),
        )
        return await store.import_entries(
            demo_data.BANK, entries, source=hash_list.name, actor=current_actor()
        )


async def _hits(settings: Settings) -> list[Hit]:
    async with open_store(settings) as store:
        return await store.list_hits()
