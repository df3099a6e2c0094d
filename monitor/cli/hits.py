"""`monitor hits ...`: the hits recorded so far."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from monitor.cli.output import print_json_line, short_time, table, write_csv
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import Hit, ReviewStatus, Tier, jsonable
from monitor.runtime import open_store

app = typer.Typer(no_args_is_help=True)

CSV_COLUMNS = [
    "id",
    "created_at",
    "review_status",
    "tier",
    "bank",
    "case_id",
    "label",
    "hash_type",
    "distance",
    "variant",
    "entry_value",
    "query_value",
    "sha256",
    "source_kind",
    "path",
    "chat_id",
    "chat_title",
    "message_id",
    "link",
    "posted_at",
]


def parse_when(value: str | None, option: str, *, end: bool = False) -> datetime | None:
    """ISO 8601 date or date-time; a bare date means the start (or, with ``end``, the end) of it.

    A time without a zone is UTC, so that the same command gives the same rows everywhere.
    """
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "expected a date (2024-08-26) or date-time (2024-08-26T09:30+09:00)", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("list")
def list_hits(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table, json (one object per line) or csv."),
    status: ReviewStatus | None = typer.Option(None, "--status", help="Review status."),
    bank: str | None = typer.Option(None, "--bank", help="Only hits on this bank."),
    tier: Tier | None = typer.Option(None, "--tier", help="exact, near-exact or match."),
    since: str | None = typer.Option(
        None, "--since", help="Recorded at or after (date or ISO date-time)."
    ),
    until: str | None = typer.Option(None, "--until", help="Recorded at or before."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many (newest first)."
    ),
) -> None:
    """Hits, newest first."""
    state = state_of(ctx)
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("must be table, json or csv", param_hint="--format")
    filters: dict[str, Any] = {
        "status": status,
        "bank": bank,
        "tier": tier,
        "since": parse_when(since, "--since"),
        "until": parse_when(until, "--until", end=True),
        "limit": limit,
    }
    hits = run(_hits(state.settings, filters))
    if fmt == "json":
        for hit in hits:
            print_json_line(hit)
    elif fmt == "csv":
        write_csv((_flat(h) for h in hits), CSV_COLUMNS, sys.stdout)
    else:
        render_hits(state.out, hits, state.settings.reports.timezone)


def render_hits(console: Console, hits: list[Hit], tz: str) -> None:
    if not hits:
        console.print("No hits.")
        return
    table(
        console,
        None,
        ["id", "recorded", "status", "tier", "bank", "case", "hash", "dist", "variant", "where"],
        [
            [
                h.id,
                short_time(h.created_at, tz),
                h.review_status.value,
                h.tier.value,
                h.bank,
                h.case_id,
                h.hash_type.value,
                h.distance,
                h.variant.value,
                _where(h),
            ]
            for h in hits
        ],
        wrap=("bank", "case", "where"),
    )


async def _hits(settings: Settings, filters: dict[str, Any]) -> list[Hit]:
    async with open_store(settings) as store:
        return await store.list_hits(**filters)


def _where(hit: Hit) -> str:
    src = hit.source
    if src is None:
        return ""
    if src.link:
        return src.link
    if src.chat_title and src.message_id is not None:
        return f"{src.chat_title} #{src.message_id}"
    if src.path:
        return Path(src.path).name  # the whole path is in the JSON and CSV output
    return src.key


def _flat(hit: Hit) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in jsonable(hit).items() if k != "source"}
    src = hit.source
    if src is not None:
        row.update(
            source_kind=src.kind.value,
            path=src.path,
            chat_id=src.chat_id,
            chat_title=src.chat_title,
            message_id=src.message_id,
            link=src.link,
            posted_at=src.posted_at,
        )
    return row
