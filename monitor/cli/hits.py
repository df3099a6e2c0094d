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


@app.command("show")
def show_hit(
    ctx: typer.Context,
    hit_id: int = typer.Argument(..., help="The hit id (from `monitor hits list` or an alert)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """One hit with where it was seen and what it matched."""
    state = state_of(ctx)
    hit = run(_hit(state.settings, hit_id))
    if as_json:
        print_json_line(hit)
        return
    tz = state.settings.reports.timezone
    src = hit.source
    rows: list[tuple[str, Any]] = [
        ("hit", hit.id),
        ("status", hit.review_status.value),
        ("recorded", _both_times(hit.created_at, tz)),
        ("tier", hit.tier.value),
        ("bank", hit.bank),
        ("case", hit.case_id),
        ("label", hit.label),
        ("match", f"{hit.hash_type.value} distance {hit.distance} ({hit.variant.value})"),
        ("listed hash", hit.entry_value),
        ("query hash", hit.query_value),
        ("sha256", hit.sha256),
    ]
    if src is not None:
        rows += [
            ("seen in", _chat(hit) or src.path or src.key),
            ("message", src.link or src.message_id),
            ("posted", _both_times(src.posted_at, tz) if src.posted_at else None),
            ("media", src.media_kind.value),
            ("album", src.grouped_id),
            ("forwarded from", _forward(hit)),
        ]
    if hit.reviewed_by:
        rows += [
            ("reviewed by", hit.reviewed_by),
            ("reviewed", _both_times(hit.reviewed_at, tz) if hit.reviewed_at else None),
            ("note", hit.review_note),
        ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value not in (None, ""):
            state.out.print(f"{key:<{width}}  {value}", highlight=False, markup=False)


async def _hit(settings: Settings, hit_id: int) -> Hit:
    async with open_store(settings) as store:
        return await store.get_hit(hit_id)


def _both_times(when: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    utc = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if tz == "UTC":
        return utc
    local = when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{utc} ({local}, {tz})"


def _chat(hit: Hit) -> str | None:
    src = hit.source
    if src is None or src.chat_id is None:
        return None
    name = src.chat_title or str(src.chat_id)
    if src.chat_username:
        name += f" (@{src.chat_username})"
    return f"{name} [{src.chat_id}]"


def _forward(hit: Hit) -> str | None:
    src = hit.source
    if src is None or (src.forward_chat_id is None and not src.forward_from_name):
        return None
    parts = [str(src.forward_chat_id)] if src.forward_chat_id is not None else []
    if src.forward_message_id is not None:
        parts.append(f"message {src.forward_message_id}")
    if src.forward_from_name:
        parts.append(src.forward_from_name)
    return ", ".join(parts)
