"""`monitor report`: an export of hits to send or file — CSV, JSON or a self-contained HTML page.

Rows stream from the database into the file; the file appears only when complete (written
next to its name and moved into place), and the export is written to the audit log with its
parameters and the SHA-256 of the file.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import typer

from monitor.cli.filters import actor, hit_filter
from monitor.cli.hits import BANK_OPTION, CHANNEL_OPTION
from monitor.cli.state import run, state_of
from monitor.domain import HitFilter, ReviewStatus
from monitor.errors import InputError
from monitor.reports import ReportFormat, ReportSink, write_report
from monitor.runtime import open_store


def report(
    ctx: typer.Context,
    since: str = typer.Option(
        ..., "--since", help="Hits recorded at or after: a date (UTC) or ISO date-time."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Recorded before this date-time; a bare date includes that day."
    ),
    status: list[ReviewStatus] | None = typer.Option(
        None,
        "--status",
        help="Review status (repeatable; default: every status but false_positive).",
    ),
    channel: list[str] | None = CHANNEL_OPTION,
    bank: list[str] | None = BANK_OPTION,
    fmt: ReportFormat = typer.Option(ReportFormat.HTML, "--format", help="csv, json or html."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file (default: standard output)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
    by: str | None = typer.Option(
        None, "--by", help="Who exports (default: $MONITOR_USER, else the login name)."
    ),
) -> None:
    """Export hits grouped per channel, one row per hit, with UTC and local times and removal
    status. Never contains media."""
    state = state_of(ctx)
    who = actor(by)
    if output is not None and output.is_dir():
        raise InputError(f"--output {output} is a directory; name a file")
    subject = str(output.resolve()) if output is not None else "stdout"
    statuses = tuple(status or (s for s in ReviewStatus if s is not ReviewStatus.FALSE_POSITIVE))
    tz = state.settings.reports.timezone

    async def go() -> tuple[int, ReportSink, HitFilter]:
        async with open_store(state.settings) as store:
            where = await hit_filter(
                store,
                statuses=statuses,
                banks=bank or (),
                channels=channel or (),
                since=since,
                until=until,
            )
            now = datetime.now(UTC)
            if where.until is None or where.until > now:
                # Fixed now, so the summary and the rows cover the same hits.
                where = dataclasses.replace(where, until=now)
            summary = await store.report_summary(where, timezone=tz, now=now)
            with ReportSink(output, overwrite=overwrite) as sink:
                rows = await write_report(fmt, summary, store.iter_report_rows(where), sink)
            await store.audit(
                who,
                "report.export",
                subject,
                {
                    "format": fmt.value,
                    "filters": where.describe(),
                    "timezone": tz,
                    "hits": rows,
                    "bytes": sink.bytes,
                    "sha256": sink.sha256,
                },
            )
            return rows, sink, where

    rows, sink, _ = run(go())
    where = str(output) if output is not None else "standard output"
    state.err.print(
        f"{rows} hit(s) written to {where} ({fmt.value}, {sink.bytes:,} bytes, "
        f"sha256 {sink.sha256}); export recorded in the audit log.",
        highlight=False,
    )
